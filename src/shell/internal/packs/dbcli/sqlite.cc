// sqlite3: SQL and the shell's dot-commands (.shell, .read ...).

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/dbcli/dbcli.h"

namespace dualkey::shell::dbcli {

// ================================================================== sqlite3

constexpr std::string_view kSqliteValueOptions[] = {
    "-cmd",       "-init", "-separator", "-newline", "-nullvalue", "-vfs",   "-lookaside",
    "-pagecache", "-heap", "-maxsize",   "-mmap",    "-escape",    "-nonce", "-A"};

class SqliteScript {
 public:
  SqliteScript(Context& ctx, std::string target, bool readonly, int depth)
      : ctx_(ctx), target_(std::move(target)), readonly_(readonly), depth_(depth) {}

  // One argument or a whole stdin script: dot-commands start a line.
  void Run(std::string_view text) {
    std::string sql;
    for (std::string_view line : base::SplitLines(text)) {
      std::string_view trimmed = Trim(line);
      if (trimmed.starts_with('.') && IsBlank(sql)) {
        Dot(trimmed);
      } else {
        sql.append(line);
        sql.push_back('\n');
      }
    }
    FlushSql(sql);
  }

 private:
  void FlushSql(std::string_view sql) {
    if (IsBlank(sql)) return;
    if (readonly_) {
      EmitRead(ctx_, target_, "sqlite3 -readonly cannot change the database");
      return;
    }
    ctx_.ClassifySql(sql, SqlDialect::kSqlite, target_, depth_ + 1);
  }

  void Dot(std::string_view line) {
    std::vector<std::string> words = SplitWords(line);
    if (words.empty()) return;
    std::string_view name = std::string_view(words[0]).substr(1);
    std::string_view rest = Trim(line.substr(words[0].size()));
    if (name == "shell" || name == "system") {
      if (!rest.empty()) ctx_.ClassifyScript(rest, "", depth_ + 1);
      return;
    }
    auto pipe_target = [&](std::size_t index) -> std::string_view {
      return words.size() > index && words[index].starts_with('|')
                 ? std::string_view(words[index]).substr(1)
                 : std::string_view();
    };
    if (name == "read") {
      if (std::string_view cmd = pipe_target(1); !cmd.empty()) {
        ctx_.ClassifyScript(cmd, "", depth_ + 1);
        EmitOpaqueSql(ctx_, target_, "sqlite3 .read runs SQL printed by a command");
        return;
      }
      EmitOpaqueSql(ctx_, target_,
                    "sqlite3 .read runs the SQL in a file, which cannot be seen before it runs");
      return;
    }
    if (name == "output" || name == "once" || name == "import") {
      for (std::size_t k = 1; k < words.size(); ++k) {
        if (std::string_view cmd = pipe_target(k); !cmd.empty()) {
          ctx_.ClassifyScript(cmd, "", depth_ + 1);
          return;
        }
      }
      return;
    }
    if (name == "restore") {
      Emit(ctx_, "db.overwrite", target_, Reversibility::kIrreversible, Severity::kHigh,
           "sqlite3 .restore replaces the database's contents with a file");
      return;
    }
    if (name == "open") {
      bool fresh = false;
      for (std::size_t k = 1; k < words.size(); ++k) {
        if (words[k] == "--new" || words[k] == "-new")
          fresh = true;
        else if (!words[k].starts_with('-'))
          target_ = words[k];
      }
      if (fresh)
        Emit(ctx_, "db.drop", target_, Reversibility::kIrreversible, Severity::kHigh,
             "sqlite3 .open --new empties the database file");
      return;
    }
    if (name == "load") {
      ctx_.Emit(MakeAction("opaque.exec", Targets(target_), Reversibility::kUnknown,
                           Severity::kMedium, "sqlite3 .load runs native code from a library"));
      return;
    }
    if (name == "backup" || name == "save") {
      Emit(ctx_, "backup.create", target_, Reversibility::kReversible, Severity::kNone,
           "sqlite3 ." + std::string(name) + " writes a copy of the database");
      return;
    }
    EmitRead(ctx_, target_, "sqlite3 ." + std::string(name) + " only shows or sets client state");
  }

  Context& ctx_;
  std::string target_;
  bool readonly_;
  int depth_;
};

void HandleSqlite(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<std::string_view> cmds;
  bool readonly = false;
  bool has_init = false;
  std::size_t i = 0;
  std::vector<const Arg*> operands;
  for (; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (!operands.empty() || text.size() < 2 || text[0] != '-') {
      operands.push_back(&args[i]);
      continue;
    }
    if (text.starts_with("--")) text.remove_prefix(1);
    if (text == "-readonly") readonly = true;
    if (InList(kSqliteValueOptions, text) && i + 1 < args.size()) {
      if (text == "-cmd") cmds.push_back(args[i + 1].text);
      if (text == "-init") has_init = true;
      ++i;
    }
  }
  std::string target;
  if (!operands.empty()) {
    ResolvedPath resolved = ResolvePath(*operands[0], inv.cwd, ctx.home());
    target = resolved.path.empty() ? operands[0]->text : resolved.path;
  } else {
    target = ":memory:";
  }
  SqliteScript script(ctx, target, readonly, inv.depth);
  if (has_init)
    EmitOpaqueSql(ctx, target, "sqlite3 -init runs the SQL in a file, which cannot be seen");
  for (std::string_view cmd : cmds) script.Run(cmd);
  if (operands.size() > 1) {
    for (std::size_t k = 1; k < operands.size(); ++k) script.Run(operands[k]->text);
    return;
  }
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    script.Run(text);
    return;
  }
  if (ClassifyUnreadableStdin(inv, source, text, target, "sqlite3", ctx)) return;
  if (cmds.empty() && !has_init)
    EmitRead(ctx, target, "sqlite3 opens an interactive session; nothing is run by the command");
}

}  // namespace dualkey::shell::dbcli
