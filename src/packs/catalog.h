// The packs in force: the built-in ones compiled into the binary (read from
// their binary form only when one of their tools is classified) and the ones
// users add: /etc/dualkey/packs/*.toml (system), ~/.config/dualkey/packs/
// *.toml (user) and .dualkey/packs/*.toml at or above the project (project).
//
// Trust: a project's packs, and on a protected install the user's packs, are
// "add-only": their rules add Actions beside what the trusted packs and the
// unknown-command rule found, so they can hold more but never allow what
// would otherwise be held. A pack file that fails to load is reported and
// skipped; the built-in packs stay in force.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "packs/spec.h"

namespace dualkey::packs {

enum class Trust : std::uint8_t { kBuiltin, kSystem, kUser, kProject };
std::string_view ToString(Trust trust);

struct LoadedPack {
  Pack pack;
  Trust trust = Trust::kBuiltin;
  bool add_only = false;
};

// One pack's word about one tool.
struct ToolRef {
  const Pack* pack = nullptr;
  const Tool* tool = nullptr;
  Trust trust = Trust::kBuiltin;
  bool add_only = false;
};

class Catalog {
 public:
  Catalog() = default;  // the built-in packs only

  void Add(Pack pack, Trust trust, bool add_only);
  // Reads and adds one file; false, with "path:line: message" errors, when it
  // does not load (nothing is added then).
  bool AddFile(const std::string& path, Trust trust, bool add_only,
               std::vector<std::string>* errors);

  // The packs that name `tool`: added trusted packs (user before system),
  // then the built-in one, then the add-only ones. Appends to `out`.
  void Find(std::string_view tool, std::vector<ToolRef>* out) const;

  // True when no pack was added (the common case: built-ins only).
  bool OnlyBuiltin() const { return added_.empty(); }
  const std::vector<std::unique_ptr<LoadedPack>>& added() const { return added_; }

 private:
  std::vector<std::unique_ptr<LoadedPack>> added_;
};

// The built-in packs, by index; read from the binary on first use (thread
// safe). nullptr only if the compiled form is damaged.
std::size_t BuiltinPackCount();
const Pack* BuiltinPack(std::size_t index);
// The built-in pack that names `tool`, without reading it: its index and
// whether the tool is plain. False when no built-in pack names it.
bool FindBuiltinTool(std::string_view tool, std::size_t* pack, bool* plain);

struct Sources {
  std::string system_dir;          // /etc/dualkey/packs
  std::string user_dir;            // ~/.config/dualkey/packs
  std::string project_dir;         // searched upward for .dualkey/packs (to the repo root or /)
  bool protected_install = false;  // user packs become add-only
};

// Never fails: files that do not load are skipped and reported in `errors`.
std::shared_ptr<const Catalog> Load(const Sources& sources, std::vector<std::string>* errors);

// The operation classes in force: the built-in ones, and those the built-in
// and added packs declare ([[class]]). `warnings` gets what LintPack says of
// every pack, and the declarations the registry refused. `catalog` may be null
// (built-in packs only).
op_class::Registry ClassRegistry(const Catalog* catalog, std::vector<std::string>* warnings);

// The *.toml files of a directory, sorted; empty if it does not exist.
std::vector<std::string> PackFiles(const std::string& dir);

}  // namespace dualkey::packs
