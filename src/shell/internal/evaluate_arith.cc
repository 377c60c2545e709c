// Arithmetic and subscripts: $((...)), array subscripts, integer parsing.

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <span>

#include "shell/internal/evaluate.h"
#include "shell/internal/evaluate_words.h"
#include "shell/internal/parser.h"

namespace dualkey::shell {

using namespace evaluate_words;

namespace {

bool IsValidName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

// NAME[SUBSCRIPT] -> {NAME, SUBSCRIPT}; no subscript: {NAME, npos}.
std::pair<std::string_view, std::string_view> SplitSubscript(std::string_view name,
                                                             bool* has_subscript) {
  std::size_t open = name.find('[');
  *has_subscript = open != std::string_view::npos && open > 0 && name.back() == ']';
  if (!*has_subscript) return {name, {}};
  return {name.substr(0, open), name.substr(open + 1, name.size() - open - 2)};
}

// Integer arithmetic over + - * / % and parentheses, on text whose names
// were already replaced by their values. nullopt for anything else.
class ArithParser {
 public:
  explicit ArithParser(std::string_view text) : text_(text) {}
  std::optional<long long> Parse() {
    std::optional<long long> value = Sum();
    Skip();
    if (!value || pos_ != text_.size()) return std::nullopt;
    return value;
  }

