#include "daemon/internal/hold_details.h"

#include <pwd.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "base/json_text.h"
#include "vault/vault.h"

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kMaxActions = 64;
constexpr std::size_t kMaxCommands = 64;
constexpr std::size_t kMaxTargets = 32;
constexpr int kMaxEntries = 20000;
constexpr auto kBudget = std::chrono::milliseconds(50);

struct Count {
  std::int64_t files = 0;
  std::int64_t dirs = 0;
  std::int64_t bytes = 0;
  int entries = 0;
  bool partial = false;
};

// Counts what lies under `path` without following symlinks, within budget.
void CountPath(const std::string& path, Count& count,
               std::chrono::steady_clock::time_point deadline) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;
  ++count.entries;
  if (!S_ISDIR(st.st_mode)) {
    ++count.files;
    count.bytes += st.st_size;
    return;
  }
  ++count.dirs;
  std::error_code ec;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (++count.entries > kMaxEntries || std::chrono::steady_clock::now() > deadline) {
      count.partial = true;
      return;
    }
    const fs::file_status status = it->symlink_status(ec);
    if (ec) continue;
    if (fs::is_directory(status)) {
      ++count.dirs;
    } else {
      ++count.files;
      if (fs::is_regular_file(status)) {
        const std::uintmax_t size = it->file_size(ec);
        if (!ec) count.bytes += static_cast<std::int64_t>(size);
      }
    }
  }
}

bool IsRemote(const std::string& target) {
  return target.find("://") != std::string::npos || target.starts_with("arn:") ||
         (!target.empty() && target.front() != '/' && target.front() != '~' &&
          target.find('/') != std::string::npos && target.find(' ') == std::string::npos &&
          target.find('.') != std::string::npos && target.find(':') != std::string::npos);
}

}  // namespace

std::string HoldDetails(const client::CheckRequest& request, const Verdict& verdict,
                        const std::vector<shell::ExecutedCommand>& commands, long long uid) {
  json details = json::object();
  if (uid >= 0) {
    details["uid"] = uid;
    passwd pw{};
    passwd* found = nullptr;
    char buffer[4096];
    if (getpwuid_r(static_cast<uid_t>(uid), &pw, buffer, sizeof buffer, &found) == 0 && found)
      details["os_user"] = base::ToValidUtf8(found->pw_name);
  }
  details["decision"] = std::string(ToString(verdict.decision));
  json shown_commands = json::array();
  for (std::size_t i = 0; i < commands.size() && i < kMaxCommands; ++i)
    shown_commands.push_back(json{{"text", base::ToValidUtf8(commands[i].text)},
                                  {"cwd", base::ToValidUtf8(commands[i].cwd)},
                                  {"depth", commands[i].depth}});
  details["commands"] = std::move(shown_commands);
  json actions = json::array();
  json remote = json::array();
  for (std::size_t i = 0; i < verdict.actions.size() && i < kMaxActions; ++i) {
    const Action& a = verdict.actions[i];
    json targets = json::array();
    for (std::size_t t = 0; t < a.targets.size() && t < kMaxTargets; ++t) {
      targets.push_back(base::ToValidUtf8(a.targets[t]));
      if (IsRemote(a.targets[t]) && remote.size() < kMaxTargets)
        remote.push_back(base::ToValidUtf8(a.targets[t]));
    }
    actions.push_back(json{{"class", a.op_class},
                           {"channel", std::string(ToString(a.channel))},
                           {"targets", std::move(targets)},
                           {"reversibility", std::string(ToString(a.reversibility))},
                           {"severity", std::string(ToString(a.severity))},
                           {"destructive", IsDestructive(a)},
                           {"reason", base::ToValidUtf8(a.reason)}});
  }
  details["actions"] = std::move(actions);

  // The blast radius.
  json blast = json::object();
  const Channel channel = request.action.channel;
  std::vector<std::string> paths;
  if (channel == Channel::kShell || channel == Channel::kFile)
    paths = vault::FileTargets(verdict.actions);
  if (!paths.empty()) {
    Count count;
    const auto deadline = std::chrono::steady_clock::now() + kBudget;
    for (const std::string& path : paths) {
      CountPath(path, count, deadline);
      if (count.partial) break;
    }
    json shown = json::array();
    for (std::size_t i = 0; i < paths.size() && i < kMaxTargets; ++i)
      shown.push_back(base::ToValidUtf8(paths[i]));
    blast["paths"] = std::move(shown);
    blast["files"] = count.files;
    blast["dirs"] = count.dirs;
    blast["bytes"] = count.bytes;
    if (count.partial) blast["partial"] = true;  // "at least"
  }
  if (!request.detail.empty()) blast["estimate"] = base::ToValidUtf8(request.detail);
  if (!remote.empty()) blast["remote"] = std::move(remote);
  details["blast_radius"] = std::move(blast);

  // What the vault saves before the action may run.
  json vault = json::object();
  if (!paths.empty()) {
    vault["saves"] = "files";
    vault["paths"] = details["blast_radius"]["paths"];
    vault["summary"] = "the vault saves these paths before the command may run";
  } else if (request.defer_consume) {
    vault["saves"] = "rows";
    vault["summary"] = "the PostgreSQL proxy saves the rows it would destroy before it runs";
  } else {
    vault["saves"] = "nothing";
    vault["summary"] = channel == Channel::kShell || channel == Channel::kFile
                           ? "nothing on this machine to save (remote or unknown targets): no undo"
                           : "nothing: dualkey cannot save what this " +
                                 std::string(ToString(channel)) + " call destroys; no undo";
  }
  details["vault"] = std::move(vault);
  return base::JsonDump(details);
}

}  // namespace dualkey::daemon::internal
