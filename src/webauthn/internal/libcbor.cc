#include "webauthn/internal/libcbor.h"

#include "base/shared_library.h"

namespace dualkey::webauthn::internal {

const LibCbor& Cbor() {
  static const LibCbor api = [] {
    LibCbor l;
    // Debian 12 ships libcbor0.8; later releases bump the soname.
    base::SharedLibrary so({"libcbor.so.0.8", "libcbor.so.0.10", "libcbor.so.0.11", "libcbor.so"});
    if (!so.opened()) return l;
    so.Bind(l.load, "cbor_load");
    so.Bind(l.decref, "cbor_decref");
    so.Bind(l.isa_map, "cbor_isa_map");
    so.Bind(l.map_is_definite, "cbor_map_is_definite");
    so.Bind(l.map_size, "cbor_map_size");
    so.Bind(l.map_handle, "cbor_map_handle");
    so.Bind(l.isa_bytestring, "cbor_isa_bytestring");
    so.Bind(l.bytestring_is_definite, "cbor_bytestring_is_definite");
    so.Bind(l.bytestring_handle, "cbor_bytestring_handle");
    so.Bind(l.bytestring_length, "cbor_bytestring_length");
    so.Bind(l.isa_string, "cbor_isa_string");
    so.Bind(l.string_is_definite, "cbor_string_is_definite");
    so.Bind(l.string_handle, "cbor_string_handle");
    so.Bind(l.string_length, "cbor_string_length");
    so.Bind(l.isa_uint, "cbor_isa_uint");
    so.Bind(l.isa_negint, "cbor_isa_negint");
    so.Bind(l.get_int, "cbor_get_int");
    l.loaded = so.all_bound();
    return l;
  }();
  return api;
}

}  // namespace dualkey::webauthn::internal
