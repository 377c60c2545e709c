// Which files an approved destructive action reaches, for saving first.
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "vault/vault.h"

namespace dualkey::vault {
namespace {

bool SavesFiles(const Action& action) {
  const std::string& c = action.op_class;
  if (!IsDestructive(action) || !c.starts_with("fs.")) return false;
  // A raw device is no file tree to copy; temp files are disposable.
  if (c == "fs.delete.device" || c == "fs.delete.temp") return false;
  return c.starts_with("fs.delete") || c == "fs.rm" || c == "fs.unlink" || c == "fs.rmdir" ||
         c == "fs.overwrite" || c == "fs.truncate" || c == "fs.shred" || c == "fs.move" ||
         c.starts_with("fs.write");
}

bool HasGlob(const std::string& path) {
  return path.find_first_of("*?[") != std::string::npos;
}

}  // namespace

std::vector<std::string> FileTargets(const std::vector<Action>& actions) {
  std::vector<std::string> paths;
  for (const Action& action : actions) {
    if (!SavesFiles(action)) continue;
    for (const std::string& target : action.targets) {
      if (target.empty() || target[0] != '/') continue;  // only resolved local paths
      std::vector<std::string> expanded;
      if (HasGlob(target)) {
        glob_t matches{};
        if (::glob(target.c_str(), GLOB_NOSORT, nullptr, &matches) == 0)
          for (std::size_t i = 0; i < matches.gl_pathc; ++i)
            expanded.push_back(matches.gl_pathv[i]);
        ::globfree(&matches);
      } else {
        expanded.push_back(target);
      }
      for (std::string& p : expanded) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0 || S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)) continue;
        p = std::filesystem::path(p).lexically_normal().string();
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        paths.push_back(std::move(p));
      }
    }
  }
  // Sorted, a parent comes before everything under it: keep only the parents.
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    if (!out.empty() && (p == out.back() || out.back() == "/" ||
                         (p.starts_with(out.back()) && p[out.back().size()] == '/')))
      continue;
    out.push_back(p);
  }
  return out;
}

}  // namespace dualkey::vault
