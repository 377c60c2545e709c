// Reading a pack from TOML (toml++), every error with its file and line.
#include <toml++/toml.h>

#include <algorithm>

#include "base/toml_list.h"
#include "base/toml_text.h"
#include "packs/spec.h"

namespace dualkey::packs {
namespace {

class Reader {
 public:
  Reader(const std::string& path, std::vector<std::string>* errors)
      : path_(path), errors_(errors) {}

  std::string Where(const toml::source_region& region) const {
    return path_ + ":" + std::to_string(region.begin.line);
  }
  void Error(const toml::source_region& region, const std::string& message) {
    errors_->push_back(Where(region) + ": " + message);
    ok_ = false;
  }
  bool ok() const { return ok_; }

  bool String(const toml::node& node, const toml::source_region& where, std::string_view key,
              std::string* out) {
    const auto* value = node.as_string();
    if (value == nullptr) {
      Error(where, "\"" + std::string(key) + "\" must be a string");
      return false;
    }
    *out = value->get();
    return true;
  }

  // A string or a list of strings.
  bool Strings(const toml::node& node, const toml::source_region& where, std::string_view key,
               std::vector<std::string>* out) {
    std::string error;
    if (base::TomlStrings(node, key, out, &error)) return true;
    Error(where, error);
    return false;
  }

  bool Severity(const toml::node& node, const toml::source_region& where, std::string_view key,
                dualkey::Severity* out) {
    std::string text;
    if (!String(node, where, key, &text)) return false;
    if (!ParseSeverity(text, out)) {
      Error(where, "\"" + std::string(key) + "\" must be none, low, medium, high or critical");
      return false;
    }
    return true;
  }

  // "operands", "after-dashes", "option:-c|--command", "operand:2", "stdin", "none".
  bool SourceSpec(const toml::node& node, const toml::source_region& where, std::string_view key,
                  Source* out) {
    std::string text;
    if (!String(node, where, key, &text)) return false;
    std::string_view view = text;
    if (view == "operands") {
      out->kind = Source::Kind::kOperands;
    } else if (view == "after-dashes") {
      out->kind = Source::Kind::kAfterDashes;
    } else if (view == "stdin") {
      out->kind = Source::Kind::kStdin;
    } else if (view == "none") {
      out->kind = Source::Kind::kNone;
    } else if (view.starts_with("option:") && view.size() > 7) {
      out->kind = Source::Kind::kOption;
      std::string_view names = view.substr(7);
      while (!names.empty()) {
        std::size_t bar = names.find('|');
        std::string_view name = names.substr(0, bar);
        if (!name.starts_with("-")) {
          Error(where, "\"" + std::string(key) + "\": option names start with '-' (\"" +
                           std::string(name) + "\")");
          return false;
        }
        out->options.emplace_back(name);
        if (bar == std::string_view::npos) break;
        names.remove_prefix(bar + 1);
      }
    } else if ((view.starts_with("operand:") && view.size() > 8) ||
               (view.starts_with("operands:") && view.size() > 9)) {
      const bool from = view.starts_with("operands:");
      out->kind = from ? Source::Kind::kOperandsFrom : Source::Kind::kOperand;
      int index = 0;
      for (char c : view.substr(from ? 9 : 8)) {
        if (c < '0' || c > '9' || index > 1000) {
          index = -1;
          break;
        }
        index = index * 10 + (c - '0');
      }
      if (index < 1) {
        Error(where, "\"" + std::string(key) + "\": operand:N and operands:N need N >= 1");
        return false;
      }
      out->index = index;
    } else {
      Error(where, "\"" + std::string(key) +
                       "\" must be operands, operands:N, after-dashes, stdin, none, option:NAME or "
                       "operand:N");
      return false;
    }
    return true;
  }

