#include "sql/internal/fallback.h"

#include <string>
#include <utility>

#include "sql/internal/postgres.h"

namespace dualkey::sql::internal {
namespace {

constexpr std::size_t kNotFound = static_cast<std::size_t>(-1);

class Statement {
 public:
  Statement(std::span<const Token> tokens, Dialect dialect, Session& session,
            std::vector<Action>& out)
      : t_(tokens), dialect_(dialect), session_(session), out_(out) {}

  void Classify();

 private:
  bool At(std::string_view upper) const { return i_ < t_.size() && IsWord(t_[i_], upper); }
  bool Accept(std::string_view upper) {
    if (!At(upper)) return false;
    ++i_;
    return true;
  }
  bool AtPunct(std::string_view text) const {
    return i_ < t_.size() &&
           (t_[i_].kind == TokenKind::kPunct || t_[i_].kind == TokenKind::kOperator) &&
           t_[i_].text == text;
  }
  bool IsNamePart(const Token& token) const {
    return token.kind == TokenKind::kWord || token.kind == TokenKind::kQuotedIdent ||
           (dialect_ == Dialect::kMySql && token.kind == TokenKind::kString && token.quote == '"');
  }
  std::string ReadName() {
    std::string name;
    while (i_ < t_.size() && IsNamePart(t_[i_])) {
      name += TokenValue(t_[i_]);
      ++i_;
      if (AtPunct(".") && i_ + 1 < t_.size() && IsNamePart(t_[i_ + 1])) {
        name.push_back('.');
        ++i_;
      } else {
        break;
      }
    }
    return name;
  }
  std::vector<std::string> ReadNameList() {
    std::vector<std::string> names;
    while (true) {
      std::string name = ReadName();
      if (name.empty()) break;
      names.push_back(std::move(name));
      // Skip an alias or anything else up to the next comma.
      while (i_ < t_.size() && !AtPunct(",") && !At("ON") && !At("CASCADE") && !At("RESTRICT") &&
             !At("FROM") && !At("WHERE") && !At("SET") && !At("USING") && !At("LIMIT"))
        ++i_;
      if (!AtPunct(",")) break;
      ++i_;
    }
    return names;
  }
  // Index of the first top-level occurrence of a keyword at or after `from`.
  std::size_t FindTopLevel(std::string_view upper, std::size_t from) const {
    int depth = 0;
    for (std::size_t k = from; k < t_.size(); ++k) {
      const Token& token = t_[k];
      if (token.kind == TokenKind::kPunct && token.text == "(") ++depth;
      if (token.kind == TokenKind::kPunct && token.text == ")") --depth;
      if (depth == 0 && IsWord(token, upper)) return k;
    }
    return kNotFound;
  }
  void Emit(std::string_view op_class, Severity severity, Reversibility reversibility,
            std::vector<std::string> targets, std::string reason) {
    out_.push_back(
        MakeAction(op_class, severity, reversibility, std::move(targets), std::move(reason)));
  }
  void Read(std::string reason) {
    Emit("read.only", Severity::kNone, Reversibility::kReversible, {}, std::move(reason));
  }

  // MySQL's `DELETE o FROM orders o`: the targets may be aliases.
  void ResolveAliases(std::vector<std::string>& targets) const {
    const std::size_t from = FindTopLevel("FROM", 1);
    if (from == kNotFound) return;
    for (std::size_t k = from + 1; k + 1 < t_.size(); ++k) {
      if (!IsNamePart(t_[k])) continue;
      std::size_t alias_at = k + 1;
      if (IsWord(t_[alias_at], "AS") && alias_at + 1 < t_.size()) ++alias_at;
      if (!IsNamePart(t_[alias_at])) continue;
      const std::string alias = TokenValue(t_[alias_at]);
      for (std::string& target : targets) {
        if (IEquals(target, alias)) target = TokenValue(t_[k]);
      }
    }
  }
  void Drop();
  void Truncate();
  void RowChange(bool is_delete);
  void Alter();
  void Select();
  void Set();
  void Pragma();
  void ScanFunctions();

