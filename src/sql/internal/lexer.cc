#include "sql/internal/lexer.h"

#include <cstddef>

#include "base/text.h"

namespace dualkey::sql::internal {
namespace {

bool IsIdentStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool IsIdentChar(unsigned char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '$';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char Upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

class Lexer {
 public:
  Lexer(std::string_view sql, Dialect dialect, std::vector<Token>* tokens)
      : s_(sql), dialect_(dialect), tokens_(tokens) {}

  bool Run(std::string* error) {
    while (pos_ < s_.size()) {
      if (!SkipSpaceAndComments(error)) return false;
      if (pos_ >= s_.size()) break;
      if (!NextToken(error)) return false;
    }
    if (in_executable_comment_) {
      *error = "unterminated /*! comment";
      return false;
    }
    return true;
  }

 private:
  bool SkipSpaceAndComments(std::string* error) {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (IsSpace(c)) {
        ++pos_;
        space_ = true;
      } else if (c == '-' && Peek(1) == '-' && LineCommentAfterDashes()) {
        SkipLine();
      } else if (c == '#' && dialect_ == Dialect::kMySql) {
        SkipLine();
      } else if (c == '/' && Peek(1) == '*') {
        if (dialect_ == Dialect::kMySql && (Peek(2) == '!' || (Peek(2) == 'M' && Peek(3) == '!'))) {
          // MySQL runs the contents of /*! ... */ (optionally versioned).
          pos_ += Peek(2) == '!' ? 3 : 4;
          while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
          in_executable_comment_ = true;
          space_ = true;
          continue;
        }
        if (!SkipBlockComment(error)) return false;
      } else if (c == '*' && Peek(1) == '/' && in_executable_comment_) {
        pos_ += 2;
        in_executable_comment_ = false;
        space_ = true;
      } else {
        return true;
      }
    }
    return true;
  }

  // MySQL needs whitespace (or the end) after "--"; the others do not.
  bool LineCommentAfterDashes() const {
    if (dialect_ != Dialect::kMySql) return true;
    char next = Peek(2);
    return next == '\0' || IsSpace(next) || static_cast<unsigned char>(next) < 0x20;
  }

  void SkipLine() {
    while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
    space_ = true;
  }

  bool SkipBlockComment(std::string* error) {
    // PostgreSQL nests block comments; MySQL and SQLite do not.
    const bool nests = dialect_ == Dialect::kPostgres;
    int depth = 0;
    while (pos_ < s_.size()) {
      if (s_[pos_] == '/' && Peek(1) == '*') {
        if (depth == 0 || nests) ++depth;
        pos_ += 2;
      } else if (s_[pos_] == '*' && Peek(1) == '/') {
        pos_ += 2;
        if (--depth == 0) {
          space_ = true;
          return true;
        }
      } else {
        ++pos_;
      }
    }
    *error = "unterminated block comment";
    return false;
  }

  char Peek(std::size_t ahead) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  void Emit(TokenKind kind, std::size_t start, std::string_view body = {}, char quote = 0,
            bool escapes = false) {
    Token token;
    token.kind = kind;
    token.text = s_.substr(start, pos_ - start);
    token.body = body;
    token.quote = quote;
    token.backslash_escapes = escapes;
    token.space_before = space_;
    tokens_->push_back(token);
    space_ = false;
  }

  // Reads a quoted run closed by `close`; a doubled `close` is an escaped
  // one, and with `escapes` a backslash escapes the next character.
  bool ReadQuoted(char close, bool escapes, std::string_view* body, std::string* error) {
    std::size_t start = ++pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (escapes && c == '\\') {
        pos_ += 2;
        continue;
      }
      if (c == close) {
        if (Peek(1) == close && close != ']') {
          pos_ += 2;
          continue;
        }
        *body = s_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      ++pos_;
    }
    *error = std::string("unterminated quoted text starting with ") + close;
    return false;
  }

  bool NextToken(std::string* error) {
    const std::size_t start = pos_;
    const char c = s_[pos_];
    std::string_view body;
    if (c == '\'') {
      const bool escapes = dialect_ == Dialect::kMySql;
      if (!ReadQuoted('\'', escapes, &body, error)) return false;
      Emit(TokenKind::kString, start, body, '\'', escapes);
      return true;
    }
    if (c == '"') {
      if (dialect_ == Dialect::kMySql) {  // a string unless ANSI_QUOTES
        if (!ReadQuoted('"', true, &body, error)) return false;
        Emit(TokenKind::kString, start, body, '"', true);
      } else {
        if (!ReadQuoted('"', false, &body, error)) return false;
        Emit(TokenKind::kQuotedIdent, start, body, '"');
      }
      return true;
    }
    if (c == '`') {
      if (!ReadQuoted('`', false, &body, error)) return false;
      Emit(TokenKind::kQuotedIdent, start, body, '`');
      return true;
    }
    if (c == '[' && dialect_ == Dialect::kSqlite) {
      if (!ReadQuoted(']', false, &body, error)) return false;
      Emit(TokenKind::kQuotedIdent, start, body, '[');
      return true;
    }
    if (c == '$' && dialect_ == Dialect::kPostgres) return DollarToken(error);
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) {
      if (c == '0' && (Peek(1) == 'x' || Peek(1) == 'X')) {
        pos_ += 2;
        while (pos_ < s_.size() && IsIdentChar(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      } else {
        while (pos_ < s_.size() && (IsDigit(s_[pos_]) || s_[pos_] == '.')) ++pos_;
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E') &&
            (IsDigit(Peek(1)) || ((Peek(1) == '+' || Peek(1) == '-') && IsDigit(Peek(2))))) {
          pos_ += 2;
          while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
        }
      }
      Emit(TokenKind::kNumber, start);
      return true;
    }
    if (IsIdentStart(static_cast<unsigned char>(c))) {
      while (pos_ < s_.size() && IsIdentChar(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      // PostgreSQL's E'...' takes backslash escapes.
      if (dialect_ == Dialect::kPostgres && pos_ - start == 1 && Upper(c) == 'E' &&
          Peek(0) == '\'') {
        if (!ReadQuoted('\'', true, &body, error)) return false;
        Emit(TokenKind::kString, start, body, '\'', true);
        return true;
      }
      Emit(TokenKind::kWord, start);
      return true;
    }
    if (c == '?' && dialect_ != Dialect::kPostgres) {
      ++pos_;
      while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
      Emit(TokenKind::kParam, start);
      return true;
    }
    if ((c == ':' && dialect_ == Dialect::kSqlite &&
         IsIdentStart(static_cast<unsigned char>(Peek(1)))) ||
        (c == '@' && dialect_ != Dialect::kPostgres) ||
        (c == '$' && dialect_ == Dialect::kSqlite)) {
      ++pos_;
      if (c == '@' && Peek(0) == '@') ++pos_;
      if (Peek(0) == '`' || Peek(0) == '\'' || Peek(0) == '"') {  // MySQL @`quoted var`
        if (!ReadQuoted(Peek(0), false, &body, error)) return false;
      }
      while (pos_ < s_.size() &&
             (IsIdentChar(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.'))
        ++pos_;
      Emit(TokenKind::kParam, start);
      return true;
    }
    // The mysql client ends a statement at \g or \G as well as at ';'.
    if (c == '\\' && dialect_ == Dialect::kMySql && (Peek(1) == 'g' || Peek(1) == 'G')) {
      pos_ += 2;
      Emit(TokenKind::kSemicolon, start);
      return true;
    }
    if (c == ';') {
      ++pos_;
      Emit(TokenKind::kSemicolon, start);
      return true;
    }
    if (c == '(' || c == ')' || c == ',' || c == '.' || c == '[' || c == ']' || c == '{' ||
        c == '}') {
      ++pos_;
      Emit(TokenKind::kPunct, start);
      return true;
    }
    // Operators: the two-character forms whose meaning differs by dialect are
    // kept together; everything else is one character, re-joined on output.
    if ((c == '|' && Peek(1) == '|') || (c == '&' && Peek(1) == '&') ||
        (c == ':' && Peek(1) == ':') || (c == ':' && Peek(1) == '=')) {
      pos_ += 2;
    } else {
      ++pos_;
    }
    Emit(TokenKind::kOperator, start);
    return true;
  }

  bool DollarToken(std::string* error) {
    const std::size_t start = pos_;
    if (IsDigit(Peek(1))) {  // $1 parameter
      ++pos_;
      while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
      Emit(TokenKind::kParam, start);
      return true;
    }
    std::size_t tag_end = pos_ + 1;
    while (tag_end < s_.size() && IsIdentChar(static_cast<unsigned char>(s_[tag_end])) &&
           s_[tag_end] != '$')
      ++tag_end;
    if (tag_end >= s_.size() || s_[tag_end] != '$') {
      ++pos_;
      Emit(TokenKind::kOperator, start);
      return true;
    }
    std::string_view tag = s_.substr(pos_, tag_end - pos_ + 1);  // "$tag$"
    std::size_t close = s_.find(tag, tag_end + 1);
    if (close == std::string_view::npos) {
      *error = "unterminated dollar-quoted string";
      return false;
    }
    std::string_view body = s_.substr(tag_end + 1, close - tag_end - 1);
    pos_ = close + tag.size();
    Emit(TokenKind::kString, start, body, '$');
    return true;
  }

  std::string_view s_;
  Dialect dialect_;
  std::vector<Token>* tokens_;
  std::size_t pos_ = 0;
  bool space_ = false;
  bool in_executable_comment_ = false;
};

void AppendQuoted(std::string& out, std::string_view value, char quote) {
  out.push_back(quote);
  for (char c : value) {
    if (c == quote) out.push_back(quote);
    out.push_back(c == '\0' ? ' ' : c);  // PostgreSQL text cannot hold NUL
  }
  out.push_back(quote);
}

}  // namespace

bool Lex(std::string_view sql, Dialect dialect, std::vector<Token>* tokens, std::string* error) {
  tokens->clear();
  tokens->reserve(sql.size() / 4 + 4);
  return Lexer(sql, dialect, tokens).Run(error);
}

bool IsWord(const Token& token, std::string_view upper) {
  if (token.kind != TokenKind::kWord || token.text.size() != upper.size()) return false;
  for (std::size_t i = 0; i < upper.size(); ++i) {
    if (Upper(token.text[i]) != upper[i]) return false;
  }
  return true;
}

std::vector<std::span<const Token>> SplitStatements(std::span<const Token> tokens) {
  std::vector<std::span<const Token>> statements;
  std::size_t start = 0;
  int depth = 0;
  bool trigger = false;  // SQLite CREATE TRIGGER: semicolons inside BEGIN ... END
  bool in_body = false;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    if (i == start) trigger = false, in_body = false;
    if (token.kind == TokenKind::kWord && i < start + 4 && IsWord(token, "TRIGGER") &&
        IsWord(tokens[start], "CREATE"))
      trigger = true;
    if (trigger && IsWord(token, "BEGIN")) in_body = true;
    if (trigger && in_body && IsWord(token, "END")) in_body = false;
    if (token.kind == TokenKind::kPunct) {
      if (token.text == "(") ++depth;
      if (token.text == ")" && depth > 0) --depth;
    }
    if (token.kind == TokenKind::kSemicolon && depth == 0 && !in_body) {
      if (i > start) statements.push_back(tokens.subspan(start, i - start));
      start = i + 1;
    }
  }
  if (start < tokens.size()) statements.push_back(tokens.subspan(start));
  return statements;
}

std::string TokenValue(const Token& token) {
  if (token.kind != TokenKind::kString && token.kind != TokenKind::kQuotedIdent)
    return std::string(token.text);
  std::string out;
  out.reserve(token.body.size());
  const std::string_view body = token.body;
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (token.backslash_escapes && c == '\\' && i + 1 < body.size()) {
      char e = body[++i];
      if (char control = base::ControlEscape(e)) {
        out.push_back(control);
        continue;
      }
      switch (e) {
        case '0':
          out.push_back('\0');
          break;
        case 'Z':
          out.push_back('\x1A');
          break;
        case '%':
        case '_':
          out.push_back('\\');
          out.push_back(e);
          break;  // kept for LIKE
        default:
          out.push_back(e);
          break;
      }
      continue;
    }
    if (token.quote != '$' && token.quote != '[' && c == token.quote && i + 1 < body.size() &&
        body[i + 1] == token.quote) {
      ++i;  // doubled quote
    }
    out.push_back(c);
  }
  return out;
}

std::string ToPostgresText(std::span<const Token> tokens, Dialect dialect) {
  std::string out;
  out.reserve(64);
  int param = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& token = tokens[i];
    bool space = i > 0 && token.space_before;
    if (!space && !out.empty() && !token.text.empty()) {
      // Never let two tokens fuse into a comment opener (1--1 in MySQL is
      // arithmetic), a dollar quote, or an E'...' escape string.
      const char last = out.back();
      const char next = token.text.front();
      space = (last == '-' && next == '-') || (last == '/' && next == '*') ||
              (last == '*' && next == '/') || (last == '$' && next == '$') ||
              (token.kind == TokenKind::kString && tokens[i - 1].kind == TokenKind::kWord);
    }
    if (space) out.push_back(' ');
    switch (token.kind) {
      case TokenKind::kQuotedIdent:
        AppendQuoted(out, TokenValue(token), '"');
        break;
      case TokenKind::kString:
        if (token.quote == '$') {
          out.append(token.text);
        } else {
          AppendQuoted(out, TokenValue(token), '\'');
        }
        break;
      case TokenKind::kParam:
        if (!token.text.empty() && token.text[0] == '$' && dialect == Dialect::kPostgres) {
          out.append(token.text);
        } else {
          out.push_back('$');
          out.append(std::to_string(++param));
        }
        break;
      case TokenKind::kOperator:
        if (dialect == Dialect::kMySql && token.text == "||") {
          out.append(" OR ");
        } else if (dialect == Dialect::kMySql && token.text == "&&") {
          out.append(" AND ");
        } else if (token.text == "$" && dialect != Dialect::kPostgres) {
          out.append("$ ");  // never the start of a PostgreSQL dollar quote
        } else {
          out.append(token.text);
        }
        break;
      default:
        out.append(token.text);
        break;
    }
  }
  return out;
}

std::string_view SourceText(std::span<const Token> tokens) {
  if (tokens.empty()) return {};
  const char* begin = tokens.front().text.data();
  const char* end = tokens.back().text.data() + tokens.back().text.size();
  return std::string_view(begin, static_cast<std::size_t>(end - begin));
}

}  // namespace dualkey::sql::internal