 private:
  const std::string& path_;
  std::vector<std::string>* errors_;
  bool ok_ = true;
};

// "gh repo delete" -> {"gh", "repo", "delete"}
std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

void ParseTool(const toml::table& table, Reader& r, Tool* tool) {
  tool->line = static_cast<int>(table.source().begin.line);
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    const toml::source_region& where = key.source();
    if (name == "names") {
      r.Strings(node, where, name, &tool->names);
    } else if (name == "kind") {
      std::string text;
      if (!r.String(node, where, name, &text)) continue;
      if (text == "cli")
        tool->kind = ToolKind::kCli;
      else if (text == "plain")
        tool->kind = ToolKind::kPlain;
      else
        r.Error(where, "\"kind\" must be \"cli\" or \"plain\"");
    } else if (name == "value_options") {
      r.Strings(node, where, name, &tool->value_options);
    } else if (name == "destroy_class") {
      r.String(node, where, name, &tool->destroy_class);
    } else if (name == "destroy_severity") {
      r.Severity(node, where, name, &tool->destroy_severity);
    } else if (name == "verb_depth") {
      std::optional<int64_t> value = node.value<int64_t>();
      if (!value || *value < 1 || *value > 8)
        r.Error(where, "\"verb_depth\" must be a number from 1 to 8");
      else
        tool->verb_depth = static_cast<int>(*value);
    } else {
      r.Error(where, "unknown key \"" + std::string(name) +
                         "\" in [[tool]] (names, kind, value_options, destroy_class, "
                         "destroy_severity, verb_depth)");
    }
  }
  if (tool->names.empty()) r.Error(table.source(), "a [[tool]] needs \"names\"");
  for (const std::string& tool_name : tool->names)
    if (tool_name.empty() || tool_name.find('/') != std::string::npos ||
        tool_name.find(' ') != std::string::npos)
      r.Error(table.source(), "a tool name is a command's basename (\"" + tool_name + "\")");
}

void ParseHttp(const toml::table& table, Reader& r, HttpSpec* http) {
  http->enabled = true;
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    const toml::source_region& where = key.source();
    if (name == "method") {
      r.SourceSpec(node, where, name, &http->method);
    } else if (name == "default_method") {
      r.String(node, where, name, &http->default_method);
    } else if (name == "body_method") {
      r.String(node, where, name, &http->body_method);
    } else if (name == "body_options") {
      r.Strings(node, where, name, &http->body_options);
    } else if (name == "url") {
      r.SourceSpec(node, where, name, &http->url);
    } else if (name == "base") {
      r.String(node, where, name, &http->base);
    } else {
      r.Error(where, "unknown key \"" + std::string(name) +
                         "\" in http (method, default_method, body_method, body_options, url, "
                         "base)");
    }
  }
  if (http->url.kind == Source::Kind::kNone)
    r.Error(table.source(), "http needs \"url\" (operand:N or option:NAME)");
}

