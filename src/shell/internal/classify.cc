// The dispatcher: parses, evaluates, and routes every command that would run
// to the pack that knows it. It is also the Context packs report to, so a
// wrapper (sudo, bash -c, ssh) re-enters here for the command it wraps.
#include <algorithm>
#include <vector>

#include "shell/internal/evaluate.h"
#include "shell/internal/invocation.h"
#include "shell/internal/packs/packs.h"
#include "shell/internal/parser.h"
#include "shell/shell.h"
#include "sql/sql.h"

namespace dualkey::shell {
namespace {

constexpr int kMaxNesting = 12;      // wrappers and inner scripts, stacked
constexpr int kMaxDispatches = 4096; // commands classified for one input

struct PackTable {
  std::vector<PackEntry> exact;   // sorted by command
  std::vector<PackEntry> prefix;  // e.g. "mkfs."
};

const PackTable& Packs() {
  // Built once, on first use: a few hundred entries, sorted for lookup.
  static const PackTable table = [] {
    PackTable t;
    for (auto pack : {WrapperPack, InterpreterPack, FsPack, GitPack, DiskPack, DbCliPack,
                      ContainerPack, IacPack, CloudPack, BackupPack, HttpClientPack}) {
      for (const PackEntry& entry : pack()) (entry.prefix ? t.prefix : t.exact).push_back(entry);
    }
    std::stable_sort(t.exact.begin(), t.exact.end(),
                     [](const PackEntry& a, const PackEntry& b) { return a.command < b.command; });
    return t;
  }();
  return table;
}

PackHandler FindHandler(std::string_view name) {
  const PackTable& table = Packs();
  auto it = std::lower_bound(
      table.exact.begin(), table.exact.end(), name,
      [](const PackEntry& entry, std::string_view key) { return entry.command < key; });
  if (it != table.exact.end() && it->command == name) return it->handler;
  for (const PackEntry& entry : table.prefix)
    if (name.starts_with(entry.command)) return entry.handler;
  return nullptr;
}

std::string DisplayArg(const std::string& text) {
  if (!text.empty() && text.find_first_of(" \t\n'\"\\;&|<>()$`*?[]{}#~") == std::string::npos)
    return text;
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += "'\\''";
    else out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

Action Opaque(std::string reason) {
  return MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kHigh,
                    std::move(reason));
}

class Classifier final : public Context, public InvocationSink {
 public:
  Classifier(const Options& options, Analysis* out) : options_(options), out_(out) {}

  void Emit(Action action) override { out_->actions.push_back(std::move(action)); }

  void ClassifyInvocation(const Invocation& inner) override { Dispatch(inner); }

  void ClassifyRemoteScript(std::string_view script, int depth) override {
    const bool saved = in_remote_;
    in_remote_ = true;
    ClassifyScript(script, "", depth);
    in_remote_ = saved;
  }

  void ClassifyScript(std::string_view script, std::string_view cwd, int depth) override {
    if (depth > kMaxNesting) {
      Emit(Opaque("commands nested deeper than dualkey follows (" +
                  std::to_string(kMaxNesting) + " levels)"));
      return;
    }
    ParseResult parsed = Parse(script);
    if (!parsed.ok) {
      Emit(Opaque("cannot parse the shell text another command runs: " + parsed.error.message));
      return;
    }
    Evaluator evaluator(*this, Variables{}, std::string(cwd), options_.home, depth);
    evaluator.Run(*parsed.list);
  }

  void ClassifySql(std::string_view text, SqlDialect dialect, std::string_view target,
                   int depth) override {
    sql::Options sql_options;
    sql_options.dialect = dialect == SqlDialect::kMySql    ? sql::Dialect::kMySql
                          : dialect == SqlDialect::kSqlite ? sql::Dialect::kSqlite
                                                           : sql::Dialect::kPostgres;
    sql_options.database = target;
    for (Action& action : sql::Classify(text, sql_options)) {
      action.channel = Channel::kShell;
      Emit(std::move(action));
    }
  }

  const std::string& home() const override { return options_.home; }

  void OnInvocation(const Invocation& invocation) override { Dispatch(invocation); }

  void OnOpaque(std::string reason) override { Emit(Opaque(std::move(reason))); }

  void Run(std::string_view command_line) {
    ParseResult parsed = Parse(command_line);
    if (!parsed.ok) {
      out_->parsed = false;
      out_->parse_error =
          "offset " + std::to_string(parsed.error.offset) + ": " + parsed.error.message;
      Emit(Opaque("cannot parse the command: " + out_->parse_error));
      return;
    }
    Evaluator evaluator(*this, Variables{}, options_.cwd, options_.home, 0);
    evaluator.Run(*parsed.list);
  }

 private:
  void Dispatch(const Invocation& inv) {
    if (++dispatches_ > kMaxDispatches) {
      if (dispatches_ == kMaxDispatches + 1)
        Emit(Opaque("the input runs more commands than dualkey classifies"));
      return;
    }
    if (inv.depth > kMaxNesting) {
      Emit(Opaque("commands nested deeper than dualkey follows"));
      return;
    }
    if (in_remote_ && !inv.remote) {
      // Everything below a remote command is remote too.
      Invocation remote = inv;
      remote.remote = true;
      Dispatch(remote);
      return;
    }
    const bool saved_remote = in_remote_;
    in_remote_ = inv.remote;
    DispatchHere(inv);
    in_remote_ = saved_remote;
  }

  void DispatchHere(const Invocation& inv) {
    Record(inv);
    for (const FileRedirect& redirect : inv.redirects) {
      if (redirect.kind == RedirectKind::kTruncate || redirect.kind == RedirectKind::kAppend)
        ClassifyRedirect(redirect, inv, *this);
    }
    ClassifyCredentialAccess(inv, *this);
    ClassifyGuardTamper(inv, *this);  // dualkey's own files, hooks, secrets (tamper.cc)
    if (inv.argv.empty()) return;
    if (!inv.NameKnown()) {
      Emit(Opaque("the command name is computed at run time (" + inv.argv[0].text +
                  "), so what runs cannot be known"));
      return;
    }
    if (PackHandler handler = FindHandler(inv.name()))
      handler(inv, *this);
    else
      ClassifyWithDataPacks(inv, *this, options_.packs);  // packs/*.toml, the unknown rule
  }

  void Record(const Invocation& inv) {
    if (inv.argv.empty()) return;
    ExecutedCommand command;
    for (const Arg& arg : inv.argv) {
      if (!command.text.empty()) command.text.push_back(' ');
      command.text += DisplayArg(arg.text);
    }
    command.cwd = inv.cwd;
    command.depth = inv.depth;
    out_->commands.push_back(std::move(command));
  }

  const Options& options_;
  Analysis* out_;
  int dispatches_ = 0;
  bool in_remote_ = false;  // classifying what runs on another host or container
};

}  // namespace

Analysis Analyze(std::string_view command_line, const Options& options) {
  Analysis analysis;
  BeginGuardTamperInput();  // tamper.cc remembers lookups of dualkey per input
  Classifier classifier(options, &analysis);
  classifier.Run(command_line);
  return analysis;
}

}  // namespace dualkey::shell
