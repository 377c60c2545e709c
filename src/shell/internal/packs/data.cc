// Commands no C++ pack handles: the data packs (packs/*.toml compiled in, and
// the packs users add) and, for what no pack names, the rule for the unknown.
//
// For a tool a pack names, the pack's rules are tried in file order (leading
// words, options, option values, operands); the first that matches gives the
// Action, or the command it runs, the SQL it sends, the HTTP call it makes.
// When no rule matches, and for every command no pack names at all, the
// command is read for its verb path (core/verbs.h): the leading non-option
// words and the long options. A destroying verb ("delete", "purge",
// "remove-all", "--delete") is held with a reason naming it; read verbs stay
// allowed; tools whose words are data (echo, grep, pytest) are never read.
#include <fnmatch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/text.h"
#include "core/verbs.h"
#include "http/http.h"
#include "packs/catalog.h"
#include "shell/internal/packs/packs.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

using base::IEquals;
using packs::Rule;
using packs::Source;
using packs::Tool;
using packs::ToolRef;

constexpr std::size_t kNpos = static_cast<std::size_t>(-1);

// The command as words: positional words before `--` (option values of the
// tool's known value options skipped) and what follows `--`.
struct Words {
  std::span<const Arg> args;
  std::vector<std::size_t> words;  // indices into args
  std::size_t dashes = kNpos;      // index of `--`

  std::string_view Word(std::size_t k) const { return args[words[k]].text; }
};

bool InStrings(const std::vector<std::string>& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// Options whose value is prose for people, whatever the tool: a commit
// message, a title, a reason. Their words are never verbs (`hg commit -m
// remove`, `mytool note --title "delete me"`).
bool IsMessageOption(std::string_view option) {
  static constexpr std::string_view kMessages[] = {
      "-m",     "--message",        "--msg",    "--title", "--body",   "--description",
      "--desc", "--comment",        "--note",   "--notes", "--reason", "--summary",
      "--text", "--commit-message", "--subject"};
  for (std::string_view message : kMessages)
    if (option == message) return true;
  return false;
}

Words Collect(std::span<const Arg> args, const std::vector<std::string>* value_options) {
  Words out{args, {}, kNpos};
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (text == "--") {
      out.dashes = i;
      break;
    }
    if (text.size() > 1 && text[0] == '-') {
      if (text.find('=') == std::string_view::npos &&
          ((value_options != nullptr && InStrings(*value_options, text)) || IsMessageOption(text)))
        ++i;
      continue;
    }
    out.words.push_back(i);
  }
  return out;
}

// "*" any word; "a|b|c" alternatives, each a case-insensitive glob (plain
// words, the common case, are compared without fnmatch).
bool GlobMatch(std::string_view patterns, std::string_view text) {
  while (true) {
    std::size_t bar = patterns.find('|');
    std::string_view pattern = patterns.substr(0, bar);
    if (pattern == "*") return true;
    if (pattern.find_first_of("*?[") == std::string_view::npos) {
      if (IEquals(pattern, text)) return true;
    } else {
      const std::string glob(pattern);
      const std::string subject(text);
      if (fnmatch(glob.c_str(), subject.c_str(), FNM_CASEFOLD) == 0) return true;
    }
    if (bar == std::string_view::npos) return false;
    patterns.remove_prefix(bar + 1);
  }
}

// -f matches -f and clusters like -rf; --force matches --force and --force=x.
bool HasOption(std::span<const Arg> args, std::string_view option) {
  if (option.size() == 2 && option[0] == '-' && option[1] != '-')
    return HasShortFlag(args, option[1]);
  return HasLongFlag(args, option);
}

bool OptionPresent(std::span<const Arg> args, std::string_view option) {
  for (const Arg& arg : args) {
    if (arg.text == "--") break;
    std::string_view text = arg.text;
    if (text == option) return true;
    if (text.size() > option.size() && text.starts_with(option) &&
        (text[option.size()] == '=' || (option.size() == 2 && option[1] != '-')))
      return true;
  }
  return false;
}

