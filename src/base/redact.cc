#include "base/redact.h"

#include <array>
#include <cstdint>
#include <optional>
#include <regex>
#include <vector>

#include "base/internal/redact.h"

namespace dualkey::base {
namespace {

struct Rule {
  std::regex pattern;
  std::string replacement;
  // A match needs one of these in the text (ASCII case folded, as the
  // pattern's icase does, unless `exact`): without one the rule is skipped.
  // std::regex with icase costs ~1 µs a character, and most text (a
  // `SELECT` the PostgreSQL proxy reports, a GET the gateway forwards)
  // contains none, so this is what keeps the audit of every decision cheap.
  std::vector<std::string_view> needs;
  bool exact = false;
  std::uint64_t mask = 0;  // `needs` as bits of NeedleTable::all (NumberNeedles)
  // For a pattern that opens with a run of a class of characters ("name"
  // characters before a secret word, a URL's scheme): where a match may
  // begin. std::regex tries every place, and from every place inside a long
  // run it reads the rest of the run again: quadratic (an 8 KiB run of
  // letters after "token=" took seconds). A match that begins inside a run
  // also begins at the run's first character that may begin one (the
  // opening class takes the characters between), so only that place of
  // each run is tried (ReplaceFromRunStarts). nullptr: every place.
  const std::array<bool, 256>* run = nullptr;    // the run's characters
  const std::array<bool, 256>* first = nullptr;  // those a match may begin with
  // The same rule written so that a name is read once: "[name]*SECRET[name]*"
  // reads the rest of the name again for every secret word in it when what
  // follows the name does not match ("tokentoken…" 8 KiB long took ~1 s);
  // "(?=[name]*SECRET)[name]+" checks for the word once, then takes the
  // name whole. The same matches where the name is followed by characters
  // that cannot be in it, as in every rule that has one (RedactSecrets
  // uses it; RedactSecretsEveryRule runs `pattern`, to check it against).
  std::optional<std::regex> fast = std::nullopt;
  // With `run`: whether a match may begin at `at` at all, checked by hand
  // before the pattern runs there (a pattern that fails reads the run again
  // for every secret word in it). nullptr: it may.
  bool (*may_begin)(std::string_view text, std::size_t at) = nullptr;
};

// ASCII lower case, other bytes as they are: what std::regex's icase
// compares in the classic locale.
constexpr unsigned char FoldAscii(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}
// An ASCII letter's other case; other bytes as they are.
constexpr unsigned char UnfoldAscii(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<unsigned char>(c - 'A' + 'a');
  if (c >= 'a' && c <= 'z') return static_cast<unsigned char>(c - 'a' + 'A');
  return c;
}

constexpr std::array<bool, 256> CharClass(std::string_view extra, bool letters, bool digits) {
  std::array<bool, 256> chars{};
  for (int c = 0; c < 256; ++c)
    chars[c] = (letters && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) ||
               (digits && c >= '0' && c <= '9') || extra.find(static_cast<char>(c)) != extra.npos;
  return chars;
}
// [A-Za-z0-9_.-]: a secret-ish name (name=value).
constexpr std::array<bool, 256> kNameChars = CharClass("_.-", true, true);
// [a-z0-9-] with icase: an HTTP header's name.
constexpr std::array<bool, 256> kHeaderChars = CharClass("-", true, true);
// [a-z][a-z0-9+.-]* with icase: a URL's scheme.
constexpr std::array<bool, 256> kSchemeChars = CharClass("+.-", true, true);
constexpr std::array<bool, 256> kLetters = CharClass("", true, false);

bool IsRegexSpace(char c) {  // \s
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// What the header rule needs around a name that begins at `at`, by hand:
// the name ([a-z0-9-] and a secret word, which alone may hold a '_') runs
// to the end of the [A-Za-z0-9_-] run it is in, and is followed by
// "\s*:\s*" and a character that is not a quote or a newline. At most one
// '_' can be in it, inside one of the secret words spelled with one.
bool HeaderMayBegin(std::string_view text, std::size_t at) {
  static constexpr std::array<bool, 256> kNameOrUnderscore = CharClass("-_", true, true);
  std::size_t end = at;
  std::size_t underscore = std::string_view::npos;
  while (end < text.size() && kNameOrUnderscore[static_cast<unsigned char>(text[end])]) {
    if (text[end] == '_') {
      if (underscore != std::string_view::npos) return false;  // two: no one word holds both
      underscore = end;
    }
    ++end;
  }
  if (underscore != std::string_view::npos) {
    bool covered = false;
    for (std::string_view word : {"api_key", "access_key", "private_key", "client_secret"}) {
      const std::size_t offset = word.find('_');
      if (underscore - at < offset || underscore - offset + word.size() > end) continue;
      bool same = true;
      for (std::size_t k = 0; k < word.size() && same; ++k) {
        same = FoldAscii(static_cast<unsigned char>(text[underscore - offset + k])) ==
               static_cast<unsigned char>(word[k]);
      }
      covered = covered || same;
    }
    if (!covered) return false;
  }
  std::size_t p = end;
  while (p < text.size() && IsRegexSpace(text[p])) ++p;
  if (p == text.size() || text[p] != ':') return false;
  // "\s*" then one of [^'"\n]: a space or tab it gave back, or what follows.
  for (++p; p < text.size(); ++p) {
    if (!IsRegexSpace(text[p])) return text[p] != '\'' && text[p] != '"';
    if (text[p] != '\n') return true;
  }
  return false;
}

// Every rule's needles, numbered, so that a text is scanned once for all of
// them (NeedlesIn) instead of once per needle (thirty-odd finds, a sixth of
// the daemon's time per decision a proxy reports).
struct Needle {
  std::string_view text;
  bool exact;
};
struct NeedleTable {
  std::vector<Needle> all;  // at most 64
  // By first byte: the needles that may start there (folded, exact).
  std::array<std::vector<std::uint8_t>, 256> folded_first, exact_first;
  // By the first two bytes as they are in the text (a folded needle's in
  // every case): whether any needle may start with them. Most needles'
  // first letters are common ('s', 'a', 't' in any SQL text), but few pairs
  // are, so most places of most text are passed at this one look, with no
  // folding.
  std::array<std::uint64_t, 65536 / 64> starts{};
  bool MayStart(unsigned char first, unsigned char second) const {
    const unsigned pair = unsigned{first} << 8 | second;
    return (starts[pair / 64] >> (pair % 64) & 1) != 0;
  }
  void AddStart(unsigned char first, unsigned char second) {
    const unsigned pair = unsigned{first} << 8 | second;
    starts[pair / 64] |= std::uint64_t{1} << (pair % 64);
  }
};

// Every alternative of the secret-name pattern below contains one of these.
constexpr std::array<std::string_view, 15> kSecretNameParts = {
    "token", "secret",  "pwd",    "pass", "api",    "access", "private", "credential",
    "auth",  "session", "cookie", "sig",  "bearer", "jwt",    "dsn"};

// The rules, and their needles numbered (each rule's `mask`), made once.
struct Redactor {
  std::vector<Rule> rules;
  NeedleTable needles;
  bool every_text = false;  // a rule runs whatever the needles (it has none, or too many)
};

void NumberNeedles(Redactor* redactor) {
  NeedleTable& t = redactor->needles;
  for (Rule& rule : redactor->rules) {
    rule.mask = 0;
    for (std::string_view needle : rule.needs) {
      std::size_t index = 0;
      while (index < t.all.size() &&
             (t.all[index].text != needle || t.all[index].exact != rule.exact))
        ++index;
      if (index == 64 ||
          needle.size() < 2) {  // no bit left (or NeedleAt's two bytes): it always runs
        rule.mask = ~std::uint64_t{0};
        break;
      }
      if (index == t.all.size()) {
        t.all.push_back({needle, rule.exact});
        const auto first = static_cast<unsigned char>(needle.front());
        (rule.exact ? t.exact_first : t.folded_first)[first].push_back(
            static_cast<std::uint8_t>(index));
        const auto second = static_cast<unsigned char>(needle[1]);
        if (rule.exact) {
          t.AddStart(first, second);
        } else {
          // Each byte as it may be written: itself and, for a letter, its
          // other case (the text is not folded before the look).
          for (const unsigned char a : {first, UnfoldAscii(first)})
            for (const unsigned char b : {second, UnfoldAscii(second)}) t.AddStart(a, b);
        }
      }
      rule.mask |= std::uint64_t{1} << index;
    }
  }
}

const Redactor& TheRedactor() {
  using std::regex;
  constexpr auto kFlags = regex::ECMAScript | regex::icase | regex::optimize;
  // Made once: the first call builds the patterns (the texts below are
  // inside the initializer, so that a call does not build them again: it
  // runs for every decision the daemon records).
  static const Redactor redactor = [] {
    // Names that mark a value as secret, wherever they appear in a name.
    const std::string secret_name =
        "(?:token|secret|passw(?:or)?d|passwd|pwd|pass|api[_-]?key|apikey|access[_-]?key|"
        "private[_-]?key|client[_-]?secret|credential|auth|session|cookie|signature|sig|"
        "bearer|jwt|dsn)";
    const std::string value = "(?:'[^']*'|\"[^\"]*\"|[^\\s&;,'\"]+)";
    Redactor made;
    std::vector<Rule>& r = made.rules;
    // PEM private keys, whole.
    r.push_back({regex("-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\\s\\S]*?(?:-----END [A-Z0-9 "
                       "]*PRIVATE KEY-----|$)",
                       kFlags),
                 "[redacted private key]",
                 {"-----begin"}});
    // user:password@ in any URL or connection string.
    r.push_back(
        {regex("([a-z][a-z0-9+.-]*://[^/\\s:@]*):[^/\\s@]*@", kFlags), "$1:[redacted]@", {"://"}});
    r.back().run = &kSchemeChars;
    r.back().first = &kLetters;
    // HTTP headers that carry credentials: Authorization: Bearer ..., X-Api-Key: ...
    r.push_back({regex("((?:authorization|proxy-authorization|cookie|set-cookie|"
                       "x-[a-z0-9-]*" +
                           secret_name + "[a-z0-9-]*|[a-z0-9-]*" + secret_name +
                           "[a-z0-9-]*)\\s*:\\s*)(?:(?:bearer|basic|token|digest)\\s+)?[^'\"\\n]+",
                       kFlags),
                 "$1[redacted]",
                 {kSecretNameParts.begin(), kSecretNameParts.end()}});
    r.back().run = r.back().first = &kHeaderChars;
    r.back().may_begin = &HeaderMayBegin;
    // Authorization schemes anywhere.
    r.push_back({regex("\\b(bearer|basic|token)\\s+[A-Za-z0-9._~+/=-]{8,}", kFlags),
                 "$1 [redacted]",
                 {"bearer", "basic", "token"}});
    // SQL: PASSWORD '...', IDENTIFIED BY '...'.
    r.push_back({regex("\\b(password|identified\\s+by)(\\s+)('[^']*'|\"[^\"]*\")", kFlags),
                 "$1$2'[redacted]'",
                 {"password", "identified"}});
    // name=value and name: value where the name is secret-ish (env, query, JSON, TOML).
    r.push_back(
        {regex("([A-Za-z0-9_.-]*" + secret_name + "[A-Za-z0-9_.-]*[\"']?\\s*[=:]\\s*)" + value,
               kFlags),
         "$1[redacted]",
         {kSecretNameParts.begin(), kSecretNameParts.end()}});
    r.back().run = r.back().first = &kNameChars;
    r.back().fast =
        regex("((?=[A-Za-z0-9_.-]*" + secret_name + ")[A-Za-z0-9_.-]+[\"']?\\s*[=:]\\s*)" + value,
              kFlags);
    // --password VALUE, --api-key VALUE, -token VALUE.
    r.push_back(
        {regex("(\\s--?[A-Za-z0-9_-]*" + secret_name + "[A-Za-z0-9_-]*\\s+)" + value, kFlags),
         "$1[redacted]",
         {kSecretNameParts.begin(), kSecretNameParts.end()}});
    r.back().fast =
        regex("(\\s--?(?=[A-Za-z0-9_-]*" + secret_name + ")[A-Za-z0-9_-]+\\s+)" + value, kFlags);
    // Token shapes that announce themselves.
    r.push_back(
        {regex("\\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
               "xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{16,}|"
               "(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}|"
               "glpat-[A-Za-z0-9_-]{16,}|eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*)",
               regex::ECMAScript | regex::optimize),
         "[redacted]",
         {"gh", "github_pat_", "xox", "sk-", "AKIA", "ASIA", "AIza", "glpat-", "eyJ"},
         /*exact=*/true});
    NumberNeedles(&made);
    for (const Rule& rule : made.rules)
      made.every_text = made.every_text || rule.needs.empty() || rule.mask == ~std::uint64_t{0};
    return made;
  }();
  return redactor;
}

// Whether `needle` (two bytes or more; folded needles are lower case)
// starts at `at`, compared folded or exactly. The second byte is compared
// before the rest, because most places where a needle's first letter
// occurs ('s', 'a', 't' in any SQL text) are not one.
bool NeedleAt(std::string_view text, std::size_t at, std::string_view needle, bool exact) {
  if (text.size() - at < needle.size()) return false;
  if (exact) return text[at + 1] == needle[1] && text.compare(at, needle.size(), needle) == 0;
  for (std::size_t k = 1; k < needle.size(); ++k)
    if (FoldAscii(static_cast<unsigned char>(text[at + k])) !=
        static_cast<unsigned char>(needle[k]))
      return false;
  return true;
}

// Which needles occur in `text`: folded ones as icase compares, exact ones
// byte for byte.
std::uint64_t NeedlesIn(const NeedleTable& table, std::string_view text) {
  std::uint64_t found = 0;
  // Every needle has two bytes or more (NumberNeedles): none starts at the last.
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (!table.MayStart(byte, static_cast<unsigned char>(text[i + 1]))) continue;
    for (std::uint8_t index : table.folded_first[FoldAscii(byte)])
      if (NeedleAt(text, i, table.all[index].text, false)) found |= std::uint64_t{1} << index;
    for (std::uint8_t index : table.exact_first[byte])
      if (NeedleAt(text, i, table.all[index].text, true)) found |= std::uint64_t{1} << index;
  }
  return found;
}

constexpr std::array<bool, 256> kTokenChars = CharClass("+=_-", true, true);
bool IsTokenChar(char c) {
  return kTokenChars[static_cast<unsigned char>(c)];
}

// Long random-looking runs: 24+ characters of base64/hex alphabet that mix
// digits with upper and lower case, or 32+ hex digits. Paths ('/') and
// words stay.
// nullopt when there is none: the text stays as it is, not copied.
std::optional<std::string> RedactRandomRuns(std::string_view text, int* count) {
  std::string out;
  std::size_t i = 0;
  std::size_t copied = 0;  // text before this is in `out` already
  while (i < text.size()) {
    if (!IsTokenChar(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && IsTokenChar(text[j])) ++j;
    const std::size_t length = j - i;
    if (length < 24) {  // most runs are words: too short to be random
      i = j;
      continue;
    }
    bool lower = false, upper = false, digit = false, hex = true;
    for (std::size_t k = i; k < j; ++k) {
      const char c = text[k];
      lower = lower || (c >= 'a' && c <= 'z');
      upper = upper || (c >= 'A' && c <= 'Z');
      digit = digit || (c >= '0' && c <= '9');
      hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
    }
    const bool random = (lower && upper && digit) || (length >= 32 && hex && digit);
    const std::string_view run(text.data() + i, length);
    if (random && run.find("[redacted") == std::string_view::npos) {
      out.append(text, copied, i - copied);
      out += kRedacted;
      copied = j;
      ++*count;
    }
    i = j;
  }
  if (copied == 0) return std::nullopt;  // most text
  out.append(text.substr(copied));
  return out;
}

// std::regex_replace(text, rule.pattern, rule.replacement) for a rule with
// a `run`, trying a match only where one may begin (Rule::run).
std::string ReplaceFromRunStarts(const std::string& text, const Rule& rule) {
  std::string out;
  std::size_t copied = 0;  // text before this is in `out` already
  bool tried = false;      // a match was tried in the run this place is in
  std::smatch match;
  for (std::size_t at = 0; at < text.size();) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (!(*rule.run)[c]) {
      tried = false;
      ++at;
      continue;
    }
    if (tried || !(*rule.first)[c]) {
      ++at;
      continue;
    }
    tried = true;
    if (rule.may_begin != nullptr && !rule.may_begin(text, at)) {
      ++at;
      continue;
    }
    auto flags = std::regex_constants::match_continuous;
    if (at > 0) flags |= std::regex_constants::match_prev_avail;
    if (!std::regex_search(text.cbegin() + static_cast<std::ptrdiff_t>(at), text.cend(), match,
                           rule.fast ? *rule.fast : rule.pattern, flags) ||
        match.length(0) == 0) {
      ++at;
      continue;
    }
    out.append(text, copied, at - copied);
    out += match.format(rule.replacement);
    at += static_cast<std::size_t>(match.length(0));
    copied = at;
    tried = false;  // the search goes on from the match's end, as regex_replace's
  }
  if (copied == 0) return text;
  out.append(text, copied, std::string::npos);
  return out;
}

// Every rule over `text`. `fast`: a rule runs only when the text holds one
// of its needles (what keeps the audit of every decision cheap), and tries
// a match only where one may begin (Rule::run); else every pattern runs as
// std::regex_replace runs it (RedactSecretsEveryRule, to check the fast
// way against).
std::string Redact(std::string_view text, std::size_t max_bytes, int* redactions, bool fast) {
  std::string out(text.substr(0, max_bytes));
  if (text.size() > max_bytes) out += " [cut]";
  int count = 0;
  try {
    const Redactor& redactor = TheRedactor();
    std::uint64_t found = fast ? NeedlesIn(redactor.needles, out) : ~std::uint64_t{0};
    for (const Rule& rule : redactor.rules) {
      if (!rule.needs.empty() && (found & rule.mask) == 0) continue;
      std::string next =
          !fast ? std::regex_replace(out, rule.pattern, rule.replacement)
          : rule.run != nullptr
              ? ReplaceFromRunStarts(out, rule)
              : std::regex_replace(out, rule.fast ? *rule.fast : rule.pattern, rule.replacement);
      if (next == out) continue;
      ++count;
      out = std::move(next);
      if (fast) found = NeedlesIn(redactor.needles, out);
    }
  } catch (...) {
    // A regex engine that gives up (too complex input) must not leak: say nothing.
    if (redactions != nullptr) *redactions = 1;
    return "[redacted: the text could not be checked for secrets]";
  }
  if (std::optional<std::string> runs = RedactRandomRuns(out, &count)) out = std::move(*runs);
  if (redactions != nullptr) *redactions = count;
  return out;
}

}  // namespace

std::optional<std::string> RedactSecretsIfAny(std::string_view text, std::size_t max_bytes,
                                              int* redactions) {
  const Redactor& redactor = TheRedactor();
  if (text.size() > max_bytes || redactor.every_text || NeedlesIn(redactor.needles, text) != 0) {
    std::string out = Redact(text, max_bytes, redactions, /*fast=*/true);
    if (out == text) return std::nullopt;
    return out;
  }
  // No rule runs: only a random run could be redacted.
  int count = 0;
  std::optional<std::string> out = RedactRandomRuns(text, &count);
  if (redactions != nullptr) *redactions = count;
  return out;
}

std::string RedactSecrets(std::string_view text, std::size_t max_bytes, int* redactions) {
  if (std::optional<std::string> changed = RedactSecretsIfAny(text, max_bytes, redactions))
    return std::move(*changed);
  return std::string(text);
}

namespace internal {

std::string RedactSecretsEveryRule(std::string_view text, std::size_t max_bytes) {
  return Redact(text, max_bytes, nullptr, /*fast=*/false);
}

}  // namespace internal

}  // namespace dualkey::base
