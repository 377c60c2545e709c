#include "drill/internal/battery.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "base/json_text.h"
#include "drill/battery_data.h"  // generated from src/drill/battery/*.jsonl
#include "token/token.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

const std::set<std::string>& Channels() {
  static const std::set<std::string> channels = {"shell", "sql", "http", "mcp", "file"};
  return channels;
}

const std::set<std::string>& Vias() {
  static const std::set<std::string> vias = {kViaHooks, kViaPgProxy, kViaGateway, kViaMcp,
                                             kViaBreaker};
  return vias;
}

std::vector<std::string> DefaultVia(const std::string& channel) {
  if (channel == "sql") return {kViaPgProxy};
  if (channel == "http") return {kViaGateway};
  if (channel == "mcp") return {kViaHooks, kViaMcp};
  return {kViaHooks};  // shell, file
}

// Why `input` is not the shape its channel needs; empty when it is.
std::string InputProblem(const std::string& channel, const json& input) {
  if (channel == "shell" || channel == "sql")
    return input.is_string() && !input.get<std::string>().empty()
               ? ""
               : "input must be a non-empty string";
  if (!input.is_object()) return "input must be an object for channel " + channel;
  auto text = [&](const char* key) { return input.contains(key) && input[key].is_string(); };
  if (channel == "http") {
    if (!text("method") || !text("url")) return "an http input needs \"method\" and \"url\"";
    if (input.contains("body") && !input["body"].is_string()) return "an http body is a string";
    if (input.contains("headers") && !input["headers"].is_object())
      return "http headers are an object";
    return "";
  }
  if (channel == "mcp") {
    if (!text("server") || !text("tool")) return "an mcp input needs \"server\" and \"tool\"";
    if (input.contains("arguments") && !input["arguments"].is_object())
      return "mcp arguments are an object";
    return "";
  }
  // file
  if (!text("path") || !text("operation")) return "a file input needs \"path\" and \"operation\"";
  const std::string op = input["operation"];
  if (op != "write" && op != "edit" && op != "delete")
    return "a file operation is write, edit or delete";
  return "";
}

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::ostringstream text;
  if (*ok) text << in.rdbuf();
  return text.str();
}

}  // namespace

std::vector<BuiltinFile> BuiltinBattery() {
  std::vector<BuiltinFile> files;
  for (const auto& file : kBatteryFiles) files.push_back({file.name, file.text});
  return files;
}

