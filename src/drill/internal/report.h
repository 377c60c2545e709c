// What a drill found, and its forms: the terminal table, JSON, a
// self-contained HTML page, and the certificate's body.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "drill/internal/attempt.h"

namespace dualkey::drill::internal {

// A cause, with the one command that removes it.
struct Finding {
  std::string
      id;  // stable, for scripts and tests: "daemon", "policy.observe", "hook.missing.claude"
  std::string title;
  std::string detail;
  std::string fix;
};

struct IntegrationSummary {
  std::string name;
  std::string kind;    // hook | pg-proxy | gateway | mcp | breaker
  std::string detail;  // configs, address...
  int attempts = 0, held = 0, allowed = 0, errors = 0;
  int destructive = 0, destructive_held = 0, destructive_allowed = 0;
  int controls = 0, controls_held = 0;
  int lost = -1;  // -1: nothing runs here (a hook only answers)
  std::vector<std::string> lost_items;
  std::string not_run;  // why it could not be drilled
};

struct BreakerResult {
  bool tested = false;
  std::string not_run;
  std::string agent;
  int sent = 0;
  int tripped_after = 0;  // 0: it did not trip
  int configured_attempts = 0;
  int window_seconds = 0;
  bool reset = false;
  std::string detail;
};

struct AuditResult {
  bool checked = false;
  std::string not_run;
  std::string path;
  bool intact = false;
  std::string public_key;
  bool pinned = false;
  std::vector<std::string> problems;
  int expected = 0;
  int found = 0;
  std::vector<std::string> missing;  // "case-id via integration"
};

struct Report {
  std::string version;
  std::string date;  // ISO 8601, UTC
  std::int64_t started_ms = 0, finished_ms = 0;
  std::string host;
  std::string user;
  std::string mode;  // protected | single-user
  std::string session;
  nlohmann::json discovery;
  std::string policy_hash;
  std::string policy_mode;
  std::string battery_hash;
  int battery_cases = 0;
  std::vector<std::string> battery_sources;
  std::vector<IntegrationSummary> integrations;
  std::vector<Attempt> attempts;
  std::vector<Finding> findings;
  BreakerResult breaker;
  AuditResult audit;
  std::vector<std::string> cleanup_problems;
  std::vector<std::string> notes;
  double fail_under = -1;
  // Derived (Summarise):
  int destructive = 0, destructive_held = 0, destructive_allowed = 0, lost = 0;
  int controls = 0, controls_held = 0, errors = 0;
  int score_bp = 0;  // destructive held per 10,000 destructive attempts
  bool passed = false;
  // The certificate, once signed.
  std::string certificate_path;
  std::string certificate_error;
};

// Fills the integrations' counts from the attempts and the totals.
void Summarise(Report* report);
// "97.50" from basis points.
std::string Percent(int basis_points);

std::string RenderText(const Report& report, bool verbose);
nlohmann::json RenderJson(const Report& report);
std::string RenderHtml(const Report& report);
// What the certificate states (integers and text only: its JSON is canonical).
nlohmann::json CertificateBody(const Report& report);

}  // namespace dualkey::drill::internal
