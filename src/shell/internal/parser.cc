// Hand-written recursive-descent parser for the bash command language.
//
// The parser reads characters directly instead of a separate token stream,
// because bash lexing depends on where it is: reserved words count only in
// command position, `<` compares strings inside [[ ]], `)` closes a case
// pattern, and `#` starts a comment only at the start of a word.
//
// Error handling: nothing throws. The first error is recorded and every
// routine returns early once `failed_` is set. Each recursive path passes
// through ParseList or ParseBraceParam, and both check the depth limit, so
// deep nesting gives an error instead of a stack overflow.
//
// Choices the evaluator should know about (the AST leaves them open):
//  - ${NAME[idx]} keeps the subscript in the name: text == "NAME[idx]", the
//    index kept as raw text.
//  - ${!NAME} has param_op "!". ${!NAME<op>word} has param_op "!" + op
//    (e.g. "!:-"). ${!prefix*} and ${!prefix@} have the name "prefix*" and
//    "prefix@".
//  - Operators besides the ones listed in ast.h: "/#", "/%", "^", "^^", ",",
//    ",,", "@" (${x@Q}). In ${x/pat/rep} the operand is "pat/rep", with the
//    separating '/' as a literal.
//  - `a |& b` adds an explicit `2>&1` (kDupOutput, fd 2, target "1") to `a`.
//  - `{var}>file` gets fd -1 (the fd number is picked at run time).
//  - `declare/typeset/local/export/readonly NAME=(a b)` becomes one word with
//    parts: Literal "NAME=(", each element's parts separated by " ", ")".
//  - `select` is parsed into a ForClause.
//  - Backquoted bodies are unescaped and parsed on their own, so error offsets
//    inside them are approximate. Heredoc bodies are handled the same way.
//  - Arithmetic ($((..)), $[..], ((..)), for ((..))) and ${a[idx]} subscripts
//    are kept as raw text. A $(..) or `..` inside them is not parsed, so the
//    evaluator must treat such text as opaque.
//  - In [[ ]], the operators ( ) < > && || are separate unquoted words.
//  - A word like '' keeps one empty quoted Literal, so it is still a word.
//  - Adjacent literals with the same quoting are merged: 'a'"b" is one part.

#include "shell/internal/parser.h"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/text.h"

namespace dualkey::shell {
namespace {

// The nesting limit is never higher than this, whatever ParseLimits says.
// Each level costs a few stack frames: about 1-2 KB in an optimised build
// (the default of 64 levels needs under 128 KB), about 4 KB under ASan.
constexpr int kHardMaxDepth = 256;

using Kind = WordPart::Kind;

constexpr bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}
constexpr bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
constexpr bool IsNameChar(char c) {
  return IsNameStart(c) || IsDigit(c);
}
// Characters that end an unquoted word.
constexpr bool IsMeta(char c) {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case ';':
    case '&':
    case '|':
    case '(':
    case ')':
    case '<':
    case '>':
      return true;
    default:
      return false;
  }
}
// Characters that may continue a run of plain literal text in a word.
constexpr bool IsPlainWordChar(char c) {
  return !IsMeta(c) && c != '\\' && c != '\'' && c != '"' && c != '$' && c != '`';
}
constexpr bool IsSpecialParam(char c) {
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '$' || c == '!' || c == '-';
}
using base::HexValue;

// Whether `c` is the first letter of some reserved word (or "!", "{", "}", "[[", "]]").
constexpr bool CanStartReserved(char c) {
  switch (c) {
    case '!':
    case '[':
    case ']':
    case '{':
    case '}':
    case 'c':
    case 'd':
    case 'e':
    case 'f':
    case 'i':
    case 's':
    case 't':
    case 'u':
    case 'w':
      return true;
    default:
      return false;
  }
}

// The words that close a list when they appear in command position.
constexpr std::string_view kClosingReserved[] = {"then", "elif", "else", "fi", "do",
                                                 "done", "esac", "}",    "]]"};
// The words that start a compound command.
constexpr std::string_view kCompoundReserved[] = {"if",     "while", "until", "for",
                                                  "select", "case",  "{",     "[["};

bool IsOneOf(std::string_view word, std::span<const std::string_view> set) {
  if (word.empty()) return false;
  return std::find(set.begin(), set.end(), word) != set.end();
}
bool IsClosingReserved(std::string_view word) {
  return IsOneOf(word, kClosingReserved);
}
bool IsCompoundReserved(std::string_view word) {
  return IsOneOf(word, kCompoundReserved);
}

bool IsDeclarationBuiltin(std::string_view word) {
  return word == "declare" || word == "typeset" || word == "local" || word == "export" ||
         word == "readonly";
}

// Appends literal text, merging with the previous part when it is a literal
// with the same quoting, so `abc` is one part rather than three.
void AppendLiteral(std::vector<WordPart>* parts, std::string_view text, bool quoted) {
  if (!parts->empty() && parts->back().kind == Kind::kLiteral && parts->back().quoted == quoted) {
    parts->back().text.append(text);
    return;
  }
  WordPart part;
  part.kind = Kind::kLiteral;
  part.quoted = quoted;
  part.text.assign(text);
  parts->push_back(std::move(part));
}

// Records an empty quoted segment ('' or "") so that a word made only of it
// stays a word (the empty string) instead of vanishing.
void AppendEmptyQuoted(std::vector<WordPart>* parts) {
  if (!parts->empty() && parts->back().kind == Kind::kLiteral && parts->back().quoted) return;
  AppendLiteral(parts, {}, true);
}