// Positional words after the rule's path, then everything after `--`.
std::vector<Arg> OperandsAfter(const Words& w, std::size_t path_len) {
  std::vector<Arg> out;
  for (std::size_t k = path_len; k < w.words.size(); ++k) out.push_back(w.args[w.words[k]]);
  if (w.dashes != kNpos)
    for (std::size_t i = w.dashes + 1; i < w.args.size(); ++i) out.push_back(w.args[i]);
  return out;
}

bool RuleMatches(const Rule& rule, const Words& w) {
  if (rule.path.size() > w.words.size()) return false;
  for (std::size_t k = 0; k < rule.path.size(); ++k)
    if (!GlobMatch(rule.path[k], w.Word(k))) return false;
  if (!rule.with.empty() &&
      std::none_of(rule.with.begin(), rule.with.end(),
                   [&](const std::string& option) { return HasOption(w.args, option); }))
    return false;
  for (const std::string& option : rule.without)
    if (HasOption(w.args, option)) return false;
  if (!rule.option.empty()) {
    if (!OptionPresent(w.args, rule.option)) return false;
    if (!rule.value.empty() && !GlobMatch(rule.value, OptionValue(w.args, rule.option)))
      return false;
  }
  if (!rule.operand.empty()) {
    bool any = false;
    for (const Arg& operand : OperandsAfter(w, rule.path.size()))
      for (const std::string& glob : rule.operand) any = any || GlobMatch(glob, operand.text);
    if (!any) return false;
  }
  return true;
}

std::string Origin(const packs::Pack& pack, const Rule* rule) {
  std::string origin = "pack " + pack.name;
  if (rule == nullptr) return origin + ", verb rule";
  origin += ", rule " + rule->name;
  if (!pack.source.empty()) origin += " (" + pack.source + ":" + std::to_string(rule->line) + ")";
  return origin;
}

std::string CommandText(const Invocation& inv, const Words& w, std::size_t words) {
  std::string text(inv.name());
  for (std::size_t k = 0; k < words && k < w.words.size(); ++k) {
    text.push_back(' ');
    text += w.Word(k);
  }
  return text;
}

// Values a Source names: the operands, one operand, an option's values.
std::vector<Arg> SourceArgs(const Source& source, const Words& w, std::size_t path_len) {
  std::vector<Arg> out;
  switch (source.kind) {
    case Source::Kind::kOperands:
      return OperandsAfter(w, path_len);
    case Source::Kind::kAfterDashes:
      if (w.dashes != kNpos)
        for (std::size_t i = w.dashes + 1; i < w.args.size(); ++i) out.push_back(w.args[i]);
      return out;
    case Source::Kind::kOperandsFrom: {
      std::vector<Arg> operands = OperandsAfter(w, path_len);
      const std::size_t from = static_cast<std::size_t>(source.index) - 1;
      if (from < operands.size())
        out.assign(operands.begin() + static_cast<std::ptrdiff_t>(from), operands.end());
      return out;
    }
    case Source::Kind::kOperand: {
      std::vector<Arg> operands = OperandsAfter(w, path_len);
      if (static_cast<std::size_t>(source.index) <= operands.size())
        out.push_back(operands[static_cast<std::size_t>(source.index) - 1]);
      return out;
    }
    case Source::Kind::kOption:
      for (const std::string& option : source.options) {
        if (!OptionPresent(w.args, option)) continue;
        Arg value;
        value.text = OptionValue(w.args, option);
        // The value's Arg, to keep whether it is known.
        for (std::size_t i = 0; i < w.args.size(); ++i)
          if (w.args[i].text == option && i + 1 < w.args.size()) value = w.args[i + 1];
        out.push_back(std::move(value));
        return out;
      }
      return out;
    case Source::Kind::kStdin:
    case Source::Kind::kNone:
      return out;
  }
  return out;
}

