// The drill's run, shared by its parts: the Drill class (drill.cc: the
// order of work, the session; internal/channels.cc: each integration tried;
// internal/assess.cc: the audit log, clean-up, findings, the certificate)
// and the helpers they use.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "client/client.h"
#include "drill/drill.h"
#include "drill/internal/attempt.h"
#include "drill/internal/battery.h"
#include "drill/internal/canary.h"
#include "drill/internal/discovery.h"
#include "drill/internal/report.h"
#include "setup/system.h"

namespace dualkey::drill::internal {

using nlohmann::json;

// Set by SIGINT/SIGTERM: the drill stops trying and cleans up.
extern std::atomic<bool> g_stop;

void OnSignal(int);

std::int64_t NowMs();

std::string IsoDate(std::int64_t ms);

std::string Hostname();

std::string SelfBinary();

std::string RandomName(int length);

std::string ShellQuote(const std::string& text);

std::optional<setup::sys::Account> AccountOfUid(uid_t uid);

// Runs `fn` as `uid` (in a child when that is not us). Its text comes back.
int AsUid(uid_t uid, const std::function<int(std::string*)>& fn, std::string* output);

// A token for the drill in `state_dir`, made as the service's own user.
Result<std::string> AddToken(uid_t uid, const std::string& state_dir, const std::string& name,
                             const std::string& scope);

std::string RevokeToken(uid_t uid, const std::string& state_dir, const std::string& name);

struct SessionInfo {
  bool open = false;
  std::string id;
  std::string prefix;
  std::string secret;
  std::string why_not;
};

inline std::string Pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

inline bool Has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

class Drill {
 public:
  Drill(const Options& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  int Run();

 private:
  // A step runs when nothing is singled out, or its kind or one of its
  // channels is.
  bool Wanted(const std::string& kind, std::initializer_list<const char*> channels = {}) const {
    if (options_.only.empty() || Has(options_.only, kind)) return true;
    for (const char* channel : channels)
      if (Has(options_.only, channel)) return true;
    return false;
  }
  std::vector<Case> Cases(const Placeholders& values) const;
  void AddFinding(std::string id, std::string title, std::string detail, std::string fix);
  void BeginSession();
  void DrillHooks();
  void DrillPgProxies();
  void DrillGateways();
  void DrillMcp();
  void DrillBurst();
  void DrillBoundary();
  void TraceThrough();
  void CheckAudit();
  void CleanUp();
  void Assess();
  void Certify();
  client::Client Daemon() const;

  const Options& options_;
  std::ostream& out_;
  std::ostream& err_;
  Identity subject_;
  Battery battery_;
  Discovery discovery_;
  Report report_;
  SessionInfo session_;
  std::string scratch_;
  Context context_;
  std::unique_ptr<FileCanary> files_;
  std::map<std::string, std::string> files_before_;
  std::set<std::string> drill_agents_;
  std::vector<std::string> frozen_before_;
};

}  // namespace dualkey::drill::internal
