#include "drill/internal/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "base/json_text.h"
#include "base/text.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

std::string Pad(const std::string& text, std::size_t width, bool right = false) {
  // Width in code points, roughly: continuation bytes do not count.
  std::size_t shown = 0;
  for (unsigned char c : text) shown += (c & 0xC0) == 0x80 ? 0 : 1;
  if (shown >= width) return text;
  const std::string fill(width - shown, ' ');
  return right ? fill + text : text + fill;
}

std::string Html(const std::string& text) {
  std::string out;
  for (char c : base::ToValidUtf8(text)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

struct ThroughGroup {
  const Attempt* first = nullptr;
  std::vector<std::string> integrations;
};

// Destructive attempts that got through, one entry per case and channel.
std::vector<ThroughGroup> GotThrough(const Report& report) {
  std::vector<ThroughGroup> groups;
  std::map<std::string, std::size_t> index;
  for (const Attempt& a : report.attempts) {
    if (!a.destructive || a.outcome != Outcome::kAllowed) continue;
    const std::string key = a.case_id + "\n" + a.kind;
    auto found = index.find(key);
    if (found == index.end()) {
      index[key] = groups.size();
      groups.push_back(ThroughGroup{&a, {a.integration}});
    } else {
      groups[found->second].integrations.push_back(a.integration);
    }
  }
  return groups;
}

std::string ThroughFix(const Report& report, const Attempt& a) {
  if (report.policy_mode == "observe") return "leave observe mode (the finding policy.observe)";
  if (!a.loosened_by.empty())
    return "the policy's " + a.loosened_by +
           " allows it: remove or narrow that rule (the finding "
           "policy.loosened)";
  const std::string add = "add a pack or a [[rules]] entry that holds it (docs/packs.md)";
  if (a.explain.empty()) return add;
  return add + "; how it reads now: dualkey policy explain --channel " + a.channel + " -- " +
         base::ShellSingleQuote(a.explain.size() > 400 ? a.input : a.explain);
}

std::string Lost(const IntegrationSummary& s) {
  if (s.lost < 0) return "-";
  return std::to_string(s.lost);
}

// What a report and its certificate both say of the run.
json RunFields(const Report& r) {
  return json{{"date", r.date},
              {"started_ms", r.started_ms},
              {"finished_ms", r.finished_ms},
              {"host", r.host},
              {"user", r.user},
              {"mode", r.mode},
              {"session", r.session},
              {"policy", {{"hash", r.policy_hash}, {"mode", r.policy_mode}}}};
}

}  // namespace

std::string Percent(int basis_points) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%d.%02d", basis_points / 100, basis_points % 100);
  return buffer;
}

void Summarise(Report* report) {
  for (IntegrationSummary& s : report->integrations) {
    s.attempts = s.held = s.allowed = s.errors = 0;
    s.destructive = s.destructive_held = s.destructive_allowed = 0;
    s.controls = s.controls_held = 0;
    for (const Attempt& a : report->attempts) {
      if (a.integration != s.name) continue;
      ++s.attempts;
      if (a.outcome == Outcome::kHeld) ++s.held;
      if (a.outcome == Outcome::kAllowed) ++s.allowed;
      if (a.outcome == Outcome::kError) ++s.errors;
      if (a.destructive) {
        ++s.destructive;
        if (a.outcome == Outcome::kHeld) ++s.destructive_held;
        if (a.outcome == Outcome::kAllowed) ++s.destructive_allowed;
      } else {
        ++s.controls;
        if (a.outcome == Outcome::kHeld) ++s.controls_held;
      }
    }
  }
  report->destructive = report->destructive_held = report->destructive_allowed = 0;
  report->controls = report->controls_held = report->errors = 0;
  report->lost = 0;
  for (const Attempt& a : report->attempts) {
    if (a.outcome == Outcome::kError) ++report->errors;
    if (a.destructive) {
      ++report->destructive;
      if (a.outcome == Outcome::kHeld) ++report->destructive_held;
      if (a.outcome == Outcome::kAllowed) ++report->destructive_allowed;
    } else {
      ++report->controls;
      if (a.outcome == Outcome::kHeld) ++report->controls_held;
    }
  }
  for (const IntegrationSummary& s : report->integrations)
    if (s.lost > 0) report->lost += s.lost;
  report->score_bp = report->destructive == 0
                         ? 0
                         : static_cast<int>(static_cast<long long>(report->destructive_held) *
                                            10000 / report->destructive);
  const bool over_threshold = report->fail_under < 0 ||
                              report->score_bp >= static_cast<int>(report->fail_under * 100 + 0.5);
  report->passed = report->findings.empty() && report->destructive_allowed == 0 &&
                   report->lost == 0 && report->errors == 0 && report->destructive > 0 &&
                   over_threshold;
}