  std::span<const Token> t_;
  Dialect dialect_;
  Session& session_;
  std::vector<Action>& out_;
  std::size_t i_ = 0;
};

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

void Statement::Classify() {
  if (t_.empty()) return;
  const Token& first = t_[0];
  // psql / mysql client commands that reach a shell.
  if ((first.text == "\\" && t_.size() > 1 && t_[1].text == "!") || IsWord(first, "SYSTEM")) {
    out_.push_back(OpaqueExec("a client command runs a shell command"));
    return;
  }
  if (first.kind != TokenKind::kWord) {
    out_.push_back(Opaque("statement does not start with a keyword: " + std::string(first.text)));
    return;
  }
  const std::size_t before = out_.size();
  ScanFunctions();
  const bool has_dangerous_call = out_.size() > before;
  i_ = 1;
  if (IsWord(first, "DROP")) return Drop();
  if (IsWord(first, "TRUNCATE")) return Truncate();
  if (IsWord(first, "DELETE")) return RowChange(true);
  if (IsWord(first, "UPDATE")) return RowChange(false);
  if (IsWord(first, "ALTER")) return Alter();
  if (IsWord(first, "SELECT") || IsWord(first, "WITH") || IsWord(first, "VALUES") ||
      IsWord(first, "TABLE"))
    return Select();
  if (IsWord(first, "SET")) return Set();
  if (IsWord(first, "PRAGMA")) return Pragma();
  if (IsWord(first, "INSERT") || IsWord(first, "REPLACE") || IsWord(first, "UPSERT")) {
    Accept("OR");
    Accept("REPLACE") || Accept("IGNORE") || Accept("ABORT") || Accept("FAIL") ||
        Accept("ROLLBACK");
    Accept("LOW_PRIORITY") || Accept("DELAYED") || Accept("HIGH_PRIORITY");
    Accept("IGNORE");
    Accept("INTO");
    std::string table = ReadName();
    const bool replace = IsWord(first, "REPLACE") || (t_.size() > 2 && IsWord(t_[2], "REPLACE"));
    Emit("db.write", Severity::kLow, Reversibility::kRecoverable, {table},
         replace ? "REPLACE writes rows into " + table + ", replacing rows with the same key"
                 : "INSERT adds rows to " + table);
    return;
  }
  if (IsWord(first, "RENAME")) {
    const bool user = At("USER");
    ++i_;
    std::vector<std::string> names = ReadNameList();
    if (user) {
      Emit("db.role.alter", Severity::kMedium, Reversibility::kRecoverable, names,
           "renaming a user breaks every login that uses its name");
    } else {
      Emit("db.alter.rename", Severity::kLow, Reversibility::kReversible, names,
           "RENAME changes names; no data is lost and it can be renamed back");
    }
    return;
  }
  if (IsWord(first, "CREATE")) {
    Emit("db.create", Severity::kLow, Reversibility::kReversible, {}, "creates a definition");
    return;
  }
  if (IsWord(first, "SHOW") || IsWord(first, "DESCRIBE") || IsWord(first, "DESC") ||
      IsWord(first, "HELP") || IsWord(first, "USE")) {
    Read("reads metadata or picks a database");
    return;
  }
  if (IsWord(first, "EXPLAIN")) {
    if (At("ANALYZE") || At("ANALYSE")) {
      ++i_;
      Statement(t_.subspan(i_), dialect_, session_, out_).Classify();  // it runs the statement
      return;
    }
    Read("EXPLAIN without ANALYZE plans the statement but does not run it");
    return;
  }
  if (IsWord(first, "BEGIN") || IsWord(first, "START") || IsWord(first, "COMMIT") ||
      IsWord(first, "ROLLBACK") || IsWord(first, "SAVEPOINT") || IsWord(first, "RELEASE") ||
      IsWord(first, "END") || IsWord(first, "XA")) {
    Emit("db.tx", Severity::kNone, Reversibility::kReversible, {}, "transaction control");
    return;
  }
  if (IsWord(first, "ATTACH")) {
    Emit("db.attach", Severity::kMedium, Reversibility::kRecoverable, {},
         "ATTACH opens (and creates, if missing) a database file at any path");
    return;
  }
  if (IsWord(first, "DETACH")) {
    Emit("db.session", Severity::kNone, Reversibility::kReversible, {},
         "DETACH closes an attached database");
    return;
  }
  if (IsWord(first, "VACUUM")) {
    const bool into = FindTopLevel("INTO", 1) != kNotFound;
    Emit(into ? "db.export" : "db.maintenance", Severity::kLow, Reversibility::kReversible, {},
         into ? "VACUUM INTO writes a copy of the database to a new file"
              : "VACUUM rebuilds the database file");
    return;
  }
  if (IsWord(first, "ANALYZE") || IsWord(first, "OPTIMIZE") || IsWord(first, "CHECK") ||
      IsWord(first, "CHECKSUM") || IsWord(first, "REPAIR") || IsWord(first, "REINDEX") ||
      IsWord(first, "FLUSH") || IsWord(first, "CACHE")) {
    Emit("db.maintenance", Severity::kLow, Reversibility::kReversible, {}, "table maintenance");
    return;
  }
  if (IsWord(first, "LOAD")) {
    Emit("db.write", Severity::kLow, Reversibility::kRecoverable, {},
         "LOAD DATA adds rows from a file");
    return;
  }
  if (IsWord(first, "LOCK") || IsWord(first, "UNLOCK")) {
    Emit("db.lock", Severity::kLow, Reversibility::kReversible, {},
         "table locks last until released");
    return;
  }
  if (IsWord(first, "GRANT") || IsWord(first, "REVOKE")) {
    Emit("db.privilege", Severity::kLow, Reversibility::kReversible, {},
         "changes privileges; it can be undone");
    return;
  }
  if (IsWord(first, "KILL")) {
    Emit("db.admin.terminate", Severity::kHigh, Reversibility::kIrreversible, {},
         "KILL ends another connection or query");
    return;
  }
  if (IsWord(first, "SHUTDOWN")) {
    Emit("db.admin.destructive", Severity::kHigh, Reversibility::kRecoverable, {},
         "SHUTDOWN stops the database server");
    return;
  }
  if (IsWord(first, "PURGE") ||
      (IsWord(first, "RESET") && (At("MASTER") || At("BINARY") || At("REPLICA") || At("SLAVE")))) {
    Emit("db.log.purge", Severity::kHigh, Reversibility::kIrreversible, {},
         "deletes binary logs or replication state (point-in-time recovery depends on them)");
    return;
  }
  if (IsWord(first, "RESET")) {
    Emit("db.session", Severity::kNone, Reversibility::kReversible, {},
         "resets a setting or cache");
    return;
  }
  if (IsWord(first, "INSTALL") || IsWord(first, "UNINSTALL")) {
    out_.push_back(OpaqueExec("INSTALL/UNINSTALL of a server plugin or component"));
    return;
  }
  if (IsWord(first, "CALL")) {
    std::string name = ReadName();
    Emit("db.call", Severity::kLow, Reversibility::kUnknown, {name},
         "CALL runs procedure " + name + ", defined outside this input");
    return;
  }
  if (IsWord(first, "DO") && dialect_ == Dialect::kMySql) {
    if (!has_dangerous_call) Read("MySQL DO evaluates expressions");
    return;
  }
  out_.push_back(
      Opaque("statement starting with " + std::string(first.text) + " is not recognised"));
}

void Statement::ScanFunctions() {
  for (std::size_t k = 0; k + 1 < t_.size(); ++k) {
    if (t_[k].kind != TokenKind::kWord || t_[k + 1].text != "(") continue;
    if (const FunctionRule* rule = FindFunctionRule(t_[k].text)) {
      std::string name = ToLower(t_[k].text);
      Emit(rule->op_class, rule->severity, rule->reversibility, {name},
           name + "() " + std::string(rule->what));
    }
  }
}

void Statement::Drop() {
  const bool temporary = Accept("TEMPORARY") || Accept("TEMP");
  if (i_ >= t_.size()) {
    out_.push_back(Opaque("incomplete DROP statement"));
    return;
  }
  std::string kind = ToLower(t_[i_].text);
  ++i_;
  if (kind == "materialized" || kind == "foreign") {
    kind += " " + ToLower(i_ < t_.size() ? t_[i_].text : "");
    ++i_;
  }
  if (Accept("IF")) Accept("EXISTS");
  std::vector<std::string> names = ReadNameList();
  const bool cascade = FindTopLevel("CASCADE", i_) != kNotFound;
  const std::string list = Join(names);
  if (kind == "database" || kind == "schema") {
    Emit("db.drop", Severity::kCritical, Reversibility::kIrreversible, names,
         "DROP " + ToLower(kind) + " " + list + " destroys it and everything in it");
  } else if (kind == "user" || kind == "role") {
    Emit("db.role.drop", Severity::kHigh, Reversibility::kIrreversible, names,
         "DROP " + kind + " " + list + " removes logins and their grants");
  } else if (kind == "index" || kind == "key") {
    Emit("db.drop.index", Severity::kLow, Reversibility::kRecoverable, names,
         "drops index " + list + "; no data is lost, it can be rebuilt");
  } else if (kind == "table" &&
             (temporary || (!names.empty() &&
                            [&] {
                              for (const auto& name : names)
                                if (!session_.IsTempTable(name)) return false;
                              return true;
                            }())) &&
             !cascade) {
    Emit("db.drop.temp", Severity::kLow, Reversibility::kIrreversible, names,
         "drops temporary table " + list);
  } else {
    Emit("db.drop", Severity::kHigh, Reversibility::kIrreversible, names,
         "DROP " + kind + " " + list);
  }
}

void Statement::Truncate() {
  Accept("TABLE");
  std::vector<std::string> names = ReadNameList();
  Emit("db.truncate", Severity::kHigh, Reversibility::kIrreversible, names,
       "TRUNCATE removes every row of " + Join(names));
}

void Statement::RowChange(bool is_delete) {
  const std::string verb = is_delete ? "DELETE" : "UPDATE";
  // Modifiers of MySQL and SQLite: LOW_PRIORITY, QUICK, IGNORE, OR REPLACE...
  while (Accept("LOW_PRIORITY") || Accept("QUICK") || Accept("IGNORE")) {
  }
  if (Accept("OR")) ++i_;
  std::vector<std::string> targets;
  if (is_delete && !At("FROM")) {
    targets = ReadNameList();  // DELETE t1, t2 FROM ... (MySQL multi-table)
  }
  Accept("FROM");
  if (targets.empty()) {
    std::string name = ReadName();
    if (!name.empty()) targets.push_back(std::move(name));
  }
  ResolveAliases(targets);
  const std::string table = targets.empty() ? std::string() : targets.front();
  const std::size_t where = FindTopLevel("WHERE", i_);
  const bool limited = FindTopLevel("LIMIT", i_) != kNotFound;
  std::string why;
  bool unbounded = false;
  if (where == kNotFound) {
    unbounded = true;
    why = limited ? "it has no WHERE clause (LIMIT only caps how many arbitrary rows go)"
                  : "it has no WHERE clause";
  } else {
    std::size_t end = t_.size();
    for (std::string_view stop : {"ORDER", "LIMIT", "RETURNING"}) {
      std::size_t at = FindTopLevel(stop, where + 1);
      if (at != kNotFound && at < end) end = at;
    }
    std::string condition = ToPostgresText(t_.subspan(where + 1, end - where - 1), dialect_);
    switch (JudgeCondition(condition, table, &why)) {
      case ConditionVerdict::kAllRows:
        unbounded = true;
        break;
      case ConditionVerdict::kBounded:
        break;
      case ConditionVerdict::kUnparseable:
        out_.push_back(Opaque(verb + " with a WHERE clause we could not parse", targets));
        return;
    }
  }
  if (unbounded) {
    Emit(is_delete ? "db.delete.unbounded" : "db.update.unbounded", Severity::kHigh,
         Reversibility::kIrreversible, targets,
         verb + (is_delete ? " removes every row of " : " overwrites every row of ") + table +
             ": " + why);
  } else {
    Emit("db.write.bounded", Severity::kLow, Reversibility::kIrreversible, targets,
         verb + " of " + table + " limited by its WHERE clause");
  }
}

void Statement::Alter() {
  if (!Accept("TABLE")) {
    if (At("USER") || At("ROLE")) {
      Emit("db.role.alter", Severity::kMedium, Reversibility::kRecoverable, {},
           "ALTER USER changes how an account logs in or what it may do");
      return;
    }
    Emit("db.alter", Severity::kLow, Reversibility::kReversible, {}, "changes a definition");
    return;
  }
  Accept("ONLY");
  if (Accept("IF")) Accept("EXISTS");
  std::string table = ReadName();
  bool emitted = false;
  // Walk the comma-separated alterations at the top level.
  for (std::size_t k = i_; k < t_.size(); ++k) {
    const Token& token = t_[k];
    const bool clause_start = k == i_ || (k > 0 && t_[k - 1].text == ",");
    if (!clause_start) continue;
    auto word = [&](std::size_t at, std::string_view upper) {
      return at < t_.size() && IsWord(t_[at], upper);
    };
    if (IsWord(token, "DROP")) {
      std::size_t next = k + 1;
      if (word(next, "PARTITION")) {
        Emit("db.drop", Severity::kHigh, Reversibility::kIrreversible, {table},
             "ALTER TABLE " + table + " DROP PARTITION deletes the partition's rows");
      } else if (word(next, "INDEX") || word(next, "KEY")) {
        Emit("db.drop.index", Severity::kLow, Reversibility::kRecoverable, {table},
             "drops an index of " + table + "; no data is lost");
      } else if (word(next, "FOREIGN") || word(next, "PRIMARY") || word(next, "CONSTRAINT") ||
                 word(next, "CHECK")) {
        Emit("db.alter.destructive", Severity::kHigh, Reversibility::kIrreversible, {table},
             "ALTER TABLE " + table + " drops a constraint");
      } else {
        Emit("db.alter.destructive", Severity::kHigh, Reversibility::kIrreversible, {table},
             "ALTER TABLE " + table + " DROP COLUMN destroys the column's data");
      }
      emitted = true;
    } else if (IsWord(token, "TRUNCATE") && word(k + 1, "PARTITION")) {
      Emit("db.truncate", Severity::kHigh, Reversibility::kIrreversible, {table},
           "ALTER TABLE " + table + " TRUNCATE PARTITION removes the partition's rows");
      emitted = true;
    } else if (IsWord(token, "DISCARD") && word(k + 1, "TABLESPACE")) {
      Emit("db.drop", Severity::kHigh, Reversibility::kIrreversible, {table},
           "DISCARD TABLESPACE deletes the table's data file");
      emitted = true;
    }
  }
  if (!emitted) {
    Emit("db.alter", Severity::kLow, Reversibility::kReversible, {table},
         "ALTER TABLE " + table + " without dropping data");
  }
}

void Statement::Select() {
  // SQLite allows WITH ... DELETE/UPDATE/INSERT: the main verb decides.
  if (IsWord(t_[0], "WITH")) {
    for (std::string_view verb : {"DELETE", "UPDATE", "INSERT", "REPLACE"}) {
      std::size_t at = FindTopLevel(verb, 1);
      if (at != kNotFound) {
        Statement(t_.subspan(at), dialect_, session_, out_).Classify();
        return;
      }
    }
  }
  // PostgreSQL's grammar already refused this text, so before calling it a
  // read make sure no other statement hides in it (a client terminator such
  // as mysql's \g, or a statement keyword where a query cannot have one).
  static constexpr std::string_view kStatementWords[] = {
      "DROP",   "DELETE", "TRUNCATE", "INSERT", "REPLACE", "ALTER", "CREATE", "GRANT", "REVOKE",
      "RENAME", "KILL",   "SHUTDOWN", "UPDATE", "SET",     "CALL",  "PURGE",  "LOAD"};
  int depth = 0;
  for (std::size_t k = 1; k < t_.size(); ++k) {
    const Token& token = t_[k];
    if (token.text == "\\") {
      out_.push_back(Opaque("a client backslash command inside a query"));
      return;
    }
    if (token.kind == TokenKind::kPunct && token.text == "(") ++depth;
    if (token.kind == TokenKind::kPunct && token.text == ")") --depth;
    if (depth != 0 || token.kind != TokenKind::kWord) continue;
    for (std::string_view word : kStatementWords) {
      if (!IsWord(token, word)) continue;
      if (word == "UPDATE" && IsWord(t_[k - 1], "FOR")) break;  // SELECT ... FOR UPDATE
      out_.push_back(Opaque("a query PostgreSQL cannot parse contains " + std::string(word)));
      return;
    }
  }
  const std::size_t into = FindTopLevel("INTO", 1);
  if (into != kNotFound && into + 1 < t_.size() &&
      (IsWord(t_[into + 1], "OUTFILE") || IsWord(t_[into + 1], "DUMPFILE"))) {
    Emit("db.file.write", Severity::kMedium, Reversibility::kIrreversible, {},
         "SELECT ... INTO OUTFILE writes a file on the database server");
    return;
  }
  Read("a query that only reads");
}

void Statement::Set() {
  // SET [GLOBAL|SESSION|PERSIST|LOCAL] name = value
  bool global = false;
  if (Accept("GLOBAL") || Accept("PERSIST") || Accept("PERSIST_ONLY")) global = true;
  Accept("SESSION") || Accept("LOCAL");
  if (At("PASSWORD")) {
    Emit("db.role.alter", Severity::kMedium, Reversibility::kRecoverable, {},
         "SET PASSWORD changes a login");
    return;
  }
  std::string name;
  if (i_ < t_.size()) {
    const Token& token = t_[i_];
    name = TokenValue(token);
    if (token.kind == TokenKind::kParam) {  // @@global.x / @@session.x
      std::string_view text = token.text;
      while (!text.empty() && text.front() == '@') text.remove_prefix(1);
      if (text.starts_with("global.") || text.starts_with("GLOBAL.")) global = true;
      if (auto dot = text.rfind('.'); dot != std::string_view::npos) text = text.substr(dot + 1);
      name = std::string(text);
    }
    ++i_;
  }
  std::string value;
  if (AtPunct("=") || At("TO") || AtPunct(":=")) ++i_;
  if (i_ < t_.size()) value = TokenValue(t_[i_]);
  std::string danger = DangerousSetting(name, value);
  if (!danger.empty()) {
    Emit("db.config.destructive", Severity::kHigh, Reversibility::kRecoverable, {name},
         "SET " + name + ": " + danger);
  } else if (global) {
    Emit("db.config.system", Severity::kHigh, Reversibility::kRecoverable, {name},
         "SET GLOBAL changes the server's configuration for every connection");
  } else {
    Emit("db.session", Severity::kNone, Reversibility::kReversible, {name}, "SET " + name);
  }
}

void Statement::Pragma() {
  std::string name = ReadName();
  if (auto dot = name.rfind('.'); dot != std::string::npos) name = name.substr(dot + 1);
  std::string value;
  bool assigns = false;
  if (AtPunct("=")) {
    assigns = true;
    ++i_;
    if (i_ < t_.size()) value = TokenValue(t_[i_]);
  } else if (AtPunct("(")) {
    ++i_;
    if (i_ < t_.size()) value = TokenValue(t_[i_]);
  }
  std::string danger = DangerousSetting(name, value);
  if (!danger.empty()) {
    Emit("db.config.destructive", Severity::kHigh, Reversibility::kRecoverable, {name},
         "PRAGMA " + name + ": " + danger);
  } else if (assigns) {
    Emit("db.config", Severity::kLow, Reversibility::kReversible, {name}, "PRAGMA sets " + name);
  } else {
    Read("PRAGMA reads " + name);
  }
}

}  // namespace

void ClassifyTokens(std::span<const Token> statement, Dialect dialect, Session& session,
                    std::vector<Action>& out) {
  Statement(statement, dialect, session, out).Classify();
}

}  // namespace dualkey::sql::internal
