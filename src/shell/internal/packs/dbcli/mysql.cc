// mysql/mariadb, mysqladmin and the MySQL dump tools.

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/dbcli/dbcli.h"

namespace dualkey::shell::dbcli {

// ================================================================== mysql

constexpr std::string_view kMysqlLong[] = {"--user",
                                           "--host",
                                           "--port",
                                           "--database",
                                           "--socket",
                                           "--execute",
                                           "--default-character-set",
                                           "--defaults-file",
                                           "--defaults-extra-file",
                                           "--login-path",
                                           "--init-command",
                                           "--protocol",
                                           "--ssl-ca",
                                           "--ssl-cert",
                                           "--ssl-key",
                                           "--ssl-mode",
                                           "--connect-timeout",
                                           "--tee",
                                           "--pager",
                                           "--delimiter"};
constexpr OptionSpec kMysqlSpec{"uhPDSe", "p", kMysqlLong};

std::string MysqlTarget(std::string_view host, std::string_view db) {
  return PgTarget(host, db);
}

// mysql's own commands sit at the start of a line; everything else is SQL.
void RunMysqlScript(std::string_view text, std::string_view host, std::string db, int depth,
                    Context& ctx) {
  std::string sql;
  auto flush = [&] {
    if (!IsBlank(sql)) ctx.ClassifySql(sql, SqlDialect::kMySql, MysqlTarget(host, db), depth + 1);
    sql.clear();
  };
  for (std::string_view line : base::SplitLines(text)) {
    std::string_view trimmed = Trim(line);
    if (IStartsWith(trimmed, "system ") || trimmed.starts_with("\\!")) {
      flush();
      std::string_view command = Trim(trimmed.substr(trimmed.starts_with("\\!") ? 2 : 7));
      if (!command.empty()) ctx.ClassifyScript(command, "", depth + 1);
    } else if (IStartsWith(trimmed, "source ") || trimmed.starts_with("\\.")) {
      flush();
      EmitOpaqueSql(ctx, MysqlTarget(host, db),
                    "mysql runs the SQL in a file, which cannot be seen before it runs");
    } else if (IStartsWith(trimmed, "use ") || trimmed.starts_with("\\u ")) {
      flush();
      std::string_view name = Trim(trimmed.substr(trimmed.find(' ')));
      while (!name.empty() && name.back() == ';') name.remove_suffix(1);
      db = std::string(Unquote(Trim(name)));
    } else if (IStartsWith(trimmed, "delimiter ")) {
      // Changing the delimiter introduces routine bodies; the SQL classifier
      // sees the raw text and fails closed on what it cannot parse.
      sql.append(line);
      sql.push_back('\n');
    } else {
      std::string copy(line);
      for (std::size_t k = 0; k + 1 < copy.size(); ++k) {
        if (copy[k] == '\\' && (copy[k + 1] == 'G' || copy[k + 1] == 'g')) {
          copy[k] = ' ';
          copy[k + 1] = ';';
        }
      }
      sql.append(copy);
      sql.push_back('\n');
    }
  }
  flush();
}

void HandleMysql(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kMysqlSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::string db(OptValue(words, "-D", "--database"));
  std::vector<const Word*> operands = OperandsOf(words);
  if (db.empty() && !operands.empty()) db = std::string(operands[0]->value);
  const std::string target = MysqlTarget(host, db);

  bool ran = false;
  for (const Word& word : words) {
    if (word.has_value && IsOpt(word, "-e", "--execute")) {
      ran = true;
      RunMysqlScript(word.value, host, db, inv.depth, ctx);
    }
  }
  if (ran) return;
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    RunMysqlScript(text, host, db, inv.depth, ctx);
    return;
  }
  if (ClassifyUnreadableStdin(inv, source, text, target, std::string(inv.name()), ctx)) return;
  EmitRead(ctx, target,
           std::string(inv.name()) +
               " opens an interactive session; nothing is run by the "
               "command itself");
}

void HandleMysqladmin(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kMysqlSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::vector<const Word*> operands = OperandsOf(words);
  bool any = false;
  for (std::size_t k = 0; k < operands.size(); ++k) {
    std::string_view command = operands[k]->value;
    if (!operands[k]->known) {
      any = true;
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
                          "mysqladmin runs a command only known when it runs"));
      continue;
    }
    if (IEquals(command, "drop") && k + 1 < operands.size()) {
      any = true;
      Emit(ctx, "db.drop", MysqlTarget(host, operands[k + 1]->value), Reversibility::kIrreversible,
           Severity::kHigh,
           "mysqladmin drop removes the database " + std::string(operands[k + 1]->value));
      ++k;
    } else if (IEquals(command, "shutdown") || IEquals(command, "stop-replica") ||
               IEquals(command, "stop-slave")) {
      any = true;
      Emit(ctx, "service.stop", MysqlTarget(host, {}), Reversibility::kRecoverable, Severity::kLow,
           "mysqladmin stops the server or replication; data is kept");
    } else if (IEquals(command, "password")) {
      any = true;
      ++k;
      Emit(ctx, "db.credential.change", MysqlTarget(host, {}), Reversibility::kRecoverable,
           Severity::kLow, "mysqladmin password changes the account's password");
    } else if (IEquals(command, "create")) {
      any = true;
      ++k;
      Emit(ctx, "db.create", MysqlTarget(host, {}), Reversibility::kReversible, Severity::kNone,
           "mysqladmin create makes a database");
    }
  }
  if (!any)
    EmitRead(ctx, MysqlTarget(host, {}),
             "mysqladmin reports status or flushes server caches; no data is removed");
}

void HandleSqlDump(const Invocation& inv, Context& ctx) {
  Emit(ctx, "backup.create", {}, Reversibility::kReversible, Severity::kNone,
       std::string(inv.name()) + " reads a database to make a dump");
}

}  // namespace dualkey::shell::dbcli
