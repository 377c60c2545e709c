#include "shell/internal/evaluate.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <span>

#include "shell/internal/parser.h"

namespace dualkey::shell {
namespace {

// Each character of a word under expansion carries where it came from, since
// only unquoted literal text takes part in brace and tilde expansion, and only
// unquoted text (literal or expanded) in globbing.
constexpr char kLiteral = 'L';   // unquoted literal
constexpr char kExpanded = 'E';  // unquoted result of an expansion
constexpr char kQuoted = 'Q';

// What a scoped copy of one variable costs beyond its text (map node, strings).
constexpr std::size_t kVariableOverhead = 64;
constexpr int kMaxTextDepth = 8;  // alias and trap text evaluated inside each other

struct Field {
  std::string text;
  std::string mask;  // one of kLiteral/kExpanded/kQuoted per char of `text`
  bool known = true;
  bool temp = false;
  bool glob_value = false;  // a variable whose value stands for glob matches
  bool started = false;     // a field exists even if empty ("" is one word)

  void Append(std::string_view piece, char origin) {
    text.append(piece);
    mask.append(piece.size(), origin);
    started = true;
  }
};

bool IsSpecialParam(std::string_view name) {
  if (name.empty()) return true;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return true;
  return name.size() == 1 && std::string_view("@*#?$!-").find(name[0]) != std::string_view::npos;
}

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool IsValidName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

std::string JoinPath(std::string_view base, std::string_view rel) {
  if (rel.starts_with('/')) return std::string(rel);
  std::string out(base);
  if (out.empty() || out.back() != '/') out.push_back('/');
  out.append(rel);
  return out;
}

// Folds "." and ".." so `cd ../..` keeps an exact cwd.
std::string Normalize(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j;
  }
  std::string out;
  for (std::string_view part : parts) {
    out.push_back('/');
    out.append(part);
  }
  return out.empty() ? "/" : out;
}

// Brace expansion over the unquoted literal characters of one field:
// a{b,c}d -> abd acd, {1..3} -> 1 2 3. Returns false when nothing expanded.
// At most `limit` results and `*bytes_left` bytes of them; `*overflow` is set
// when the bytes ran out.
bool ExpandBraces(const Field& field, int limit, std::size_t* bytes_left, bool* overflow,
                  std::vector<Field>* out) {
  const std::string& s = field.text;
  const std::string& m = field.mask;
  auto push = [&](Field&& f) {
    if (f.text.size() > *bytes_left) {
      *overflow = true;
      return false;
    }
    *bytes_left -= f.text.size();
    out->push_back(std::move(f));
    return true;
  };
  for (std::size_t open = 0; open < s.size(); ++open) {
    if (s[open] != '{' || m[open] != kLiteral) continue;
    int level = 0;
    std::vector<std::size_t> commas;
    std::size_t close = std::string::npos;
    for (std::size_t k = open + 1; k < s.size(); ++k) {
      if (m[k] != kLiteral) continue;
      if (s[k] == '{') {
        ++level;
      } else if (s[k] == '}') {
        if (level == 0) {
          close = k;
          break;
        }
        --level;
      } else if (s[k] == ',' && level == 0) {
        commas.push_back(k);
      }
    }
    if (close == std::string::npos) return false;
    std::vector<std::pair<std::string, std::string>> alternatives;
    if (!commas.empty()) {
      std::size_t start = open + 1;
      commas.push_back(close);
      for (std::size_t comma : commas) {
        alternatives.emplace_back(s.substr(start, comma - start), m.substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      // Sequence {a..b}: integers or single letters.
      std::string inner = s.substr(open + 1, close - open - 1);
      std::size_t dots = inner.find("..");
      if (dots == std::string::npos) continue;
      std::string lo = inner.substr(0, dots), hi = inner.substr(dots + 2);
      auto is_int = [](const std::string& t) {
        if (t.empty() || t.size() > 9) return false;
        std::size_t i = (t[0] == '-') ? 1 : 0;
        if (i == t.size()) return false;
        for (; i < t.size(); ++i)
          if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
        return true;
      };
      if (is_int(lo) && is_int(hi)) {
        long a = std::stol(lo), b = std::stol(hi);
        long step = a <= b ? 1 : -1;
        for (long v = a;; v += step) {
          std::string t = std::to_string(v);
          alternatives.emplace_back(t, std::string(t.size(), kLiteral));
          if (v == b || static_cast<int>(alternatives.size()) >= limit) break;
        }
      } else if (lo.size() == 1 && hi.size() == 1 &&
                 std::isalpha(static_cast<unsigned char>(lo[0])) &&
                 std::isalpha(static_cast<unsigned char>(hi[0]))) {
        int step = lo[0] <= hi[0] ? 1 : -1;
        for (int c = lo[0];; c += step) {
          alternatives.emplace_back(std::string(1, static_cast<char>(c)), "L");
          if (c == hi[0]) break;
        }
      } else {
        continue;
      }
    }
    for (auto& [alt_text, alt_mask] : alternatives) {
      if (static_cast<int>(out->size()) >= limit || *overflow) break;
      if (open + alt_text.size() + (s.size() - close) > *bytes_left) {
        *overflow = true;
        break;
      }
      Field next = field;
      next.text = s.substr(0, open) + alt_text + s.substr(close + 1);
      next.mask = m.substr(0, open) + alt_mask + m.substr(close + 1);
      std::vector<Field> nested;
      if (ExpandBraces(next, limit, bytes_left, overflow, &nested)) {
        for (auto& n : nested) {
          if (static_cast<int>(out->size()) >= limit) break;
          out->push_back(std::move(n));  // already counted by the nested call
        }
      } else if (!push(std::move(next))) {
        break;
      }
    }
    return true;
  }
  return false;
}

bool HasGlob(const Field& field) {
  for (std::size_t i = 0; i < field.text.size(); ++i) {
    if (field.mask[i] == kQuoted) continue;
    char c = field.text[i];
    if (c == '*' || c == '?' || c == '[') return true;
  }
  return false;
}

// A leading unquoted ~ or ~user becomes a home directory.
void ExpandTilde(Field* field, std::string_view home) {
  if (field->text.empty() || field->text[0] != '~' || field->mask[0] != kLiteral) return;
  std::size_t end = field->text.find('/');
  if (end == std::string::npos) end = field->text.size();
  for (std::size_t i = 1; i < end; ++i)
    if (field->mask[i] != kLiteral) return;
  std::string user = field->text.substr(1, end - 1);
  std::string replacement =
      user.empty() ? std::string(home) : (user == "root" ? "/root" : "/home/" + user);
  if (user == "+" || user == "-") return;  // ~+ ~- : PWD/OLDPWD, rare; leave
  field->text.replace(0, end, replacement);
  field->mask.replace(0, end, std::string(replacement.size(), kQuoted));
}

std::string RemovePattern(const std::string& value, const std::string& pattern,
                          const std::string& op, bool* ok) {
  // Only literal patterns are folded; a glob pattern is left unknown.
  if (pattern.find_first_of("*?[") != std::string::npos) {
    *ok = false;
    return {};
  }
  *ok = true;
  if (op == "#" || op == "##")
    return value.starts_with(pattern) ? value.substr(pattern.size()) : value;
  if (op == "%" || op == "%%")
    return value.ends_with(pattern) ? value.substr(0, value.size() - pattern.size()) : value;
  *ok = false;
  return {};
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

bool HasCode(std::string_view value) {
  return value.find("$(") != std::string_view::npos || value.find('`') != std::string_view::npos ||
         value.find("${") != std::string_view::npos;
}

}  // namespace

// ------------------------------------------------------------------- budget

bool EvalBudget::ChargeBytes(std::size_t bytes) {
  if (exhausted()) return false;
  if (bytes >
      limits_.max_expansion_bytes - std::min(expanded_bytes_, limits_.max_expansion_bytes)) {
    Exhaust("the command expands to more than " +
            std::to_string(limits_.max_expansion_bytes / 1024) +
            " KiB of text, more than dualkey evaluates");
    return false;
  }
  expanded_bytes_ += bytes;
  return true;
}

bool EvalBudget::ChargeCopy(std::size_t bytes) {
  if (exhausted()) return false;
  if (bytes > limits_.max_copy_bytes - std::min(copied_bytes_, limits_.max_copy_bytes)) {
    Exhaust("the command copies more shell state than dualkey evaluates");
    return false;
  }
  copied_bytes_ += bytes;
  return true;
}

bool EvalBudget::Step() {
  if (exhausted()) return false;
  if (++steps_ > limits_.max_steps) {
    Exhaust("the command takes more evaluation steps than dualkey evaluates (" +
            std::to_string(limits_.max_steps) + ")");
    return false;
  }
  return true;
}

void EvalBudget::Exhaust(std::string reason) {
  if (reason_.empty()) reason_ = std::move(reason);
}

bool EvalBudget::TakeReport() {
  if (!exhausted() || reported_) return false;
  reported_ = true;
  return true;
}

// ---------------------------------------------------------------- evaluator

Evaluator::Evaluator(InvocationSink& sink, Variables variables, std::string cwd, std::string home,
                     int depth, const EvalLimits& limits, EvalBudget* budget)
    : sink_(sink),
      vars_(std::move(variables)),
      cwd_(std::move(cwd)),
      home_(std::move(home)),
      depth_(depth),
      limits_(limits) {
  if (budget == nullptr) {
    own_budget_ = std::make_unique<EvalBudget>(limits);
    budget = own_budget_.get();
  }
  budget_ = budget;
  reader_ = [this](const Arg& path, std::string_view cwd) { return sink_.ReadFile(path, cwd); };
  if (!vars_.contains("HOME")) vars_["HOME"] = Variable{home_, true, false, true};
  if (!cwd_.empty()) vars_["PWD"] = Variable{cwd_, true, false, true};
}

void Evaluator::Inherit(const Environment& environment) {
  for (const auto& [name, value] : environment.variables) {
    if (name == "HOME" || name == "PWD") continue;
    vars_[name] = Variable{value.text, value.known, value.temp, true};
  }
  for (const auto& [name, body] : environment.functions) {
    functions_[name] = body;
    exported_functions_.insert(name);
  }
  env_dirty_ = true;
}

Variables Evaluator::ExportedVariables() const {
  Variables out;
  for (const auto& [name, var] : vars_)
    if (var.exported) out.emplace(name, var);
  return out;
}

void Evaluator::Run(const List& list) {
  RunList(list);
  RunDeferred();
}

bool Evaluator::Spent() {
  if (exhausted_) return true;
  if (!budget_->exhausted()) return false;
  exhausted_ = true;
  if (budget_->TakeReport()) sink_.OnOpaque(budget_->reason());
  return true;
}

Evaluator::Snapshot Evaluator::Save() {
  std::size_t bytes = cwd_.size();
  for (const auto& [name, var] : vars_) bytes += name.size() + var.value.size() + kVariableOverhead;
  if (!budget_->ChargeCopy(bytes)) {
    Spent();
    return {{}, cwd_};
  }
  return {vars_, cwd_};
}

void Evaluator::Restore(Snapshot snapshot) {
  if (exhausted_) return;  // a spent budget kept no copy
  vars_ = std::move(snapshot.vars);
  cwd_ = std::move(snapshot.cwd);
  env_dirty_ = true;
}

void Evaluator::SetVariable(const std::string& name, Variable var) {
  if (!budget_->ChargeBytes(name.size())) {
    Spent();
    return;
  }
  vars_[name] = std::move(var);
  env_dirty_ = true;
}

std::shared_ptr<const Environment> Evaluator::CurrentEnvironment() {
  if (!env_dirty_) return env_cache_;
  env_dirty_ = false;
  Environment env;
  for (const auto& [name, var] : vars_) {
    if (!var.exported || name == "HOME" || name == "PWD") continue;
    env.variables.emplace(name, Arg{var.value, var.known, false, var.temp});
  }
  for (const std::string& name : exported_functions_) {
    auto it = functions_.find(name);
    if (it != functions_.end()) env.functions.emplace(name, it->second);
  }
  if (env.variables.empty() && env.functions.empty())
    env_cache_.reset();
  else
    env_cache_ = std::make_shared<const Environment>(std::move(env));
  return env_cache_;
}

void Evaluator::RunList(const List& list) {
  for (const AndOr& item : list.items) {
    if (Spent()) return;
    RunAndOr(item);
  }
}

void Evaluator::RunAndOr(const AndOr& and_or) {
  // Every branch may run: `false || rm -rf x` deletes x.
  RunPipeline(and_or.first, false);
  for (const auto& [op, pipeline] : and_or.rest) RunPipeline(pipeline, false);
}

PredictedOutput Evaluator::RunPipeline(const Pipeline& pipeline, bool want_output) {
  std::vector<Arg> previous;
  bool has_previous = false;
  PredictedOutput output;
  for (std::size_t i = 0; i < pipeline.commands.size(); ++i) {
    const Command& command = *pipeline.commands[i];
    Invocation inv;
    if (i > 0) {
      inv.stdin_piped = true;
      inv.piped_from = has_previous ? previous : std::vector<Arg>{};
      inv.piped_text = std::move(output.text);
    }
    RunCommand(command, &inv);
    has_previous = std::holds_alternative<SimpleCommand>(command.node);
    // What this stage prints matters to the next stage, or to a $(...).
    const bool needed = want_output || i + 1 < pipeline.commands.size();
    output =
        needed && has_previous && !exhausted_ ? PredictOutput(inv, reader_) : PredictedOutput{};
    if (output.text && !budget_->ChargeBytes(output.text->size())) {
      Spent();
      output = {};
    }
    previous = std::move(inv.argv);
  }
  return output;
}

void Evaluator::RunCommand(const Command& command, Invocation* pipe_invocation) {
  if (Spent()) return;
  if (!budget_->Step()) {
    Spent();
    return;
  }
  auto scoped = [&](const std::shared_ptr<List>& body) {
    if (!body) return;
    Snapshot saved = Save();
    if (exhausted_) return;
    RunList(*body);
    Restore(std::move(saved));
  };
  auto run = [&](const std::shared_ptr<List>& body) {
    if (body) RunList(*body);
  };
  // Redirections on a compound command still write files.
  if (!command.redirects.empty() && !std::holds_alternative<SimpleCommand>(command.node)) {
    Invocation redirect_only;
    AddRedirects(command.redirects, &redirect_only);
    Emit(std::move(redirect_only));
  }
  std::visit(
      [&](const auto& node) {
        using T = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<T, SimpleCommand>) {
          RunSimple(node, command.redirects, pipe_invocation);
        } else if constexpr (std::is_same_v<T, Subshell>) {
          scoped(node.body);
        } else if constexpr (std::is_same_v<T, BraceGroup>) {
          run(node.body);
        } else if constexpr (std::is_same_v<T, IfClause>) {
          for (const auto& branch : node.branches) {
            run(branch.condition);
            run(branch.body);
          }
          run(node.else_body);
        } else if constexpr (std::is_same_v<T, ForClause>) {
          if (!node.arith.empty()) EvaluateArith(node.arith);
          std::vector<Arg> values;
          for (const Word& word : node.words) {
            for (Arg& arg : ExpandWord(word, true)) values.push_back(std::move(arg));
          }
          if (!node.has_in && node.arith.empty()) values.push_back(Arg{"$@", false});
          if (node.variable.empty() || values.empty()) {
            run(node.body);
            return;
          }
          int count = 0;
          for (const Arg& value : values) {
            if (++count > limits_.max_loop_words || Spent()) break;
            // Nested loops multiply: past a total, the body runs once more
            // with the variable unknown instead of once per word.
            if (++loop_iterations_ > limits_.max_loop_iterations) {
              SetVariable(node.variable, Variable{"$" + node.variable, false});
              run(node.body);
              break;
            }
            Variable var{value.text, value.known, value.temp, false};
            auto it = vars_.find(node.variable);
            if (it != vars_.end()) var.exported = it->second.exported;
            SetVariable(node.variable, var);
            if (value.glob)
              vars_[node.variable + "\x01glob"] = Variable{"1"};
            else
              vars_.erase(node.variable + "\x01glob");
            run(node.body);
          }
        } else if constexpr (std::is_same_v<T, WhileClause>) {
          run(node.condition);
          run(node.body);
        } else if constexpr (std::is_same_v<T, CaseClause>) {
          ExpandSingle(node.subject);
          for (const auto& item : node.items) {
            for (const Word& pattern : item.patterns) ExpandSingle(pattern);
            run(item.body);
          }
        } else if constexpr (std::is_same_v<T, FunctionDef>) {
          functions_[node.name] = node.body;
          env_dirty_ = true;
        } else if constexpr (std::is_same_v<T, ArithCommand>) {
          EvaluateArith(node.expr);
        } else if constexpr (std::is_same_v<T, TestCommand>) {
          std::vector<Arg> words;
          for (const Word& word : node.words)
            for (Arg& arg : ExpandWord(word, false)) words.push_back(std::move(arg));
          // [[ -v a[$(cmd)] ]] and the operands of -eq & co. are arithmetic.
          for (std::size_t i = 0; i < words.size(); ++i) {
            const std::string& text = words[i].text;
            if (text == "-v" && i + 1 < words.size()) {
              EvaluateSubscripted(words[i + 1].text);
            } else if (text == "-eq" || text == "-ne" || text == "-lt" || text == "-le" ||
                       text == "-gt" || text == "-ge") {
              if (i > 0 && words[i - 1].known) EvaluateExpandedArith(words[i - 1].text);
              if (i + 1 < words.size() && words[i + 1].known)
                EvaluateExpandedArith(words[i + 1].text);
            }
          }
        }
      },
      command.node);
}

void Evaluator::Assign(const Assignment& assignment, bool exported) {
  std::string name = assignment.name;
  if (name.find('[') != std::string::npos) name = EvaluateSubscripted(name);
  Variable var;
  if (assignment.array) {
    // Arrays: keep the elements joined; individual indexing is not tracked.
    std::string joined;
    for (const Word& element : assignment.elements) {
      for (const Arg& arg : ExpandWord(element, true)) {
        if (!joined.empty()) joined.push_back(' ');
        joined += arg.text;
        var.known = var.known && arg.known;
      }
    }
    var.value = std::move(joined);
  } else {
    Arg value = ExpandSingle(assignment.value);
    var.value = std::move(value.text);
    var.known = value.known;
    var.temp = value.temp;
  }
  auto it = vars_.find(name);
  if (assignment.append && it != vars_.end()) {
    // The whole new value is a copy: charge it, or `a+=$a` chains grow unbounded.
    if (!budget_->ChargeBytes(it->second.value.size())) {
      Spent();
      return;
    }
    var.value = it->second.value + var.value;
    var.known = var.known && it->second.known;
  }
  var.exported = exported || (it != vars_.end() && it->second.exported);
  // Values bash runs as code later: prompts expand $(...), PROMPT_COMMAND runs.
  if (var.known && (name == "PS0" || name == "PS1" || name == "PS2" || name == "PS4") &&
      HasCode(var.value)) {
    Word word;
    if (ParseExpansions(var.value, &word)) ExpandSingle(word);
  } else if (name == "PROMPT_COMMAND") {
    if (var.known)
      RunText(var.value, "PROMPT_COMMAND");
    else
      sink_.OnOpaque("PROMPT_COMMAND is set to code computed at run time");
  }
  SetVariable(name, std::move(var));
}

void Evaluator::RunText(std::string_view script, std::string_view what) {
  if (Spent()) return;
  if (text_depth_ >= kMaxTextDepth) {
    sink_.OnOpaque(std::string(what) + " code nests deeper than dualkey follows");
    return;
  }
  if (!budget_->ChargeBytes(script.size())) {
    Spent();
    return;
  }
  // The same text (an alias used many times) is parsed once.
  std::shared_ptr<List> list;
  if (auto it = parsed_texts_.find(script); it != parsed_texts_.end()) {
    list = it->second;
  } else {
    ParseResult parsed = Parse(script);
    if (!parsed.ok) {
      sink_.OnOpaque("cannot parse the code " + std::string(what) +
                     " runs: " + parsed.error.message);
      return;
    }
    list = parsed.list;
    if (parsed_texts_.size() < 256)
      parsed_texts_.emplace(std::string(script), list);
    else
      kept_.push_back(list);
  }
  ++text_depth_;
  RunList(*list);
  --text_depth_;
}

// What bash runs when the script ends: trap handlers (EXIT, ERR, signals)
// and, for commands that were not found, command_not_found_handle.
void Evaluator::RunDeferred() {
  for (std::size_t i = 0; i < traps_.size() && !Spent(); ++i) {
    const Arg handler = traps_[i];
    if (!handler.known) {
      sink_.OnOpaque("a trap handler is computed at run time (" + handler.text + ")");
      continue;
    }
    RunText(handler.text, "a trap handler");
  }
  traps_.clear();
  auto handle = functions_.find("command_not_found_handle");
  if (handle != functions_.end() && !Spent()) {
    std::shared_ptr<const Command> body = handle->second;
    functions_.erase(handle);  // once
    RunCommand(*body, nullptr);
  }
}

bool Evaluator::RunAlias(const SimpleCommand& simple, const std::vector<Redirect>& extra) {
  if (aliases_.empty() || simple.words.empty()) return false;
  const Word& first = simple.words[0];
  if (first.parts.size() != 1 || first.parts[0].kind != WordPart::Kind::kLiteral ||
      first.parts[0].quoted)
    return false;
  const std::string& name = first.parts[0].text;
  auto it = aliases_.find(name);
  if (it == aliases_.end()) return false;
  if (std::find(alias_stack_.begin(), alias_stack_.end(), name) != alias_stack_.end())
    return false;  // bash does not expand an alias inside itself
  for (const Assignment& assignment : simple.assignments) ExpandSingle(assignment.value);
  if (!it->second.known) {
    sink_.OnOpaque("the alias `" + name + "` runs code computed at run time");
    return true;
  }
  std::string text = it->second.text;
  for (std::size_t i = 1; i < simple.words.size(); ++i) {
    text.push_back(' ');
    text += simple.words[i].source;
  }
  alias_stack_.push_back(name);
  RunText(text, "the alias `" + name + "`");
  alias_stack_.pop_back();
  if (!simple.redirects.empty() || !extra.empty()) {
    Invocation redirect_only;
    redirect_only.cwd = cwd_;
    AddRedirects(simple.redirects, &redirect_only);
    AddRedirects(extra, &redirect_only);
    Emit(std::move(redirect_only));
  }
  return true;
}

void Evaluator::RunSimple(const SimpleCommand& simple, const std::vector<Redirect>& extra,
                          Invocation* out) {
  if (Spent()) return;
  if (RunAlias(simple, extra)) return;
  Invocation& inv = *out;
  inv.cwd = cwd_;
  inv.depth = depth_;
  // Arguments of declaration builtins that are assignments (declare x=$y)
  // are not split into fields, as in bash.
  bool declaration = false;
  if (!simple.words.empty() && simple.words[0].parts.size() == 1 &&
      simple.words[0].parts[0].kind == WordPart::Kind::kLiteral) {
    const std::string& first = simple.words[0].parts[0].text;
    declaration = first == "declare" || first == "typeset" || first == "local" ||
                  first == "export" || first == "readonly";
  }
  for (std::size_t w = 0; w < simple.words.size(); ++w) {
    const Word& word = simple.words[w];
    bool assignment = false;
    if (declaration && w > 0) {
      const std::string& source = word.source;
      std::size_t k = 0;
      while (k < source.size() && IsNameChar(source[k])) ++k;
      assignment = k > 0 && IsNameStart(source[0]) && k < source.size() &&
                   (source[k] == '=' || source[k] == '[' ||
                    (source[k] == '+' && k + 1 < source.size() && source[k + 1] == '='));
    }
    for (Arg& arg : ExpandWord(word, !assignment)) inv.argv.push_back(std::move(arg));
  }
  AddRedirects(simple.redirects, &inv);
  AddRedirects(extra, &inv);

  if (inv.argv.empty()) {
    // Bare assignments change this shell's state.
    for (const Assignment& assignment : simple.assignments) Assign(assignment, false);
    if (!inv.redirects.empty()) Emit(inv);
    return;
  }
  // Prefix assignments (FOO=1 cmd) only reach the command, in its environment.
  std::vector<std::pair<std::string, Arg>> prefixes;
  for (const Assignment& assignment : simple.assignments) {
    Arg value;
    if (assignment.array) {
      value = Arg{"(...)", false};
      for (const Word& element : assignment.elements) ExpandWord(element, true);
    } else {
      value = ExpandSingle(assignment.value);
    }
    prefixes.emplace_back(assignment.name, std::move(value));
  }

  const std::string_view name = inv.argv[0].text;
  if (inv.argv[0].known) {
    auto fn = functions_.find(name);
    if (fn != functions_.end() && function_depth_ < limits_.max_function_depth) {
      std::shared_ptr<const Command> body = fn->second;
      Snapshot saved;
      if (!prefixes.empty()) {
        saved = Save();
        for (auto& [var_name, value] : prefixes)
          SetVariable(var_name, Variable{value.text, value.known, value.temp, true});
      }
      ++function_depth_;
      RunCommand(*body, nullptr);
      --function_depth_;
      if (!prefixes.empty()) Restore(std::move(saved));
      if (!inv.redirects.empty()) {
        Invocation redirect_only;
        redirect_only.cwd = cwd_;
        redirect_only.redirects = inv.redirects;
        Emit(std::move(redirect_only));
      }
      return;
    }
    // hash -p /bin/rm tidy: `tidy` runs /bin/rm.
    if (auto hashed = hashed_.find(name); hashed != hashed_.end())
      inv.argv[0].text = hashed->second;
  }
  std::shared_ptr<const Environment> env = CurrentEnvironment();
  if (!prefixes.empty()) {
    auto with_prefixes =
        env ? std::make_shared<Environment>(*env) : std::make_shared<Environment>();
    for (auto& [var_name, value] : prefixes) with_prefixes->variables[var_name] = std::move(value);
    env = std::move(with_prefixes);
  }
  inv.env = std::move(env);
  inv.run_by_evaluator = inv.argv[0].known && (name == "eval" || name == "source" || name == ".");
  Emit(inv);
  RunBuiltinEffects(inv);
}

// Builtins that change the state later commands see, or run code.
void Evaluator::RunBuiltinEffects(const Invocation& inv) {
  if (inv.argv.empty() || !inv.argv[0].known || Spent()) return;
  const std::string_view name = inv.argv[0].text;
  // The builtins below, sorted: most commands are none of them.
  static constexpr std::string_view kStateful[] = {
      ".",      "[",       "alias",   "cd",        "declare",  "enable",  "eval",
      "export", "getopts", "hash",    "let",       "local",    "mapfile", "popd",
      "printf", "pushd",   "read",    "readarray", "readonly", "source",  "test",
      "trap",   "typeset", "unalias", "unset",     "wait"};
  if (!std::binary_search(std::begin(kStateful), std::end(kStateful), name)) return;
  auto args = std::span<const Arg>(inv.argv).subspan(1);
  auto is_option = [](const Arg& arg) {
    return arg.text.size() > 1 && (arg.text[0] == '-' || arg.text[0] == '+');
  };
  if (name == "eval") {
    // Runs here, so what it defines (functions, aliases, variables) stays.
    std::string script;
    bool known = true;
    for (const Arg& arg : args) {
      if (!script.empty()) script.push_back(' ');
      script += arg.text;
      known = known && arg.known;
    }
    if (!known)
      sink_.OnOpaque("eval runs shell text computed at run time (" + script + ")");
    else if (!script.empty())
      RunText(script, "eval");
    return;
  }
  if (name == "source" || name == ".") {
    if (args.empty()) return;
    if (!args[0].known) {
      sink_.OnOpaque("`" + std::string(name) +
                     "` reads shell code from a source computed at run time (" + args[0].text +
                     ")");
      return;
    }
    if (std::optional<InvocationSink::SourcedText> sourced = sink_.SourceFile(inv)) {
      if (sourced->project_code) sink_.ProjectCode(true);
      RunText(sourced->text, std::string(name) + " " + args[0].text);
      if (sourced->project_code) sink_.ProjectCode(false);
    }
    return;
  }
  if (name == "cd" || name == "pushd") {
    std::vector<Arg> operands;
    for (const Arg& arg : args)
      if (!(arg.text.size() > 1 && arg.text[0] == '-')) operands.push_back(arg);
    if (operands.empty()) {
      if (name == "cd") cwd_ = home_;
      return;
    }
    const Arg& target = operands[0];
    if (!target.known || target.glob || target.text == "-") {
      cwd_.clear();
    } else if (target.text.starts_with('/')) {
      cwd_ = Normalize(target.text);
    } else if (!cwd_.empty()) {
      cwd_ = Normalize(JoinPath(cwd_, target.text));
    }
    if (cwd_.empty())
      vars_.erase("PWD");
    else
      vars_["PWD"] = Variable{cwd_, true, false, true};
  } else if (name == "popd") {
    cwd_.clear();
  } else if (name == "export" || name == "declare" || name == "typeset" || name == "local" ||
             name == "readonly") {
    bool exported = name == "export";
    bool functions = false, integer = false;
    for (const Arg& arg : args) {
      if (arg.text.starts_with('-') && arg.text.size() > 1) {
        if (arg.text.find('x') != std::string::npos) exported = true;
        if (arg.text.find('f') != std::string::npos) functions = true;
        if (arg.text.find('i') != std::string::npos) integer = true;
        continue;
      }
      std::size_t eq = arg.text.find('=');
      std::string var_name = arg.text.substr(0, eq);
      if (var_name.ends_with('+')) var_name.pop_back();
      if (var_name.empty()) continue;
      if (var_name.find('[') != std::string::npos) var_name = EvaluateSubscripted(var_name);
      if (functions) {
        // export -f NAME / declare -fx NAME: the function reaches child shells.
        if (exported && functions_.contains(var_name)) {
          exported_functions_.insert(var_name);
          env_dirty_ = true;
        }
        continue;
      }
      if (eq == std::string::npos) {
        auto it = vars_.find(var_name);
        if (it != vars_.end()) {
          it->second.exported |= exported;
          env_dirty_ = true;
        }
        continue;
      }
      Variable var{arg.text.substr(eq + 1), arg.known, arg.temp, exported};
      if (integer && var.known) EvaluateExpandedArith(var.value);
      if (var.known && (var_name == "PS0" || var_name == "PS1" || var_name == "PS4") &&
          HasCode(var.value)) {
        Word word;
        if (ParseExpansions(var.value, &word)) ExpandSingle(word);
      }
      SetVariable(var_name, std::move(var));
    }
  } else if (name == "unset") {
    bool functions = false;
    for (const Arg& arg : args) {
      if (arg.text == "-f") {
        functions = true;
        continue;
      }
      if (arg.text.starts_with('-')) continue;
      std::string var_name = arg.text;
      if (var_name.find('[') != std::string::npos) var_name = EvaluateSubscripted(var_name);
      if (functions)
        functions_.erase(var_name);
      else
        vars_.erase(var_name);
      env_dirty_ = true;
    }
  } else if (name == "read" || name == "mapfile" || name == "readarray" || name == "getopts" ||
             name == "printf" || name == "wait") {
    // Options and the variables they fill (values unknown until run time);
    // a subscript in a variable name is arithmetic and runs.
    std::string_view with_value = name == "read"      ? "adinNptu"
                                  : name == "printf"  ? "v"
                                  : name == "wait"    ? "p"
                                  : name == "getopts" ? ""
                                                      : "dnOsuCc";
    std::vector<std::string> names;
    std::string printf_target;
    std::size_t i = 0;
    for (; i < args.size(); ++i) {
      const std::string& text = args[i].text;
      if (text == "--") {
        ++i;
        break;
      }
      if (!is_option(args[i])) break;
      for (std::size_t k = 1; k < text.size(); ++k) {
        if (with_value.find(text[k]) == std::string_view::npos) continue;
        std::string value = k + 1 < text.size()   ? text.substr(k + 1)
                            : i + 1 < args.size() ? args[++i].text
                                                  : std::string();
        const char option = text[k];
        if ((name == "read" && option == 'a') || (name == "wait" && option == 'p')) {
          names.push_back(value);
        } else if (name == "printf" && option == 'v') {
          printf_target = value;
        } else if ((name == "mapfile" || name == "readarray") && option == 'C') {
          // mapfile -C CALLBACK runs CALLBACK every -c lines.
          if (args[i].known)
            RunText(value, "mapfile -C");
          else
            sink_.OnOpaque("mapfile -C runs a callback computed at run time");
        }
        break;
      }
    }
    if (name == "printf") {
      if (printf_target.empty()) return;
      std::string target = printf_target.find('[') != std::string::npos
                               ? EvaluateSubscripted(printf_target)
                               : printf_target;
      Variable var{"$" + target, false};
      if (i < args.size()) {
        bool known = true;
        std::vector<std::string> rest;
        for (std::size_t k = i + 1; k < args.size(); ++k) {
          rest.push_back(args[k].text);
          known = known && args[k].known;
        }
        if (known && args[i].known) {
          if (std::optional<std::string> text = FormatPrintf(args[i].text, rest)) {
            if (budget_->ChargeBytes(text->size())) var = Variable{std::move(*text), true};
          }
        }
      }
      SetVariable(target, std::move(var));
      return;
    }
    if (name == "getopts") {
      if (i + 1 < args.size()) names.push_back(args[i + 1].text);
    } else if (name != "wait") {
      for (; i < args.size(); ++i) names.push_back(args[i].text);
    }
    for (std::string& target : names) {
      if (target.find('[') != std::string::npos) target = EvaluateSubscripted(target);
      if (target.empty()) continue;
      SetVariable(target, Variable{"$" + target, false});
    }
  } else if (name == "let") {
    for (const Arg& arg : args)
      if (arg.known) EvaluateArith(arg.text);
  } else if (name == "test" || name == "[") {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i].text == "-v") EvaluateSubscripted(args[i + 1].text);
  } else if (name == "alias") {
    for (const Arg& arg : args) {
      std::size_t eq = arg.text.find('=');
      if (is_option(arg) || eq == std::string::npos || eq == 0) continue;
      aliases_[arg.text.substr(0, eq)] = Alias{arg.text.substr(eq + 1), arg.known};
    }
  } else if (name == "unalias") {
    for (const Arg& arg : args) {
      if (arg.text == "-a")
        aliases_.clear();
      else
        aliases_.erase(arg.text);
    }
  } else if (name == "hash") {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i].text == "-r") {
        hashed_.clear();
      } else if (args[i].text == "-p" && i + 2 < args.size()) {
        if (args[i + 1].known && args[i + 2].known)
          hashed_[args[i + 2].text] = args[i + 1].text;
        else
          sink_.OnOpaque("hash -p maps a command to a program computed at run time");
        i += 2;
      }
    }
  } else if (name == "trap") {
    std::size_t i = 0;
    while (i < args.size() && is_option(args[i]) && args[i].text != "-") {
      if (args[i].text == "-p" || args[i].text == "-l") return;  // prints
      if (args[i].text == "--") {
        ++i;
        break;
      }
      ++i;
    }
    // trap HANDLER SIGNAL...; a single operand (or "-") resets the signal.
    if (i + 1 < args.size() && args[i].text != "-" && !args[i].text.empty())
      traps_.push_back(args[i]);
  } else if (name == "enable") {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i].text == "-f") {
        sink_.OnOpaque("`enable -f` loads a builtin from a shared object, which cannot be seen");
        return;
      }
    }
  }
}