Action PackAction(const Rule& rule, const packs::Pack& pack, std::vector<std::string> targets,
                  std::string fallback_reason) {
  Reversibility reversibility = rule.reversibility;
  if (!rule.reversibility_set)
    reversibility = rule.severity >= Severity::kMedium ? Reversibility::kIrreversible
                                                       : Reversibility::kReversible;
  Action action = MakeAction(rule.op_class, std::move(targets), reversibility, rule.severity,
                             rule.reason.empty() ? std::move(fallback_reason) : rule.reason);
  action.origin = Origin(pack, &rule);
  return action;
}

void Tag(Action& action, const packs::Pack& pack, const Rule& rule) {
  if (action.origin.empty()) action.origin = Origin(pack, &rule);
}

class RuleRunner {
 public:
  RuleRunner(const Invocation& inv, Context& ctx, const packs::Pack& pack, const Rule& rule,
             const Words& w)
      : inv_(inv), ctx_(ctx), pack_(pack), rule_(rule), w_(w) {}

  void Run() {
    if (rule_.run.kind != Source::Kind::kNone) return RunInner();
    if (rule_.sql.kind != Source::Kind::kNone) return RunSql();
    if (rule_.http.enabled) return RunHttp();
    std::vector<std::string> targets;
    for (const Arg& arg : SourceArgs(rule_.targets, w_, rule_.path.size()))
      targets.push_back(arg.text);
    if (rule_.severity >= Severity::kMedium) {
      for (const Arg& arg : w_.args) {
        if (arg.text == "--") break;
        if (!verbs::IsDryRunOption(arg.text)) continue;
        Action action =
            MakeAction("read.only", std::move(targets), Reversibility::kReversible, Severity::kNone,
                       CommandText(inv_, w_, rule_.path.size()) + " " +
                           arg.text.substr(0, arg.text.find('=')) + " only says what it would do");
        Tag(action, pack_, rule_);
        ctx_.Emit(std::move(action));
        return;
      }
    }
    ctx_.Emit(PackAction(rule_, pack_, std::move(targets),
                         CommandText(inv_, w_, rule_.path.size()) + " (" + rule_.op_class + ")"));
  }

