// What every database client handler shares: text helpers, the option walker,
// emitting helpers, where a client's SQL comes from on stdin, connection targets.

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/dbcli/dbcli.h"

namespace dualkey::shell::dbcli {

// ---------------------------------------------------------------- text helpers

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool IsBlank(std::string_view text) {
  return Trim(text).empty();
}

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

std::string_view Basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Removes one level of matching quotes: 'x', "x", `x`.
std::string_view Unquote(std::string_view text) {
  if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"' || text.front() == '`') &&
      text.back() == text.front())
    return text.substr(1, text.size() - 2);
  return text;
}

// Splits a line into words with simple quote handling (for client commands
// and redis command lines, not for shell text).
std::vector<std::string> SplitWords(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i >= line.size()) break;
    std::string word;
    while (i < line.size() && !IsSpace(line[i])) {
      char c = line[i];
      if (c == '"' || c == '\'') {
        ++i;
        while (i < line.size() && line[i] != c) {
          if (c == '"' && line[i] == '\\' && i + 1 < line.size()) ++i;
          word.push_back(line[i++]);
        }
        if (i < line.size()) ++i;
      } else {
        word.push_back(c);
        ++i;
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

// ------------------------------------------------------------ option walking

// "-x" for every byte, so clustered flags (-it) can be reported one by one.
constexpr std::array<char, 512> kShortNames = [] {
  std::array<char, 512> names{};
  for (int k = 0; k < 256; ++k) {
    names[2 * k] = '-';
    names[2 * k + 1] = static_cast<char>(k);
  }
  return names;
}();

std::string_view ShortName(char c) {
  return std::string_view(&kShortNames[2 * static_cast<unsigned char>(c)], 2);
}

std::vector<Word> Walk(std::span<const Arg> args, const OptionSpec& spec) {
  std::vector<Word> words;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const Arg& arg = args[i];
    std::string_view text = arg.text;
    if (options_done || text.size() < 2 || text[0] != '-') {
      words.push_back({{}, text, true, arg.known});
      continue;
    }
    if (text == "--") {
      options_done = true;
      continue;
    }
    if (text.starts_with("--")) {
      auto eq = text.find('=');
      if (eq != std::string_view::npos) {
        words.push_back({text.substr(0, eq), text.substr(eq + 1), true, arg.known});
      } else if (InList(spec.long_with_value, text) && i + 1 < args.size()) {
        words.push_back({text, args[i + 1].text, true, args[i + 1].known});
        ++i;
      } else {
        words.push_back({text, {}, false, arg.known});
      }
      continue;
    }
    for (std::size_t j = 1; j < text.size(); ++j) {
      const char c = text[j];
      Word word;
      word.known = arg.known;
      word.option = ShortName(c);
      if (spec.short_attached_only.find(c) != std::string_view::npos) {
        word.value = text.substr(j + 1);
        word.has_value = !word.value.empty();
        words.push_back(word);
        break;
      }
      if (spec.short_with_value.find(c) != std::string_view::npos) {
        if (j + 1 < text.size()) {
          word.value = text.substr(j + 1);
          word.has_value = true;
        } else if (i + 1 < args.size() &&
                   !(spec.value_not_long_option && args[i + 1].text.starts_with("--"))) {
          word.value = args[i + 1].text;
          word.known = args[i + 1].known;
          word.has_value = true;
          ++i;
        }
        words.push_back(word);
        break;
      }
      words.push_back(word);
    }
  }
  return words;
}

bool IsOpt(const Word& word, std::string_view short_name, std::string_view long_name) {
  return (!short_name.empty() && word.option == short_name) ||
         (!long_name.empty() && word.option == long_name);
}

bool HasOpt(const std::vector<Word>& words, std::string_view short_name,
            std::string_view long_name) {
  for (const Word& word : words)
    if (IsOpt(word, short_name, long_name)) return true;
  return false;
}

std::string_view OptValue(const std::vector<Word>& words, std::string_view short_name,
                          std::string_view long_name) {
  for (const Word& word : words)
    if (word.has_value && IsOpt(word, short_name, long_name)) return word.value;
  return {};
}

std::vector<const Word*> OperandsOf(const std::vector<Word>& words) {
  std::vector<const Word*> out;
  for (const Word& word : words)
    if (word.option.empty()) out.push_back(&word);
  return out;
}

// ---------------------------------------------------------------- emitting

std::vector<std::string> Targets(std::string_view target) {
  if (target.empty()) return {};
  return {std::string(target)};
}

void EmitRead(Context& ctx, std::string_view target, std::string reason) {
  ctx.Emit(MakeAction("db.read", Targets(target), Reversibility::kReversible, Severity::kNone,
                      std::move(reason)));
}

// The SQL file a client is told to run (`psql -f FILE`), when it is on this
// machine and readable: then its statements are classified like -c ones.
// A file on a remote host or in a container, or one too large, is not read.
bool ReadLocalSqlFile(const Invocation& inv, const Word& word, std::string* out) {
  constexpr std::size_t kMaxBytes = 1 << 20;
  if (inv.remote || !word.known || word.value.empty()) return false;
  std::string path(word.value);
  if (path[0] != '/') {
    if (inv.cwd.empty()) return false;
    path = inv.cwd + "/" + path;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(kMaxBytes + 1, '\0');
  in.read(out->data(), static_cast<std::streamsize>(out->size()));
  if (in.gcount() > static_cast<std::streamsize>(kMaxBytes)) return false;
  out->resize(static_cast<std::size_t>(in.gcount()));
  return true;
}

void EmitOpaqueSql(Context& ctx, std::string_view target, std::string reason) {
  ctx.Emit(MakeAction("opaque.sql", Targets(target), Reversibility::kUnknown, Severity::kMedium,
                      std::move(reason)));
}

void Emit(Context& ctx, std::string op_class, std::string_view target, Reversibility rev,
          Severity severity, std::string reason) {
  ctx.Emit(MakeAction(std::move(op_class), Targets(target), rev, severity, std::move(reason)));
}

// Text fed to stdin by an `echo`/`printf` earlier in the pipeline, if it is
// simple enough to know. Anything else (cat file, curl, gunzip) is unknown.
bool EchoedText(const Invocation& inv, std::string* out, bool* known) {
  if (!inv.stdin_piped || inv.piped_from.empty()) return false;
  std::string_view producer = Basename(inv.piped_from[0].text);
  std::size_t i = 1;
  if (producer == "echo") {
    while (i < inv.piped_from.size() &&
           (inv.piped_from[i].text == "-n" || inv.piped_from[i].text == "-e" ||
            inv.piped_from[i].text == "-E" || inv.piped_from[i].text == "-ne"))
      ++i;
  } else if (producer == "printf") {
    if (i >= inv.piped_from.size()) return false;
    std::string_view format = inv.piped_from[i].text;
    if (format.find('%') != std::string_view::npos) return false;
  } else {
    return false;
  }
  out->clear();
  if (known != nullptr) *known = true;
  for (; i < inv.piped_from.size(); ++i) {
    if (known != nullptr && !inv.piped_from[i].known) *known = false;
    if (!out->empty()) out->push_back(' ');
    out->append(inv.piped_from[i].text);
  }
  // printf and `echo -e` turn \n into newlines; splitting on them only helps.
  std::string text;
  for (std::size_t k = 0; k < out->size(); ++k) {
    if ((*out)[k] == '\\' && k + 1 < out->size() && (*out)[k + 1] == 'n') {
      text.push_back('\n');
      ++k;
    } else {
      text.push_back((*out)[k]);
    }
  }
  *out = std::move(text);
  return true;
}

bool StdinFromFile(const Invocation& inv, std::string* file) {
  for (const FileRedirect& redirect : inv.redirects) {
    if (redirect.kind == RedirectKind::kRead && (redirect.fd == -1 || redirect.fd == 0)) {
      *file = redirect.target.text;
      return true;
    }
  }
  return false;
}

// A dump tool feeding the client: copying a database. Dumps that start with
// DROP statements replace what the destination holds.
bool DumpProducer(const Invocation& inv, bool* drops) {
  if (!inv.stdin_piped || inv.piped_from.empty()) return false;
  std::string_view producer = Basename(inv.piped_from[0].text);
  std::span<const Arg> args = std::span<const Arg>(inv.piped_from).subspan(1);
  if (producer == "pg_dump" || producer == "pg_dumpall") {
    *drops = HasLongFlag(args, "--clean") || HasShortFlag(args, 'c');
    return true;
  }
  if (producer == "mysqldump" || producer == "mariadb-dump") {
    // --add-drop-table is on by default.
    *drops = !HasLongFlag(args, "--skip-add-drop-table") && !HasLongFlag(args, "--no-data");
    return true;
  }
  return false;
}

StdinSource ClientStdin(const Invocation& inv, std::string* text, bool* known) {
  if (known != nullptr) *known = true;
  if (inv.has_stdin_text) {
    *text = inv.stdin_text;
    if (known != nullptr) *known = inv.stdin_text_known;
    return StdinSource::kText;
  }
  if (StdinFromFile(inv, text)) return StdinSource::kFile;
  if (inv.stdin_piped)
    return EchoedText(inv, text, known) ? StdinSource::kText : StdinSource::kPipe;
  return StdinSource::kNone;
}

// Handles stdin that is not plain text: a file or an unknown producer.
// Returns true when it emitted something.
bool ClassifyUnreadableStdin(const Invocation& inv, StdinSource source, std::string_view file,
                             std::string_view target, std::string_view client, Context& ctx) {
  if (source == StdinSource::kFile) {
    EmitOpaqueSql(ctx, target,
                  std::string(client) + " runs the statements in " + std::string(file) +
                      ", which cannot be seen before it runs");
    return true;
  }
  if (source == StdinSource::kPipe) {
    bool drops = false;
    if (DumpProducer(inv, &drops)) {
      if (drops)
        Emit(ctx, "db.drop", target, Reversibility::kIrreversible, Severity::kHigh,
             "a dump with DROP statements is loaded into " + std::string(target) +
                 ", replacing its tables");
      else
        Emit(ctx, "db.restore", target, Reversibility::kReversible, Severity::kLow,
             "a dump is loaded into " + std::string(target) + " (creates objects, drops none)");
      return true;
    }
    EmitOpaqueSql(ctx, target,
                  std::string(client) +
                      " runs statements piped from another command, which "
                      "cannot be seen before it runs");
    return true;
  }
  return false;
}

// ------------------------------------------------------ connection targets

std::string PgTarget(std::string_view host, std::string_view db) {
  std::string target(host.empty() ? "localhost" : host);
  if (!db.empty()) {
    target.push_back('/');
    target.append(db);
  }
  return target;
}

// Reads host and database out of a postgres:// URI or "host=x dbname=y".
void ParseConnString(std::string_view conn, std::string* host, std::string* db) {
  if (IStartsWith(conn, "postgres://") || IStartsWith(conn, "postgresql://") ||
      IStartsWith(conn, "mysql://") || IStartsWith(conn, "mongodb://") ||
      IStartsWith(conn, "mongodb+srv://")) {
    std::string_view rest = conn.substr(conn.find("://") + 3);
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    auto at = authority.rfind('@');
    if (at != std::string_view::npos) authority = authority.substr(at + 1);
    if (!authority.empty()) *host = std::string(authority);
    if (slash != std::string_view::npos) {
      std::string_view path = rest.substr(slash + 1);
      path = path.substr(0, path.find('?'));
      if (!path.empty()) *db = std::string(path);
    }
    return;
  }
  if (conn.find('=') != std::string_view::npos) {
    for (const std::string& part : SplitWords(conn)) {
      std::string_view kv = part;
      if (kv.starts_with("host=")) *host = std::string(kv.substr(5));
      if (kv.starts_with("dbname=")) *db = std::string(kv.substr(7));
    }
    return;
  }
  *db = std::string(conn);
}

}  // namespace dualkey::shell::dbcli
