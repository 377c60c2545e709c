#include "daemon/internal/system_policy.h"

#include "base/json_text.h"

namespace dualkey::daemon::internal {

SystemPolicy::SystemPolicy(std::string path)
    : path_(std::move(path)), current_(std::make_shared<policy::LayerFile>()) {}

std::shared_ptr<const policy::LayerFile> SystemPolicy::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

SystemPolicy::Outcome SystemPolicy::Reload(std::int64_t now_ms) {
  auto file =
      std::make_shared<policy::LayerFile>(policy::ReadLayerFile(path_, policy::LayerKind::kSystem));
  std::lock_guard lock(mutex_);
  Outcome outcome;
  if (!file->errors.empty() && ever_loaded_) {
    outcome.errors = file->errors;
    reload_failed_ms_ = now_ms;
    reload_errors_ = file->errors;
    return outcome;
  }
  outcome.applied = true;
  outcome.errors = file->errors;
  current_ = std::move(file);
  loaded_ms_ = now_ms;
  ever_loaded_ = ever_loaded_ || current_->errors.empty();
  reload_failed_ms_ = 0;
  reload_errors_.clear();
  return outcome;
}

namespace {
nlohmann::json Texts(const std::vector<std::string>& texts) {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& text : texts) out.push_back(base::ToValidUtf8(text));
  return out;
}
}  // namespace

nlohmann::json SystemPolicy::StatusJson() const {
  std::lock_guard lock(mutex_);
  nlohmann::json j{{"path", base::ToValidUtf8(path_)},
                   {"present", current_->present},
                   {"loaded_ms", loaded_ms_},
                   {"rules", current_->layer.rules.size()},
                   {"errors", Texts(current_->errors)}};
  if (reload_failed_ms_ != 0) {
    j["reload_failed_ms"] = reload_failed_ms_;
    j["reload_errors"] = Texts(reload_errors_);
  }
  return j;
}

}  // namespace dualkey::daemon::internal
