#include "http/internal/graphql.h"

#include <cctype>
#include <unordered_set>

namespace dualkey::http::graphql {
namespace {

enum class TokenKind { kEnd, kName, kPunct, kInt, kFloat, kString };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // punctuator, name or number as written
  std::string value;      // decoded string value
  std::size_t offset = 0;
};

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

void AppendUtf8(std::string* out, unsigned code) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // byte order mark
  }

  // Reads the next token; false with `error_` set on a lexical error.
  bool Next(Token* token) {
    SkipIgnored();
    *token = Token{};
    token->offset = pos_;
    if (pos_ >= text_.size()) return true;
    char c = text_[pos_];
    if (text_.substr(pos_).starts_with("...")) return Punct(token, 3);
    if (std::string_view("!$&()[]{}:=@|").find(c) != std::string_view::npos) return Punct(token, 1);
    if (c == '.') return Fail("a lone '.' (did you mean '...'?)");
    if (IsNameStart(c)) {
      std::size_t start = pos_;
      while (pos_ < text_.size() && IsNameChar(text_[pos_])) ++pos_;
      token->kind = TokenKind::kName;
      token->text = text_.substr(start, pos_ - start);
      return true;
    }
    if (c == '-' || IsDigit(c)) return Number(token);
    if (c == '"') {
      if (text_.substr(pos_).starts_with("\"\"\"")) return BlockString(token);
      return String(token);
    }
    return Fail(std::string("unexpected character '") +
                (std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : "\\x" + Hex(c)) +
                "'");
  }

  const std::string& error() const { return error_; }
  std::size_t pos() const { return pos_; }

 private:
  static std::string Hex(char c) {
    static constexpr char kDigits[] = "0123456789abcdef";
    unsigned char u = static_cast<unsigned char>(c);
    return {kDigits[u >> 4], kDigits[u & 15]};
  }

  void SkipIgnored() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else if (text_.substr(pos_).starts_with("\xEF\xBB\xBF")) {
        pos_ += 3;
      } else {
        break;
      }
    }
  }

  bool Punct(Token* token, std::size_t length) {
    token->kind = TokenKind::kPunct;
    token->text = text_.substr(pos_, length);
    pos_ += length;
    return true;
  }

  bool Number(Token* token) {
    std::size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return Fail("a number needs digits");
    if (text_[pos_] == '0' && pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1]))
      return Fail("a number cannot start with 0");
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    bool is_float = false;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      is_float = true;
      ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return Fail("a fraction needs digits");
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      is_float = true;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return Fail("an exponent needs digits");
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (IsNameStart(text_[pos_]) || text_[pos_] == '.'))
      return Fail("a number runs into a name");
    token->kind = is_float ? TokenKind::kFloat : TokenKind::kInt;
    token->text = text_.substr(start, pos_ - start);
    return true;
  }

  bool String(Token* token) {
    ++pos_;  // opening quote
    std::string value;
    while (true) {
      if (pos_ >= text_.size()) return Fail("unterminated string");
      char c = text_[pos_++];
      if (c == '"') break;
      if (c == '\n' || c == '\r') return Fail("line break inside a string");
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return Fail("unterminated string");
      char e = text_[pos_++];
      switch (e) {
        case '"':
          value.push_back('"');
          break;
        case '\\':
          value.push_back('\\');
          break;
        case '/':
          value.push_back('/');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'n':
          value.push_back('\n');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'u': {
          if (pos_ + 4 > text_.size()) return Fail("short \\u escape");
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            char h = text_[pos_++];
            int digit = IsDigit(h)               ? h - '0'
                        : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                        : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                 : -1;
            if (digit < 0) return Fail("bad \\u escape");
            code = code * 16 + static_cast<unsigned>(digit);
          }
          AppendUtf8(&value, code);
          break;
        }
        default:
          return Fail(std::string("unknown escape \\") + e);
      }
    }
    token->kind = TokenKind::kString;
    token->value = std::move(value);
    return true;
  }

  bool BlockString(Token* token) {
    pos_ += 3;
    std::string value;
    while (true) {
      if (pos_ >= text_.size()) return Fail("unterminated block string");
      std::string_view rest = text_.substr(pos_);
      if (rest.starts_with("\\\"\"\"")) {
        value += "\"\"\"";
        pos_ += 4;
      } else if (rest.starts_with("\"\"\"")) {
        pos_ += 3;
        break;
      } else {
        value.push_back(text_[pos_++]);
      }
    }
    token->kind = TokenKind::kString;
    token->value = std::move(value);
    return true;
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string error_;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) {}

  bool ParseDocument(Document* out, std::string* error) {
    bool ok = Advance() && Definitions(out);
    if (!ok) {
      *error = "GraphQL syntax error at offset " + std::to_string(error_offset_) + ": " + error_;
      return false;
    }
    return true;
  }

 private:
  bool Advance() {
    if (!lexer_.Next(&token_)) {
      error_offset_ = lexer_.pos();
      error_ = lexer_.error();
      return false;
    }
    return true;
  }

  bool Fail(std::string message) {
    error_offset_ = token_.offset;
    error_ = std::move(message);
    return false;
  }

  bool IsPunct(std::string_view p) const {
    return token_.kind == TokenKind::kPunct && token_.text == p;
  }
  bool IsName(std::string_view name) const {
    return token_.kind == TokenKind::kName && token_.text == name;
  }

  std::string Describe() const {
    switch (token_.kind) {
      case TokenKind::kEnd:
        return "the end of the document";
      case TokenKind::kString:
        return "a string";
      default:
        return "'" + std::string(token_.text) + "'";
    }
  }

  bool Expect(std::string_view p) {
    if (!IsPunct(p)) return Fail("expected '" + std::string(p) + "', found " + Describe());
    return Advance();
  }

  bool ExpectName(std::string* out) {
    if (token_.kind != TokenKind::kName) return Fail("expected a name, found " + Describe());
    *out = std::string(token_.text);
    return Advance();
  }

  bool Deeper() {
    if (++depth_ > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth));
    return true;
  }

  bool Definitions(Document* out) {
    if (token_.kind == TokenKind::kEnd) return Fail("the document is empty");
    while (token_.kind != TokenKind::kEnd) {
      if (IsPunct("{")) {
        Operation operation;  // shorthand: an anonymous query
        if (!SelectionSet(&operation.selections)) return false;
        out->operations.push_back(std::move(operation));
      } else if (IsName("query") || IsName("mutation") || IsName("subscription")) {
        Operation operation;
        operation.type = IsName("query")      ? OperationType::kQuery
                         : IsName("mutation") ? OperationType::kMutation
                                              : OperationType::kSubscription;
        if (!Advance()) return false;
        if (token_.kind == TokenKind::kName && !ExpectName(&operation.name)) return false;
        if (IsPunct("(") && !VariableDefinitions(&operation.variables)) return false;
        if (!Directives()) return false;
        if (!SelectionSet(&operation.selections)) return false;
        out->operations.push_back(std::move(operation));
      } else if (IsName("fragment")) {
        Fragment fragment;
        if (!Advance() || !ExpectName(&fragment.name)) return false;
        if (fragment.name == "on") return Fail("a fragment cannot be named 'on'");
        if (!IsName("on")) return Fail("expected 'on', found " + Describe());
        if (!Advance() || !ExpectName(&fragment.type_condition)) return false;
        if (!Directives() || !SelectionSet(&fragment.selections)) return false;
        out->fragments.push_back(std::move(fragment));
      } else {
        return Fail("expected an operation or fragment, found " + Describe());
      }
    }
    return true;
  }

  bool VariableDefinitions(std::vector<VariableDefinition>* out) {
    if (!Expect("(")) return false;
    if (IsPunct(")")) return Fail("empty variable definitions");
    while (!IsPunct(")")) {
      VariableDefinition definition;
      if (!Expect("$") || !ExpectName(&definition.name) || !Expect(":")) return false;
      if (!Type(&definition.type)) return false;
      if (IsPunct("=")) {
        definition.has_default = true;
        if (!Advance() || !ParseValue(&definition.default_value, /*is_const=*/true)) return false;
      }
      if (!Directives()) return false;
      out->push_back(std::move(definition));
    }
    return Advance();
  }

  bool Type(std::string* out) {
    if (!Deeper()) return false;
    if (IsPunct("[")) {
      out->push_back('[');
      if (!Advance() || !Type(out)) return false;
      if (!Expect("]")) return false;
      out->push_back(']');
    } else {
      std::string name;
      if (!ExpectName(&name)) return false;
      *out += name;
    }
    if (IsPunct("!")) {
      out->push_back('!');
      if (!Advance()) return false;
    }
    --depth_;
    return true;
  }

  bool Directives() {
    while (IsPunct("@")) {
      std::string name;
      if (!Advance() || !ExpectName(&name)) return false;
      if (IsPunct("(")) {
        std::vector<Argument> ignored;
        if (!Arguments(&ignored)) return false;
      }
    }
    return true;
  }

  bool SelectionSet(std::vector<Selection>* out) {
    if (!Deeper() || !Expect("{")) return false;
    if (IsPunct("}")) return Fail("empty selection set");
    while (!IsPunct("}")) {
      Selection selection;
      if (IsPunct("...")) {
        if (!Advance()) return false;
        if (token_.kind == TokenKind::kName && !IsName("on")) {
          selection.kind = Selection::Kind::kFragmentSpread;
          if (!ExpectName(&selection.fragment) || !Directives()) return false;
        } else {
          selection.kind = Selection::Kind::kInlineFragment;
          if (IsName("on") && (!Advance() || !ExpectName(&selection.type_condition))) return false;
          if (!Directives() || !SelectionSet(&selection.selections)) return false;
        }
      } else if (!ParseField(&selection.field)) {
        return false;
      }
      out->push_back(std::move(selection));
    }
    --depth_;
    return Advance();
  }

  bool ParseField(Field* field) {
    if (!ExpectName(&field->name)) return false;
    if (IsPunct(":")) {
      field->alias = std::move(field->name);
      field->name.clear();
      if (!Advance() || !ExpectName(&field->name)) return false;
    }
    if (IsPunct("(") && !Arguments(&field->arguments)) return false;
    if (!Directives()) return false;
    if (IsPunct("{")) return SelectionSet(&field->selections);
    return true;
  }

  bool Arguments(std::vector<Argument>* out) {
    if (!Expect("(")) return false;
    if (IsPunct(")")) return Fail("empty argument list");
    while (!IsPunct(")")) {
      Argument argument;
      if (!ExpectName(&argument.name) || !Expect(":")) return false;
      if (!ParseValue(&argument.value, /*is_const=*/false)) return false;
      out->push_back(std::move(argument));
    }
    return Advance();
  }

  bool ParseValue(Value* value, bool is_const) {
    if (!Deeper()) return false;
    switch (token_.kind) {
      case TokenKind::kEnd:
        return Fail("expected a value, found the end of the document");
      case TokenKind::kInt:
      case TokenKind::kFloat:
        value->kind = token_.kind == TokenKind::kInt ? Value::Kind::kInt : Value::Kind::kFloat;
        value->text = std::string(token_.text);
        if (!Advance()) return false;
        break;
      case TokenKind::kString:
        value->kind = Value::Kind::kString;
        value->text = std::move(token_.value);
        if (!Advance()) return false;
        break;
      case TokenKind::kName:
        value->kind = IsName("true") || IsName("false") ? Value::Kind::kBoolean
                      : IsName("null")                  ? Value::Kind::kNull
                                                        : Value::Kind::kEnum;
        value->text = std::string(token_.text);
        if (!Advance()) return false;
        break;
      case TokenKind::kPunct:
        if (IsPunct("$")) {
          if (is_const) return Fail("a variable in a constant value");
          value->kind = Value::Kind::kVariable;
          if (!Advance() || !ExpectName(&value->text)) return false;
        } else if (IsPunct("[")) {
          value->kind = Value::Kind::kList;
          if (!Advance()) return false;
          while (!IsPunct("]")) {
            Value item;
            if (!ParseValue(&item, is_const)) return false;
            value->items.push_back(std::move(item));
          }
          if (!Advance()) return false;
        } else if (IsPunct("{")) {
          value->kind = Value::Kind::kObject;
          if (!Advance()) return false;
          while (!IsPunct("}")) {
            Value item;
            if (!ExpectName(&item.name) || !Expect(":")) return false;
            if (!ParseValue(&item, is_const)) return false;
            value->items.push_back(std::move(item));
          }
          if (!Advance()) return false;
        } else {
          return Fail("expected a value, found " + Describe());
        }
        break;
    }
    --depth_;
    return true;
  }

  Lexer lexer_;
  Token token_;
  int depth_ = 0;
  std::size_t error_offset_ = 0;
  std::string error_;
};

