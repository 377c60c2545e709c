// Reading policy layers from TOML files (toml++), with line-numbered errors.
#include <pwd.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "base/toml_list.h"
#include "base/toml_text.h"
#include "install/layout.h"
#include "policy/policy.h"

namespace dualkey::policy {

void LoadPacks(const Sources& sources, Policy* policy);  // policy_packs.cc

namespace {

std::string Where(const std::string& path, const toml::source_region& region) {
  return path + ":" + std::to_string(region.begin.line);
}

// A string or an array of strings.
bool StringList(const toml::node& node, const std::string& where, std::string_view key,
                std::vector<std::string>* out, std::vector<std::string>* errors) {
  std::string error;
  if (base::TomlStrings(node, key, out, &error)) return true;
  errors->push_back(where + ": " + error);
  return false;
}

bool ParseRule(const toml::table& table, const std::string& path, Rule* rule,
               std::vector<std::string>* errors) {
  const std::string where = Where(path, table.source());
  rule->line = static_cast<int>(table.source().begin.line);
  bool ok = true;
  bool has_decision = false;
  for (const auto& [key, node] : table) {
    const std::string key_where = Where(path, key.source());
    const std::string_view name = key.str();
    if (name == "name" || name == "message") {
      const auto* value = node.as_string();
      if (value == nullptr) {
        errors->push_back(key_where + ": \"" + std::string(name) + "\" must be a string");
        ok = false;
        continue;
      }
      (name == "name" ? rule->name : rule->message) = value->get();
    } else if (name == "channel") {
      ok = StringList(node, key_where, name, &rule->channels, errors) && ok;
      for (const std::string& channel : rule->channels) {
        Channel parsed;
        if (!ParseChannel(channel, &parsed)) {
          errors->push_back(key_where + ": unknown channel \"" + channel +
                            "\" (shell, sql, http, mcp or file)");
          ok = false;
        }
      }
    } else if (name == "class") {
      ok = StringList(node, key_where, name, &rule->classes, errors) && ok;
    } else if (name == "target") {
      ok = StringList(node, key_where, name, &rule->targets, errors) && ok;
    } else if (name == "agent") {
      ok = StringList(node, key_where, name, &rule->agents, errors) && ok;
    } else if (name == "env") {
      ok = StringList(node, key_where, name, &rule->envs, errors) && ok;
    } else if (name == "min_severity") {
      const auto* value = node.as_string();
      if (value == nullptr || !ParseSeverity(value->get(), &rule->min_severity)) {
        errors->push_back(key_where +
                          ": \"min_severity\" must be none, low, medium, high or critical");
        ok = false;
      }
    } else if (name == "destructive") {
      const auto* value = node.as_boolean();
      if (value == nullptr) {
        errors->push_back(key_where + ": \"destructive\" must be true or false");
        ok = false;
        continue;
      }
      rule->destructive = value->get() ? 1 : 0;
    } else if (name == "decision") {
      const auto* value = node.as_string();
      if (value != nullptr && value->get() == "snapshot") {
        rule->decision = Decision::kHold;
        rule->snapshot = true;
      } else if (value == nullptr || !ParseDecision(value->get(), &rule->decision)) {
        errors->push_back(key_where +
                          ": \"decision\" must be allow, snapshot, hold, hold2 or deny");
        ok = false;
        continue;
      }
      has_decision = true;
    } else {
      errors->push_back(key_where + ": unknown key \"" + std::string(name) +
                        "\" in a rule (name, channel, class, target, agent, env, min_severity, "
                        "destructive, decision, message)");
      ok = false;
    }
  }
  if (!has_decision) {
    errors->push_back(where +
                      ": a rule needs a \"decision\" (allow, snapshot, hold, hold2 or deny)");
    ok = false;
  }
  return ok;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool DirExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Loads one file into `policy` if it exists.
void LoadFile(const std::string& path, LayerKind kind, Policy* policy) {
  if (!FileExists(path)) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    policy->errors.push_back(path + ": cannot be read");
    return;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  Layer layer;
  if (!ParseLayer(buffer.str(), kind, path, &layer, &policy->errors)) return;
  policy->layers.push_back(std::move(layer));
}

struct LimitKey {
  const char* key;
  double min, max;
  bool tighter_is_larger;  // a longer breaker window catches more bursts
  bool integral;
};

constexpr LimitKey kLimitKeys[] = {
    {"breaker.attempts", 1, 1000, false, true},
    {"breaker.window_seconds", 1, 86400, true, true},
    {"rate_limit.burst", 1, 100000, false, true},
    {"rate_limit.per_minute", 0.01, 1e6, false, false},
    {"blast_radius.hold_rows_over", 0, 1e15, false, false},
    {"blast_radius.hold_table_fraction_over", 0, 1, false, false},
    {"snapshot.max_rows", 0, 1e12, false, true},
    {"snapshot.max_bytes", 0, 1e15, false, true},
    {"snapshot.max_table_fraction", 0, 1, false, false},
};

const LimitKey* FindLimit(std::string_view key) {
  for (const LimitKey& k : kLimitKeys)
    if (key == k.key) return &k;
  return nullptr;
}

// The Limits field a key names, as a number (the int fields convert exactly).
double GetLimit(const Limits& limits, std::string_view key) {
  if (key == "breaker.attempts") return limits.breaker_attempts;
  if (key == "breaker.window_seconds") return limits.breaker_window_seconds;
  if (key == "rate_limit.burst") return limits.rate_burst;
  if (key == "rate_limit.per_minute") return limits.rate_per_minute;
  if (key == "blast_radius.hold_rows_over") return limits.hold_rows_over;
  if (key == "snapshot.max_rows") return limits.snapshot_max_rows;
  if (key == "snapshot.max_bytes") return limits.snapshot_max_bytes;
  if (key == "snapshot.max_table_fraction") return limits.snapshot_max_table_fraction;
  return limits.hold_table_fraction_over;
}

void SetLimit(Limits* limits, std::string_view key, double value) {
  if (key == "breaker.attempts")
    limits->breaker_attempts = static_cast<int>(value);
  else if (key == "breaker.window_seconds")
    limits->breaker_window_seconds = static_cast<int>(value);
  else if (key == "rate_limit.burst")
    limits->rate_burst = static_cast<int>(value);
  else if (key == "rate_limit.per_minute")
    limits->rate_per_minute = value;
  else if (key == "blast_radius.hold_rows_over")
    limits->hold_rows_over = value;
  else if (key == "blast_radius.hold_table_fraction_over")
    limits->hold_table_fraction_over = value;
  else if (key == "snapshot.max_rows")
    limits->snapshot_max_rows = value;
  else if (key == "snapshot.max_bytes")
    limits->snapshot_max_bytes = value;
  else if (key == "snapshot.max_table_fraction")
    limits->snapshot_max_table_fraction = value;
}

std::string FormatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

bool ParseLayer(std::string_view text, LayerKind kind, std::string path, Layer* out,
                std::vector<std::string>* errors) {
  const std::size_t errors_before = errors->size();
  out->kind = kind;
  out->path = path;
  toml::table root;
  try {
    root = base::ParseToml(text, path);  // text with no ASCII form throws too
  } catch (const toml::parse_error& e) {
    errors->push_back(Where(path, e.source()) + ": " + std::string(e.description()));
    return false;
  }
  for (const auto& [key, node] : root) {
    const std::string where = Where(path, key.source());
    const std::string_view name = key.str();
    if (name == "mode") {
      const auto* value = node.as_string();
      if (value == nullptr || (value->get() != "enforce" && value->get() != "observe")) {
        errors->push_back(where + ": \"mode\" must be \"enforce\" or \"observe\"");
        continue;
      }
      if (kind == LayerKind::kProject && value->get() == "observe") {
        errors->push_back(where +
                          ": a project file cannot set mode = \"observe\" (it can only tighten)");
        continue;
      }
      out->has_mode = true;
      out->mode = value->get() == "observe" ? Mode::kObserve : Mode::kEnforce;
    } else if (name == "env") {
      StringList(node, where, name, &out->env, errors);
    } else if (name == "lock_user") {
      const auto* value = node.as_boolean();
      if (value == nullptr) {
        errors->push_back(where + ": \"lock_user\" must be true or false");
      } else if (kind != LayerKind::kSystem) {
        errors->push_back(where + ": \"lock_user\" belongs in the system policy only");
      } else {
        out->lock_user = value->get();
      }
    } else if (name == "breaker" || name == "rate_limit" || name == "blast_radius" ||
               name == "snapshot") {
      const auto* table = node.as_table();
      if (table == nullptr) {
        errors->push_back(where + ": \"" + std::string(name) + "\" must be a table");
        continue;
      }
      for (const auto& [limit_key, limit_node] : *table) {
        const std::string full = std::string(name) + "." + std::string(limit_key.str());
        const LimitKey* known = FindLimit(full);
        const std::string limit_where = Where(path, limit_key.source());
        std::optional<double> value = limit_node.value<double>();
        if (known == nullptr) {
          errors->push_back(limit_where + ": unknown key \"" + full + "\"");
        } else if (!value || *value < known->min || *value > known->max ||
                   (known->integral && std::floor(*value) != *value)) {
          errors->push_back(limit_where + ": \"" + full + "\" must be a number from " +
                            FormatNumber(known->min) + " to " + FormatNumber(known->max));
        } else {
          out->limits.emplace_back(full, *value);
        }
      }
    } else if (name == "rules") {
      const auto* array = node.as_array();
      if (array == nullptr || !array->is_array_of_tables()) {
        errors->push_back(where + ": \"rules\" must be written as [[rules]] tables");
        continue;
      }
      for (const toml::node& element : *array) {
        Rule rule;
        if (ParseRule(*element.as_table(), path, &rule, errors))
          out->rules.push_back(std::move(rule));
      }
    } else {
      errors->push_back(
          where + ": unknown key \"" + std::string(name) +
          "\" (mode, env, lock_user, [breaker], [rate_limit], [blast_radius], [snapshot], "
          "[[rules]])");
    }
  }
  return errors->size() == errors_before;
}

Policy Load(const Sources& sources) {
  Policy policy = Builtin();
  if (!sources.error.empty()) policy.errors.push_back(sources.error);
  policy.lock_user = sources.user_tighten_only;
  if (sources.system_file) {
    const LayerFile& file = *sources.system_file;
    policy.errors.insert(policy.errors.end(), file.errors.begin(), file.errors.end());
    if (file.present && file.errors.empty()) policy.layers.push_back(file.layer);
  } else {
    LoadFile(sources.system_path, LayerKind::kSystem, &policy);
  }
  LoadFile(sources.user_path, LayerKind::kUser, &policy);
  if (!sources.project_dir.empty() && sources.project_dir[0] == '/') {
    // The nearest .dualkey.toml at or above the working directory, stopping
    // at the repository root.
    std::string dir = sources.project_dir;
    while (true) {
      std::string candidate = (dir == "/" ? "" : dir) + "/.dualkey.toml";
      if (FileExists(candidate)) {
        LoadFile(candidate, LayerKind::kProject, &policy);
        break;
      }
      if (DirExists(dir + "/.git") || dir == "/") break;
      std::size_t slash = dir.rfind('/');
      dir = slash == 0 ? "/" : dir.substr(0, slash);
    }
  }
  for (const Layer& layer : policy.layers) {
    if (layer.kind == LayerKind::kSystem) policy.lock_user = policy.lock_user || layer.lock_user;
    // Project files cannot set observe (ParseLayer refuses it); a locked user
    // layer cannot either.
    if (layer.has_mode &&
        !(layer.kind == LayerKind::kUser && policy.lock_user && layer.mode == Mode::kObserve))
      policy.mode = layer.kind == LayerKind::kProject ? Mode::kEnforce : layer.mode;
    policy.env.insert(policy.env.end(), layer.env.begin(), layer.env.end());
    const bool tighten_only =
        layer.kind == LayerKind::kProject || (layer.kind == LayerKind::kUser && policy.lock_user);
    for (const auto& [key, value] : layer.limits) {
      const LimitKey* known = FindLimit(key);
      if (known == nullptr) continue;
      const double current = GetLimit(policy.limits, key);
      const bool tighter = known->tighter_is_larger ? value > current : value < current;
      if (!tighten_only || tighter) SetLimit(&policy.limits, key, value);
    }
  }
  LoadPacks(sources, &policy);
  std::string_view labels = sources.env_labels;
  while (!labels.empty()) {
    std::size_t comma = labels.find(',');
    std::string_view label = labels.substr(0, comma);
    if (!label.empty()) policy.env.emplace_back(label);
    if (comma == std::string_view::npos) break;
    labels.remove_prefix(comma + 1);
  }
  return policy;
}

LayerFile ReadLayerFile(const std::string& path, LayerKind kind) {
  LayerFile file;
  file.path = path;
  if (path.empty() || !FileExists(path)) return file;
  file.present = true;
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  if (in) buffer << in.rdbuf();
  if (!in || in.bad()) {
    file.errors.push_back(path + ": cannot be read");
    return file;
  }
  ParseLayer(buffer.str(), kind, path, &file.layer, &file.errors);
  return file;
}

Sources DefaultSources(std::string_view cwd, std::string_view home) {
  Result<install::Layout> layout = install::CurrentLayout();
  if (!layout.ok()) {
    Sources sources = ProtectedSources("/etc/dualkey", getuid(), cwd);
    sources.error = layout.status().message();
    return sources;
  }
  if (!layout->sandbox_dir.empty()) return SandboxSources(layout->config_dir, cwd);
  if (layout->protected_install) return ProtectedSources(layout->config_dir, getuid(), cwd);
  return SingleUserSources(cwd, home);
}

Sources SandboxSources(std::string_view config_dir, std::string_view cwd) {
  Sources sources;
  sources.system_path = std::string(config_dir) + "/policy.toml";
  sources.project_dir = std::string(cwd);
  return sources;
}

Sources ProtectedSources(std::string_view config_dir, uid_t uid, std::string_view cwd) {
  Sources sources;
  sources.system_path = std::string(config_dir) + "/policy.toml";
  sources.project_dir = std::string(cwd);
  sources.user_tighten_only = true;
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (uid != static_cast<uid_t>(-1) &&
      getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr && found->pw_dir[0] == '/')
    sources.user_path = std::string(found->pw_dir) + "/.config/dualkey/policy.toml";
  return sources;
}

Sources SingleUserSources(std::string_view cwd, std::string_view home) {
  Sources sources;
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg == '/')
    sources.user_path = std::string(xdg) + "/dualkey/policy.toml";
  else if (!home.empty())
    sources.user_path = std::string(home) + "/.config/dualkey/policy.toml";
  sources.project_dir = std::string(cwd);
  if (const char* env = std::getenv("DUALKEY_ENV")) sources.env_labels = env;
  return sources;
}

}  // namespace dualkey::policy