void AppendUtf8(std::string* out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A heredoc delimiter after quote removal, as bash compares it with the
// body lines: `'EOF'`, `"EOF"` and `\EOF` all mean EOF.
std::string RemoveQuotes(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\') {
      if (i + 1 < raw.size()) out.push_back(raw[++i]);
    } else if (c == '\'') {
      while (++i < raw.size() && raw[i] != '\'') out.push_back(raw[i]);
    } else if (c == '"') {
      while (++i < raw.size() && raw[i] != '"') {
        if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
        out.push_back(raw[i]);
      }
    } else if (c == '$' && i + 1 < raw.size() && (raw[i + 1] == '\'' || raw[i + 1] == '"')) {
      // $'EOF' and $"EOF": the quotes decide; the $ goes away.
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool LiteralText(const Word& word, std::string* out) {
  out->clear();
  for (const WordPart& part : word.parts) {
    if (part.kind != Kind::kLiteral) return false;
    out->append(part.text);
  }
  return true;
}

Word OperatorWord(std::string_view text) {
  Word word;
  AppendLiteral(&word.parts, text, false);
  word.source.assign(text);
  return word;
}

enum class WordMode {
  kNormal,   // ends at a blank or an operator character
  kRegex,    // the right side of =~ in [[ ]]: ( ) | are part of the word
  kOperand,  // the word inside ${NAME<op>word}: ends at the matching }
};

enum class TextMode {
  kDoubleQuote,  // "...": ends at the closing quote
  kHeredoc,      // the body of an unquoted heredoc: ends at end of input
};

// A heredoc whose body has not been read yet: bash reads bodies after the
// newline that ends the line holding the << operators, in order.
struct PendingHeredoc {
  CommandPtr owner;   // the command holding the redirect
  bool in_simple;     // in SimpleCommand::redirects, else Command::redirects
  std::size_t index;  // position in that vector
  std::string delimiter;
  bool strip_tabs;     // <<-
  bool quoted;         // any quoting in the delimiter: body stays literal
  std::size_t offset;  // of the << operator, for errors
};

struct AssignmentPrefix {
  std::size_t name_end = 0;     // end of NAME or NAME[idx]
  std::size_t value_start = 0;  // after = or +=
  bool append = false;
};

class Parser {
 public:
  Parser(std::string_view source, int depth, int max_depth)
      : src_(source), depth_(depth), max_depth_(max_depth) {}

  // Parses the whole input as a list; anything left over is an error.
  std::shared_ptr<List> ParseProgram() {
    std::shared_ptr<List> list = ParseList();
    if (failed_) return nullptr;
    if (!AtEnd()) {
      Fail(pos_, "unexpected token " + DescribeToken(pos_));
      return nullptr;
    }
    if (!pending_.empty()) {
      Fail(pending_.front().offset,
           "unterminated here-document: missing delimiter '" + pending_.front().delimiter + "'");
      return nullptr;
    }
    return list;
  }

  // Parses the whole input as the body of an unquoted heredoc.
  void ParseHeredocBody(std::vector<WordPart>* parts) {
    ParseQuotedText(parts, TextMode::kHeredoc);
    if (!failed_ && !pending_.empty()) {
      Fail(pending_.front().offset,
           "unterminated here-document: missing delimiter '" + pending_.front().delimiter + "'");
    }
  }

  bool failed() const { return failed_; }
  const ParseError& error() const { return error_; }

 private:
  // Counts one level of nesting for as long as it lives.
  class DepthGuard {
   public:
    DepthGuard(Parser* parser, std::size_t offset) : parser_(parser) {
      ok_ = ++parser_->depth_ <= parser_->max_depth_;
      if (!ok_) {
        parser_->Fail(offset,
                      "nesting deeper than " + std::to_string(parser_->max_depth_) + " levels");
      }
    }
    ~DepthGuard() { --parser_->depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    bool ok() const { return ok_; }

   private:
    Parser* parser_;
    bool ok_;
  };

  // ---------------------------------------------------------------- basics

  bool AtEnd() const { return pos_ >= src_.size(); }
  // The character `ahead` places on, or '\0' past the end.
  char Peek(std::size_t ahead = 0) const {
    const std::size_t at = pos_ + ahead;
    return at < src_.size() ? src_[at] : '\0';
  }
  bool LookingAt(std::string_view text) const { return src_.substr(pos_, text.size()) == text; }

  bool Fail(std::size_t offset, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_.offset = std::min(offset, src_.size());
      error_.message = std::move(message);
    }
    return false;
  }

  // Names the token at `at` for error messages.
  std::string DescribeToken(std::size_t at) const {
    if (at >= src_.size()) return "end of input";
    if (src_[at] == '\n') return "newline";
    static constexpr std::string_view kOperators[] = {
        ";;&", "&>>", "<<<", "<<-", ";;", ";&", "&&", "||", "|&", ">>", "<<", "<&",
        ">&",  "<>",  ">|",  "&>",  ";",  "&",  "|",  "(",  ")",  "<",  ">"};
    for (std::string_view op : kOperators) {
      if (src_.substr(at, op.size()) == op) return "'" + std::string(op) + "'";
    }
    std::size_t end = at + 1;
    while (end < src_.size() && end - at < 24 && !IsMeta(src_[end])) ++end;
    return "'" + std::string(src_.substr(at, end - at)) + "'";
  }

  // Skips blanks, backslash-newline continuations and a comment. Called only
  // between tokens, where `#` starts a word and so a comment.
  void SkipBlanks() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (IsBlank(c)) {
        ++pos_;
      } else if (c == '\\' && Peek(1) == '\n') {
        pos_ += 2;
      } else if (c == '#') {
        const std::size_t eol = src_.find('\n', pos_);
        pos_ = eol == std::string_view::npos ? src_.size() : eol;
      } else {
        break;
      }
    }
  }

  // Skips blanks, comments and newlines. Each newline is where pending
  // heredoc bodies start.
  void SkipLinebreaks() {
    for (;;) {
      SkipBlanks();
      if (failed_ || AtEnd() || src_[pos_] != '\n') return;
      ++pos_;
      if (!pending_.empty()) ReadHeredocs();
    }
  }

  // The plain word at pos_ if it could be a reserved word (no quoting, at
  // most 8 characters, ended by an operator character or end of input).
  std::string_view PeekReserved() const {
    if (!AtEnd() && !CanStartReserved(src_[pos_])) return {};  // the common case: fast exit
    const std::size_t limit = std::min(src_.size(), pos_ + 9);
    std::size_t end = pos_;
    while (end < limit && !IsMeta(src_[end])) {
      const char c = src_[end];
      if (c == '\'' || c == '"' || c == '\\' || c == '$' || c == '`') return {};
      ++end;
    }
    if (end == pos_) return {};
    if (end < src_.size() && !IsMeta(src_[end])) return {};
    return src_.substr(pos_, end - pos_);
  }

  bool ExpectReserved(std::string_view word, std::string_view opener, std::size_t opener_offset) {
    SkipBlanks();
    if (failed_) return false;
    if (PeekReserved() == word) {
      pos_ += word.size();
      return true;
    }
    if (AtEnd()) {
      return Fail(opener_offset,
                  "missing '" + std::string(word) + "' to close '" + std::string(opener) + "'");
    }
    return Fail(pos_, "expected '" + std::string(word) + "' to close '" + std::string(opener) +
                          "' but found " + DescribeToken(pos_));
  }

  // Compound bodies and conditions must hold at least one command, as in bash.
  bool RequireCommands(const std::shared_ptr<List>& list) {
    if (failed_) return false;
    if (!list->items.empty()) return true;
    return Fail(pos_, "expected a command but found " + DescribeToken(pos_));
  }

  // Scans the text of an arithmetic expression that starts at `from` (just
  // after `((`) up to the matching `))`. Returns false when a lone `)` or the
  // end of input comes first: then `((` opened two subshells, not arithmetic.
  bool ScanArith(std::size_t from, std::size_t* expr_end, std::size_t* after) const {
    const std::size_t n = src_.size();
    int parens = 0;
    std::size_t i = from;
    while (i < n) {
      const char c = src_[i];
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == '\'') {
        const std::size_t close = src_.find('\'', i + 1);
        if (close == std::string_view::npos) return false;
        i = close + 1;
        continue;
      }
      if (c == '"') {
        ++i;
        while (i < n && src_[i] != '"') i += src_[i] == '\\' ? 2 : 1;
        if (i >= n) return false;
        ++i;
        continue;
      }
      if (c == '(') {
        ++parens;
      } else if (c == ')') {
        if (parens > 0) {
          --parens;
        } else if (i + 1 < n && src_[i + 1] == ')') {
          *expr_end = i;
          *after = i + 2;
          return true;
        } else {
          return false;
        }
      }
      ++i;
    }
    return false;
  }

  // ------------------------------------------------------------- heredocs

  Redirect* ResolveHeredoc(const PendingHeredoc& heredoc) {
    std::vector<Redirect>* redirects = &heredoc.owner->redirects;
    if (heredoc.in_simple) {
      auto* simple = std::get_if<SimpleCommand>(&heredoc.owner->node);
      if (simple == nullptr) return nullptr;
      redirects = &simple->redirects;
    }
    return heredoc.index < redirects->size() ? &(*redirects)[heredoc.index] : nullptr;
  }

  // Reads the bodies of all pending heredocs, in order, from pos_ (the start
  // of the line after the one holding their operators).
  void ReadHeredocs() {
    std::vector<PendingHeredoc> pending = std::move(pending_);
    pending_.clear();
    for (const PendingHeredoc& heredoc : pending) {
      const std::size_t body_start = pos_;
      std::string body;
      bool found = false;
      while (!AtEnd()) {
        const std::size_t eol = src_.find('\n', pos_);
        const std::size_t line_end = eol == std::string_view::npos ? src_.size() : eol;
        std::string_view line = src_.substr(pos_, line_end - pos_);
        pos_ = eol == std::string_view::npos ? src_.size() : eol + 1;
        if (heredoc.strip_tabs) {
          while (!line.empty() && line.front() == '\t') line.remove_prefix(1);
        }
        if (line == heredoc.delimiter) {
          found = true;
          break;
        }
        body.append(line);
        body.push_back('\n');
      }
      if (!found) {
        Fail(heredoc.offset,
             "unterminated here-document: missing delimiter '" + heredoc.delimiter + "'");
        return;
      }
      Word parsed;
      if (!heredoc.quoted) {
        // Expansions in the body run, so the evaluator must see them.
        Parser child(body, depth_, max_depth_);
        child.ParseHeredocBody(&parsed.parts);
        if (child.failed()) {
          Fail(body_start + child.error().offset, "in here-document: " + child.error().message);
          return;
        }
        parsed.source = body;
      }
      Redirect* redirect = ResolveHeredoc(heredoc);
      if (redirect == nullptr) {
        Fail(heredoc.offset, "internal error: lost here-document redirect");
        return;
      }
      redirect->heredoc_body = std::move(body);
      redirect->heredoc_quoted = heredoc.quoted;
      redirect->heredoc_word = std::move(parsed);
    }
  }

  // ---------------------------------------------------------------- lists

  bool AtListEnd() const {
    if (AtEnd()) return true;
    const char c = src_[pos_];
    if (c == ')') return true;
    if (c == ';' && (Peek(1) == ';' || Peek(1) == '&')) return true;  // ;; ;& ;;&
    return IsClosingReserved(PeekReserved());
  }

  std::shared_ptr<List> ParseList() {
    DepthGuard guard(this, pos_);
    if (!guard.ok()) return nullptr;
    auto list = std::make_shared<List>();
    while (!failed_) {
      SkipLinebreaks();
      if (failed_ || AtListEnd()) break;
      AndOr item;
      if (!ParseAndOr(&item)) break;
      SkipBlanks();
      const char c = Peek();
      bool more = false;
      if (c == ';' && Peek(1) != ';' && Peek(1) != '&') {
        ++pos_;
        more = true;
      } else if (c == '&' && Peek(1) != '&' && Peek(1) != '>') {
        ++pos_;
        item.background = true;
        more = true;
      } else if (c == '\n') {
        more = true;  // consumed by SkipLinebreaks, which also reads heredocs
      }
      list->items.push_back(std::move(item));
      if (!more) break;
    }
    if (failed_) return nullptr;
    return list;
  }

  bool ParseAndOr(AndOr* out) {
    if (!ParsePipeline(&out->first)) return false;
    for (;;) {
      SkipBlanks();
      AndOr::Op op;
      if (LookingAt("&&")) {
        op = AndOr::Op::kAnd;
      } else if (LookingAt("||")) {
        op = AndOr::Op::kOr;
      } else {
        return true;
      }
      pos_ += 2;
      SkipLinebreaks();
      Pipeline next;
      if (!ParsePipeline(&next)) return false;
      out->rest.emplace_back(op, std::move(next));
    }
  }

  bool ParsePipeline(Pipeline* out) {
    for (;;) {
      SkipBlanks();
      const std::string_view word = PeekReserved();
      if (word == "!") {
        out->negated = !out->negated;
        ++pos_;
      } else if (word == "time") {
        out->timed = true;
        pos_ += 4;
        SkipBlanks();
        if (LookingAt("-p") && (pos_ + 2 >= src_.size() || IsMeta(src_[pos_ + 2]))) pos_ += 2;
      } else {
        break;
      }
    }
    for (;;) {
      CommandPtr command = ParseCommand();
      if (!command) return false;
      out->commands.push_back(std::move(command));
      SkipBlanks();
      if (Peek() != '|' || Peek(1) == '|') return true;
      if (Peek(1) == '&') {
        // a |& b is a 2>&1 | b.
        AddStderrToStdout(out->commands.back().get());
        pos_ += 2;
      } else {
        ++pos_;
      }
      SkipLinebreaks();
    }
  }

  static void AddStderrToStdout(Command* command) {
    Redirect redirect;
    redirect.op = Redirect::Op::kDupOutput;
    redirect.fd = 2;
    redirect.target = OperatorWord("1");
    if (auto* simple = std::get_if<SimpleCommand>(&command->node)) {
      simple->redirects.push_back(std::move(redirect));
    } else {
      command->redirects.push_back(std::move(redirect));
    }
  }

  // ------------------------------------------------------------- commands

  CommandPtr ParseCommand() {
    SkipBlanks();
    if (failed_) return nullptr;
    auto command = std::make_shared<Command>();
    const std::string_view word = PeekReserved();
    if (IsCompoundReserved(word) || Peek() == '(') {
      if (!ParseCompound(command) || !ParseTrailingRedirects(command)) return nullptr;
      return command;
    }
    if (word == "function") {
      if (!ParseFunctionKeyword(command)) return nullptr;
      return command;
    }
    const char c = Peek();
    if (AtEnd() || IsClosingReserved(word) || c == '\n' || c == ';' || c == '|' || c == ')' ||
        (c == '&' && Peek(1) != '>')) {
      Fail(pos_, "expected a command but found " + DescribeToken(pos_));
      return nullptr;
    }
    if (!ParseSimpleCommand(command)) return nullptr;
    return command;
  }

  bool ParseCompound(const CommandPtr& command) {
    if (Peek() == '(') return ParseParenCommand(command.get());
    const std::string_view word = PeekReserved();
    if (word == "if") return ParseIf(command.get());
    if (word == "while" || word == "until") return ParseWhile(command.get(), word == "until");
    if (word == "for" || word == "select") return ParseFor(command.get(), word);
    if (word == "case") return ParseCase(command.get());
    if (word == "{") return ParseBraceGroup(command.get());
    if (word == "[[") return ParseTest(command.get());
    return Fail(pos_, "expected a compound command but found " + DescribeToken(pos_));
  }

  bool ParseTrailingRedirects(const CommandPtr& command) {
    for (;;) {
      SkipBlanks();
      if (failed_) return false;
      if (!IsRedirectStart()) return true;
      Redirect redirect;
      if (!ParseRedirect(&redirect, command, false, command->redirects.size())) return false;
      command->redirects.push_back(std::move(redirect));
    }
  }

  // ( list ) or (( expr )).
  bool ParseParenCommand(Command* command) {
    const std::size_t start = pos_;
    if (Peek(1) == '(') {
      std::size_t expr_end = 0;
      std::size_t after = 0;
      if (ScanArith(pos_ + 2, &expr_end, &after)) {
        command->node = ArithCommand{std::string(src_.substr(pos_ + 2, expr_end - pos_ - 2))};
        pos_ = after;
        return true;
      }
    }
    ++pos_;
    std::shared_ptr<List> body = ParseList();
    if (failed_) return false;
    if (AtEnd()) return Fail(start, "missing ')' to close '('");
    if (src_[pos_] != ')') {
      return Fail(pos_, "expected ')' to close '(' but found " + DescribeToken(pos_));
    }
    if (!RequireCommands(body)) return false;
    ++pos_;
    command->node = Subshell{std::move(body)};
    return true;
  }

  bool ParseBraceGroup(Command* command) {
    const std::size_t start = pos_;
    ++pos_;
    std::shared_ptr<List> body = ParseList();
    if (!RequireCommands(body) || !ExpectReserved("}", "{", start)) return false;
    command->node = BraceGroup{std::move(body)};
    return true;
  }

  bool ParseIf(Command* command) {
    const std::size_t start = pos_;
    pos_ += 2;
    IfClause clause;
    for (;;) {
      IfClause::Branch branch;
      branch.condition = ParseList();
      if (!RequireCommands(branch.condition) || !ExpectReserved("then", "if", start)) return false;
      branch.body = ParseList();
      if (!RequireCommands(branch.body)) return false;
      clause.branches.push_back(std::move(branch));
      SkipBlanks();
      const std::string_view word = PeekReserved();
      if (word == "elif") {
        pos_ += 4;
        continue;
      }
      if (word == "else") {
        pos_ += 4;
        clause.else_body = ParseList();
        if (!RequireCommands(clause.else_body)) return false;
      }
      break;
    }
    if (!ExpectReserved("fi", "if", start)) return false;
    command->node = std::move(clause);
    return true;
  }

  bool ParseWhile(Command* command, bool until) {
    const std::size_t start = pos_;
    const std::string_view keyword = until ? "until" : "while";
    pos_ += keyword.size();
    WhileClause clause;
    clause.until = until;
    clause.condition = ParseList();
    if (!RequireCommands(clause.condition) || !ExpectReserved("do", keyword, start)) return false;
    clause.body = ParseList();
    if (!RequireCommands(clause.body) || !ExpectReserved("done", keyword, start)) return false;
    command->node = std::move(clause);
    return true;
  }

  // `do list done`, or bash's older `{ list }` after for/select.
  bool ParseLoopBody(std::shared_ptr<List>* body, std::string_view keyword, std::size_t start) {
    SkipLinebreaks();
    if (failed_) return false;
    const std::string_view word = PeekReserved();
    if (word == "do" || word == "{") {
      pos_ += word.size();
      *body = ParseList();
      if (!RequireCommands(*body)) return false;
      return ExpectReserved(word == "do" ? "done" : "}", keyword, start);
    }
    if (AtEnd()) return Fail(start, "missing 'do' after '" + std::string(keyword) + "'");
    return Fail(pos_, "expected 'do' but found " + DescribeToken(pos_));
  }

  bool ParseFor(Command* command, std::string_view keyword) {
    const std::size_t start = pos_;
    pos_ += keyword.size();
    SkipBlanks();
    ForClause clause;
    if (Peek() == '(' && Peek(1) == '(') {
      std::size_t expr_end = 0;
      std::size_t after = 0;
      if (!ScanArith(pos_ + 2, &expr_end, &after)) {
        return Fail(pos_, "unterminated '((' in '" + std::string(keyword) + "'");
      }
      clause.arith.assign(src_.substr(pos_ + 2, expr_end - pos_ - 2));
      pos_ = after;
      SkipBlanks();
      if (Peek() == ';') ++pos_;
    } else {
      const std::size_t name_start = pos_;
      while (!AtEnd() && IsNameChar(src_[pos_])) ++pos_;
      if (pos_ == name_start || IsDigit(src_[name_start]) || (!AtEnd() && !IsMeta(src_[pos_]))) {
        return Fail(name_start, "expected a variable name after '" + std::string(keyword) + "'");
      }
      clause.variable.assign(src_.substr(name_start, pos_ - name_start));
      SkipLinebreaks();
      if (failed_) return false;
      if (PeekReserved() == "in") {
        pos_ += 2;
        clause.has_in = true;
        for (;;) {
          SkipBlanks();
          if (AtEnd() || Peek() == '\n' || Peek() == ';') break;
          Word word;
          if (!ParseWord(&word, WordMode::kNormal)) return false;
          if (word.source.empty()) {
            return Fail(pos_, "unexpected token " + DescribeToken(pos_) + " in '" +
                                  std::string(keyword) + "' word list");
          }
          clause.words.push_back(std::move(word));
        }
        if (Peek() == ';') ++pos_;
      } else if (Peek() == ';') {
        ++pos_;
      }
    }
    if (!ParseLoopBody(&clause.body, keyword, start)) return false;
    command->node = std::move(clause);
    return true;
  }

  bool ParseCase(Command* command) {
    const std::size_t start = pos_;
    pos_ += 4;
    SkipBlanks();
    CaseClause clause;
    if (!ParseWord(&clause.subject, WordMode::kNormal)) return false;
    if (clause.subject.source.empty()) {
      return Fail(pos_, "expected a word after 'case' but found " + DescribeToken(pos_));
    }
    SkipLinebreaks();
    if (!ExpectReserved("in", "case", start)) return false;
    for (;;) {
      SkipLinebreaks();
      if (failed_) return false;
      if (PeekReserved() == "esac") {
        pos_ += 4;
        break;
      }
      if (AtEnd()) return Fail(start, "missing 'esac' to close 'case'");
      if (Peek() == '(') {
        ++pos_;
      }
      CaseClause::Item item;
      for (;;) {
        SkipBlanks();
        Word pattern;
        if (!ParseWord(&pattern, WordMode::kNormal)) return false;
        if (pattern.source.empty()) {
          return Fail(pos_, "expected a case pattern but found " + DescribeToken(pos_));
        }
        item.patterns.push_back(std::move(pattern));
        SkipBlanks();
        if (Peek() != '|' || Peek(1) == '|') break;
        ++pos_;
      }
      if (Peek() != ')') {
        return Fail(pos_, "expected ')' after case pattern but found " + DescribeToken(pos_));
      }
      ++pos_;
      std::shared_ptr<List> body = ParseList();
      if (failed_) return false;
      if (!body->items.empty()) item.body = std::move(body);
      clause.items.push_back(std::move(item));
      SkipBlanks();
      if (LookingAt(";;&")) {
        pos_ += 3;
      } else if (LookingAt(";;") || LookingAt(";&")) {
        pos_ += 2;
      } else if (PeekReserved() == "esac") {
        pos_ += 4;
        break;
      } else if (AtEnd()) {
        return Fail(start, "missing 'esac' to close 'case'");
      } else {
        return Fail(pos_, "expected ';;' or 'esac' but found " + DescribeToken(pos_));
      }
    }
    command->node = std::move(clause);
    return true;
  }

  // [[ expr ]]: words, with ( ) < > && || kept as operator words.
  bool ParseTest(Command* command) {
    const std::size_t start = pos_;
    pos_ += 2;
    TestCommand test;
    bool regex_next = false;
    for (;;) {
      SkipLinebreaks();
      if (failed_) return false;
      if (AtEnd()) return Fail(start, "missing ']]' to close '[['");
      const char c = src_[pos_];
      const char next = Peek(1);
      if (c == ']' && next == ']' && (pos_ + 2 >= src_.size() || IsMeta(src_[pos_ + 2]))) {
        pos_ += 2;
        break;
      }
      std::size_t op_len = 0;
      if (!regex_next) {
        if (c == '(' || c == ')' || ((c == '<' || c == '>') && next != '(')) {
          op_len = 1;
        } else if ((c == '&' && next == '&') || (c == '|' && next == '|')) {
          op_len = 2;
        } else if (c == ';' || c == '&' || c == '|') {
          return Fail(pos_, "unexpected token " + DescribeToken(pos_) + " inside '[[ ]]'");
        }
      }
      Word word;
      if (op_len > 0) {
        word = OperatorWord(src_.substr(pos_, op_len));
        pos_ += op_len;
      } else {
        if (!ParseWord(&word, regex_next ? WordMode::kRegex : WordMode::kNormal)) return false;
        if (word.source.empty()) {
          return Fail(pos_, "unexpected token " + DescribeToken(pos_) + " inside '[[ ]]'");
        }
      }
      regex_next = word.source == "=~";
      test.words.push_back(std::move(word));
    }
    command->node = std::move(test);
    return true;
  }

  bool ParseFunctionKeyword(const CommandPtr& command) {
    const std::size_t start = pos_;
    pos_ += 8;  // "function"
    SkipBlanks();
    Word name_word;
    if (!ParseWord(&name_word, WordMode::kNormal)) return false;
    if (name_word.source.empty()) {
      return Fail(pos_, "expected a function name but found " + DescribeToken(pos_));
    }
    std::string name;
    if (!LiteralText(name_word, &name)) {
      return Fail(start, "function name must be a literal word");
    }
    SkipBlanks();
    if (Peek() == '(') {
      ++pos_;
      if (!CloseFunctionParens()) return false;
    }
    return ParseFunctionBody(command, std::move(name));
  }

  // The ')' of a function definition's "( )", after the '('.
  bool CloseFunctionParens() {
    SkipBlanks();
    if (Peek() != ')') {
      return Fail(pos_, "expected ')' in function definition but found " + DescribeToken(pos_));
    }
    ++pos_;
    return true;
  }

  bool ParseFunctionBody(const CommandPtr& command, std::string name) {
    SkipLinebreaks();
    if (failed_) return false;
    if (!IsCompoundReserved(PeekReserved()) && Peek() != '(') {
      return Fail(pos_, "expected a compound command as the body of function '" + name +
                            "' but found " + DescribeToken(pos_));
    }
    auto body = std::make_shared<Command>();
    if (!ParseCompound(body) || !ParseTrailingRedirects(body)) return false;
    command->node = FunctionDef{std::move(name), std::move(body)};
    return true;
  }

  bool ParseSimpleCommand(const CommandPtr& command) {
    SimpleCommand& simple = std::get<SimpleCommand>(command->node);
    bool declaration = false;  // declare/local/...: NAME=(..) words allowed
    for (;;) {
      SkipBlanks();
      if (failed_) return false;
      if (AtEnd()) break;
      const char c = src_[pos_];
      if (IsRedirectStart()) {
        Redirect redirect;
        if (!ParseRedirect(&redirect, command, true, simple.redirects.size())) return false;
        simple.redirects.push_back(std::move(redirect));
        continue;
      }
      if (c == '(') {
        if (simple.words.size() == 1 && simple.assignments.empty() && simple.redirects.empty()) {
          return ParseFunctionParens(command);  // replaces command->node
        }
        return Fail(pos_, "unexpected token '('");
      }
      if (c == '\n' || c == ';' || c == '&' || c == '|' || c == ')') break;
      if (simple.words.empty() && !CheckSubscriptClosed()) return false;
      if (simple.words.empty() || declaration) {
        AssignmentPrefix prefix;
        if (MatchAssignmentPrefix(&prefix)) {
          if (simple.words.empty()) {
            if (!ParseAssignment(prefix, &simple)) return false;
            continue;
          }
          if (prefix.value_start < src_.size() && src_[prefix.value_start] == '(') {
            Word word;
            if (!ParseDeclarationArray(prefix, &word)) return false;
            simple.words.push_back(std::move(word));
            continue;
          }
        }
      }
      Word word;
      if (!ParseWord(&word, WordMode::kNormal)) return false;
      if (word.source.empty()) return Fail(pos_, "unexpected token " + DescribeToken(pos_));
      if (simple.words.empty()) {
        declaration = IsDeclarationBuiltin(word.source);
        simple.words.reserve(4);  // most commands have a few words; avoids regrowth
      }
      simple.words.push_back(std::move(word));
    }
    if (simple.words.empty() && simple.assignments.empty() && simple.redirects.empty()) {
      return Fail(pos_, "expected a command but found " + DescribeToken(pos_));
    }
    return true;
  }

  // name ( ) compound-command, after `name` was read as the first word.
  bool ParseFunctionParens(const CommandPtr& command) {
    const auto& simple = std::get<SimpleCommand>(command->node);
    std::string name;
    if (!LiteralText(simple.words.front(), &name)) {
      return Fail(pos_, "function name must be a literal word");
    }
    ++pos_;
    if (!CloseFunctionParens()) return false;
    return ParseFunctionBody(command, std::move(name));
  }

  // In command position bash reads NAME[ up to the matching ] even across
  // blanks and newlines, and fails when there is none. Only the "none at
  // all" case is mirrored, using the last ']' in the input so that the
  // check stays linear.
  bool CheckSubscriptClosed() {
    std::size_t i = pos_;
    if (i >= src_.size() || !IsNameStart(src_[i])) return true;
    while (i < src_.size() && IsNameChar(src_[i])) ++i;
    if (i >= src_.size() || src_[i] != '[') return true;
    if (last_close_bracket_ == kUnknown) last_close_bracket_ = src_.rfind(']');
    if (last_close_bracket_ != std::string_view::npos && last_close_bracket_ > i) return true;
    return Fail(i, "unterminated '[' in array subscript");
  }

  // NAME=, NAME+= or NAME[idx]= at pos_ (not consumed).
  bool MatchAssignmentPrefix(AssignmentPrefix* out) const {
    const std::size_t n = src_.size();
    std::size_t i = pos_;
    if (i >= n || !IsNameStart(src_[i])) return false;
    while (i < n && IsNameChar(src_[i])) ++i;
    if (i < n && src_[i] == '[') {
      int brackets = 0;
      for (; i < n; ++i) {
        const char c = src_[i];
        if (c == '[') {
          ++brackets;
        } else if (c == ']') {
          if (--brackets == 0) break;
        } else if (IsMeta(c)) {
          return false;
        }
      }
      if (i >= n) return false;
      ++i;
    }
    out->name_end = i;
    if (i < n && src_[i] == '=') {
      out->append = false;
      out->value_start = i + 1;
      return true;
    }
    if (i + 1 < n && src_[i] == '+' && src_[i + 1] == '=') {
      out->append = true;
      out->value_start = i + 2;
      return true;
    }
    return false;
  }

  bool ParseAssignment(const AssignmentPrefix& prefix, SimpleCommand* simple) {
    Assignment assignment;
    assignment.name.assign(src_.substr(pos_, prefix.name_end - pos_));
    assignment.append = prefix.append;
    pos_ = prefix.value_start;
    if (Peek() == '(' && !AtEnd()) {
      assignment.array = true;
      if (!ParseArrayElements(&assignment.elements)) return false;
    } else if (!ParseWord(&assignment.value, WordMode::kNormal)) {
      return false;
    }
    simple->assignments.push_back(std::move(assignment));
    return true;
  }

  // ( word... ) with newlines and comments allowed between the words.
  bool ParseArrayElements(std::vector<Word>* elements) {
    const std::size_t open = pos_;
    ++pos_;
    for (;;) {
      SkipLinebreaks();
      if (failed_) return false;
      if (AtEnd()) return Fail(open, "missing ')' to close array assignment");
      if (src_[pos_] == ')') {
        ++pos_;
        return true;
      }
      Word word;
      if (!ParseWord(&word, WordMode::kNormal)) return false;
      if (word.source.empty()) {
        return Fail(pos_, "unexpected token " + DescribeToken(pos_) + " in array assignment");
      }
      elements->push_back(std::move(word));
    }
  }

  bool ParseDeclarationArray(const AssignmentPrefix& prefix, Word* word) {
    const std::size_t start = pos_;
    AppendLiteral(&word->parts, src_.substr(start, prefix.value_start - start), false);
    AppendLiteral(&word->parts, "(", false);
    pos_ = prefix.value_start;
    std::vector<Word> elements;
    if (!ParseArrayElements(&elements)) return false;
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (i > 0) AppendLiteral(&word->parts, " ", false);
      for (WordPart& part : elements[i].parts) word->parts.push_back(std::move(part));
    }
    AppendLiteral(&word->parts, ")", false);
    word->source.assign(src_.substr(start, pos_ - start));
    return true;
  }

  // ---------------------------------------------------------- redirections

  bool IsRedirectStart() const {
    const std::size_t n = src_.size();
    std::size_t i = pos_;
    while (i < n && IsDigit(src_[i])) ++i;
    if (i == pos_ && i < n && src_[i] == '{') {  // {var}>file
      std::size_t j = i + 1;
      while (j < n && IsNameChar(src_[j])) ++j;
      if (j > i + 1 && j < n && src_[j] == '}') i = j + 1;
    }
    if (i >= n) return false;
    const char c = src_[i];
    const char next = i + 1 < n ? src_[i + 1] : '\0';
    if (c == '<' || c == '>') return next != '(';  // <( and >( are process substitutions
    return i == pos_ && c == '&' && next == '>';
  }

  bool ParseRedirect(Redirect* redirect, const CommandPtr& owner, bool in_simple,
                     std::size_t index) {
    const std::size_t start = pos_;
    if (IsDigit(Peek())) {
      int fd = 0;
      while (IsDigit(Peek())) {
        if (pos_ - start >= 9) return Fail(start, "file descriptor number too large");
        fd = fd * 10 + (src_[pos_] - '0');
        ++pos_;
      }
      redirect->fd = fd;
    } else if (Peek() == '{') {
      pos_ = src_.find('}', pos_) + 1;  // IsRedirectStart saw the '}'
    }
    struct Spelling {
      std::string_view text;
      Redirect::Op op;
    };
    static constexpr Spelling kSpellings[] = {
        {"<<<", Redirect::Op::kHereString}, {"<<-", Redirect::Op::kHereDoc},
        {"&>>", Redirect::Op::kAppendBoth}, {"<<", Redirect::Op::kHereDoc},
        {"<>", Redirect::Op::kReadWrite},   {"<&", Redirect::Op::kDupInput},
        {">>", Redirect::Op::kAppend},      {">|", Redirect::Op::kClobber},
        {">&", Redirect::Op::kDupOutput},   {"&>", Redirect::Op::kOutputBoth},
        {"<", Redirect::Op::kInput},        {">", Redirect::Op::kOutput},
    };
    std::string_view spelling;
    for (const Spelling& candidate : kSpellings) {
      if (LookingAt(candidate.text)) {
        spelling = candidate.text;
        redirect->op = candidate.op;
        break;
      }
    }
    if (spelling.empty()) return Fail(pos_, "expected a redirection operator");
    const std::size_t op_offset = pos_;
    pos_ += spelling.size();
    SkipBlanks();
    if (!ParseWord(&redirect->target, WordMode::kNormal)) return false;
    if (redirect->target.source.empty()) {
      return Fail(pos_, "expected a word after '" + std::string(spelling) + "' but found " +
                            DescribeToken(pos_));
    }
    if (redirect->op == Redirect::Op::kHereDoc) {
      const std::string& raw = redirect->target.source;
      PendingHeredoc heredoc;
      heredoc.owner = owner;
      heredoc.in_simple = in_simple;
      heredoc.index = index;
      heredoc.delimiter = RemoveQuotes(raw);
      heredoc.strip_tabs = spelling == "<<-";
      heredoc.quoted = raw.find_first_of("'\"\\") != std::string::npos;
      heredoc.offset = op_offset;
      redirect->heredoc_quoted = heredoc.quoted;
      pending_.push_back(std::move(heredoc));
    }
    return true;
  }

  // ----------------------------------------------------------------- words

  bool ParseWord(Word* out, WordMode mode) {
    const std::size_t start = pos_;
    if (!ParseWordParts(&out->parts, mode, false)) return false;
    out->source.assign(src_.substr(start, pos_ - start));
    return true;
  }

  // Parses word parts at pos_ until the end `mode` defines. `in_quotes` is
  // true for the operand of a ${...} inside double quotes.
  bool ParseWordParts(std::vector<WordPart>* parts, WordMode mode, bool in_quotes) {
    const std::size_t n = src_.size();
    int nesting = 0;  // kRegex: open parens
    while (!failed_ && pos_ < n) {
      const char c = src_[pos_];
      switch (mode) {
        case WordMode::kNormal:
          if (IsMeta(c)) {
            if ((c == '<' || c == '>') && Peek(1) == '(') {
              if (!ParseProcessSub(parts)) return false;
              continue;
            }
            return true;
          }
          break;
        case WordMode::kRegex:
          if (c == '(') {
            ++nesting;
          } else if (c == ')') {
            if (nesting == 0) return true;
            --nesting;
          } else if (c != '|' && IsMeta(c) && (nesting == 0 || c == '\n')) {
            return true;
          }
          if (IsMeta(c)) {
            AppendLiteral(parts, src_.substr(pos_, 1), false);
            ++pos_;
            continue;
          }
          break;
        case WordMode::kOperand:
          // Like bash, plain braces do not nest: ${x:-{a}} is "{a" then "}".
          if (c == '}') return true;
          break;
      }
      switch (c) {
        case '\\':
          ParseBackslash(parts, in_quotes);
          break;
        case '\'':
          if (in_quotes) {
            // Inside "${x:-'a}'}" the quotes stay literal but still hide a
            // closing brace, as in bash.
            const std::size_t close = src_.find('\'', pos_ + 1);
            const std::size_t end = close == std::string_view::npos ? pos_ + 1 : close + 1;
            AppendLiteral(parts, src_.substr(pos_, end - pos_), true);
            pos_ = end;
          } else if (!ParseSingleQuoted(parts)) {
            return false;
          }
          break;
        case '"':
          if (!ParseQuotedText(parts, TextMode::kDoubleQuote)) return false;
          break;
        case '$':
          if (!ParseDollar(parts, in_quotes)) return false;
          break;
        case '`':
          if (!ParseBackquote(parts, in_quotes)) return false;
          break;
        default: {
          std::size_t end = pos_ + 1;
          if (mode == WordMode::kNormal) {
            while (end < n && IsPlainWordChar(src_[end])) ++end;
          }
          AppendLiteral(parts, src_.substr(pos_, end - pos_), in_quotes);
          pos_ = end;
          break;
        }
      }
    }
    return !failed_;
  }

  void ParseBackslash(std::vector<WordPart>* parts, bool in_quotes) {
    if (pos_ + 1 >= src_.size()) {  // a trailing backslash stays
      AppendLiteral(parts, "\\", in_quotes);
      ++pos_;
      return;
    }
    const char next = src_[pos_ + 1];
    if (next == '\n') {  // line continuation
      pos_ += 2;
      return;
    }
    if (in_quotes && next != '$' && next != '`' && next != '"' && next != '\\' && next != '}') {
      AppendLiteral(parts, "\\", true);
      ++pos_;
      return;
    }
    AppendLiteral(parts, src_.substr(pos_ + 1, 1), true);
    pos_ += 2;
  }

  bool ParseSingleQuoted(std::vector<WordPart>* parts) {
    const std::size_t start = pos_;
    const std::size_t close = src_.find('\'', pos_ + 1);
    if (close == std::string_view::npos) return Fail(start, "unterminated single quote");
    if (close == pos_ + 1) {
      AppendEmptyQuoted(parts);
    } else {
      AppendLiteral(parts, src_.substr(pos_ + 1, close - pos_ - 1), true);
    }
    pos_ = close + 1;
    return true;
  }

  // "..." (pos_ on the opening quote) or a whole heredoc body.
  bool ParseQuotedText(std::vector<WordPart>* parts, TextMode mode) {
    const std::size_t start = pos_;
    const std::size_t n = src_.size();
    const bool dq = mode == TextMode::kDoubleQuote;
    if (dq) ++pos_;
    bool produced = false;
    while (!failed_) {
      if (pos_ >= n) {
        if (dq) return Fail(start, "unterminated double quote");
        break;
      }
      const char c = src_[pos_];
      if (c == '"' && dq) {
        ++pos_;
        break;
      }
      if (c == '\\') {
        const char next = Peek(1);
        if (pos_ + 1 < n && next == '\n') {
          pos_ += 2;
          continue;
        }
        if (pos_ + 1 < n && (next == '$' || next == '`' || next == '\\' || (dq && next == '"'))) {
          AppendLiteral(parts, src_.substr(pos_ + 1, 1), true);
          pos_ += 2;
        } else {
          AppendLiteral(parts, "\\", true);
          ++pos_;
        }
        produced = true;
        continue;
      }
      if (c == '$') {
        if (!ParseDollar(parts, true)) return false;
        produced = true;
        continue;
      }
      if (c == '`') {
        if (!ParseBackquote(parts, true)) return false;
        produced = true;
        continue;
      }
      std::size_t end = pos_ + 1;
      while (end < n) {
        const char d = src_[end];
        if (d == '\\' || d == '$' || d == '`' || (dq && d == '"')) break;
        ++end;
      }
      AppendLiteral(parts, src_.substr(pos_, end - pos_), true);
      produced = true;
      pos_ = end;
    }
    if (failed_) return false;
    if (!produced) AppendEmptyQuoted(parts);
    return true;
  }

  // $'...' with the escapes decoded into the literal text.
  bool ParseAnsiC(std::vector<WordPart>* parts) {
    const std::size_t start = pos_;
    const std::size_t n = src_.size();
    pos_ += 2;
    std::string text;
    bool truncated = false;  // bash cuts the string at a decoded NUL
    auto emit = [&](char c) {
      if (c == '\0') truncated = true;
      if (!truncated) text.push_back(c);
    };
    for (;;) {
      if (pos_ >= n) return Fail(start, "unterminated $'...' quote");
      const char c = src_[pos_];
      if (c == '\'') {
        ++pos_;
        break;
      }
      if (c != '\\') {
        emit(c);
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= n) return Fail(start, "unterminated $'...' quote");
      const char e = src_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'a':
          emit('\a');
          break;
        case 'b':
          emit('\b');
          break;
        case 'e':
        case 'E':
          emit('\x1b');
          break;
        case 'f':
          emit('\f');
          break;
        case 'n':
          emit('\n');
          break;
        case 'r':
          emit('\r');
          break;
        case 't':
          emit('\t');
          break;
        case 'v':
          emit('\v');
          break;
        case '\\':
        case '\'':
        case '"':
        case '?':
          emit(e);
          break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7': {
          unsigned value = static_cast<unsigned>(e - '0');
          for (int k = 0; k < 2 && pos_ < n && src_[pos_] >= '0' && src_[pos_] <= '7'; ++k) {
            value = value * 8 + static_cast<unsigned>(src_[pos_++] - '0');
          }
          emit(static_cast<char>(value & 0xFF));
          break;
        }
        case 'x':
        case 'u':
        case 'U': {
          const int max_digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          std::uint32_t value = 0;
          int digits = 0;
          while (digits < max_digits && pos_ < n && HexValue(src_[pos_]) >= 0) {
            value = value * 16 + static_cast<std::uint32_t>(HexValue(src_[pos_++]));
            ++digits;
          }
          if (digits == 0) {
            emit('\\');
            emit(e);
          } else if (e == 'x') {
            emit(static_cast<char>(value));
          } else if (value == 0) {
            emit('\0');
          } else if (!truncated) {
            AppendUtf8(&text, value);
          }
          break;
        }
        case 'c':
          if (pos_ < n && src_[pos_] != '\'') {
            emit(static_cast<char>(src_[pos_++] & 0x1F));
          } else {
            emit('\\');
            emit('c');
          }
          break;
        default:
          emit('\\');
          emit(e);
          break;
      }
    }
    if (text.empty()) {
      AppendEmptyQuoted(parts);
    } else {
      AppendLiteral(parts, text, true);
    }
    return true;
  }

  static void PushParam(std::vector<WordPart>* parts, std::string_view name, bool quoted) {
    WordPart part;
    part.kind = Kind::kParam;
    part.quoted = quoted;
    part.text.assign(name);
    parts->push_back(std::move(part));
  }

  // Everything starting with `$` (pos_ on the `$`).
  bool ParseDollar(std::vector<WordPart>* parts, bool in_quotes) {
    const std::size_t n = src_.size();
    if (pos_ + 1 < n) {
      const char next = src_[pos_ + 1];
      if (next == '{') return ParseBraceParam(parts, in_quotes);
      if (next == '(') {
        std::size_t expr_end = 0;
        std::size_t after = 0;
        if (Peek(2) == '(' && ScanArith(pos_ + 3, &expr_end, &after)) {
          WordPart part;
          part.kind = Kind::kArith;
          part.quoted = in_quotes;
          part.text.assign(src_.substr(pos_ + 3, expr_end - pos_ - 3));
          parts->push_back(std::move(part));
          pos_ = after;
          return true;
        }
        return ParseSubstitution(parts, in_quotes, /*process=*/false);
      }
      if (next == '[') return ParseOldArith(parts, in_quotes);
      if (next == '\'' && !in_quotes) return ParseAnsiC(parts);
      if (next == '"' && !in_quotes) {  // $"..." (locale translation) is "..."
        ++pos_;
        return ParseQuotedText(parts, TextMode::kDoubleQuote);
      }
      if (IsNameStart(next)) {
        std::size_t end = pos_ + 2;
        while (end < n && IsNameChar(src_[end])) ++end;
        PushParam(parts, src_.substr(pos_ + 1, end - pos_ - 1), in_quotes);
        pos_ = end;
        return true;
      }
      if (IsDigit(next) || IsSpecialParam(next)) {
        PushParam(parts, src_.substr(pos_ + 1, 1), in_quotes);
        pos_ += 2;
        return true;
      }
    }
    AppendLiteral(parts, "$", in_quotes);  // a lone $ is literal
    ++pos_;
    return true;
  }

  // $[ expr ]: the obsolete arithmetic form.
  bool ParseOldArith(std::vector<WordPart>* parts, bool in_quotes) {
    const std::size_t start = pos_;
    int brackets = 0;
    for (std::size_t i = pos_ + 1; i < src_.size(); ++i) {
      if (src_[i] == '[') {
        ++brackets;
      } else if (src_[i] == ']' && --brackets == 0) {
        WordPart part;
        part.kind = Kind::kArith;
        part.quoted = in_quotes;
        part.text.assign(src_.substr(start + 2, i - start - 2));
        parts->push_back(std::move(part));
        pos_ = i + 1;
        return true;
      }
    }
    return Fail(start, "unterminated '$['");
  }

  // $( list ) when `process` is false (pos_ on `$`), else <( list ) / >( list ).
  bool ParseSubstitution(std::vector<WordPart>* parts, bool in_quotes, bool process) {
    const std::size_t start = pos_;
    WordPart part;
    part.kind = process ? Kind::kProcessSub : Kind::kCommandSub;
    part.quoted = in_quotes;
    part.process_sub_output = process && src_[pos_] == '>';
    pos_ += 2;
    part.body = ParseList();
    if (failed_) return false;
    const char* what = process ? "process substitution" : "command substitution";
    if (AtEnd()) return Fail(start, std::string("unterminated ") + what);
    if (src_[pos_] != ')') {
      return Fail(pos_, "unexpected token " + DescribeToken(pos_) + " in " + what);
    }
    ++pos_;
    parts->push_back(std::move(part));
    return true;
  }

  bool ParseProcessSub(std::vector<WordPart>* parts) {
    return ParseSubstitution(parts, false, /*process=*/true);
  }

  // `list`: the body is unescaped (\` \\ \$, and \" inside double quotes)
  // and parsed on its own.
  bool ParseBackquote(std::vector<WordPart>* parts, bool in_quotes) {
    const std::size_t start = pos_;
    const std::size_t n = src_.size();
    std::string inner;
    std::size_t i = pos_ + 1;
    for (;;) {
      if (i >= n) return Fail(start, "unterminated backquote");
      const char c = src_[i];
      if (c == '`') break;
      if (c == '\\' && i + 1 < n) {
        const char next = src_[i + 1];
        if (next == '`' || next == '\\' || next == '$' || (in_quotes && next == '"')) {
          inner.push_back(next);
          i += 2;
          continue;
        }
      }
      inner.push_back(c);
      ++i;
    }
    pos_ = i + 1;
    Parser child(inner, depth_, max_depth_);
    std::shared_ptr<List> body = child.ParseProgram();
    if (child.failed()) {
      return Fail(start + 1 + child.error().offset,
                  "in backquoted command: " + child.error().message);
    }
    WordPart part;
    part.kind = Kind::kCommandSub;
    part.quoted = in_quotes;
    part.body = std::move(body);
    parts->push_back(std::move(part));
    return true;
  }

  // A parameter name at pos_: NAME, digits, or one special character,
  // followed by an optional [subscript]. Returns false if there is none.
  bool ReadParamName(std::string* name) {
    const std::size_t n = src_.size();
    const std::size_t start = pos_;
    std::size_t end = pos_;
    if (end < n && IsNameStart(src_[end])) {
      while (end < n && IsNameChar(src_[end])) ++end;
    } else if (end < n && IsDigit(src_[end])) {
      while (end < n && IsDigit(src_[end])) ++end;
    } else if (end < n && IsSpecialParam(src_[end])) {
      ++end;
    } else {
      return false;
    }
    if (end < n && src_[end] == '[' && IsNameChar(src_[start])) {
      int brackets = 0;
      std::size_t i = end;
      for (; i < n; ++i) {
        if (src_[i] == '[') {
          ++brackets;
        } else if (src_[i] == ']' && --brackets == 0) {
          break;
        }
      }
      if (i >= n) return false;
      end = i + 1;
    }
    name->assign(src_.substr(start, end - start));
    pos_ = end;
    return true;
  }

  // ${...} (pos_ on the `$`).
  bool ParseBraceParam(std::vector<WordPart>* parts, bool in_quotes) {
    const std::size_t start = pos_;
    DepthGuard guard(this, start);
    if (!guard.ok()) return false;
    const std::size_t n = src_.size();
    pos_ += 2;
    WordPart part;
    part.kind = Kind::kParam;
    part.quoted = in_quotes;
    bool indirect = false;
    if (Peek() == '#' && pos_ < n) {
      // ${#NAME} is a length; ${#} and ${#:-x} use the parameter $#.
      ++pos_;
      std::string name;
      const std::size_t after_hash = pos_;
      if (ReadParamName(&name) && Peek() == '}' && pos_ < n) {
        part.text = std::move(name);
        part.param_op = "#len";
        ++pos_;
        parts->push_back(std::move(part));
        return true;
      }
      pos_ = after_hash;
      part.text = "#";
    } else if (Peek() == '!' && pos_ < n) {
      ++pos_;
      std::string name;
      if (ReadParamName(&name)) {
        // ${!prefix*} and ${!prefix@} list variable names.
        if ((Peek() == '*' || Peek() == '@') && Peek(1) == '}') name.push_back(src_[pos_++]);
        part.text = std::move(name);
        part.param_op = "!";
        indirect = true;
      } else {
        part.text = "!";  // ${!}: the last background pid
      }
    } else if (!ReadParamName(&part.text)) {
      return Fail(start, "bad substitution: expected a parameter name after '${'");
    }
    if (pos_ >= n) return Fail(start, "unterminated '${'");
    if (src_[pos_] == '}') {
      ++pos_;
      parts->push_back(std::move(part));
      return true;
    }
    static constexpr std::string_view kOperators[] = {
        ":-", ":=", ":?", ":+", "##", "%%", "//", "/#", "/%", "^^", ",,",
        "-",  "=",  "?",  "+",  "#",  "%",  "/",  "^",  ",",  "@",  ":"};
    std::string_view op;
    for (std::string_view candidate : kOperators) {
      if (LookingAt(candidate)) {
        op = candidate;
        break;
      }
    }
    if (op.empty()) {
      return Fail(pos_, "bad substitution: unexpected " + DescribeToken(pos_) + " in '${...}'");
    }
    pos_ += op.size();
    part.param_op = indirect ? "!" + std::string(op) : std::string(op);
    if (!ParseWordParts(&part.operand, WordMode::kOperand, in_quotes)) return false;
    if (pos_ >= n) return Fail(start, "unterminated '${'");
    ++pos_;  // the closing brace
    parts->push_back(std::move(part));
    return true;
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  int depth_;
  int max_depth_;
  bool failed_ = false;
  ParseError error_;
  std::vector<PendingHeredoc> pending_;
  static constexpr std::size_t kUnknown = std::string_view::npos - 1;
  std::size_t last_close_bracket_ = kUnknown;  // src_.rfind(']'), computed on demand
};

}  // namespace