void ParseRule(const toml::table& table, Reader& r, const Pack& pack, Rule* rule) {
  rule->line = static_cast<int>(table.source().begin.line);
  rule->targets.kind = Source::Kind::kOperands;
  bool has_command = false;
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    const toml::source_region& where = key.source();
    if (name == "name") {
      r.String(node, where, name, &rule->name);
    } else if (name == "command") {
      std::string text;
      if (!r.String(node, where, name, &text)) continue;
      std::vector<std::string> words = SplitWords(text);
      if (words.empty()) {
        r.Error(where, "\"command\" names the tool and its leading words");
        continue;
      }
      has_command = true;
      rule->tool = words.front();
      rule->path.assign(words.begin() + 1, words.end());
    } else if (name == "with") {
      r.Strings(node, where, name, &rule->with);
    } else if (name == "without") {
      r.Strings(node, where, name, &rule->without);
    } else if (name == "option") {
      r.String(node, where, name, &rule->option);
    } else if (name == "value") {
      r.String(node, where, name, &rule->value);
    } else if (name == "operand") {
      r.Strings(node, where, name, &rule->operand);
    } else if (name == "class") {
      r.String(node, where, name, &rule->op_class);
    } else if (name == "severity") {
      r.Severity(node, where, name, &rule->severity);
    } else if (name == "reversibility") {
      std::string text;
      if (!r.String(node, where, name, &text)) continue;
      if (!ParseReversibility(text, &rule->reversibility))
        r.Error(where,
                "\"reversibility\" must be reversible, recoverable, irreversible or unknown");
      else
        rule->reversibility_set = true;
    } else if (name == "reason") {
      r.String(node, where, name, &rule->reason);
    } else if (name == "targets") {
      r.SourceSpec(node, where, name, &rule->targets);
    } else if (name == "run") {
      r.SourceSpec(node, where, name, &rule->run);
    } else if (name == "run_prefix") {
      r.Strings(node, where, name, &rule->run_prefix);
    } else if (name == "sql") {
      r.SourceSpec(node, where, name, &rule->sql);
    } else if (name == "dialect") {
      if (r.String(node, where, name, &rule->dialect) && rule->dialect != "postgres" &&
          rule->dialect != "mysql" && rule->dialect != "sqlite")
        r.Error(where, "\"dialect\" must be postgres, mysql or sqlite");
    } else if (name == "http") {
      const auto* http = node.as_table();
      if (http == nullptr)
        r.Error(where, "\"http\" must be a table: http = { method = ..., url = ... }");
      else
        ParseHttp(*http, r, &rule->http);
    } else {
      r.Error(where, "unknown key \"" + std::string(name) +
                         "\" in [[rule]] (name, command, with, without, option, value, operand, "
                         "class, severity, reversibility, reason, targets, run, run_prefix, sql, "
                         "dialect, http)");
    }
  }
  if (rule->name.empty()) r.Error(table.source(), "a [[rule]] needs a \"name\"");
  if (!has_command) r.Error(table.source(), "a [[rule]] needs a \"command\" (tool and words)");
  if (!rule->value.empty() && rule->option.empty())
    r.Error(table.source(), "\"value\" needs the \"option\" it belongs to");
  const int effects =
      (!rule->op_class.empty() ? 1 : 0) + (rule->run.kind != Source::Kind::kNone ? 1 : 0) +
      (rule->sql.kind != Source::Kind::kNone ? 1 : 0) + (rule->http.enabled ? 1 : 0);
  if (effects != 1)
    r.Error(table.source(),
            "a [[rule]] needs exactly one effect: class, run, sql or http (rule \"" + rule->name +
                "\")");
  if (!rule->run_prefix.empty() && rule->run.kind == Source::Kind::kNone)
    r.Error(table.source(), "\"run_prefix\" needs \"run\"");
  if (has_command) {
    bool known = false;
    for (const Tool& tool : pack.tools)
      known =
          known || std::find(tool.names.begin(), tool.names.end(), rule->tool) != tool.names.end();
    if (!known)
      r.Error(table.source(), "rule \"" + rule->name + "\" is for \"" + rule->tool +
                                  "\", which no [[tool]] of this pack names");
  }
}

void ParseTest(const toml::table& table, Reader& r, Test* test) {
  test->line = static_cast<int>(table.source().begin.line);
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    const toml::source_region& where = key.source();
    if (name == "command") {
      r.String(node, where, name, &test->command);
    } else if (name == "cwd") {
      r.String(node, where, name, &test->cwd);
    } else if (name == "expect") {
      if (r.String(node, where, name, &test->expect) && test->expect != "allow" &&
          test->expect != "hold" && test->expect != "hold2" && test->expect != "deny")
        r.Error(where, "\"expect\" must be allow, hold, hold2 or deny");
    } else if (name == "class") {
      r.String(node, where, name, &test->op_class);
    } else {
      r.Error(where, "unknown key \"" + std::string(name) +
                         "\" in [[test]] (command, cwd, expect, class)");
    }
  }
  if (test->command.empty()) r.Error(table.source(), "a [[test]] needs a \"command\"");
  if (test->expect.empty()) r.Error(table.source(), "a [[test]] needs \"expect\"");
}