 private:
  void Opaque(std::string reason) {
    Action action =
        MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh, std::move(reason));
    Tag(action, pack_, rule_);
    ctx_.Emit(std::move(action));
  }

  void RunInner() {
    const std::string what = CommandText(inv_, w_, rule_.path.size());
    if (rule_.run.kind == Source::Kind::kOption) {
      std::vector<Arg> values = SourceArgs(rule_.run, w_, rule_.path.size());
      if (values.empty()) return;  // no command given: an interactive session
      if (!values[0].known)
        return Opaque(what + " runs a command only known when it runs: " + values[0].text);
      if (inv_.remote) return ctx_.ClassifyRemoteScript(values[0].text, inv_.depth + 1);
      return ctx_.ClassifyScript(values[0].text, inv_.cwd, inv_.depth + 1);
    }
    Invocation inner;
    for (const std::string& word : rule_.run_prefix) inner.argv.push_back(Arg{word});
    std::vector<Arg> rest = RestFrom(rule_.run);
    if (rest.empty()) return;  // nothing to run: the tool's own session
    inner.argv.insert(inner.argv.end(), rest.begin(), rest.end());
    inner.cwd = inv_.cwd;
    inner.depth = inv_.depth + 1;
    inner.remote = inv_.remote;
    // The wrapped command reads the wrapper's stdin (`echo SQL | npx prisma
    // db execute --stdin`); output redirections were judged on the wrapper.
    inner.has_stdin_text = inv_.has_stdin_text;
    inner.stdin_text = inv_.stdin_text;
    inner.stdin_text_known = inv_.stdin_text_known;
    inner.stdin_piped = inv_.stdin_piped;
    inner.piped_from = inv_.piped_from;
    for (const FileRedirect& redirect : inv_.redirects)
      if (redirect.kind == RedirectKind::kRead) inner.redirects.push_back(redirect);
    // A single word with spaces is a command line (`npx "prisma migrate reset"`).
    if (rule_.run_prefix.empty() && inner.argv.size() == 1 &&
        inner.argv[0].text.find(' ') != std::string::npos && inner.argv[0].known) {
      if (inv_.remote) return ctx_.ClassifyRemoteScript(inner.argv[0].text, inner.depth);
      return ctx_.ClassifyScript(inner.argv[0].text, inner.cwd, inner.depth);
    }
    ctx_.ClassifyInvocation(inner);
  }

  // What a wrapper runs: argv from its first operand (or the N-th) to the
  // end, options included (`npx prisma db push --force-reset`); after `--`
  // for after-dashes.
  std::vector<Arg> RestFrom(const Source& source) const {
    std::vector<Arg> out;
    if (source.kind != Source::Kind::kOperands && source.kind != Source::Kind::kOperandsFrom)
      return SourceArgs(source, w_, rule_.path.size());
    const std::size_t skip = rule_.path.size() + (source.kind == Source::Kind::kOperandsFrom
                                                      ? static_cast<std::size_t>(source.index) - 1
                                                      : 0);
    std::size_t start = w_.args.size();
    if (skip < w_.words.size()) {
      start = w_.words[skip];
    } else if (w_.dashes != kNpos) {
      // No operand before `--`: the command follows it.
      const std::size_t after = skip - w_.words.size();
      start = w_.dashes + 1 + after;
    }
    for (std::size_t i = start; i < w_.args.size(); ++i) {
      if (i == w_.dashes && out.empty()) continue;
      out.push_back(w_.args[i]);
    }
    return out;
  }

  void RunSql() {
    const SqlDialect dialect = rule_.dialect == "mysql"    ? SqlDialect::kMySql
                               : rule_.dialect == "sqlite" ? SqlDialect::kSqlite
                                                           : SqlDialect::kPostgres;
    const std::string target = CommandText(inv_, w_, rule_.path.size());
    std::string text;
    bool known = true;
    bool from_stdin = rule_.sql.kind == Source::Kind::kStdin;
    if (!from_stdin) {
      std::vector<Arg> values = SourceArgs(rule_.sql, w_, rule_.path.size());
      if (!values.empty()) {
        text = values[0].text;
        known = values[0].known;
      } else {
        from_stdin = true;  // no SQL in the arguments: the client reads stdin
      }
    }
    if (from_stdin) {
      if (inv_.has_stdin_text) {
        text = inv_.stdin_text;
        known = inv_.stdin_text_known;
      } else if (inv_.stdin_piped ||
                 std::any_of(inv_.redirects.begin(), inv_.redirects.end(),
                             [](const FileRedirect& r) { return r.kind == RedirectKind::kRead; })) {
        Action action =
            MakeAction("opaque.sql", {target}, Reversibility::kUnknown, Severity::kMedium,
                       target + " reads SQL from stdin, which cannot be seen");
        Tag(action, pack_, rule_);
        ctx_.Emit(std::move(action));
        return;
      }
    }
    if (text.empty()) {
      Action action = MakeAction("read.only", {target}, Reversibility::kReversible, Severity::kNone,
                                 target + " opens an interactive console");
      Tag(action, pack_, rule_);
      ctx_.Emit(std::move(action));
      return;
    }
    if (!known) {
      Action action = MakeAction("opaque.sql", {target}, Reversibility::kUnknown, Severity::kMedium,
                                 target + " sends SQL only known when it runs");
      Tag(action, pack_, rule_);
      ctx_.Emit(std::move(action));
      return;
    }
    ctx_.ClassifySql(text, dialect, target, inv_.depth + 1);
  }

  void RunHttp() {
    const packs::HttpSpec& spec = rule_.http;
    std::vector<Arg> urls = SourceArgs(spec.url, w_, rule_.path.size());
    if (urls.empty()) return;  // nothing to call (usage error of the tool)
    std::string url = urls[0].text;
    std::string method;
    if (spec.method.kind != Source::Kind::kNone) {
      std::vector<Arg> methods = SourceArgs(spec.method, w_, rule_.path.size());
      if (!methods.empty()) {
        if (!methods[0].known)
          return Opaque(CommandText(inv_, w_, rule_.path.size()) +
                        " uses an HTTP method only known when it runs");
        method = methods[0].text;
      }
    }
    if (method.empty()) {
      bool body = false;
      for (const std::string& option : spec.body_options)
        body = body || OptionPresent(w_.args, option);
      method = body ? spec.body_method : spec.default_method;
    }
    if (!urls[0].known)
      return Opaque(CommandText(inv_, w_, rule_.path.size()) +
                    " calls a URL only known when it runs");
    if (url.find("://") == std::string::npos && !spec.base.empty()) {
      std::string_view path = url;
      while (path.starts_with('/')) path.remove_prefix(1);
      url = spec.base + std::string(path);
    }
    http::Request request;
    request.method = method;
    request.url = url;
    for (Action& action : http::Classify(request)) {
      action.channel = Channel::kShell;
      Tag(action, pack_, rule_);
      ctx_.Emit(std::move(action));
    }
  }

  const Invocation& inv_;
  Context& ctx_;
  const packs::Pack& pack_;
  const Rule& rule_;
  const Words& w_;
};

