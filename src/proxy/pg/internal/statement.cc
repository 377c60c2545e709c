#include "proxy/pg/internal/statement.h"

#include <span>

#include "sql/internal/lexer.h"

namespace dualkey::pgproxy {
namespace {

using sql::internal::IsWord;
using sql::internal::SourceText;
using sql::internal::Token;
using sql::internal::TokenKind;

bool IsPunct(const Token& t, char c) {
  return t.kind == TokenKind::kPunct && t.text.size() == 1 && t.text[0] == c;
}

bool IsName(const Token& t) {
  return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedIdent;
}

// A possibly qualified name starting at tokens[i]; advances i.
std::string QualifiedName(std::span<const Token> tokens, std::size_t& i) {
  const std::size_t start = i;
  if (i >= tokens.size() || !IsName(tokens[i])) return {};
  ++i;
  while (i + 1 < tokens.size() && IsPunct(tokens[i], '.') && IsName(tokens[i + 1])) i += 2;
  return std::string(SourceText(tokens.subspan(start, i - start)));
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

std::vector<std::string> NameList(std::span<const Token> tokens, std::size_t i) {
  std::vector<std::string> names;
  while (i < tokens.size()) {
    if (IsWord(tokens[i], "ONLY")) ++i;
    std::string name = QualifiedName(tokens, i);
    if (name.empty()) break;
    names.push_back(std::move(name));
    if (i < tokens.size() && IsPunct(tokens[i], '*')) ++i;
    if (i < tokens.size() && IsPunct(tokens[i], ',')) {
      ++i;
      continue;
    }
    break;
  }
  return names;
}

void Modify(std::span<const Token> t, std::size_t name_at, bool is_update, StatementShape& s) {
  std::size_t i = name_at;
  if (i < t.size() && IsWord(t[i], "ONLY")) ++i;
  std::string name = QualifiedName(t, i);
  if (name.empty()) {
    s.complex = true;
    return;
  }
  s.objects.push_back(name);
  if (i < t.size() && IsWord(t[i], "AS")) ++i;
  if (i < t.size() && IsName(t[i]) && !IsWord(t[i], "SET") && !IsWord(t[i], "USING") &&
      !IsWord(t[i], "WHERE") && !IsWord(t[i], "RETURNING"))
    s.alias = std::string(t[i].text);
  const std::size_t where = FindTopLevel(t, i, {"WHERE"});
  const std::size_t joined = FindTopLevel(t, i, {is_update ? "FROM" : "USING"});
  if (joined < where) s.complex = true;
  if (where < t.size()) {
    const std::size_t end = FindTopLevel(t, where + 1, {"RETURNING"});
    if (where + 1 < t.size() && IsWord(t[where + 1], "CURRENT")) s.complex = true;
    if (end > where + 1) s.where = std::string(SourceText(t.subspan(where + 1, end - where - 1)));
  }
}

}  // namespace

std::vector<StatementShape> AnalyseStatements(std::string_view sql) {
  std::vector<StatementShape> out;
  std::vector<Token> tokens;
  std::string error;
  if (!sql::internal::Lex(sql, sql::Dialect::kPostgres, &tokens, &error)) return out;
  for (std::span<const Token> t : sql::internal::SplitStatements(tokens)) {
    StatementShape s;
    s.text = std::string(SourceText(t));
    for (const Token& token : t)
      s.has_parameters = s.has_parameters || token.kind == TokenKind::kParam;
    std::size_t i = 0;
    if (!t.empty() && IsWord(t[0], "WITH")) {
      // WITH ... DELETE/UPDATE: the CTEs can change which rows match.
      const std::size_t main = FindTopLevel(t, 1, {"DELETE", "UPDATE"});
      if (main < t.size()) {
        s.complex = true;
        i = main;
      }
    }
    if (i < t.size() && IsWord(t[i], "DELETE") && i + 1 < t.size() && IsWord(t[i + 1], "FROM")) {
      s.kind = StatementShape::Kind::kDelete;
      Modify(t, i + 2, false, s);
    } else if (i < t.size() && IsWord(t[i], "UPDATE")) {
      s.kind = StatementShape::Kind::kUpdate;
      Modify(t, i + 1, true, s);
    } else if (i == 0 && !t.empty() && IsWord(t[0], "TRUNCATE")) {
      s.kind = StatementShape::Kind::kTruncate;
      s.objects = NameList(t, t.size() > 1 && IsWord(t[1], "TABLE") ? 2 : 1);
    } else if (i == 0 && t.size() > 2 && IsWord(t[0], "DROP") && IsWord(t[1], "TABLE")) {
      s.kind = StatementShape::Kind::kDropTable;
      std::size_t at = 2;
      if (t.size() > 4 && IsWord(t[2], "IF") && IsWord(t[3], "EXISTS")) at = 4;
      s.objects = NameList(t, at);
    } else if (i == 0 && t.size() > 2 && IsWord(t[0], "DROP") && IsWord(t[1], "DATABASE")) {
      s.kind = StatementShape::Kind::kDropDatabase;
      std::size_t at = 2;
      if (t.size() > 4 && IsWord(t[2], "IF") && IsWord(t[3], "EXISTS")) at = 4;
      if (at < t.size() && IsName(t[at])) s.objects.push_back(sql::internal::TokenValue(t[at]));
    }
    out.push_back(std::move(s));
  }
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

}  // namespace dualkey::pgproxy