 private:
  void Skip() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::optional<long long> Sum() {
    std::optional<long long> left = Product();
    for (;;) {
      Skip();
      if (!left || pos_ >= text_.size() || (text_[pos_] != '+' && text_[pos_] != '-')) return left;
      char op = text_[pos_++];
      std::optional<long long> right = Product();
      if (!right) return std::nullopt;
      left = op == '+' ? *left + *right : *left - *right;
    }
  }
  std::optional<long long> Product() {
    std::optional<long long> left = Unary();
    for (;;) {
      Skip();
      if (!left || pos_ >= text_.size() ||
          (text_[pos_] != '*' && text_[pos_] != '/' && text_[pos_] != '%'))
        return left;
      char op = text_[pos_++];
      std::optional<long long> right = Unary();
      if (!right || (op != '*' && *right == 0)) return std::nullopt;
      if (op == '*') {
        if (__builtin_mul_overflow(*left, *right, &*left)) return std::nullopt;
      } else {
        left = op == '/' ? *left / *right : *left % *right;
      }
    }
  }
  std::optional<long long> Unary() {
    Skip();
    if (pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) {
      char op = text_[pos_++];
      std::optional<long long> value = Unary();
      if (!value) return std::nullopt;
      return op == '-' ? -*value : *value;
    }
    if (pos_ < text_.size() && text_[pos_] == '(') {
      if (++depth_ > 64) return std::nullopt;
      ++pos_;
      std::optional<long long> value = Sum();
      Skip();
      --depth_;
      if (!value || pos_ >= text_.size() || text_[pos_] != ')') return std::nullopt;
      ++pos_;
      return value;
    }
    std::size_t start = pos_;
    long long value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (pos_ - start > 17) return std::nullopt;
      value = value * 10 + (text_[pos_++] - '0');
    }
    if (pos_ == start) return std::nullopt;
    return value;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

bool ParseLong(std::string_view text, long long* out) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  if (i >= text.size() || text.size() - i > 17) return false;
  long long value = 0;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = negative ? -value : value;
  return true;
}
}  // namespace
std::string Evaluator::EvaluateSubscripted(std::string_view name) {
  bool has_subscript = false;
  auto [base, subscript] = SplitSubscript(name, &has_subscript);
  if (!has_subscript) return std::string(name);
  std::string expanded(subscript);
  if (subscript != "@" && subscript != "*") {
    if (text_depth_ >= limits_.max_text_depth) {
      sink_.OnOpaque("the array subscript code in " + std::string(base) +
                     "[...] nests deeper than dualkey follows");
      return std::string(name);
    }
    Word word;
    if (ParseExpansions(subscript, &word)) {
      ++text_depth_;
      Arg value = ExpandSingle(word);
      --text_depth_;
      if (value.known) {
        expanded = value.text;
        if (std::optional<long long> number = EvaluateExpandedArith(value.text))
          expanded = std::to_string(*number);
      }
    } else if (HasCode(subscript)) {
      sink_.OnOpaque("cannot parse the array subscript in " + std::string(name));
    }
  }
  return std::string(base) + "[" + expanded + "]";
}

std::optional<long long> Evaluator::EvaluateArith(std::string_view text) {
  if (Spent()) return std::nullopt;
  Word word;
  ParseError error;
  if (!ParseExpansions(text, &word, &error)) {
    if (HasCode(text)) sink_.OnOpaque("cannot parse the arithmetic expression: " + error.message);
    return std::nullopt;
  }
  Arg value = ExpandSingle(word);
  if (!value.known) return std::nullopt;
  return EvaluateExpandedArith(value.text);
}

std::optional<long long> Evaluator::EvaluateExpandedArith(std::string_view text) {
  if (Spent() || !budget_->Step()) {
    Spent();
    return std::nullopt;
  }
  if (arith_depth_ >= limits_.max_arith_depth) return std::nullopt;
  ++arith_depth_;
  // Names are replaced by their values; a value that is itself an expression
  // (x='a[$(cmd)]') is evaluated as one, so its substitutions run.
  std::string numeric;
  bool computable = true;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      // A number, possibly 0x1F or 2#101: kept as written.
      while (i < text.size() && (IsNameChar(text[i]) || text[i] == '#')) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) computable = false;
        numeric.push_back(text[i++]);
      }
      continue;
    }
    if (!IsNameStart(c)) {
      if (std::string_view("+-*/%() \t\n").find(c) == std::string_view::npos) computable = false;
      // ++ and --, assignments: not computed
      numeric.push_back(c);
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < text.size() && IsNameChar(text[i])) ++i;
    std::string name(text.substr(start, i - start));
    if (i < text.size() && text[i] == '[') {
      int level = 0;
      std::size_t j = i;
      for (; j < text.size(); ++j) {
        if (text[j] == '[')
          ++level;
        else if (text[j] == ']' && --level == 0)
          break;
      }
      if (j < text.size()) {
        name = EvaluateSubscripted(text.substr(start, j + 1 - start));
        i = j + 1;
      }
    }
    // An assignment inside the expression changes the variable.
    std::size_t after = i;
    while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
    const bool assigns =
        (after < text.size() && text[after] == '=' &&
         (after + 1 >= text.size() || text[after + 1] != '=')) ||
        (after + 1 < text.size() && text[after + 1] == '=' &&
         std::string_view("+-*/%&|^").find(text[after]) != std::string_view::npos) ||
        (after + 1 < text.size() && ((text[after] == '+' && text[after + 1] == '+') ||
                                     (text[after] == '-' && text[after + 1] == '-'))) ||
        (start >= 2 && ((text[start - 1] == '+' && text[start - 2] == '+') ||
                        (text[start - 1] == '-' && text[start - 2] == '-')));
    auto it = vars_.find(name);
    long long number = 0;
    if (it == vars_.end() || (it->second.known && it->second.value.empty())) {
      numeric += "0";
    } else if (it->second.known && ParseLong(it->second.value, &number)) {
      numeric += std::to_string(number);
    } else if (it->second.known) {
      std::string value = it->second.value;  // a copy: evaluation may change vars_
      std::optional<long long> nested = EvaluateArith(value);
      if (nested)
        numeric += "(" + std::to_string(*nested) + ")";
      else
        computable = false;
    } else {
      computable = false;
    }
    if (assigns && IsValidName(name)) SetVariable(name, Variable{"$" + name, false});
  }
  --arith_depth_;
  if (!computable) return std::nullopt;
  return ArithParser(numeric).Parse();
}

}  // namespace dualkey::shell