// A word that can be a verb: letters, digits, - _ : only ("tenants",
// "remove-all", "pg:backups:delete"); paths, files, URLs, values are not.
bool VerbShaped(std::string_view word) {
  if (word.empty() || word.size() > 64) return false;
  for (char c : word)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == ':'))
      return false;
  return (word[0] >= 'a' && word[0] <= 'z') || (word[0] >= 'A' && word[0] <= 'Z');
}

}  // namespace

void ClassifyVerbPath(const Invocation& inv, Context& ctx, const VerbPathSpec& spec) {
  std::span<const Arg> args =
      inv.argv.empty() ? std::span<const Arg>() : std::span<const Arg>(inv.argv).subspan(1);
  const Words w = Collect(args, spec.value_options);
  const std::string_view tool = spec.tool_name.empty() ? inv.name() : spec.tool_name;
  for (const Arg& arg : args) {
    if (arg.text == "--") break;
    if (verbs::IsDryRunOption(arg.text)) return;  // --dry-run, --help: says, does nothing
  }
  std::size_t verb_at = kNpos;
  std::string_view verb;
  bool backup = false;
  const std::size_t reach = std::min<std::size_t>(w.words.size(), spec.depth);
  for (std::size_t k = 0; k < reach; ++k) {
    const Arg& arg = args[w.words[k]];
    if (!arg.known) {
      Action action =
          MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
                     std::string(tool) + " runs a subcommand only known when it runs: " + arg.text);
      action.origin = spec.origin;
      ctx.Emit(std::move(action));
      return;
    }
    if (!VerbShaped(arg.text)) continue;
    const verbs::Reading reading = verbs::ReadName(arg.text);
    backup = backup || reading.backup;
    if (reading.kind == verbs::Kind::kRead) return;
    // A write verb does not end the path: it is as often a noun (`gh run
    // delete`, `pd schedule delete`, `mytool build rm`).
    if (reading.kind == verbs::Kind::kDestroy) {
      if (reading.soft) return;
      verb_at = k;
      verb = reading.verb;
      break;
    }
  }
  std::string option_shown;
  if (verb_at == kNpos) {
    for (const Arg& arg : args) {
      if (arg.text == "--") break;
      std::string_view option_verb;
      if (verbs::IsDestroyingOption(arg.text, &option_verb)) {
        verb = option_verb;
        option_shown = arg.text.substr(0, arg.text.find('='));
        break;
      }
    }
    if (option_shown.empty()) return;
  }
  std::vector<std::string> targets;
  const std::size_t first_target = verb_at == kNpos ? 0 : verb_at + 1;
  for (std::size_t k = first_target; k < w.words.size(); ++k) {
    targets.emplace_back(w.Word(k));
    backup = backup || verbs::ReadName(w.Word(k)).backup;
  }
  std::string command(tool);
  const std::size_t shown =
      verb_at == kNpos ? std::min<std::size_t>(w.words.size(), 2) : verb_at + 1;
  for (std::size_t k = 0; k < shown; ++k) command += " " + std::string(w.Word(k));
  if (!option_shown.empty()) command += " " + option_shown;
  std::string reason = command + ": \"" + std::string(option_shown.empty() ? verb : option_shown) +
                       "\" is a destroying verb";
  reason +=
      spec.known ? " (no rule of its pack names this subcommand)" : " (no pack knows this command)";
  Action action =
      MakeAction(backup ? "backup.delete" : spec.destroy_class, std::move(targets),
                 spec.known ? Reversibility::kIrreversible : Reversibility::kUnknown,
                 backup ? Severity::kCritical : spec.destroy_severity, std::move(reason));
  action.origin = spec.origin;
  ctx.Emit(std::move(action));
}

