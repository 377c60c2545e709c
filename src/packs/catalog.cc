#include "packs/catalog.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>

#include "packs/internal/builtin.h"

namespace dualkey::packs {
namespace {

constexpr std::size_t kMaxPackBytes = 1 << 20;
constexpr std::size_t kMaxPackFiles = 256;

struct BuiltinCache {
  std::vector<std::once_flag> once;
  std::vector<std::unique_ptr<Pack>> packs;
  BuiltinCache() : once(internal::BuiltinPacks().size()), packs(internal::BuiltinPacks().size()) {}
};

BuiltinCache& Cache() {
  static BuiltinCache cache;
  return cache;
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::string_view ToString(Trust trust) {
  switch (trust) {
    case Trust::kBuiltin:
      return "built-in";
    case Trust::kSystem:
      return "system";
    case Trust::kUser:
      return "user";
    case Trust::kProject:
      return "project";
  }
  return "unknown";
}

std::size_t BuiltinPackCount() {
  return internal::BuiltinPacks().size();
}

const Pack* BuiltinPack(std::size_t index) {
  BuiltinCache& cache = Cache();
  if (index >= cache.packs.size()) return nullptr;
  std::call_once(cache.once[index], [&] {
    auto pack = std::make_unique<Pack>();
    if (Deserialize(internal::BuiltinPacks()[index].blob, pack.get()))
      cache.packs[index] = std::move(pack);
  });
  return cache.packs[index].get();
}

bool FindBuiltinTool(std::string_view tool, std::size_t* pack, bool* plain) {
  std::span<const internal::BuiltinTool> tools = internal::BuiltinTools();
  auto it = std::lower_bound(
      tools.begin(), tools.end(), tool,
      [](const internal::BuiltinTool& entry, std::string_view key) { return entry.name < key; });
  if (it == tools.end() || it->name != tool) return false;
  *pack = it->pack;
  *plain = it->plain;
  return true;
}

void Catalog::Add(Pack pack, Trust trust, bool add_only) {
  auto loaded = std::make_unique<LoadedPack>();
  loaded->pack = std::move(pack);
  loaded->trust = trust;
  loaded->add_only = add_only;
  added_.push_back(std::move(loaded));
}

bool Catalog::AddFile(const std::string& path, Trust trust, bool add_only,
                      std::vector<std::string>* errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors->push_back(path + ": cannot be read");
    return false;
  }
  std::string text;
  text.resize(kMaxPackBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxPackBytes) {
    errors->push_back(path + ": larger than " + std::to_string(kMaxPackBytes) + " bytes; not read");
    return false;
  }
  Pack pack;
  if (!ParsePack(text, path, &pack, errors)) return false;
  Add(std::move(pack), trust, add_only);
  return true;
}

void Catalog::Find(std::string_view tool, std::vector<ToolRef>* out) const {
  auto names = [&](const Pack& pack, Trust trust, bool add_only) {
    for (const Tool& spec : pack.tools)
      if (std::find(spec.names.begin(), spec.names.end(), tool) != spec.names.end()) {
        out->push_back(ToolRef{&pack, &spec, trust, add_only});
        return;
      }
  };
  for (Trust trust : {Trust::kUser, Trust::kSystem})
    for (const auto& loaded : added_)
      if (!loaded->add_only && loaded->trust == trust) names(loaded->pack, trust, false);
  std::size_t index = 0;
  bool plain = false;
  if (FindBuiltinTool(tool, &index, &plain))
    if (const Pack* pack = BuiltinPack(index)) names(*pack, Trust::kBuiltin, false);
  for (const auto& loaded : added_)
    if (loaded->add_only) names(loaded->pack, loaded->trust, true);
}

op_class::Registry ClassRegistry(const Catalog* catalog, std::vector<std::string>* warnings) {
  op_class::Registry registry;
  auto take = [&](const Pack& pack) {
    for (std::string& warning : LintPack(pack)) warnings->push_back(std::move(warning));
    DeclareClasses(pack, &registry, warnings);
  };
  for (std::size_t i = 0; i < BuiltinPackCount(); ++i)
    if (const Pack* pack = BuiltinPack(i)) take(*pack);
  if (catalog != nullptr)
    for (const auto& loaded : catalog->added()) take(loaded->pack);
  return registry;
}

std::vector<std::string> PackFiles(const std::string& dir) {
  std::vector<std::string> files;
  DIR* handle = dir.empty() ? nullptr : opendir(dir.c_str());
  if (handle == nullptr) return files;
  while (dirent* entry = readdir(handle)) {
    std::string_view name = entry->d_name;
    if (name.starts_with(".") || !name.ends_with(".toml")) continue;
    files.push_back(dir + "/" + std::string(name));
    if (files.size() > kMaxPackFiles) break;
  }
  closedir(handle);
  std::sort(files.begin(), files.end());
  return files;
}

std::shared_ptr<const Catalog> Load(const Sources& sources, std::vector<std::string>* errors) {
  auto catalog = std::make_shared<Catalog>();
  auto load_dir = [&](const std::string& dir, Trust trust, bool add_only) {
    std::vector<std::string> files = PackFiles(dir);
    if (files.size() > kMaxPackFiles) {
      errors->push_back(dir + ": more than " + std::to_string(kMaxPackFiles) +
                        " pack files; only the first are read");
      files.resize(kMaxPackFiles);
    }
    for (const std::string& file : files) catalog->AddFile(file, trust, add_only, errors);
  };
  load_dir(sources.system_dir, Trust::kSystem, false);
  load_dir(sources.user_dir, Trust::kUser, sources.protected_install);
  if (!sources.project_dir.empty() && sources.project_dir[0] == '/') {
    // The nearest .dualkey/packs at or above the project, stopping at the
    // repository root, as for .dualkey.toml.
    std::string dir = sources.project_dir;
    for (int depth = 0; depth < 64; ++depth) {
      const std::string base = dir == "/" ? "" : dir;
      if (IsDir(base + "/.dualkey/packs")) {
        load_dir(base + "/.dualkey/packs", Trust::kProject, true);
        break;
      }
      if (IsDir(base + "/.git") || dir == "/") break;
      std::size_t slash = dir.rfind('/');
      dir = slash == 0 ? "/" : dir.substr(0, slash);
    }
  }
  return catalog;
}

}  // namespace dualkey::packs