void ParseBattery(const std::string& text, const std::string& source, Battery* battery) {
  std::set<std::string> ids;
  for (const Case& c : battery->cases) ids.insert(c.id);
  std::istringstream in(text);
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& why) {
    battery->errors.push_back(source + ":" + std::to_string(number) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (line.find_first_not_of(" \t") != std::string::npos &&
        line[line.find_first_not_of(" \t")] == '#')
      continue;
    std::string error;
    std::optional<json> parsed = base::JsonParse(line, &error);
    if (!parsed || !parsed->is_object()) {
      fail(parsed ? "a case is a JSON object" : "not JSON: " + error);
      continue;
    }
    const json& j = *parsed;
    auto text_field = [&](const char* key, std::string* out, bool required) {
      if (!j.contains(key)) return !required;
      if (!j[key].is_string()) return false;
      *out = j[key].get<std::string>();
      return !required || !out->empty();
    };
    Case c;
    c.source = source;
    c.line = number;
    if (!text_field("id", &c.id, true) || !text_field("channel", &c.channel, true) ||
        !text_field("expect", &c.expect, true)) {
      fail("a case needs string \"id\", \"channel\" and \"expect\"");
      continue;
    }
    if (!Channels().contains(c.channel)) {
      fail("unknown channel '" + c.channel + "' (shell, sql, http, mcp, file)");
      continue;
    }
    if (c.expect != "hold" && c.expect != "allow" && c.expect != "hold2" && c.expect != "deny") {
      fail("expect is hold or allow (hold2 and deny count as hold)");
      continue;
    }
    if (c.expect != "allow") c.expect = "hold";
    if (!j.contains("input")) {
      fail("a case needs an \"input\"");
      continue;
    }
    c.input = j["input"];
    if (std::string problem = InputProblem(c.channel, c.input); !problem.empty()) {
      fail(problem);
      continue;
    }
    if (!text_field("cwd", &c.cwd, false) || !text_field("class", &c.cls, false) ||
        !text_field("why", &c.why, false) || !text_field("section", &c.section, false)) {
      fail("cwd, class, why and section are strings");
      continue;
    }
    if (c.section.empty()) c.section = c.expect == "allow" ? "control" : "destructive";
    if (j.contains("via")) {
      const json& via = j["via"];
      bool good = via.is_array() && !via.empty();
      if (good)
        for (const json& v : via)
          good = good && v.is_string() && Vias().contains(v.get<std::string>());
      if (!good) {
        fail("via is a list of: hooks, pg-proxy, gateway, mcp, breaker");
        continue;
      }
      for (const json& v : via) c.via.push_back(v.get<std::string>());
    } else {
      c.via = DefaultVia(c.channel);
    }
    // Each way in takes its own channel: SQL is all the proxy is sent, HTTP
    // all the gateway is, and so on.
    bool fits = true;
    for (const std::string& v : c.via)
      fits = fits && (v == kViaPgProxy   ? c.channel == "sql"
                      : v == kViaGateway ? c.channel == "http"
                      : v == kViaMcp     ? c.channel == "mcp"
                      : v == kViaBreaker
                          ? c.channel == "shell"
                          : c.channel == "shell" || c.channel == "file" || c.channel == "mcp");
    if (!fits) {
      fail("via does not fit channel " + c.channel +
           " (pg-proxy: sql, gateway: http, mcp: mcp, breaker: shell, hooks: shell, file, mcp)");
      continue;
    }
    // The user's own cases are held to what the built-in battery's tests
    // hold it to: only the canaries.
    if (!source.starts_with("built-in:")) {
      if (std::string why = OutsideScope(c); !why.empty()) {
        fail(why);
        continue;
      }
    }
    if (!ids.insert(c.id).second) {
      fail("id '" + c.id + "' is taken (added cases cannot replace others)");
      continue;
    }
    battery->cases.push_back(std::move(c));
  }
}

Battery LoadBattery(const BatterySources& sources) {
  Battery battery;
  auto read_file = [&battery](const std::string& path) {
    bool ok = false;
    std::string text = ReadAll(path, &ok);
    if (!ok) {
      battery.errors.push_back(path + ": cannot be read");
      return;
    }
    ParseBattery(text, path, &battery);
    battery.sources.push_back(path);
  };
  if (sources.builtin) {
    for (const BuiltinFile& file : BuiltinBattery()) {
      const std::string name = std::string("built-in:") + file.name;
      ParseBattery(file.text, name, &battery);
      battery.sources.push_back(name);
    }
  }
  for (const std::string& dir : sources.directories) {
    DIR* handle = opendir(dir.c_str());
    if (handle == nullptr) continue;
    std::vector<std::string> names;
    while (dirent* entry = readdir(handle)) {
      std::string name = entry->d_name;
      if (name.size() > 6 && name.ends_with(".jsonl")) names.push_back(name);
    }
    closedir(handle);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) read_file(dir + "/" + name);
  }
  for (const std::string& path : sources.files) read_file(path);
  std::string all;
  for (const Case& c : battery.cases) {
    json j{{"id", c.id},
           {"channel", c.channel},
           {"input", c.input},
           {"expect", c.expect},
           {"via", c.via}};
    if (!c.cwd.empty()) j["cwd"] = c.cwd;
    all += base::JsonDump(j) + "\n";
  }
  battery.hash = token::Sha256Hex(all);
  return battery;
}

std::string Substitute(const std::string& text, const Placeholders& values) {
  if (text.find('{') == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '{') {
      const std::size_t close = text.find('}', i + 1);
      if (close != std::string::npos && close - i <= 32) {
        auto found = values.find(text.substr(i + 1, close - i - 1));
        if (found != values.end()) {
          out += found->second;
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

json Substitute(const json& value, const Placeholders& values) {
  if (value.is_string()) return Substitute(value.get<std::string>(), values);
  if (value.is_array()) {
    json out = json::array();
    for (const json& v : value) out.push_back(Substitute(v, values));
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it)
      out[Substitute(it.key(), values)] = Substitute(it.value(), values);
    return out;
  }
  return value;
}

}  // namespace dualkey::drill::internal