void ParseClass(const toml::table& table, Reader& r, ClassDecl* decl) {
  decl->line = static_cast<int>(table.source().begin.line);
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    const toml::source_region& where = key.source();
    if (name == "name") {
      if (r.String(node, where, name, &decl->name) && !op_class::IsWellFormed(decl->name))
        r.Error(where, "class \"" + decl->name +
                           "\" is not a class name: dotted lower-case words (acme.tenant.delete)");
    } else if (name == "description") {
      if (r.String(node, where, name, &decl->description) &&
          decl->description.find('\n') != std::string::npos)
        r.Error(where, "a class's \"description\" is one line");
    } else {
      r.Error(where, "unknown key \"" + std::string(name) + "\" in [[class]] (name, description)");
    }
  }
  if (decl->name.empty()) r.Error(table.source(), "a [[class]] needs a \"name\"");
  if (decl->description.empty())
    r.Error(table.source(), "a [[class]] needs a \"description\": one line of what it does");
}

// Arrays of tables, in file order: [[tool]] before [[rule]] is not required.
const toml::array* Tables(const toml::node& node, const toml::source_region& where,
                          std::string_view key, Reader& r) {
  const auto* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    r.Error(where,
            "\"" + std::string(key) + "\" must be written as [[" + std::string(key) + "]] tables");
    return nullptr;
  }
  return array;
}

}  // namespace

bool ParsePack(std::string_view text, const std::string& path, Pack* out,
               std::vector<std::string>* errors) {
  *out = Pack{};
  out->source = path;
  Reader r(path, errors);
  toml::table root;
  try {
    root = base::ParseToml(text, path);  // text with no ASCII form throws too
  } catch (const toml::parse_error& e) {
    r.Error(e.source(), std::string(e.description()));
    return false;
  }
  // Tools first, whatever the order in the file: rules name them.
  if (const toml::node* tools = root.get("tool")) {
    if (const toml::array* array = Tables(*tools, tools->source(), "tool", r))
      for (const toml::node& element : *array) {
        Tool tool;
        ParseTool(*element.as_table(), r, &tool);
        out->tools.push_back(std::move(tool));
      }
  }
  bool has_pack = false;
  for (const auto& [key, node] : root) {
    const std::string_view name = key.str();
    const toml::source_region& where = key.source();
    if (name == "tool") continue;
    if (name == "pack") {
      const auto* table = node.as_table();
      if (table == nullptr) {
        r.Error(where, "\"pack\" must be a table: [pack]");
        continue;
      }
      has_pack = true;
      for (const auto& [pack_key, pack_node] : *table) {
        const std::string_view pack_name = pack_key.str();
        if (pack_name == "name")
          r.String(pack_node, pack_key.source(), pack_name, &out->name);
        else if (pack_name == "description")
          r.String(pack_node, pack_key.source(), pack_name, &out->description);
        else
          r.Error(pack_key.source(),
                  "unknown key \"" + std::string(pack_name) + "\" in [pack] (name, description)");
      }
    } else if (name == "rule") {
      if (const toml::array* array = Tables(node, where, "rule", r))
        for (const toml::node& element : *array) {
          Rule rule;
          ParseRule(*element.as_table(), r, *out, &rule);
          out->rules.push_back(std::move(rule));
        }
    } else if (name == "test") {
      if (const toml::array* array = Tables(node, where, "test", r))
        for (const toml::node& element : *array) {
          Test test;
          ParseTest(*element.as_table(), r, &test);
          out->tests.push_back(std::move(test));
        }
    } else if (name == "class") {
      if (const toml::array* array = Tables(node, where, "class", r))
        for (const toml::node& element : *array) {
          ClassDecl decl;
          ParseClass(*element.as_table(), r, &decl);
          out->classes.push_back(std::move(decl));
        }
    } else {
      r.Error(where, "unknown key \"" + std::string(name) +
                         "\" ([pack], [[tool]], [[rule]], "
                         "[[test]], [[class]])");
    }
  }
  if (!has_pack || out->name.empty()) r.Error(root.source(), "a pack needs [pack] with a \"name\"");
  if (out->tools.empty()) r.Error(root.source(), "a pack needs at least one [[tool]]");
  for (const Rule& rule : out->rules)
    for (const Rule& other : out->rules)
      if (&other < &rule && other.name == rule.name && !rule.name.empty())
        r.Error(root.source(), "two rules are named \"" + rule.name + "\" (lines " +
                                   std::to_string(other.line) + " and " +
                                   std::to_string(rule.line) + ")");
  for (const ClassDecl& decl : out->classes)
    for (const ClassDecl& other : out->classes)
      if (&other < &decl && other.name == decl.name && !decl.name.empty())
        r.Error(root.source(), "two [[class]] tables name \"" + decl.name + "\" (lines " +
                                   std::to_string(other.line) + " and " +
                                   std::to_string(decl.line) + ")");
  return r.ok();
}

