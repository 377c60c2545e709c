// Every function and operator in these checks is written pg_catalog-
// qualified: the checks run with the client's search_path (so that names
// resolve as the client's statement will resolve them), and a client could
// put a schema of its own in front with a to_regclass or an = that lies.
#include "proxy/pg/internal/facts.h"

#include "base/json_text.h"
#include "sql/shape.h"

namespace dualkey::pgproxy {
namespace {

constexpr const char* kEq = " OPERATOR(pg_catalog.=) ";
constexpr const char* kNe = " OPERATOR(pg_catalog.<>) ";

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::vector<std::string> Quoted(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) out.push_back(sql::SqlIdentifier(name));
  return out;
}

std::vector<std::string> JsonNames(const std::optional<std::string>& text, bool* ok) {
  std::vector<std::string> out;
  if (!text) return out;
  std::optional<nlohmann::json> parsed = base::JsonParse(*text);
  if (!parsed || !parsed->is_array()) {
    *ok = false;
    return out;
  }
  for (const auto& item : *parsed) {
    if (!item.is_string()) {
      *ok = false;
      return out;
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

WrappedChecks WrapChecks(const std::vector<std::string>& checks, char status,
                         int statement_timeout_ms, int lock_timeout_ms) {
  // A statement a line: a comment left open in text taken from the client
  // (a WHERE clause) ends with its line and cannot swallow the statements
  // that put the session back.
  WrappedChecks out;
  const std::string timeouts =
      "SET LOCAL statement_timeout = " + std::to_string(statement_timeout_ms) +
      ";\nSET LOCAL lock_timeout = " + std::to_string(lock_timeout_ms) + ";\n";
  std::size_t suffix = 0;
  if (status == 'T') {
    // Inside the client's transaction: what it sees, in a savepoint that is
    // rolled back (locks and settings taken here go with it).
    out.sql = "SAVEPOINT dualkey_check;\n" + timeouts + "SET LOCAL transaction_read_only = on;\n";
    out.first = 4;
    out.cleanup = "ROLLBACK TO SAVEPOINT dualkey_check;\nRELEASE SAVEPOINT dualkey_check";
    suffix = 2;
  } else {
    out.sql = "BEGIN READ ONLY;\n" + timeouts;
    out.first = 3;
    out.cleanup = "ROLLBACK";
    suffix = 1;
  }
  for (const std::string& check : checks) out.sql += check + "\n;\n";
  out.sql += out.cleanup;
  out.expected = out.first + checks.size() + suffix;
  return out;
}

std::string TableFacts::Qualified() const {
  return sql::SqlIdentifier(schema) + "." + sql::SqlIdentifier(name);
}

std::string TableFacts::ColumnList() const {
  return Join(Quoted(columns), ", ");
}

std::string DescribeTableQuery(std::string_view name, Event event, int server_version) {
  const char* bit = event == Event::kDelete ? "8" : event == Event::kUpdate ? "16" : "32";
  const std::string trigger =
      "SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger t WHERE t.tgrelid" + std::string(kEq) +
      "c.oid AND NOT t.tgisinternal AND t.tgenabled" + kNe +
      "'D' AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) " + bit + ")" + kNe + "0";
  const std::string row_bit = "(t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 1)";
  // Foreign keys whose action changes another table when these rows go
  // (DELETE) or their keys change (UPDATE); TRUNCATE refuses referenced
  // tables unless CASCADE, which the proxy never takes on trust.
  std::string references = "0";
  if (event != Event::kTruncate) {
    const char* action = event == Event::kDelete ? "f.confdeltype" : "f.confupdtype";
    references = std::string("(SELECT pg_catalog.count(*) FROM pg_catalog.pg_constraint f WHERE ") +
                 "f.confrelid" + kEq + "c.oid AND f.contype" + kEq + "'f' AND NOT (" + action +
                 kEq + "'a' OR " + action + kEq + "'r'))";
  }
  std::string stored = "NOT a.attisdropped";
  if (server_version >= 120000) stored += " AND a.attgenerated" + std::string(kEq) + "''";
  return std::string("SELECT n.nspname, c.relname, c.relkind, c.relhassubclass, ") + "(" + trigger +
         " AND " + row_bit + kEq + "0), " + "(" + trigger + " AND " + row_bit + kNe + "0), " +
         "(SELECT pg_catalog.count(*) FROM pg_catalog.pg_rewrite r WHERE r.ev_class" + kEq +
         "c.oid AND r.rulename" + kNe + "'_RETURN'), " + references + ", " +
         "(SELECT pg_catalog.json_agg(a.attname ORDER BY a.attnum) FROM pg_catalog.pg_attribute "
         "a WHERE a.attrelid" +
         kEq + "c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND " + stored + "), " +
         "(SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord) FROM pg_catalog.pg_index i "
         "CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY "
         "AS k(attnum, ord) JOIN pg_catalog.pg_attribute a ON a.attrelid" +
         kEq + "i.indrelid AND a.attnum" + kEq + "k.attnum WHERE i.indrelid" + kEq +
         "c.oid AND i.indisprimary) " +
         "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid" + kEq +
         "c.relnamespace WHERE c.oid" + kEq + "pg_catalog.to_regclass(" + sql::SqlLiteral(name) +
         ")::pg_catalog.oid";
}

std::optional<TableFacts> ReadTableFacts(const OwnQueryResult::Statement& answer,
                                         std::string* error) {
  TableFacts facts;
  if (answer.rows.empty()) return facts;  // no such table
  const OwnQueryResult::Row& row = answer.rows[0];
  if (row.size() != 10 || !row[0] || !row[1] || !row[2] || !row[3]) {
    *error = "unexpected answer describing a table";
    return std::nullopt;
  }
  try {
    facts.exists = true;
    facts.schema = *row[0];
    facts.name = *row[1];
    facts.relkind = row[2]->empty() ? 0 : (*row[2])[0];
    facts.has_children = *row[3] == "t";
    facts.statement_triggers = row[4] ? std::stoll(*row[4]) : 0;
    facts.row_triggers = row[5] ? std::stoll(*row[5]) : 0;
    facts.rules = row[6] ? std::stoll(*row[6]) : 0;
    facts.cascading_references = row[7] ? std::stoll(*row[7]) : 0;
  } catch (const std::exception&) {
    *error = "unexpected numbers describing a table";
    return std::nullopt;
  }
  bool ok = true;
  facts.columns = JsonNames(row[8], &ok);
  facts.key = JsonNames(row[9], &ok);
  if (!ok) {
    *error = "unexpected column list describing a table";
    return std::nullopt;
  }
  return facts;
}

std::string ObjectExistsQuery(std::string_view drop_kind, std::string_view object) {
  const std::string kind = Upper(drop_kind);
  const std::string literal = sql::SqlLiteral(object);
  if (kind == "TABLE" || kind == "VIEW" || kind == "MATERIALIZED VIEW" || kind == "SEQUENCE" ||
      kind == "INDEX" || kind == "FOREIGN TABLE")
    return "SELECT pg_catalog.to_regclass(" + literal + ") IS NOT NULL";
  if (kind == "TYPE" || kind == "DOMAIN")
    return "SELECT pg_catalog.to_regtype(" + literal + ") IS NOT NULL";
  if (kind == "SCHEMA") return "SELECT pg_catalog.to_regnamespace(" + literal + ") IS NOT NULL";
  if (kind == "FUNCTION" || kind == "PROCEDURE" || kind == "ROUTINE" || kind == "AGGREGATE") {
    if (object.find('(') != std::string_view::npos)
      return "SELECT pg_catalog.to_regprocedure(" + literal + ") IS NOT NULL";
    // No argument list: any function of that name where the client would
    // look (to_regproc answers NULL for an ambiguous name, too).
    return std::string("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p, ") +
           "pg_catalog.parse_ident(" + literal + ") AS i(parts) WHERE p.proname" + kEq +
           "(i.parts[pg_catalog.array_length(i.parts, 1)])::pg_catalog.name AND CASE WHEN "
           "pg_catalog.array_length(i.parts, 1)" +
           kEq + "1 THEN p.pronamespace" + kEq +
           "ANY (ARRAY(SELECT s.oid FROM pg_catalog.pg_namespace s WHERE s.nspname" + kEq +
           "ANY (pg_catalog.current_schemas(true)))) ELSE p.pronamespace" + kEq +
           "pg_catalog.to_regnamespace(pg_catalog.quote_ident(i.parts[1]))::pg_catalog.oid END)";
  }
  if (kind == "DATABASE")
    return std::string("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database d WHERE d.datname") +
           kEq + literal + "::pg_catalog.name)";
  if (kind == "EXTENSION")
    return std::string("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname") +
           kEq + "(pg_catalog.parse_ident(" + literal + "))[1]::pg_catalog.name)";
  return {};
}

std::optional<bool> ReadBoolean(const OwnQueryResult::Statement& answer) {
  if (answer.rows.size() != 1 || answer.rows[0].size() != 1 || !answer.rows[0][0])
    return std::nullopt;
  if (*answer.rows[0][0] == "t") return true;
  if (*answer.rows[0][0] == "f") return false;
  return std::nullopt;
}

std::string RestoreEntryLine(const RestoreEntry& entry) {
  nlohmann::json line{{"schema", entry.schema}, {"table", entry.table},     {"part", entry.part},
                      {"mode", entry.mode},     {"columns", entry.columns}, {"key", entry.key}};
  return base::JsonDump(line) + "\n";
}

std::optional<RestoreEntry> ParseRestoreEntry(std::string_view line) {
  RestoreEntry entry;
  if (line.starts_with("{")) {
    std::optional<nlohmann::json> parsed = base::JsonParse(line);
    if (!parsed || !parsed->is_object()) return std::nullopt;
    try {
      entry.schema = parsed->at("schema").get<std::string>();
      entry.table = parsed->at("table").get<std::string>();
      entry.part = parsed->at("part").get<std::string>();
      entry.mode = parsed->value("mode", std::string("insert"));
      if (parsed->contains("columns"))
        entry.columns = parsed->at("columns").get<std::vector<std::string>>();
      if (parsed->contains("key")) entry.key = parsed->at("key").get<std::vector<std::string>>();
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (entry.mode != "insert" && entry.mode != "update") return std::nullopt;
    if (entry.mode == "update" && (entry.key.empty() || entry.columns.empty())) return std::nullopt;
    return entry;
  }
  // "-- schema.table -> part"
  const std::size_t arrow = line.find(" -> ");
  if (!line.starts_with("-- ") || arrow == std::string_view::npos) return std::nullopt;
  const std::string_view table = line.substr(3, arrow - 3);
  const std::size_t dot = table.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  entry.schema = std::string(table.substr(0, dot));
  entry.table = std::string(table.substr(dot + 1));
  entry.part = std::string(line.substr(arrow + 4));
  return entry;
}

std::pair<std::string, std::string> RestoreScript(const RestoreEntry& entry, int index) {
  const std::string target =
      sql::SqlIdentifier(entry.schema) + "." + sql::SqlIdentifier(entry.table);
  const std::string columns =
      entry.columns.empty() ? std::string() : " (" + Join(Quoted(entry.columns), ", ") + ")";
  if (entry.mode == "insert") return {"COPY " + target + columns + " FROM stdin;\n", "\\.\n"};
  // Overwritten rows: the saved values go back over the rows with the same
  // key (no row is deleted, so nothing cascades).
  const std::string saved = "dualkey_restore_" + std::to_string(index);
  std::string before = "CREATE TEMP TABLE " + saved + " ON COMMIT DROP AS SELECT " +
                       Join(Quoted(entry.columns), ", ") + " FROM " + target + " WITH NO DATA;\n" +
                       "COPY " + saved + columns + " FROM stdin;\n";
  std::vector<std::string> assignments, matches;
  for (const std::string& column : entry.columns) {
    bool is_key = false;
    for (const std::string& key : entry.key) is_key = is_key || key == column;
    const std::string name = sql::SqlIdentifier(column);
    if (is_key)
      matches.push_back("t." + name + " = r." + name);
    else
      assignments.push_back(name + " = r." + name);
  }
  std::string after = "\\.\n";
  if (!assignments.empty())
    after += "UPDATE " + target + " AS t SET " + Join(assignments, ", ") + " FROM " + saved +
             " AS r WHERE " + Join(matches, " AND ") + ";\n";
  return {before, after};
}

}  // namespace dualkey::pgproxy
