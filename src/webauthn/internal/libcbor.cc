#include "webauthn/internal/libcbor.h"

#include <dlfcn.h>

#include <initializer_list>
#include <type_traits>

namespace dualkey::webauthn::internal {

const LibCbor& Cbor() {
  static const LibCbor api = [] {
    LibCbor l;
    void* handle = nullptr;
    // Debian 12 ships libcbor0.8; later releases bump the soname.
    for (const char* name :
         {"libcbor.so.0.8", "libcbor.so.0.10", "libcbor.so.0.11", "libcbor.so"}) {
      handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) break;
    }
    if (handle == nullptr) return l;
    bool all = true;
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      all = all && fn != nullptr;
    };
    bind(l.load, "cbor_load");
    bind(l.decref, "cbor_decref");
    bind(l.isa_map, "cbor_isa_map");
    bind(l.map_is_definite, "cbor_map_is_definite");
    bind(l.map_size, "cbor_map_size");
    bind(l.map_handle, "cbor_map_handle");
    bind(l.isa_bytestring, "cbor_isa_bytestring");
    bind(l.bytestring_is_definite, "cbor_bytestring_is_definite");
    bind(l.bytestring_handle, "cbor_bytestring_handle");
    bind(l.bytestring_length, "cbor_bytestring_length");
    bind(l.isa_string, "cbor_isa_string");
    bind(l.string_is_definite, "cbor_string_is_definite");
    bind(l.string_handle, "cbor_string_handle");
    bind(l.string_length, "cbor_string_length");
    bind(l.isa_uint, "cbor_isa_uint");
    bind(l.isa_negint, "cbor_isa_negint");
    bind(l.get_int, "cbor_get_int");
    l.loaded = all;
    return l;
  }();
  return api;
}

}  // namespace dualkey::webauthn::internal
