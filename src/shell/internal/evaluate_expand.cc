// Word expansion: parameters, command substitution, brace, tilde and glob
// expansion, field splitting (Evaluator::ExpandWord and friends).

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
}  // namespace
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
