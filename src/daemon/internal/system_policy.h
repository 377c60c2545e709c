// The daemon's system policy layer, read at start and again on reload
// (SIGHUP, `systemctl reload dualkey`), never per request. A reload that
// finds the file broken keeps the previous layer in force and remembers
// why, for the journal, the audit log and `dualkey doctor` (the status op).
// The user and project layers are still read per request: they can only
// tighten on a protected install, and a broken one holds (fails closed).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace dualkey::daemon::internal {

class SystemPolicy {
 public:
  explicit SystemPolicy(std::string path);

  // The layer in force (never null; it may carry the errors of a first
  // load that failed: then every destructive action is held).
  std::shared_ptr<const policy::LayerFile> Current() const;

  struct Outcome {
    bool applied = false;             // the new file is in force
    std::vector<std::string> errors;  // why not
  };
  // Reads the file again. A file with errors is refused while an earlier
  // load succeeded: the previous layer stays; at start nothing is in force
  // yet, so the errors stand (every destructive action held).
  Outcome Reload(std::int64_t now_ms);

  // {"path", "loaded_ms", "rules", "errors": [...] (of the layer in force),
  //  "reload_failed_ms", "reload_errors": [...] (the last refused reload)}
  nlohmann::json StatusJson() const;

 private:
  const std::string path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const policy::LayerFile> current_;
  bool ever_loaded_ = false;  // a load without errors happened
  std::int64_t loaded_ms_ = 0;
  std::int64_t reload_failed_ms_ = 0;
  std::vector<std::string> reload_errors_;
};

}  // namespace dualkey::daemon::internal
