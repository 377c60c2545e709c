#include "sql/shape.h"

#include <cctype>
#include <span>

#include "sql/internal/lexer.h"

namespace dualkey::sql {
namespace {

using internal::IsWord;
using internal::SourceText;
using internal::Token;
using internal::TokenKind;

bool IsPunct(const Token& t, char c) {
  return t.kind == TokenKind::kPunct && t.text.size() == 1 && t.text[0] == c;
}

bool IsName(const Token& t) {
  return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedIdent;
}

// A possibly qualified name starting at tokens[i]; advances i.
std::string QualifiedName(std::span<const Token> tokens, std::size_t& i, bool* exact = nullptr) {
  const std::size_t start = i;
  if (i >= tokens.size() || !IsName(tokens[i])) return {};
  ++i;
  while (i + 1 < tokens.size() && IsPunct(tokens[i], '.') && IsName(tokens[i + 1])) {
    // Blanks or a comment between the parts: the text is not one name.
    if (exact != nullptr && (tokens[i].space_before || tokens[i + 1].space_before)) *exact = false;
    i += 2;
  }
  return std::string(SourceText(tokens.subspan(start, i - start)));
}

bool AtEnd(std::span<const Token> t, std::size_t i) {
  return i >= t.size();
}

// Index of the first depth-0 word among `words` at or after `from`.
std::size_t FindTopLevel(std::span<const Token> tokens, std::size_t from,
                         std::initializer_list<std::string_view> words) {
  int depth = 0;
  for (std::size_t i = from; i < tokens.size(); ++i) {
    if (IsPunct(tokens[i], '(') || IsPunct(tokens[i], '[')) ++depth;
    if (IsPunct(tokens[i], ')') || IsPunct(tokens[i], ']')) --depth;
    if (depth != 0) continue;
    for (std::string_view w : words)
      if (IsWord(tokens[i], w)) return i;
  }
  return tokens.size();
}

// Names separated by commas from tokens[i]; `end` (when given) is set to
// the token after the list, `exact` cleared when a name is not plain.
std::vector<std::string> NameList(std::span<const Token> tokens, std::size_t i,
                                  std::size_t* end = nullptr, bool* exact = nullptr) {
  std::vector<std::string> names;
  while (i < tokens.size()) {
    if (IsWord(tokens[i], "ONLY")) ++i;
    std::string name = QualifiedName(tokens, i, exact);
    if (name.empty()) break;
    names.push_back(std::move(name));
    if (i < tokens.size() && IsPunct(tokens[i], '*')) ++i;
    if (i < tokens.size() && IsPunct(tokens[i], ',')) {
      ++i;
      continue;
    }
    break;
  }
  if (end != nullptr) *end = i;
  return names;
}

// Only these words, in any order, from tokens[i] to the end.
bool OnlyWordsFollow(std::span<const Token> t, std::size_t i,
                     std::initializer_list<std::string_view> words) {
  for (; i < t.size(); ++i) {
    bool known = false;
    for (std::string_view w : words) known = known || IsWord(t[i], w);
    if (!known) return false;
  }
  return true;
}

// The text of each top-level comma-separated item from tokens[i] up to the
// first of `stops` (depth 0).
std::vector<std::string> Items(std::span<const Token> t, std::size_t i,
                               std::initializer_list<std::string_view> stops) {
  std::vector<std::string> items;
  const std::size_t end = FindTopLevel(t, i, stops);
  int depth = 0;
  std::size_t start = i;
  for (std::size_t k = i; k <= end && k <= t.size(); ++k) {
    const bool last = k == end || k == t.size();
    if (!last && (IsPunct(t[k], '(') || IsPunct(t[k], '['))) ++depth;
    if (!last && (IsPunct(t[k], ')') || IsPunct(t[k], ']'))) --depth;
    if (last || (depth == 0 && IsPunct(t[k], ','))) {
      if (k > start) items.emplace_back(SourceText(t.subspan(start, k - start)));
      start = k + 1;
    }
    if (last) break;
  }
  return items;
}

// UPDATE ... SET a = 1, (b, c) = (...): the assigned column names.
std::vector<std::string> SetColumns(std::span<const Token> t, std::size_t set_at) {
  std::vector<std::string> columns;
  const std::size_t end = FindTopLevel(t, set_at + 1, {"FROM", "WHERE", "RETURNING"});
  int depth = 0;
  bool expect_target = true;
  for (std::size_t k = set_at + 1; k < end; ++k) {
    if (IsPunct(t[k], '(') || IsPunct(t[k], '[')) {
      ++depth;
      if (depth == 1 && expect_target) {
        // (b, c) = ...: every name up to the closing parenthesis.
        for (++k; k < end && !IsPunct(t[k], ')'); ++k)
          if (IsName(t[k])) columns.push_back(internal::TokenValue(t[k]));
        depth = 0;
        expect_target = false;
      }
      continue;
    }
    if (IsPunct(t[k], ')') || IsPunct(t[k], ']')) {
      --depth;
      continue;
    }
    if (depth != 0) continue;
    if (IsPunct(t[k], ',')) {
      expect_target = true;
      continue;
    }
    if (expect_target) {
      if (!IsName(t[k])) return {};
      columns.push_back(internal::TokenValue(t[k]));
      expect_target = false;
    }
  }
  return columns;
}

void Modify(std::span<const Token> t, std::size_t name_at, bool is_update, StatementShape& s) {
  std::size_t i = name_at;
  if (i < t.size() && IsWord(t[i], "ONLY")) ++i;
  bool exact = true;
  std::string name = QualifiedName(t, i, &exact);
  if (name.empty()) {
    s.complex = true;
    return;
  }
  s.objects.push_back(name);
  if (i < t.size() && IsPunct(t[i], '*')) ++i;
  if (i < t.size() && IsWord(t[i], "AS")) ++i;
  if (i < t.size() && IsName(t[i]) && !IsWord(t[i], "SET") && !IsWord(t[i], "USING") &&
      !IsWord(t[i], "WHERE") && !IsWord(t[i], "RETURNING"))
    s.alias = std::string(t[i++].text);
  // What may follow the target: DELETE ... [USING|WHERE|RETURNING], UPDATE ... SET.
  const bool expected_next = is_update ? i < t.size() && IsWord(t[i], "SET")
                                       : AtEnd(t, i) || IsWord(t[i], "WHERE") ||
                                             IsWord(t[i], "USING") || IsWord(t[i], "RETURNING");
  s.names_exact = exact && expected_next;
  const std::size_t where = FindTopLevel(t, i, {"WHERE"});
  const std::size_t joined = FindTopLevel(t, i, {is_update ? "FROM" : "USING"});
  if (joined < where) s.complex = true;
  if (where < t.size()) {
    const std::size_t end = FindTopLevel(t, where + 1, {"RETURNING"});
    if (where + 1 < t.size() && IsWord(t[where + 1], "CURRENT")) s.complex = true;
    if (end > where + 1) s.where = std::string(SourceText(t.subspan(where + 1, end - where - 1)));
    for (std::size_t k = where + 1; k + 1 < end; ++k)
      if ((IsName(t[k]) || t[k].kind == TokenKind::kOperator) && IsPunct(t[k + 1], '('))
        s.where_calls = true;
    for (std::size_t k = where + 1; k + 1 < end; ++k)
      if (IsPunct(t[k], '(') && IsWord(t[k + 1], "SELECT")) s.where_calls = true;
  }
  if (is_update) {
    const std::size_t set = FindTopLevel(t, i, {"SET"});
    if (set < t.size()) s.set_columns = SetColumns(t, set);
  }
}

// DROP <kind> [IF EXISTS] objects [CASCADE | RESTRICT].
void Drop(std::span<const Token> t, StatementShape& s) {
  // PostgreSQL's object kinds, longest first where one starts another.
  static constexpr std::string_view kKinds[] = {"TEXT SEARCH CONFIGURATION",
                                                "TEXT SEARCH DICTIONARY",
                                                "TEXT SEARCH PARSER",
                                                "TEXT SEARCH TEMPLATE",
                                                "FOREIGN DATA WRAPPER",
                                                "PROCEDURAL LANGUAGE",
                                                "MATERIALIZED VIEW",
                                                "OPERATOR CLASS",
                                                "OPERATOR FAMILY",
                                                "ACCESS METHOD",
                                                "EVENT TRIGGER",
                                                "FOREIGN TABLE",
                                                "USER MAPPING",
                                                "AGGREGATE",
                                                "CAST",
                                                "COLLATION",
                                                "CONVERSION",
                                                "DATABASE",
                                                "DOMAIN",
                                                "EXTENSION",
                                                "FUNCTION",
                                                "GROUP",
                                                "INDEX",
                                                "LANGUAGE",
                                                "OPERATOR",
                                                "OWNED",
                                                "POLICY",
                                                "PROCEDURE",
                                                "PUBLICATION",
                                                "ROLE",
                                                "ROUTINE",
                                                "RULE",
                                                "SCHEMA",
                                                "SEQUENCE",
                                                "SERVER",
                                                "STATISTICS",
                                                "SUBSCRIPTION",
                                                "TABLESPACE",
                                                "TABLE",
                                                "TRANSFORM",
                                                "TRIGGER",
                                                "TYPE",
                                                "USER",
                                                "VIEW"};
  std::size_t i = 1;
  std::string kind;
  for (std::string_view candidate : kKinds) {
    std::size_t k = i;
    std::string_view rest = candidate;
    bool match = true;
    while (!rest.empty()) {
      const std::size_t space = rest.find(' ');
      const std::string_view word = rest.substr(0, space);
      if (k >= t.size() || !IsWord(t[k], word)) {
        match = false;
        break;
      }
      ++k;
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    }
    if (match) {
      kind = std::string(candidate);
      i = k;
      break;
    }
  }
  if (i < t.size() && IsWord(t[i], "CONCURRENTLY")) ++i;
  s.drop_kind = kind;
  if (i + 1 < t.size() && IsWord(t[i], "IF") && IsWord(t[i + 1], "EXISTS")) {
    s.if_exists = true;
    i += 2;
  }
  s.cascade = FindTopLevel(t, i, {"CASCADE"}) < t.size();
  if (kind == "TABLE") {
    s.kind = StatementShape::Kind::kDropTable;
    std::size_t end = i;
    bool exact = true;
    s.objects = NameList(t, i, &end, &exact);
    s.names_exact = exact && !s.objects.empty() && OnlyWordsFollow(t, end, {"CASCADE", "RESTRICT"});
  } else if (kind == "DATABASE") {
    s.kind = StatementShape::Kind::kDropDatabase;
    if (i < t.size() && IsName(t[i])) {
      // As the server folds it: unquoted names are lower case.
      std::string name = internal::TokenValue(t[i]);
      if (t[i].kind == TokenKind::kWord)
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      s.objects.push_back(std::move(name));
      s.names_exact = AtEnd(t, i + 1) || IsWord(t[i + 1], "WITH") || IsPunct(t[i + 1], '(');
    }
  } else {
    s.kind = StatementShape::Kind::kDropOther;
    s.objects = Items(t, i, {"CASCADE", "RESTRICT"});
    // Each item a plain name, with an argument list for routines.
    s.names_exact = !s.objects.empty();
    for (const std::string& object : s.objects) {
      const std::size_t paren = object.find('(');
      const std::string name = object.substr(0, paren);
      if (DecodedName(name).empty() || (paren != std::string::npos && object.back() != ')'))
        s.names_exact = false;
    }
    const std::size_t stop = FindTopLevel(t, i, {"CASCADE", "RESTRICT"});
    if (!OnlyWordsFollow(t, stop, {"CASCADE", "RESTRICT"})) s.names_exact = false;
  }
}

}  // namespace

std::vector<StatementShape> AnalyseStatements(std::string_view sql) {
  std::vector<StatementShape> out;
  std::vector<Token> tokens;
  std::string error;
  if (!internal::Lex(sql, Dialect::kPostgres, &tokens, &error)) return out;
  for (std::span<const Token> t : internal::SplitStatements(tokens)) {
    StatementShape s;
    s.text = std::string(SourceText(t));
    for (const Token& token : t)
      s.has_parameters = s.has_parameters || token.kind == TokenKind::kParam;
    std::size_t i = 0;
    if (!t.empty() && IsWord(t[0], "WITH")) {
      // WITH ... DELETE/UPDATE: the CTEs can change which rows match.
      s.with = true;
      const std::size_t main = FindTopLevel(t, 1, {"DELETE", "UPDATE"});
      if (main < t.size()) {
        s.complex = true;
        i = main;
      }
    }
    s.opens_transaction =
        !t.empty() && (IsWord(t[0], "BEGIN") || IsWord(t[0], "START") || IsWord(t[0], "SAVEPOINT"));
    if (i < t.size() && IsWord(t[i], "DELETE") && i + 1 < t.size() && IsWord(t[i + 1], "FROM")) {
      s.kind = StatementShape::Kind::kDelete;
      Modify(t, i + 2, false, s);
    } else if (i < t.size() && IsWord(t[i], "UPDATE")) {
      s.kind = StatementShape::Kind::kUpdate;
      Modify(t, i + 1, true, s);
    } else if (i == 0 && !t.empty() && IsWord(t[0], "TRUNCATE")) {
      s.kind = StatementShape::Kind::kTruncate;
      std::size_t end = 0;
      bool exact = true;
      s.objects = NameList(t, t.size() > 1 && IsWord(t[1], "TABLE") ? 2 : 1, &end, &exact);
      s.cascade = FindTopLevel(t, 1, {"CASCADE"}) < t.size();
      s.restart_identity = FindTopLevel(t, 1, {"RESTART"}) < t.size();
      s.names_exact =
          exact && !s.objects.empty() &&
          OnlyWordsFollow(t, end, {"RESTART", "CONTINUE", "IDENTITY", "CASCADE", "RESTRICT"});
    } else if (i == 0 && t.size() > 2 && IsWord(t[0], "DROP")) {
      Drop(t, s);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string DecodedName(std::string_view written) {
  std::vector<Token> tokens;
  std::string error;
  const std::size_t paren = written.find('(');
  if (paren != std::string_view::npos) written = written.substr(0, paren);
  if (!internal::Lex(written, Dialect::kPostgres, &tokens, &error) || tokens.empty()) return {};
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (i % 2 == 1) {
      if (!IsPunct(t, '.') || t.space_before) return {};
      out.push_back('.');
      continue;
    }
    if (!IsName(t) || (i > 0 && t.space_before)) return {};
    std::string part = internal::TokenValue(t);
    if (t.kind == TokenKind::kWord)
      for (char& c : part) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += part;
  }
  if (tokens.size() % 2 == 0) return {};  // ends with a dot
  return out;
}

std::string SqlLiteral(std::string_view text) {
  std::string out = "E'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out.push_back(c);
    if (c == '\0') continue;
    out.push_back(c);
  }
  return out + "'";
}

std::string SqlIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    if (c == '\0') continue;
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace dualkey::sql
