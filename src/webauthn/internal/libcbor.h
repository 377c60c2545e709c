// libcbor, loaded with dlopen on first use: the hook starts a process per
// tool call and never needs CBOR, so it should not pay for loading it. The
// header still gives the exact signatures.
#pragma once

#include <cbor.h>

namespace dualkey::webauthn::internal {

struct LibCbor {
  decltype(&::cbor_load) load = nullptr;
  decltype(&::cbor_decref) decref = nullptr;
  decltype(&::cbor_isa_map) isa_map = nullptr;
  decltype(&::cbor_map_is_definite) map_is_definite = nullptr;
  decltype(&::cbor_map_size) map_size = nullptr;
  decltype(&::cbor_map_handle) map_handle = nullptr;
  decltype(&::cbor_isa_bytestring) isa_bytestring = nullptr;
  decltype(&::cbor_bytestring_is_definite) bytestring_is_definite = nullptr;
  decltype(&::cbor_bytestring_handle) bytestring_handle = nullptr;
  decltype(&::cbor_bytestring_length) bytestring_length = nullptr;
  decltype(&::cbor_isa_string) isa_string = nullptr;
  decltype(&::cbor_string_is_definite) string_is_definite = nullptr;
  decltype(&::cbor_string_handle) string_handle = nullptr;
  decltype(&::cbor_string_length) string_length = nullptr;
  decltype(&::cbor_isa_uint) isa_uint = nullptr;
  decltype(&::cbor_isa_negint) isa_negint = nullptr;
  decltype(&::cbor_get_int) get_int = nullptr;
  bool loaded = false;
};

// Loads once, thread-safe.
const LibCbor& Cbor();

}  // namespace dualkey::webauthn::internal
