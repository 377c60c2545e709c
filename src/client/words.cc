#include "client/words.h"

#include <cstdio>

#include "base/json_text.h"

namespace dualkey::client {

using nlohmann::json;

std::string HumanCount(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string HumanBytes(std::int64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

std::string HumanDuration(std::int64_t ms) {
  if (ms < 0) ms = 0;
  const std::int64_t seconds = (ms + 999) / 1000;
  if (seconds < 90) return std::to_string(seconds) + " s";
  const std::int64_t minutes = (seconds + 59) / 60;
  if (minutes < 120) return std::to_string(minutes) + " min";
  return std::to_string((minutes + 59) / 60) + " h";
}

namespace {

std::string Plural(std::int64_t n, const std::string& one, const std::string& many) {
  return HumanCount(n) + " " + (n == 1 ? one : many);
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

json HoldWords(const Approval& r, std::int64_t now_ms) {
  const json& d = r.details.is_object() ? r.details : json::object();
  json words = json::object();
  std::string who = "agent " + r.agent;
  if (!Str(d, "os_user").empty())
    who += " as OS user " + Str(d, "os_user");
  else if (d.contains("uid"))
    who += " as uid " + std::to_string(d.value("uid", -1LL));
  words["who"] = who;
  words["where"] = r.cwd.empty() ? "working directory unknown" : "in " + r.cwd;
  std::string approvals = r.approvals_needed >= 2
                              ? "needs " + std::to_string(r.approvals_needed) +
                                    " approvals from different approvers (hold2)"
                              : "needs 1 approval";
  if (!r.approvers.empty()) {
    approvals += "; approved so far by ";
    for (std::size_t i = 0; i < r.approvers.size(); ++i)
      approvals += (i ? ", " : "") + r.approvers[i];
  }
  words["approvals"] = approvals;
  words["expires"] =
      r.expires_ms > now_ms ? "expires in " + HumanDuration(r.expires_ms - now_ms) : "expired";
  json actions = json::array();
  if (auto it = d.find("actions"); it != d.end() && it->is_array()) {
    for (const json& a : *it) {
      std::string line = Str(a, "class");
      std::string targets;
      if (auto t = a.find("targets"); t != a.end() && t->is_array())
        for (const json& target : *t)
          if (target.is_string())
            targets += (targets.empty() ? "" : ", ") + target.get<std::string>();
      if (!targets.empty()) line += ": " + targets;
      line += " (" + Str(a, "reversibility") + ", " + Str(a, "severity") + " severity)";
      actions.push_back(line);
    }
  }
  words["actions"] = actions;
  json commands = json::array();
  if (auto it = d.find("commands"); it != d.end() && it->is_array())
    for (const json& c : *it)
      commands.push_back(std::string(c.value("depth", 0) * 2, ' ') + Str(c, "text"));
  words["commands"] = commands;
  std::string blast;
  if (auto it = d.find("blast_radius"); it != d.end() && it->is_object()) {
    const json& b = *it;
    if (b.contains("files")) {
      const bool partial = b.value("partial", false);
      blast = (partial ? "at least " : "") + Plural(b.value("files", 0LL), "file", "files") +
              " in " + Plural(b.value("dirs", 0LL), "directory", "directories") + ", " +
              HumanBytes(b.value("bytes", 0LL));
    }
    if (!Str(b, "estimate").empty()) blast += (blast.empty() ? "" : "; ") + Str(b, "estimate");
    if (auto remote = b.find("remote");
        remote != b.end() && remote->is_array() && !remote->empty()) {
      std::string list;
      for (const json& x : *remote)
        if (x.is_string()) list += (list.empty() ? "" : ", ") + x.get<std::string>();
      blast += (blast.empty() ? "" : "; ") + std::string("remote: ") + list;
    }
  }
  words["blast_radius"] = blast.empty() ? "not measured (no local files among the targets)" : blast;
  std::string vault;
  if (auto it = d.find("vault"); it != d.end() && it->is_object()) vault = Str(*it, "summary");
  words["vault"] = vault.empty() ? "unknown (held before this daemon kept details)" : vault;
  return words;
}

std::string HoldWordsText(const json& words, const std::string& indent) {
  std::string out;
  auto line = [&](const std::string& label, const std::string& text) {
    if (!text.empty()) out += indent + label + text + "\n";
  };
  line("", Str(words, "who") + ", " + Str(words, "where"));
  if (auto c = words.find("commands"); c != words.end() && c->is_array() && !c->empty()) {
    out += indent + "would run:\n";
    for (const json& command : *c) out += indent + "  " + command.get<std::string>() + "\n";
  }
  if (auto a = words.find("actions"); a != words.end() && a->is_array() && !a->empty()) {
    out += indent + "actions:\n";
    for (const json& action : *a) out += indent + "  " + action.get<std::string>() + "\n";
  }
  line("blast radius: ", Str(words, "blast_radius"));
  line("vault: ", Str(words, "vault"));
  line("", Str(words, "approvals") + "; " + Str(words, "expires"));
  return out;
}

}  // namespace dualkey::client