void ClassifyWithDataPacks(const Invocation& inv, Context& ctx, const packs::Catalog* catalog) {
  const std::string_view name = inv.name();
  std::vector<ToolRef> refs;
  if (catalog != nullptr && !catalog->OnlyBuiltin()) {
    catalog->Find(name, &refs);
  } else {
    std::size_t index = 0;
    bool plain = false;
    if (packs::FindBuiltinTool(name, &index, &plain)) {
      if (plain) return;  // words are data: nothing to read
      if (const packs::Pack* pack = packs::BuiltinPack(index))
        for (const Tool& tool : pack->tools)
          if (InStrings(tool.names, name)) refs.push_back(ToolRef{pack, &tool});
    }
  }
  std::span<const Arg> args =
      inv.argv.empty() ? std::span<const Arg>() : std::span<const Arg>(inv.argv).subspan(1);

  // Trusted packs: the first one whose rule matches decides; else the verb
  // rule with the first trusted pack's view of the tool.
  const ToolRef* first_trusted = nullptr;
  bool decided = false;
  for (const ToolRef& ref : refs) {
    if (ref.add_only) continue;
    if (first_trusted == nullptr) first_trusted = &ref;
    if (ref.tool->kind == packs::ToolKind::kPlain) {
      decided = true;
      break;
    }
    const Words w = Collect(args, &ref.tool->value_options);
    for (const Rule& rule : ref.pack->rules) {
      if (!InStrings(ref.tool->names, rule.tool) || !RuleMatches(rule, w)) continue;
      RuleRunner(inv, ctx, *ref.pack, rule, w).Run();
      decided = true;
      break;
    }
    if (decided) break;
  }
  if (!decided) {
    VerbPathSpec spec;
    if (first_trusted != nullptr) {
      const Tool& tool = *first_trusted->tool;
      spec.value_options = &tool.value_options;
      spec.known = true;
      spec.depth = static_cast<std::size_t>(tool.verb_depth);
      if (!tool.destroy_class.empty()) spec.destroy_class = tool.destroy_class;
      spec.destroy_severity = tool.destroy_severity;
      spec.origin = Origin(*first_trusted->pack, nullptr);
    }
    ClassifyVerbPath(inv, ctx, spec);
  }
  // Add-only packs (a project's, a protected install's user packs): every
  // rule that matches adds its Action; none can take one away.
  for (const ToolRef& ref : refs) {
    if (!ref.add_only || ref.tool->kind == packs::ToolKind::kPlain) continue;
    const Words w = Collect(args, &ref.tool->value_options);
    for (const Rule& rule : ref.pack->rules)
      if (InStrings(ref.tool->names, rule.tool) && RuleMatches(rule, w))
        RuleRunner(inv, ctx, *ref.pack, rule, w).Run();
  }
}

bool IsKnownCommand(std::string_view name) {
  static const std::vector<std::string_view> cpp = [] {
    std::vector<std::string_view> names;
    for (auto pack : {WrapperPack, InterpreterPack, FsPack, GitPack, DiskPack, DbCliPack,
                      ContainerPack, IacPack, CloudPack, BackupPack, HttpClientPack})
      for (const PackEntry& entry : pack())
        if (!entry.prefix) names.push_back(entry.command);
    std::sort(names.begin(), names.end());
    return names;
  }();
  if (std::binary_search(cpp.begin(), cpp.end(), name)) return true;
  std::size_t index = 0;
  bool plain = false;
  return packs::FindBuiltinTool(name, &index, &plain);
}

}  // namespace dualkey::shell
