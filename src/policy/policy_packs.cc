// The pack files that come with the policy layers: packs/ beside the system
// and user policy files, and .dualkey/packs in or above the project.
#include "packs/catalog.h"
#include "policy/policy.h"

namespace dualkey::policy {

void LoadPacks(const Sources& sources, Policy* policy) {
  auto dir_of = [](const std::string& file) -> std::string {
    if (file.empty()) return {};
    const std::size_t slash = file.rfind('/');
    if (slash == std::string::npos) return {};
    return file.substr(0, slash == 0 ? 1 : slash) + (slash == 0 ? "packs" : "/packs");
  };
  packs::Sources pack_sources;
  pack_sources.system_dir = dir_of(sources.system_path);
  pack_sources.user_dir = dir_of(sources.user_path);
  pack_sources.project_dir = sources.project_dir;
  // On a protected install the user's files are the agent's to write: their
  // packs can only add holds, like the user layer (Sources::user_tighten_only,
  // or a system policy with lock_user).
  // Sources that could not be determined fail closed the same way.
  pack_sources.protected_install =
      sources.user_tighten_only || policy->lock_user || !sources.error.empty();
  std::shared_ptr<const packs::Catalog> catalog = packs::Load(pack_sources, &policy->errors);
  if (!catalog->OnlyBuiltin()) policy->packs = std::move(catalog);
}

}  // namespace dualkey::policy
