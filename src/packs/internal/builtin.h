// The built-in packs as the build compiled them (tools/packgen.cc writes the
// definitions from packs/*.toml into the build tree): each pack's binary form
// and an index from tool name to pack, sorted by name, so the classifier finds
// a tool without reading any pack and reads only the pack it needs.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace dualkey::packs::internal {

struct BuiltinPack {
  std::string_view name;
  std::string_view description;
  std::string_view blob;  // Serialize()d Pack
};

struct BuiltinTool {
  std::string_view name;
  std::uint16_t pack;  // index into BuiltinPacks()
  bool plain;          // ToolKind::kPlain: nothing to read
};

std::span<const BuiltinPack> BuiltinPacks();
std::span<const BuiltinTool> BuiltinTools();  // sorted by name, names unique

}  // namespace dualkey::packs::internal
