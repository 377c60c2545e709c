// The tokeniser the languages share: strings, identifiers and punctuation.

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "shell/internal/packs/interpreters/interpreters.h"

namespace dualkey::shell::interpreters {

// Tokeniser shared by the languages: good enough to tell calls from data.
std::vector<Token> Tokenize(std::string_view code, Language language) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  const std::size_t n = code.size();
  auto ident_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
  };
  // A string that runs a shell command (`...`, qx(...), %x(...)) reads as
  // the call qx(string).
  auto push_command = [&](Token string) {
    tokens.push_back({Token::Kind::kIdent, "qx"});
    tokens.push_back({Token::Kind::kPunct, "("});
    tokens.push_back(std::move(string));
    tokens.push_back({Token::Kind::kPunct, ")"});
  };
  while (i < n && tokens.size() < 20000) {
    char c = code[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    // Comments.
    if (c == '#' && language != Language::kJavaScript && language != Language::kPhp) {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && code[i + 1] == '/' &&
        (language == Language::kJavaScript || language == Language::kPhp)) {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (c == '-' && i + 1 < n && code[i + 1] == '-' && language == Language::kLua) {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      // Python triple quotes.
      std::size_t quote_len = 1;
      if (language == Language::kPython && i + 2 < n && code[i + 1] == c && code[i + 2] == c)
        quote_len = 3;
      bool prefixed_f = !tokens.empty() && tokens.back().kind == Token::Kind::kIdent &&
                        (tokens.back().text == "f" || tokens.back().text == "rf");
      Token token{Token::Kind::kString, {}};
      std::size_t j = i + quote_len;
      while (j < n) {
        if (code.compare(j, quote_len, std::string(quote_len, c)) == 0) break;
        if (code[j] == '\\' && j + 1 < n && c != '\'') {
          char e = code[j + 1];
          token.text.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
          j += 2;
          continue;
        }
        if (code[j] == '\\' && j + 1 < n && c == '\'' &&
            (code[j + 1] == '\'' || code[j + 1] == '\\')) {
          token.text.push_back(code[j + 1]);
          j += 2;
          continue;
        }
        if ((c == '`' && code[j] == '$' && j + 1 < n && code[j + 1] == '{') ||
            (c == '"' && code[j] == '#' && j + 1 < n && code[j + 1] == '{' &&
             language == Language::kRuby) ||
            (c == '"' && code[j] == '$' &&
             (language == Language::kPerl || language == Language::kPhp)) ||
            (prefixed_f && code[j] == '{'))
          token.interpolated = true;
        token.text.push_back(code[j]);
        ++j;
      }
      if (prefixed_f) tokens.pop_back();
      // Perl/Ruby backticks run a shell command.
      if (c == '`' && (language == Language::kPerl || language == Language::kRuby ||
                       language == Language::kPhp)) {
        push_command(std::move(token));
      } else {
        tokens.push_back(std::move(token));
      }
      i = std::min(n, j + quote_len);
      continue;
    }
    // Quote-like operators: Perl q{} qq{} qx{} qw{}, Ruby %x() %q() %Q() %w() %().
    {
      std::size_t start = std::string_view::npos;  // index of the opening delimiter
      std::string op;
      if (language == Language::kPerl && (c == 'q') && (i == 0 || !ident_char(code[i - 1]))) {
        std::size_t j = i + 1;
        if (j < n && (code[j] == 'q' || code[j] == 'x' || code[j] == 'w')) ++j;
        while (j < n && (code[j] == ' ' || code[j] == '\t')) ++j;
        if (j < n && !ident_char(code[j]) && !std::isspace(static_cast<unsigned char>(code[j])) &&
            std::string_view("=,;)").find(code[j]) == std::string_view::npos) {
          op = std::string(code.substr(i, std::min(j, i + 2) - i));
          if (op.size() == 2 && op[1] != 'q' && op[1] != 'x' && op[1] != 'w') op.resize(1);
          start = j;
        }
      } else if (language == Language::kRuby && c == '%' && i + 1 < n) {
        std::size_t j = i + 1;
        if (j < n && std::string_view("xqQwWiI").find(code[j]) != std::string_view::npos) ++j;
        if (j < n && std::string_view("({[<|!/^").find(code[j]) != std::string_view::npos &&
            (j > i + 1 || code[j] == '(' || code[j] == '{' || code[j] == '[')) {
          op = std::string(code.substr(i, j - i));
          start = j;
        }
      }
      if (start != std::string_view::npos) {
        const char open = code[start];
        const char close = open == '('   ? ')'
                           : open == '{' ? '}'
                           : open == '[' ? ']'
                           : open == '<' ? '>'
                                         : open;
        int level = 1;
        std::size_t j = start + 1;
        std::string text;
        while (j < n) {
          const char d = code[j];
          if (d == '\\' && j + 1 < n) {
            text.push_back(code[j + 1]);
            j += 2;
            continue;
          }
          if (open != close && d == open)
            ++level;
          else if (d == close && --level == 0)
            break;
          text.push_back(d);
          ++j;
        }
        Token token{Token::Kind::kString, text};
        token.interpolated =
            (op == "qx" || op == "qq" || op == "%x" || op == "%Q" || op == "%" || op == "%W" ||
             op == "%I") &&
            (text.find('$') != std::string::npos || text.find("#{") != std::string::npos);
        if (op == "qx" || op == "%x") {
          push_command(std::move(token));
        } else {
          tokens.push_back(std::move(token));
        }
        i = std::min(n, j + 1);
        continue;
      }
    }
    if (ident_char(c)) {
      std::size_t j = i;
      // Dotted names (os.path.x, fs.rmSync) and Perl's File::Path::rmtree.
      while (j < n) {
        if (ident_char(code[j])) {
          ++j;
        } else if (code[j] == '.' && j + 1 < n && ident_char(code[j + 1]) &&
                   language != Language::kPerl && language != Language::kPhp) {
          ++j;
        } else if (code[j] == ':' && j + 2 < n && code[j + 1] == ':' && ident_char(code[j + 2])) {
          j += 2;
        } else {
          break;
        }
      }
      std::string text(code.substr(i, j - i));
      for (char& ch : text)
        if (ch == ':') ch = '.';
      std::string collapsed;
      for (std::size_t k = 0; k < text.size(); ++k)
        if (!(text[k] == '.' && k > 0 && text[k - 1] == '.')) collapsed.push_back(text[k]);
      tokens.push_back({Token::Kind::kIdent, collapsed});
      i = j;
      continue;
    }
    // Perl/Ruby %x(...) and qx{...} are shell commands written as quotes.
    tokens.push_back({Token::Kind::kPunct, std::string(1, c)});
    ++i;
  }
  return tokens;
}

}  // namespace dualkey::shell::interpreters