// What discovery found, in a few lines: the daemon and whom it runs as, the
// agents and their hooks, the MCP servers, the proxies and gateways, the
// policy layers in force.
static std::string RenderFound(const json& d) {
  if (!d.is_object()) return "";
  std::ostringstream out;
  auto text = [](const json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  const json daemon = d.value("daemon", json::object());
  out << "  daemon:   ";
  if (daemon.value("up", false))
    out << "up, pid " << daemon.value("pid", 0) << " as " << text(daemon, "user") << " on "
        << text(daemon, "socket") << "\n";
  else
    out << "NOT running (" << OneLine(text(daemon, "error"), 120) << ")\n";
  out << "  agents:   ";
  bool first = true;
  for (const json& a : d.value("agents", json::array())) {
    out << (first ? "" : "; ") << text(a, "agent") << ": ";
    first = false;
    const json hooks = a.value("hooks", json::array());
    if (a.contains("config_errors"))
      out << "a config dualkey cannot read";
    else if (hooks.empty())
      out << "installed, NO dualkey hook";
    else
      out << hooks.size() << " hook command" << (hooks.size() == 1 ? "" : "s");
  }
  out << (first ? "none found" : "") << "\n";
  const json mcp = d.value("mcp", json::array());
  if (!mcp.empty()) {
    out << "  mcp:      ";
    first = true;
    for (const json& m : mcp) {
      out << (first ? "" : "; ") << text(m, "server") << " (" << text(m, "client") << ", "
          << text(m, "state") << ")";
      first = false;
    }
    out << "\n";
  }
  out << "  services: ";
  first = true;
  for (const json& sv : d.value("services", json::array())) {
    out << (first ? "" : "; ") << text(sv, "kind") << " " << text(sv, "listen")
        << (sv.value("running", false) ? "" : " (NOT running)");
    first = false;
  }
  out << (first ? "no PostgreSQL proxy or gateway configured" : "") << "\n";
  const json policy = d.value("policy", json::object());
  out << "  policy:   ";
  first = true;
  for (const json& l : policy.value("layers", json::array())) {
    out << (first ? "" : ", ") << text(l, "kind");
    if (text(l, "kind") != "built-in") out << " " << text(l, "path");
    if (l.value("tighten_only", false)) out << " (tighten-only)";
    first = false;
  }
  for (const json& e : policy.value("errors", json::array()))
    if (e.is_string()) out << "; ERROR " << OneLine(e.get<std::string>(), 120);
  out << "\n";
  return out.str();
}

std::string RenderText(const Report& r, bool verbose) {
  std::ostringstream out;
  out << "dualkey drill " << r.version << ": " << r.user << "@" << r.host << ", " << r.mode
      << " install, " << r.date << "\n";
  out << "  policy " << r.policy_mode << " (sha256 " << r.policy_hash.substr(0, 16) << "), battery "
      << r.battery_cases << " cases (sha256 " << r.battery_hash.substr(0, 16) << ")"
      << (r.session.empty() ? "" : ", session " + r.session) << "\n";
  out << RenderFound(r.discovery) << "\n";

  out << Pad("integration", 44) << Pad("attempts", 9, true) << Pad("held", 7, true)
      << Pad("allowed", 9, true) << Pad("errors", 8, true) << Pad("lost", 6, true) << "\n";
  for (const IntegrationSummary& s : r.integrations) {
    if (!s.not_run.empty() && s.attempts == 0) {
      out << Pad(s.name, 44) << "  not run: " << s.not_run << "\n";
      continue;
    }
    out << Pad(s.name, 44) << Pad(std::to_string(s.attempts), 9, true)
        << Pad(std::to_string(s.held), 7, true) << Pad(std::to_string(s.allowed), 9, true)
        << Pad(std::to_string(s.errors), 8, true) << Pad(Lost(s), 6, true) << "\n";
    if (!s.detail.empty()) out << "    " << s.detail << "\n";
    if (!s.lost_items.empty()) {
      out << "    lost:";
      for (const std::string& item : s.lost_items) out << " " << item;
      out << "\n";
    }
    if (!s.not_run.empty()) out << "    " << s.not_run << "\n";
  }
  // The breaker.
  out << Pad("breaker burst", 44);
  if (!r.breaker.tested) {
    out << "  not run: " << r.breaker.not_run << "\n";
  } else if (r.breaker.tripped_after > 0) {
    out << "  tripped after " << r.breaker.tripped_after << " of " << r.breaker.sent
        << " destructive attempts (limit " << r.breaker.configured_attempts << " in "
        << r.breaker.window_seconds << " s)"
        << (r.breaker.reset ? ", reset by the drill's test approver" : ", NOT reset") << "\n";
  } else {
    out << "  did NOT trip after " << r.breaker.sent << " destructive attempts\n";
  }
  out << "\n";
  out << "destructive attempts held: " << Percent(r.score_bp) << "% (" << r.destructive_held
      << " of " << r.destructive << ")";
  if (r.controls > 0)
    out << "; harmless controls allowed: " << (r.controls - r.controls_held) << " of "
        << r.controls;
  out << "\n";

  const std::vector<ThroughGroup> through = GotThrough(r);
  if (!through.empty()) {
    out << "\nGOT THROUGH (" << through.size() << "):\n";
    for (const ThroughGroup& g : through) {
      out << "  " << g.first->case_id << " [" << g.first->channel << "] " << g.first->input
          << "\n    via:";
      for (std::size_t i = 0; i < g.integrations.size(); ++i)
        out << (i ? ", " : " ") << g.integrations[i];
      out << "\n    fix: " << ThroughFix(r, *g.first) << "\n";
    }
  }
  if (verbose) {
    int shown = 0;
    for (const Attempt& a : r.attempts) {
      if (a.destructive || a.outcome != Outcome::kHeld) continue;
      if (shown++ == 0) out << "\nharmless controls that were held:\n";
      out << "  " << a.case_id << " via " << a.integration << ": " << a.input << " (" << a.decision
          << ")\n";
    }
    shown = 0;
    for (const Attempt& a : r.attempts) {
      if (a.outcome != Outcome::kError) continue;
      if (shown++ == 0) out << "\nattempts that could not be tried:\n";
      out << "  " << a.case_id << " via " << a.integration << ": " << a.decision << " " << a.detail
          << "\n";
    }
  }
  if (!r.findings.empty()) {
    out << "\nFINDINGS (" << r.findings.size() << "):\n";
    for (const Finding& f : r.findings) {
      out << "  [" << f.id << "] " << f.title << "\n";
      if (!f.detail.empty()) out << "    " << f.detail << "\n";
      if (!f.fix.empty()) out << "    fix: " << f.fix << "\n";
    }
  }
  out << "\naudit log: ";
  if (!r.audit.checked) {
    out << "not checked: " << r.audit.not_run << "\n";
  } else {
    out << (r.audit.intact ? "intact" : "DOES NOT VERIFY") << " ("
        << (r.audit.pinned ? "pinned key " : "key ") << r.audit.public_key.substr(0, 16) << "), "
        << r.audit.found << " of " << r.audit.expected << " attempts recorded\n";
    for (const std::string& p : r.audit.problems) out << "  " << p << "\n";
  }
  if (!r.cleanup_problems.empty()) {
    out << "left behind:\n";
    for (const std::string& p : r.cleanup_problems) out << "  " << p << "\n";
  }
  for (const std::string& note : r.notes) out << "note: " << note << "\n";
  if (!r.certificate_path.empty())
    out << "certificate: " << r.certificate_path << " (check it: dualkey drill verify "
        << r.certificate_path << ")\n";
  else if (!r.certificate_error.empty())
    out << "certificate: not signed: " << r.certificate_error << "\n";
  out << "\ndualkey drill: " << (r.passed ? "PASS" : "FAIL");
  if (!r.passed) {
    std::vector<std::string> why;
    if (r.destructive_allowed > 0)
      why.push_back(std::to_string(r.destructive_allowed) + " destructive attempt(s) got through");
    if (r.lost > 0) why.push_back(std::to_string(r.lost) + " canary item(s) lost");
    if (!r.findings.empty()) why.push_back(std::to_string(r.findings.size()) + " finding(s)");
    if (r.errors > 0) why.push_back(std::to_string(r.errors) + " attempt(s) could not be tried");
    if (r.fail_under >= 0 && r.score_bp < static_cast<int>(r.fail_under * 100 + 0.5))
      why.push_back("held " + Percent(r.score_bp) + "% < --fail-under " +
                    Percent(static_cast<int>(r.fail_under * 100 + 0.5)) + "%");
    if (r.destructive == 0) why.push_back("no destructive attempt could be sent");
    out << ":";
    for (std::size_t i = 0; i < why.size(); ++i) out << (i ? ", " : " ") << why[i];
  }
  out << "\n";
  return out.str();
}

json RenderJson(const Report& r) {
  json integrations = json::array();
  for (const IntegrationSummary& s : r.integrations) {
    json entry{{"name", s.name},
               {"kind", s.kind},
               {"attempts", s.attempts},
               {"held", s.held},
               {"allowed", s.allowed},
               {"errors", s.errors},
               {"destructive", s.destructive},
               {"destructive_allowed", s.destructive_allowed},
               {"controls", s.controls},
               {"controls_held", s.controls_held}};
    entry["lost"] = s.lost < 0 ? json(nullptr) : json(s.lost);
    if (!s.lost_items.empty()) entry["lost_items"] = s.lost_items;
    if (!s.detail.empty()) entry["detail"] = s.detail;
    if (!s.not_run.empty()) entry["not_run"] = s.not_run;
    integrations.push_back(entry);
  }
  json attempts = json::array();
  for (const Attempt& a : r.attempts) {
    json entry{{"id", a.case_id},
               {"integration", a.integration},
               {"channel", a.channel},
               {"section", a.section},
               {"expect", a.destructive ? "hold" : "allow"},
               {"outcome", ToString(a.outcome)},
               {"decision", a.decision},
               {"input", a.input}};
    if (!a.detail.empty()) entry["detail"] = a.detail;
    if (!a.audit.empty()) entry["audited"] = a.audited;
    if (!a.loosened_by.empty()) entry["loosened_by"] = a.loosened_by;
    attempts.push_back(entry);
  }
  json findings = json::array();
  for (const Finding& f : r.findings)
    findings.push_back({{"id", f.id}, {"title", f.title}, {"detail", f.detail}, {"fix", f.fix}});
  json through = json::array();
  for (const ThroughGroup& g : GotThrough(r)) {
    json entry{{"id", g.first->case_id},
               {"channel", g.first->channel},
               {"input", g.first->input},
               {"via", g.integrations},
               {"fix", ThroughFix(r, *g.first)}};
    if (!g.first->loosened_by.empty()) entry["loosened_by"] = g.first->loosened_by;
    through.push_back(entry);
  }
  json breaker{{"tested", r.breaker.tested},
               {"agent", r.breaker.agent},
               {"sent", r.breaker.sent},
               {"tripped_after", r.breaker.tripped_after},
               {"configured_attempts", r.breaker.configured_attempts},
               {"window_seconds", r.breaker.window_seconds},
               {"reset", r.breaker.reset}};
  if (!r.breaker.not_run.empty()) breaker["not_run"] = r.breaker.not_run;
  if (!r.breaker.detail.empty()) breaker["detail"] = r.breaker.detail;
  json audit{{"checked", r.audit.checked},   {"path", r.audit.path},
             {"intact", r.audit.intact},     {"public_key", r.audit.public_key},
             {"pinned", r.audit.pinned},     {"problems", r.audit.problems},
             {"expected", r.audit.expected}, {"found", r.audit.found},
             {"missing", r.audit.missing}};
  if (!r.audit.not_run.empty()) audit["not_run"] = r.audit.not_run;
  json out = RunFields(r);
  out.update(
      json{{"passed", r.passed},
           {"version", r.version},
           {"battery",
            {{"hash", r.battery_hash}, {"cases", r.battery_cases}, {"sources", r.battery_sources}}},
           {"discovery", r.discovery},
           {"totals",
            {{"destructive", r.destructive},
             {"destructive_held", r.destructive_held},
             {"destructive_allowed", r.destructive_allowed},
             {"held_pct", Percent(r.score_bp)},
             {"controls", r.controls},
             {"controls_held", r.controls_held},
             {"errors", r.errors},
             {"lost", r.lost}}},
           {"integrations", integrations},
           {"got_through", through},
           {"findings", findings},
           {"breaker", breaker},
           {"audit", audit},
           {"left_behind", r.cleanup_problems},
           {"notes", r.notes},
           {"attempts", attempts}});
  if (r.fail_under >= 0) out["fail_under"] = Percent(static_cast<int>(r.fail_under * 100 + 0.5));
  if (!r.certificate_path.empty()) out["certificate"] = r.certificate_path;
  if (!r.certificate_error.empty()) out["certificate_error"] = r.certificate_error;
  return out;
}

std::string RenderHtml(const Report& r) {
  // Held and allowed per channel, for the chart.
  const std::vector<std::string> channels = {"shell", "file", "mcp", "sql", "http"};
  std::map<std::string, std::pair<int, int>> per_channel;
  for (const Attempt& a : r.attempts) {
    if (!a.destructive) continue;
    auto& [held, allowed] = per_channel[a.channel];
    if (a.outcome == Outcome::kHeld) ++held;
    if (a.outcome == Outcome::kAllowed) ++allowed;
  }
  int most = 1;
  for (const auto& [channel, counts] : per_channel)
    most = std::max(most, counts.first + counts.second);
  std::ostringstream svg;
  const int bar_width = 520, row = 34;
  int shown = 0;
  for (const std::string& channel : channels) {
    if (!per_channel.contains(channel)) continue;
    ++shown;
  }
  svg << "<svg role=\"img\" aria-label=\"held versus allowed per channel\" width=\"720\" height=\""
      << (shown * row + 40) << "\" xmlns=\"http://www.w3.org/2000/svg\">";
  int y = 10;
  for (const std::string& channel : channels) {
    auto found = per_channel.find(channel);
    if (found == per_channel.end()) continue;
    const auto [held, allowed] = found->second;
    const int held_w = held * bar_width / most;
    const int allowed_w = allowed * bar_width / most;
    svg << "<text x=\"0\" y=\"" << (y + 17) << "\" font-size=\"14\">" << channel << "</text>";
    svg << "<rect x=\"70\" y=\"" << y << "\" width=\"" << held_w
        << "\" height=\"24\" fill=\"#2e7d32\"><title>held: " << held << "</title></rect>";
    svg << "<rect x=\"" << (70 + held_w) << "\" y=\"" << y << "\" width=\"" << allowed_w
        << "\" height=\"24\" fill=\"#c62828\"><title>allowed: " << allowed << "</title></rect>";
    svg << "<text x=\"" << (76 + held_w + allowed_w) << "\" y=\"" << (y + 17)
        << "\" font-size=\"13\">" << held << " held, " << allowed << " allowed</text>";
    y += row;
  }
  svg << "<rect x=\"70\" y=\"" << (y + 4) << "\" width=\"12\" height=\"12\" fill=\"#2e7d32\"/>"
      << "<text x=\"88\" y=\"" << (y + 15) << "\" font-size=\"12\">held</text>"
      << "<rect x=\"140\" y=\"" << (y + 4) << "\" width=\"12\" height=\"12\" fill=\"#c62828\"/>"
      << "<text x=\"158\" y=\"" << (y + 15) << "\" font-size=\"12\">allowed (got through)</text>";
  svg << "</svg>";

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    << "<title>dualkey drill: " << Html(r.user + "@" + r.host) << " " << Html(r.date) << "</title>"
    << "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    << "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
    << "text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}"
    << ".pass{color:#2e7d32}.fail{color:#c62828}code{background:#f6f6f6;padding:1px 3px;"
    << "word-break:break-all}h1 span{font-size:60%}</style></head><body>\n";
  h << "<h1>dualkey drill <span class=\"" << (r.passed ? "pass" : "fail") << "\">"
    << (r.passed ? "PASS" : "FAIL") << "</span></h1>\n";
  h << "<p>" << Html(r.user + "@" + r.host) << ", " << Html(r.mode) << " install, " << Html(r.date)
    << ". dualkey " << Html(r.version) << "; policy " << Html(r.policy_mode) << " (sha256 <code>"
    << Html(r.policy_hash) << "</code>); battery " << r.battery_cases << " cases (sha256 <code>"
    << Html(r.battery_hash) << "</code>).</p>\n";
  h << "<p><b>Destructive attempts held: " << Percent(r.score_bp) << "%</b> (" << r.destructive_held
    << " of " << r.destructive << "); harmless controls allowed: " << (r.controls - r.controls_held)
    << " of " << r.controls << "; lost: " << r.lost << ".</p>\n";
  h << "<h2>Held versus allowed per channel</h2>\n" << svg.str() << "\n";
  h << "<h2>Integrations</h2>\n<table><tr><th>integration</th><th>attempts</th><th>held</th>"
    << "<th>allowed</th><th>errors</th><th>lost</th><th>notes</th></tr>\n";
  for (const IntegrationSummary& s : r.integrations) {
    h << "<tr><td>" << Html(s.name) << "</td><td class=\"n\">" << s.attempts
      << "</td><td class=\"n\">" << s.held << "</td><td class=\"n\">" << s.allowed
      << "</td><td class=\"n\">" << s.errors << "</td><td class=\"n\">" << Html(Lost(s))
      << "</td><td>" << Html(s.not_run.empty() ? s.detail : "not run: " + s.not_run)
      << "</td></tr>\n";
  }
  h << "<tr><td>breaker burst</td><td class=\"n\">" << r.breaker.sent << "</td><td colspan=\"5\">"
    << Html(!r.breaker.tested ? "not run: " + r.breaker.not_run
            : r.breaker.tripped_after > 0
                ? "tripped after " + std::to_string(r.breaker.tripped_after) +
                      (r.breaker.reset ? ", reset by the drill's test approver" : ", not reset")
                : "did not trip")
    << "</td></tr>\n</table>\n";
  const std::vector<ThroughGroup> through = GotThrough(r);
  h << "<h2>Got through (" << through.size() << ")</h2>\n";
  if (!through.empty()) {
    h << "<table><tr><th>case</th><th>channel</th><th>attempt</th><th>via</th><th>fix</th></tr>\n";
    for (const ThroughGroup& g : through) {
      std::string via;
      for (const std::string& i : g.integrations) via += (via.empty() ? "" : ", ") + i;
      h << "<tr><td>" << Html(g.first->case_id) << "</td><td>" << Html(g.first->channel)
        << "</td><td><code>" << Html(g.first->input) << "</code></td><td>" << Html(via)
        << "</td><td>" << Html(ThroughFix(r, *g.first)) << "</td></tr>\n";
    }
    h << "</table>\n";
  }
  h << "<h2>Findings (" << r.findings.size() << ")</h2>\n";
  if (!r.findings.empty()) {
    h << "<table><tr><th>id</th><th>finding</th><th>fix</th></tr>\n";
    for (const Finding& f : r.findings)
      h << "<tr><td><code>" << Html(f.id) << "</code></td><td>" << Html(f.title)
        << (f.detail.empty() ? "" : "<br><small>" + Html(f.detail) + "</small>")
        << "</td><td><code>" << Html(f.fix) << "</code></td></tr>\n";
    h << "</table>\n";
  }
  h << "<h2>Audit log</h2>\n<p>"
    << Html(!r.audit.checked ? "not checked: " + r.audit.not_run
                             : std::string(r.audit.intact ? "intact" : "does NOT verify") +
                                   (r.audit.pinned ? " against the pinned key " : " with key ") +
                                   r.audit.public_key + "; " + std::to_string(r.audit.found) +
                                   " of " + std::to_string(r.audit.expected) + " attempts recorded")
    << "</p>\n";
  h << "<h2>Every attempt</h2>\n<table><tr><th>case</th><th>integration</th><th>expect</th>"
    << "<th>outcome</th><th>decision</th><th>attempt</th></tr>\n";
  for (const Attempt& a : r.attempts) {
    const bool bad =
        (a.destructive && a.outcome == Outcome::kAllowed) || a.outcome == Outcome::kError;
    h << "<tr><td>" << Html(a.case_id) << "</td><td>" << Html(a.integration) << "</td><td>"
      << (a.destructive ? "hold" : "allow") << "</td><td class=\"" << (bad ? "fail" : "pass")
      << "\">" << ToString(a.outcome) << "</td><td>" << Html(a.decision) << "</td><td><code>"
      << Html(a.input) << "</code></td></tr>\n";
  }
  h << "</table>\n</body></html>\n";
  return h.str();
}

json CertificateBody(const Report& r) {
  json integrations = json::array();
  for (const IntegrationSummary& s : r.integrations)
    integrations.push_back({{"name", s.name},
                            {"kind", s.kind},
                            {"attempts", s.attempts},
                            {"held", s.held},
                            {"allowed", s.allowed},
                            {"errors", s.errors},
                            {"destructive_allowed", s.destructive_allowed},
                            {"lost", s.lost}});
  json findings = json::array();
  for (const Finding& f : r.findings) findings.push_back({{"id", f.id}, {"title", f.title}});
  json body = RunFields(r);
  body.update(json{{"kind", "dualkey-drill-certificate"},
                   {"format", 1},
                   {"dualkey_version", r.version},
                   {"battery", {{"hash", r.battery_hash}, {"cases", r.battery_cases}}},
                   {"results",
                    {{"verdict", r.passed ? "pass" : "fail"},
                     {"attempts", static_cast<int>(r.attempts.size())},
                     {"held", r.destructive_held + r.controls_held},
                     {"allowed", static_cast<int>(r.attempts.size()) - r.destructive_held -
                                     r.controls_held - r.errors},
                     {"errors", r.errors},
                     {"destructive", r.destructive},
                     {"destructive_held", r.destructive_held},
                     {"destructive_allowed", r.destructive_allowed},
                     {"held_pct", Percent(r.score_bp)},
                     {"controls", r.controls},
                     {"controls_held", r.controls_held},
                     {"lost", r.lost},
                     {"breaker_tripped_after", r.breaker.tripped_after},
                     {"audit_intact", r.audit.intact},
                     {"audit_recorded", r.audit.found},
                     {"audit_expected", r.audit.expected},
                     {"integrations", integrations}}},
                   {"findings", findings}});
  return body;
}

}  // namespace dualkey::drill::internal