ParseResult Parse(std::string_view source, const ParseLimits& limits) {
  ParseResult result;
  if (source.size() > limits.max_input_bytes) {
    result.error.offset = limits.max_input_bytes;
    result.error.message = "input of " + std::to_string(source.size()) +
                           " bytes is larger than the limit of " +
                           std::to_string(limits.max_input_bytes) + " bytes";
    return result;
  }
  Parser parser(source, 0, std::min(limits.max_depth, kHardMaxDepth));
  std::shared_ptr<List> list = parser.ParseProgram();
  if (parser.failed() || !list) {
    result.error = parser.failed() ? parser.error() : ParseError{0, "internal parser error"};
    return result;
  }
  result.list = std::move(list);
  result.ok = true;
  return result;
}

bool ParseExpansions(std::string_view text, Word* out, ParseError* error,
                     const ParseLimits& limits) {
  if (text.size() > limits.max_input_bytes) {
    if (error != nullptr) *error = ParseError{limits.max_input_bytes, "text larger than the limit"};
    return false;
  }
  Parser parser(text, 0, std::min(limits.max_depth, kHardMaxDepth));
  out->parts.clear();
  parser.ParseHeredocBody(&out->parts);
  if (parser.failed()) {
    if (error != nullptr) *error = parser.error();
    return false;
  }
  out->source.assign(text);
  return true;
}

}  // namespace dualkey::shell