namespace {

const ClassDecl* Declared(const Pack& pack, std::string_view name) {
  for (const ClassDecl& decl : pack.classes)
    if (decl.name == name) return &decl;
  return nullptr;
}

}  // namespace

std::vector<std::string> LintPack(const Pack& pack) {
  std::vector<std::string> warnings;
  std::vector<std::string> told;  // one warning per class
  auto check = [&](const std::string& name, int line, const std::string& who) {
    if (name.empty() || op_class::Lookup(name) != nullptr || Declared(pack, name) != nullptr ||
        std::find(told.begin(), told.end(), name) != told.end())
      return;
    told.push_back(name);
    const std::string where = pack.source + ":" + std::to_string(line) + ": ";
    if (!op_class::IsWellFormed(name)) {
      warnings.push_back(where + "class \"" + name + "\" (" + who +
                         ") is not dotted lower-case words; policy globs will not match it "
                         "as expected");
      return;
    }
    warnings.push_back(where + "class \"" + name + "\" (" + who +
                       ") is not a built-in class and has no description: add [[class]] with "
                       "name = \"" +
                       name + "\" and description = \"one line of what it does\" (docs/packs.md)");
  };
  for (const Tool& tool : pack.tools) check(tool.destroy_class, tool.line, "destroy_class");
  for (const Rule& rule : pack.rules) check(rule.op_class, rule.line, "rule " + rule.name);
  for (const ClassDecl& decl : pack.classes)
    if (const op_class::Info* info = op_class::Lookup(decl.name))
      warnings.push_back(pack.source + ":" + std::to_string(decl.line) + ": class \"" + decl.name +
                         "\" is built in (\"" + std::string(info->meaning) +
                         "\"); this [[class]] changes nothing");
  return warnings;
}

void DeclareClasses(const Pack& pack, op_class::Registry* registry,
                    std::vector<std::string>* warnings) {
  for (const ClassDecl& decl : pack.classes) {
    // What the pack's rules of this class say, as core/op_class.h tells it.
    bool any_destructive = false, any_harmless = false;
    Reversibility reversibility = Reversibility::kIrreversible;
    bool first = true;
    auto note = [&](Severity severity, Reversibility rev) {
      (severity >= Severity::kMedium ? any_destructive : any_harmless) = true;
      if (first) reversibility = rev;
      first = false;
    };
    for (const Rule& rule : pack.rules)
      if (rule.op_class == decl.name)
        note(rule.severity, rule.reversibility_set               ? rule.reversibility
                            : rule.severity >= Severity::kMedium ? Reversibility::kIrreversible
                                                                 : Reversibility::kReversible);
    for (const Tool& tool : pack.tools)
      if (tool.destroy_class == decl.name)
        note(tool.destroy_severity, Reversibility::kIrreversible);
    op_class::Registry::Entry entry;
    entry.name = decl.name;
    entry.meaning = decl.description;
    entry.destructive = any_destructive && !any_harmless   ? op_class::Destructive::kYes
                        : any_harmless && !any_destructive ? op_class::Destructive::kNo
                                                           : op_class::Destructive::kDepends;
    entry.reversibility = reversibility;
    entry.origin = "pack " + pack.name + " (" + pack.source + ":" + std::to_string(decl.line) + ")";
    std::string error;
    if (!registry->Declare(std::move(entry), &error))
      warnings->push_back(pack.source + ":" + std::to_string(decl.line) + ": " + error);
  }
}

}  // namespace dualkey::packs