std::string Evaluator::EvaluateSubscripted(std::string_view name) {
  bool has_subscript = false;
  auto [base, subscript] = SplitSubscript(name, &has_subscript);
  if (!has_subscript) return std::string(name);
  std::string expanded(subscript);
  if (subscript != "@" && subscript != "*") {
    Word word;
    if (ParseExpansions(subscript, &word)) {
      Arg value = ExpandSingle(word);
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

void Evaluator::AddRedirects(const std::vector<Redirect>& redirects, Invocation* inv) {
  for (const Redirect& redirect : redirects) {
    switch (redirect.op) {
      case Redirect::Op::kHereDoc: {
        inv->has_stdin_text = true;
        if (redirect.heredoc_quoted) {
          if (!budget_->ChargeBytes(redirect.heredoc_body.size())) {
            Spent();
            inv->stdin_text_known = false;
            continue;
          }
          inv->stdin_text = redirect.heredoc_body;
        } else {
          Arg body = ExpandSingle(redirect.heredoc_word);
          inv->stdin_text = std::move(body.text);
          inv->stdin_text_known = body.known;
        }
        continue;
      }
      case Redirect::Op::kHereString: {
        Arg body = ExpandSingle(redirect.target);
        inv->has_stdin_text = true;
        inv->stdin_text = std::move(body.text);
        inv->stdin_text_known = body.known;
        continue;
      }
      default:
        break;
    }
    FileRedirect file;
    file.fd = redirect.fd;
    file.target = ExpandSingle(redirect.target);
    switch (redirect.op) {
      case Redirect::Op::kInput:
      case Redirect::Op::kReadWrite:
        file.kind = RedirectKind::kRead;
        break;
      case Redirect::Op::kOutput:
      case Redirect::Op::kClobber:
      case Redirect::Op::kOutputBoth:
        file.kind = RedirectKind::kTruncate;
        break;
      case Redirect::Op::kAppend:
      case Redirect::Op::kAppendBoth:
        file.kind = RedirectKind::kAppend;
        break;
      case Redirect::Op::kDupInput:
      case Redirect::Op::kDupOutput: {
        const std::string& t = file.target.text;
        bool is_fd =
            !t.empty() && (t == "-" || std::all_of(t.begin(), t.end(), [](char c) {
                             return std::isdigit(static_cast<unsigned char>(c)) || c == '-';
                           }));
        file.kind = (is_fd || redirect.op == Redirect::Op::kDupInput) ? RedirectKind::kDup
                                                                      : RedirectKind::kTruncate;
        break;
      }
      default:
        break;
    }
    inv->redirects.push_back(std::move(file));
  }
}

void Evaluator::Emit(Invocation inv) {
  if (Spent()) return;
  if (++invocations_ > limits_.max_invocations) {
    exhausted_ = true;
    sink_.OnOpaque("the input runs more commands than dualkey evaluates (" +
                   std::to_string(limits_.max_invocations) + ")");
    return;
  }
  if (inv.cwd.empty()) inv.cwd = cwd_;
  inv.depth = depth_;
  sink_.OnInvocation(inv);
}

PredictedOutput Evaluator::CommandSubstitutionValue(const List& body) {
  // The substitution's commands run too: evaluate them in a subshell scope.
  Snapshot saved = Save();
  if (exhausted_) return {};
  PredictedOutput output;
  if (body.items.size() == 1 && body.items[0].rest.empty() && !body.items[0].background) {
    output = RunPipeline(body.items[0].first, /*want_output=*/true);
  } else {
    RunList(body);
  }
  Restore(std::move(saved));
  if (output.text) {
    // $(...) drops trailing newlines.
    while (!output.text->empty() && output.text->back() == '\n') output.text->pop_back();
  }
  return output;
}

std::vector<Arg> Evaluator::ExpandWord(const Word& word, bool split_fields) {
  if (Spent() || !budget_->Step()) {
    Spent();
    return {Arg{word.source, false}};
  }
  std::vector<Field> fields(1);
  bool overflow = false;
  auto charge = [&](std::size_t bytes) {
    if (overflow) return false;
    if (!budget_->ChargeBytes(bytes)) overflow = true;
    return !overflow;
  };

  // Field splitting follows IFS: whitespace runs and each other IFS
  // character delimit fields. An IFS set at run time makes it unknowable.
  const Variable* ifs_var = nullptr;
  if (auto it = vars_.find("IFS"); it != vars_.end()) ifs_var = &it->second;
  const bool ifs_known = ifs_var == nullptr || ifs_var->known;
  const std::string ifs = ifs_var != nullptr ? ifs_var->value : std::string(" \t\n");
  auto is_ifs = [&](char c) { return ifs.find(c) != std::string::npos; };
  auto is_ifs_space = [&](char c) { return (c == ' ' || c == '\t' || c == '\n') && is_ifs(c); };
  bool pending_split = false;  // the next text starts a new field
  auto current = [&]() -> Field& {
    if (pending_split) {
      pending_split = false;
      if (fields.back().started || !fields.back().text.empty()) fields.emplace_back();
    }
    return fields.back();
  };

  // Appends one expanded value; unquoted known values split on IFS.
  auto append_value = [&](const std::string& value, bool quoted, bool known, bool temp, bool glob) {
    if (!charge(value.size())) return;
    auto add = [&](std::string_view piece) {
      Field& field = current();
      field.known = field.known && known;
      field.temp = field.temp || temp;
      field.glob_value = field.glob_value || glob;
      field.Append(piece, kExpanded);
    };
    if (quoted || !split_fields || !known || ifs.empty()) {
      Field& field = current();
      field.known = field.known && known;
      field.temp = field.temp || temp;
      field.glob_value = field.glob_value || glob;
      const bool was_started = field.started;
      field.Append(value, quoted ? kQuoted : kExpanded);
      if (!quoted && value.empty()) field.started = was_started;  // $EMPTY is no word
      return;
    }
    if (!ifs_known) {
      Field& field = current();
      field.known = false;
      field.Append(value, kExpanded);
      return;
    }
    std::size_t i = 0;
    const std::size_t n = value.size();
    if (n > 0 && is_ifs_space(value[0])) {
      pending_split = true;
      while (i < n && is_ifs_space(value[i])) ++i;
    }
    std::size_t piece_start = i;
    bool have = false;
    while (i < n) {
      if (!is_ifs(value[i])) {
        if (!have) piece_start = i;
        have = true;
        ++i;
        continue;
      }
      std::string_view piece =
          have ? std::string_view(value).substr(piece_start, i - piece_start) : std::string_view();
      std::size_t j = i;
      while (j < n && is_ifs_space(value[j])) ++j;
      bool hard = j < n && is_ifs(value[j]) && !is_ifs_space(value[j]);
      if (hard) {
        ++j;
        while (j < n && is_ifs_space(value[j])) ++j;
      }
      if (have || hard) add(piece);
      have = false;
      pending_split = true;
      i = j;
    }
    if (have) add(std::string_view(value).substr(piece_start));
  };

  auto expand_parts = [&](const std::vector<WordPart>& parts, bool force_quoted) {
    for (const WordPart& part : parts) {
      if (overflow) return;
      const bool quoted = part.quoted || force_quoted;
      switch (part.kind) {
        case WordPart::Kind::kLiteral: {
          if (!charge(part.text.size())) return;
          Field& field = current();
          field.Append(part.text, quoted ? kQuoted : kLiteral);
          break;
        }
        case WordPart::Kind::kParam: {
          std::string name = part.text;
          if (!IsSpecialParam(name) && name.find('[') != std::string::npos)
            name = EvaluateSubscripted(name);
          // A copy: expanding an operand may run a substitution that
          // replaces vars_, which would leave an iterator dangling.
          std::optional<Variable> var;
          if (!IsSpecialParam(name)) {
            if (auto found = vars_.find(name); found != vars_.end()) {
              var = found->second;
            } else if (name.ends_with("[@]") || name.ends_with("[*]")) {
              if (auto whole = vars_.find(std::string_view(name).substr(0, name.size() - 3));
                  whole != vars_.end())
                var = whole->second;
            }
          }
          const bool set = var.has_value();
          const bool glob = set && vars_.contains(name + "\x01glob");
          const std::string& op = part.param_op;
          if (op.empty()) {
            if (set)
              append_value(var->value, quoted, var->known, var->temp, glob);
            else
              append_value("$" + name, quoted, false, false, false);
          } else if (op == ":-" || op == "-" || op == ":=" || op == "=") {
            if (set && !(op[0] == ':' && var->known && var->value.empty())) {
              append_value(var->value, quoted, var->known, var->temp, glob);
            } else {
              // Unset here: the default is what the command would most
              // plausibly get.
              Word operand{part.operand, {}};
              Arg value = ExpandSingle(operand);
              if (op.back() == '=')
                SetVariable(name, Variable{value.text, value.known, value.temp});
              append_value(value.text, quoted, value.known, value.temp, false);
            }
          } else if (op == ":?" || op == "?") {
            if (set)
              append_value(var->value, quoted, var->known, var->temp, glob);
            else
              append_value("$" + name, quoted, false, false, false);
          } else if (op == ":+" || op == "+") {
            if (set && var->known) {
              Arg value = ExpandSingle(Word{part.operand, {}});
              append_value(value.text, quoted, value.known, value.temp, false);
            } else if (!set) {
              append_value("${" + name + "+...}", quoted, false, false, false);
            }
          } else if (op == "#len") {
            if (set && var->known)
              append_value(std::to_string(var->value.size()), quoted, true, false, false);
            else
              append_value("${#" + name + "}", quoted, false, false, false);
          } else if (op == "#" || op == "##" || op == "%" || op == "%%") {
            Arg pattern = ExpandSingle(Word{part.operand, {}});
            bool ok = false;
            std::string value;
            if (set && var->known && pattern.known)
              value = RemovePattern(var->value, pattern.text, op, &ok);
            if (ok)
              append_value(value, quoted, true, var->temp, glob);
            else
              append_value("${" + name + op + "...}", quoted, false, false, false);
          } else if (op == "!") {
            // ${!ref}: the variable whose name ref holds (a subscript in it runs).
            std::optional<Variable> target;
            if (set && var->known && !var->value.empty()) {
              std::string target_name = var->value;
              if (target_name.find('[') != std::string::npos)
                target_name = EvaluateSubscripted(target_name);
              if (auto found = vars_.find(target_name); found != vars_.end())
                target = found->second;
            }
            if (target)
              append_value(target->value, quoted, target->known, target->temp, false);
            else
              append_value("${!" + name + "}", quoted, false, false, false);
          } else {
            // Other operators (substrings, replacement, case): the operand's
            // substitutions still run; a substring's offsets are arithmetic.
            Arg operand = ExpandSingle(Word{part.operand, {}});
            if (op == ":" && operand.known) {
              std::size_t colon = operand.text.find(':');
              EvaluateExpandedArith(std::string_view(operand.text).substr(0, colon));
              if (colon != std::string::npos)
                EvaluateExpandedArith(std::string_view(operand.text).substr(colon + 1));
            }
            append_value("${" + name + op + "...}", quoted, false, false, false);
          }
          break;
        }
        case WordPart::Kind::kCommandSub: {
          PredictedOutput value =
              part.body ? CommandSubstitutionValue(*part.body) : PredictedOutput{std::string()};
          if (value.text)
            append_value(*value.text, quoted, true, value.temp, false);
          else
            append_value("$(...)", quoted, false, false, false);
          break;
        }
        case WordPart::Kind::kArith: {
          std::optional<long long> value = EvaluateArith(part.text);
          if (value)
            append_value(std::to_string(*value), quoted, true, false, false);
          else
            append_value("$((...))", quoted, false, false, false);
          break;
        }
        case WordPart::Kind::kProcessSub: {
          if (part.body) {
            Snapshot saved = Save();
            if (!exhausted_) {
              RunList(*part.body);
              Restore(std::move(saved));
            }
          }
          if (!charge(6)) return;
          Field& field = current();
          field.Append(part.process_sub_output ? ">(...)" : "<(...)", kQuoted);
          field.known = false;
          break;
        }
      }
    }
  };
  expand_parts(word.parts, false);

  std::vector<Arg> out;
  std::size_t bytes_left =
      budget_->limits().max_expansion_bytes -
      std::min(budget_->expanded_bytes(), budget_->limits().max_expansion_bytes);
  for (Field& field : fields) {
    if (!field.started && field.text.empty()) continue;
    ExpandTilde(&field, home_);
    std::vector<Field> expanded;
    std::size_t before = bytes_left;
    bool brace_overflow = false;
    if (!split_fields ||
        !ExpandBraces(field, limits_.max_brace_words, &bytes_left, &brace_overflow, &expanded)) {
      expanded.push_back(std::move(field));
    } else if (!charge(before - bytes_left) || brace_overflow) {
      overflow = true;
    }
    for (Field& f : expanded) {
      Arg arg;
      arg.glob = HasGlob(f) || f.glob_value;
      arg.known = f.known && !overflow;
      arg.temp = f.temp;
      arg.text = std::move(f.text);
      out.push_back(std::move(arg));
    }
  }
  if (overflow) {
    budget_->Exhaust("the command expands to more than " +
                     std::to_string(budget_->limits().max_expansion_bytes / 1024) +
                     " KiB of text, more than dualkey evaluates");
    Spent();
  }
  return out;
}

Arg Evaluator::ExpandSingle(const Word& word) {
  std::vector<Arg> args = ExpandWord(word, false);
  if (args.empty()) return Arg{};
  if (args.size() == 1) return std::move(args[0]);
  Arg joined = std::move(args[0]);
  for (std::size_t i = 1; i < args.size(); ++i) {
    joined.text += " " + args[i].text;
    joined.known = joined.known && args[i].known;
    joined.glob = joined.glob || args[i].glob;
  }
  return joined;
}

}  // namespace dualkey::shell