struct Walk {
  std::unordered_set<std::string_view> active;  // fragments being expanded
  int budget = 100000;                          // selections visited: spreads of spreads multiply
};

bool Flatten(const Document& document, const std::vector<Selection>& selections, Walk* walk,
             int depth, std::vector<const Field*>* out, std::string* error) {
  walk->budget -= static_cast<int>(selections.size());
  if (walk->budget < 0) {
    *error = "fragments expand to more selections than dualkey reads";
    return false;
  }
  if (depth > kMaxDepth) {
    *error = "fragments nest deeper than " + std::to_string(kMaxDepth);
    return false;
  }
  for (const Selection& selection : selections) {
    switch (selection.kind) {
      case Selection::Kind::kField:
        out->push_back(&selection.field);
        break;
      case Selection::Kind::kInlineFragment:
        if (!Flatten(document, selection.selections, walk, depth + 1, out, error)) return false;
        break;
      case Selection::Kind::kFragmentSpread: {
        const Fragment* fragment = nullptr;
        for (const Fragment& candidate : document.fragments)
          if (candidate.name == selection.fragment) fragment = &candidate;
        if (fragment == nullptr) {
          *error = "unknown fragment '" + selection.fragment + "'";
          return false;
        }
        if (!walk->active.insert(fragment->name).second) {
          *error = "fragment '" + fragment->name + "' spreads itself";
          return false;
        }
        if (!Flatten(document, fragment->selections, walk, depth + 1, out, error)) return false;
        walk->active.erase(fragment->name);
        break;
      }
    }
  }
  return true;
}

}  // namespace

bool Parse(std::string_view text, Document* out, std::string* error) {
  *out = Document{};
  Parser parser(text);
  return parser.ParseDocument(out, error);
}

bool RootFields(const Document& document, const Operation& operation,
                std::vector<const Field*>* out, std::string* error) {
  Walk walk;
  return Flatten(document, operation.selections, &walk, 0, out, error);
}

std::string_view ToString(OperationType type) {
  switch (type) {
    case OperationType::kQuery:
      return "query";
    case OperationType::kMutation:
      return "mutation";
    case OperationType::kSubscription:
      return "subscription";
  }
  return "query";
}

}  // namespace dualkey::http::graphql
