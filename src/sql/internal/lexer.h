// A dialect-aware SQL tokenizer for the text PostgreSQL's grammar rejects
// (MySQL, SQLite, or broken input). It knows each dialect's quoting and
// comment rules, so `-- DROP TABLE x` and 'DROP TABLE' never look like
// statements, and MySQL's executable comments /*! ... */ do.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sql/sql.h"

namespace dualkey::sql::internal {

enum class TokenKind : std::uint8_t {
  kWord,         // keyword or bare identifier
  kQuotedIdent,  // "x" (PG, SQLite), `x`, [x] (SQLite)
  kString,       // 'x', MySQL "x", PG $tag$x$tag$ and E'x'
  kNumber,
  kParam,  // ?, $1, :name, @name, @@var
  kOperator,
  kPunct,  // ( ) , . [ ] { }
  kSemicolon,
};

struct Token {
  TokenKind kind = TokenKind::kPunct;
  std::string_view text;           // the token as written
  std::string_view body;           // contents between the quotes
  char quote = 0;                  // opening quote character, '$' for dollar quoting
  bool backslash_escapes = false;  // body uses backslash escapes (MySQL, PG E'')
  bool space_before = false;       // whitespace or a comment precedes it
};

// Tokenizes `sql`; false with a reason on an unterminated quote or comment.
bool Lex(std::string_view sql, Dialect dialect, std::vector<Token>* tokens, std::string* error);

// Statements separated by top-level semicolons (empty statements dropped).
// SQLite trigger bodies (BEGIN ... END) stay whole.
std::vector<std::span<const Token>> SplitStatements(std::span<const Token> tokens);

// Case-insensitive keyword test on a word token; `upper` is upper case.
bool IsWord(const Token& token, std::string_view upper);

// The decoded value of a string or quoted identifier; a word's text.
std::string TokenValue(const Token& token);

// Re-spells the tokens in PostgreSQL syntax (identifier quotes, standard
// strings, positional parameters, MySQL's || and && as OR and AND), so the
// PostgreSQL parser can judge MySQL and SQLite text it would otherwise reject.
std::string ToPostgresText(std::span<const Token> tokens, Dialect dialect);

// The source text a token span covers (from its first to its last token).
std::string_view SourceText(std::span<const Token> tokens);

}  // namespace dualkey::sql::internal
