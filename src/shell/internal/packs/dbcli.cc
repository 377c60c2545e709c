// Database command-line clients: psql, mysql/mariadb, sqlite3, redis-cli,
// mongosh/mongo, clickhouse-client, cqlsh and the PostgreSQL/MySQL admin tools.
//
// The SQL a client runs (-c, -e, heredocs, echo pipes) is handed to the SQL
// classifier through Context::ClassifySql, which fails closed on text it does
// not understand. The clients' own commands (psql `\!`, sqlite `.shell`,
// mysql `system`) are split out first: shell escapes go to ClassifyScript and
// "run this file" commands are opaque, because we cannot see the file.
//
// ClickHouse and Cassandra speak dialects the PostgreSQL grammar rejects for
// ordinary reads (`SELECT count() ... FORMAT JSON`, CQL), so those two get a
// keyword scan of their own here; anything it does not recognise is opaque.
#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/packs.h"
#include "shell/internal/paths.h"

namespace dualkey::shell {
namespace {

// ---------------------------------------------------------------- text helpers

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

bool IStartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && IEquals(text.substr(0, prefix.size()), prefix);
}

bool IContains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (IEquals(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

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

// One word of a command line after option parsing.
struct Word {
  std::string_view option;  // "-c", "--command"; empty for an operand
  std::string_view value;   // the option's value or the operand's text
  bool has_value = false;
  bool known = true;
};

struct OptionSpec {
  std::string_view short_with_value;                  // e.g. "cdfhp": -c X, -cX
  std::string_view short_attached_only;               // e.g. "p" for mysql -pSECRET
  std::span<const std::string_view> long_with_value;  // "--command"
  // The value of a short option may not look like a long option (mongosh's
  // `-p` prompts when given no password: `-p --eval ...`).
  bool value_not_long_option = false;
};

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

bool IsOpt(const Word& word, std::string_view short_name, std::string_view long_name = {}) {
  return (!short_name.empty() && word.option == short_name) ||
         (!long_name.empty() && word.option == long_name);
}

bool HasOpt(const std::vector<Word>& words, std::string_view short_name,
            std::string_view long_name = {}) {
  for (const Word& word : words)
    if (IsOpt(word, short_name, long_name)) return true;
  return false;
}

std::string_view OptValue(const std::vector<Word>& words, std::string_view short_name,
                          std::string_view long_name = {}) {
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

std::span<const Arg> ArgsOf(const Invocation& inv) {
  return inv.argv.empty() ? std::span<const Arg>() : std::span<const Arg>(inv.argv).subspan(1);
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
bool EchoedText(const Invocation& inv, std::string* out, bool* known = nullptr) {
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

// Where SQL text for a client comes from when no -c/-e/-f names it.
enum class StdinSource { kNone, kText, kFile, kPipe };

StdinSource ClientStdin(const Invocation& inv, std::string* text, bool* known = nullptr) {
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

// ================================================================== psql

constexpr std::string_view kPsqlLong[] = {
    "--command",          "--dbname",    "--file",   "--host",     "--port", "--username",
    "--variable",         "--set",       "--output", "--log-file", "--pset", "--field-separator",
    "--record-separator", "--table-attr"};
constexpr OptionSpec kPsqlSpec{"cdfhpUvoLPFRT", "", kPsqlLong};

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

// Classifies the text psql runs: SQL interleaved with backslash commands.
class PsqlScript {
 public:
  PsqlScript(Context& ctx, std::string host, std::string db, int depth)
      : ctx_(ctx), host_(std::move(host)), db_(std::move(db)), depth_(depth) {}

  void Run(std::string_view text) {
    std::size_t i = 0;
    std::size_t chunk_start = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '\'') {
        const bool escapes = i > 0 && (text[i - 1] == 'E' || text[i - 1] == 'e') &&
                             (i < 2 || !IsIdentChar(text[i - 2]));
        for (++i; i < text.size(); ++i) {
          if (escapes && text[i] == '\\') {
            ++i;
            continue;
          }
          if (text[i] == '\'') break;
        }
        ++i;
      } else if (c == '"') {
        i = text.find('"', i + 1);
        i = i == std::string_view::npos ? text.size() : i + 1;
      } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
        i = text.find('\n', i);
        if (i == std::string_view::npos) i = text.size();
      } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
        i = text.find("*/", i + 2);
        i = i == std::string_view::npos ? text.size() : i + 2;
      } else if (c == '$' && (i == 0 || !IsIdentChar(text[i - 1]))) {
        // Dollar quoting: $tag$ ... $tag$.
        std::size_t end = i + 1;
        while (end < text.size() &&
               (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
          ++end;
        if (end < text.size() && text[end] == '$') {
          std::string_view tag = text.substr(i, end - i + 1);
          std::size_t close = text.find(tag, end + 1);
          i = close == std::string_view::npos ? text.size() : close + tag.size();
        } else {
          ++i;
        }
      } else if (c == '\\') {
        FlushSql(text.substr(chunk_start, i - chunk_start));
        i = Meta(text, i);
        chunk_start = i;
      } else {
        ++i;
      }
    }
    FlushSql(text.substr(chunk_start, std::min(i, text.size()) - chunk_start));
  }

 private:
  std::string Target() const { return PgTarget(host_, db_); }

  void FlushSql(std::string_view sql) {
    if (IsBlank(sql)) return;
    ctx_.ClassifySql(sql, SqlDialect::kPostgres, Target(), depth_ + 1);
  }

  // Handles the backslash command at text[at]; returns where SQL resumes.
  std::size_t Meta(std::string_view text, std::size_t at) {
    std::size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::size_t name_end = at + 1;
    if (name_end < text.size() && (text[name_end] == '!' || text[name_end] == '\\' ||
                                   text[name_end] == '?' || text[name_end] == '.')) {
      ++name_end;
    } else {
      while (name_end < eol && !IsSpace(text[name_end]) && text[name_end] != '\\') ++name_end;
    }
    std::string_view name = text.substr(at + 1, name_end - at - 1);
    if (name == "\\") return name_end;  // `\\` separates commands from SQL
    if (name == "!") {
      std::string_view command = Trim(text.substr(name_end, eol - name_end));
      if (!command.empty()) ctx_.ClassifyScript(command, "", depth_ + 1);
      return eol;
    }
    // Arguments run to the end of the line or the next unquoted backslash.
    std::size_t arg_end = name_end;
    bool in_quote = false;
    for (; arg_end < eol; ++arg_end) {
      if (text[arg_end] == '\'') in_quote = !in_quote;
      if (!in_quote && text[arg_end] == '\\') break;
    }
    std::string_view args = Trim(text.substr(name_end, arg_end - name_end));
    HandleMeta(name, args);
    return arg_end;
  }

  void HandleMeta(std::string_view name, std::string_view args) {
    if (name == "i" || name == "ir" || name == "include" || name == "include_relative") {
      EmitOpaqueSql(ctx_, Target(),
                    "psql \\" + std::string(name) + " runs the SQL in " + std::string(args) +
                        ", which cannot be seen before it runs");
      return;
    }
    if (name == "gexec") {
      EmitOpaqueSql(ctx_, Target(),
                    "psql \\gexec runs the query's results as SQL, which cannot be known "
                    "before it runs");
      return;
    }
    if ((name == "g" || name == "gx" || name == "o" || name == "out" || name == "w" ||
         name == "write") &&
        args.starts_with('|')) {
      ctx_.ClassifyScript(Trim(args.substr(1)), "", depth_ + 1);
      return;
    }
    if (name == "copy") {
      std::vector<std::string> words = SplitWords(args);
      for (std::size_t k = 0; k + 1 < words.size(); ++k) {
        if (IEquals(words[k], "program")) {
          ctx_.ClassifyScript(words[k + 1], "", depth_ + 1);
          return;
        }
      }
      EmitRead(ctx_, Target(), "psql \\copy moves rows between a table and a local file");
      return;
    }
    if (name == "c" || name == "connect") {
      std::vector<std::string> words = SplitWords(args);
      if (!words.empty() && words[0] != "-") {
        std::string host = host_;
        std::string db;
        ParseConnString(words[0], &host, &db);
        host_ = host;
        if (!db.empty()) db_ = db;
      }
      if (words.size() >= 3 && words[2] != "-") host_ = words[2];
      return;
    }
    if (name == "lo_unlink") {
      Emit(ctx_, "db.delete", Target(), Reversibility::kIrreversible, Severity::kMedium,
           "psql \\lo_unlink deletes a large object");
      return;
    }
    EmitRead(ctx_, Target(), "psql \\" + std::string(name) + " only shows or sets client state");
  }

  Context& ctx_;
  std::string host_;
  std::string db_;
  int depth_;
};

void HandlePsql(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPsqlSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::string db;
  std::string_view dbname = OptValue(words, "-d", "--dbname");
  if (!dbname.empty()) ParseConnString(dbname, &host, &db);
  std::vector<const Word*> operands = OperandsOf(words);
  if (db.empty() && !operands.empty()) ParseConnString(operands[0]->value, &host, &db);
  const std::string target = PgTarget(host, db);

  bool ran_something = false;
  bool reads_stdin = false;
  for (const Word& word : words) {
    if (!word.has_value) continue;
    if (IsOpt(word, "-c", "--command")) {
      ran_something = true;
      PsqlScript(ctx, host, db, inv.depth).Run(word.value);
    } else if (IsOpt(word, "-f", "--file")) {
      ran_something = true;
      std::string contents;
      if (word.value == "-") {
        reads_stdin = true;
      } else if (ReadLocalSqlFile(inv, word, &contents)) {
        PsqlScript(ctx, host, db, inv.depth).Run(contents);
      } else {
        EmitOpaqueSql(ctx, target,
                      "psql runs the SQL in " + std::string(word.value) +
                          ", which cannot be read here before it runs");
      }
    }
  }
  if (ran_something && !reads_stdin) return;

  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    PsqlScript(ctx, host, db, inv.depth).Run(text);
    return;
  }
  if (ClassifyUnreadableStdin(inv, source, text, target, "psql", ctx)) return;
  if (reads_stdin) {
    EmitOpaqueSql(ctx, target, "psql reads SQL from stdin, which cannot be seen");
    return;
  }
  if (HasOpt(words, "-l", "--list") || HasOpt(words, "-V", "--version") ||
      HasOpt(words, "-?", "--help")) {
    EmitRead(ctx, target, "psql only lists databases or prints its version");
    return;
  }
  EmitRead(ctx, target, "psql opens an interactive session; nothing is run by the command itself");
}

// ============================================================ PostgreSQL admin

constexpr std::string_view kPgAdminLong[] = {
    "--host",   "--port", "--username", "--maintenance-db", "--dbname", "--file",
    "--format", "--jobs", "--schema",   "--table",          "--role",   "--superuser"};
constexpr OptionSpec kPgAdminSpec{"hpUdfFjnNtTSZ", "", kPgAdminLong};

void HandleDropdb(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::vector<const Word*> operands = OperandsOf(words);
  if (operands.empty() || HasOpt(words, "--help", "-?") || HasOpt(words, "-V", "--version")) {
    return;
  }
  Emit(ctx, "db.drop", PgTarget(host, operands[0]->value), Reversibility::kIrreversible,
       Severity::kHigh, "dropdb removes the database " + std::string(operands[0]->value));
}

void HandleDropuser(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::vector<const Word*> operands = OperandsOf(words);
  if (operands.empty()) return;
  Emit(ctx, "db.role.drop", std::string(OptValue(words, "-h", "--host")),
       Reversibility::kIrreversible, Severity::kMedium,
       "dropuser removes the role " + std::string(operands[0]->value) + " and its grants");
}

void HandleCreatedb(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  Emit(ctx, "db.create", std::string(OptValue(words, "-h", "--host")), Reversibility::kReversible,
       Severity::kNone, std::string(inv.name()) + " creates a database or role");
}

void HandlePgDump(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::vector<const Word*> operands = OperandsOf(words);
  std::string host(OptValue(words, "-h", "--host"));
  std::string db(OptValue(words, "-d", "--dbname"));
  if (db.empty() && !operands.empty()) db = std::string(operands[0]->value);
  Emit(ctx, "backup.create", PgTarget(host, db), Reversibility::kReversible, Severity::kNone,
       std::string(inv.name()) + " reads the database to make a dump");
}

void HandlePgRestore(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kPgAdminSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::string_view db = OptValue(words, "-d", "--dbname");
  if (db.empty()) {
    Emit(ctx, "db.read", {}, Reversibility::kReversible, Severity::kNone,
         "pg_restore without -d only prints the dump as SQL");
    return;
  }
  const std::string target = PgTarget(host, db);
  const bool clean = HasOpt(words, "-c", "--clean");
  const bool create = HasOpt(words, "-C", "--create");
  if (clean) {
    Emit(ctx, "db.drop", target, Reversibility::kIrreversible, Severity::kHigh,
         create ? "pg_restore --clean --create drops and recreates the database"
                : "pg_restore --clean drops the database's objects before restoring them");
    return;
  }
  Emit(ctx, "db.restore", target, Reversibility::kReversible, Severity::kLow,
       "pg_restore loads a dump into the database without dropping anything");
}

void HandlePgDropcluster(const Invocation& inv, Context& ctx) {
  std::vector<Arg> operands = Operands(ArgsOf(inv));
  std::string target;
  for (const Arg& arg : operands) {
    if (!target.empty()) target.push_back('/');
    target.append(arg.text);
  }
  Emit(ctx, "db.drop", target, Reversibility::kIrreversible, Severity::kCritical,
       "pg_dropcluster deletes a whole PostgreSQL cluster and its data directory");
}

void HandlePgCtl(const Invocation& inv, Context& ctx) {
  // Stopping a server is an outage for everything that uses it (held); the
  // data directory stays. Immediate mode aborts without a checkpoint and
  // forces crash recovery; kill signals the server directly.
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<Arg> operands = Operands(
      args, {"-D", "-m", "-o", "-l", "-t", "-s", "-N", "--pgdata", "--mode", "--log", "--timeout"});
  std::string mode = OptionValue(args, "-m");
  if (mode.empty()) mode = OptionValue(args, "--mode");
  const bool immediate = mode == "immediate" || mode == "i";
  const std::string name(inv.name());
  for (const Arg& arg : operands) {
    if (arg.text == "kill") {
      Emit(ctx, "service.stop", "postgres", Reversibility::kRecoverable, Severity::kHigh,
           name + " kill signals the PostgreSQL server directly: an outage");
      return;
    }
    if (arg.text == "stop") {
      Emit(ctx, "service.stop", "postgres", Reversibility::kRecoverable,
           immediate ? Severity::kHigh : Severity::kMedium,
           immediate
               ? name +
                     " stop -m immediate aborts the server without a checkpoint: an "
                     "outage, then crash recovery"
               : name + " stops the PostgreSQL server: an outage for everything that uses it");
      return;
    }
    if (arg.text == "restart") {
      Emit(ctx, "service.stop", "postgres", Reversibility::kRecoverable,
           immediate ? Severity::kMedium : Severity::kLow,
           immediate ? name + " restart -m immediate aborts the server, then crash recovery"
                     : name + " restarts a PostgreSQL server; data is kept");
      return;
    }
  }
}

void HandlePgResetwal(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'n') || HasLongFlag(args, "--dry-run") || HasLongFlag(args, "--help") ||
      HasShortFlag(args, 'V'))
    return;
  Emit(ctx, "db.corrupt", "postgres", Reversibility::kIrreversible, Severity::kHigh,
       std::string(inv.name()) + " throws away the write-ahead log and can lose committed data");
}

void HandlePgArchivecleanup(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (HasShortFlag(args, 'n')) return;  // -n only prints what would go
  std::vector<Arg> operands = Operands(args, {"-x"});
  Emit(ctx, "backup.delete", operands.empty() ? std::string() : operands[0].text,
       Reversibility::kIrreversible, Severity::kHigh,
       "pg_archivecleanup removes archived WAL files needed for point-in-time recovery");
}

// ================================================================== mysql

constexpr std::string_view kMysqlLong[] = {"--user",
                                           "--host",
                                           "--port",
                                           "--database",
                                           "--socket",
                                           "--execute",
                                           "--default-character-set",
                                           "--defaults-file",
                                           "--defaults-extra-file",
                                           "--login-path",
                                           "--init-command",
                                           "--protocol",
                                           "--ssl-ca",
                                           "--ssl-cert",
                                           "--ssl-key",
                                           "--ssl-mode",
                                           "--connect-timeout",
                                           "--tee",
                                           "--pager",
                                           "--delimiter"};
constexpr OptionSpec kMysqlSpec{"uhPDSe", "p", kMysqlLong};

std::string MysqlTarget(std::string_view host, std::string_view db) {
  return PgTarget(host, db);
}

// mysql's own commands sit at the start of a line; everything else is SQL.
void RunMysqlScript(std::string_view text, std::string_view host, std::string db, int depth,
                    Context& ctx) {
  std::string sql;
  auto flush = [&] {
    if (!IsBlank(sql)) ctx.ClassifySql(sql, SqlDialect::kMySql, MysqlTarget(host, db), depth + 1);
    sql.clear();
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(start, eol - start);
    std::string_view trimmed = Trim(line);
    if (IStartsWith(trimmed, "system ") || trimmed.starts_with("\\!")) {
      flush();
      std::string_view command = Trim(trimmed.substr(trimmed.starts_with("\\!") ? 2 : 7));
      if (!command.empty()) ctx.ClassifyScript(command, "", depth + 1);
    } else if (IStartsWith(trimmed, "source ") || trimmed.starts_with("\\.")) {
      flush();
      EmitOpaqueSql(ctx, MysqlTarget(host, db),
                    "mysql runs the SQL in a file, which cannot be seen before it runs");
    } else if (IStartsWith(trimmed, "use ") || trimmed.starts_with("\\u ")) {
      flush();
      std::string_view name = Trim(trimmed.substr(trimmed.find(' ')));
      while (!name.empty() && name.back() == ';') name.remove_suffix(1);
      db = std::string(Unquote(Trim(name)));
    } else if (IStartsWith(trimmed, "delimiter ")) {
      // Changing the delimiter introduces routine bodies; the SQL classifier
      // sees the raw text and fails closed on what it cannot parse.
      sql.append(line);
      sql.push_back('\n');
    } else {
      std::string copy(line);
      for (std::size_t k = 0; k + 1 < copy.size(); ++k) {
        if (copy[k] == '\\' && (copy[k + 1] == 'G' || copy[k + 1] == 'g')) {
          copy[k] = ' ';
          copy[k + 1] = ';';
        }
      }
      sql.append(copy);
      sql.push_back('\n');
    }
    if (eol == text.size()) break;
    start = eol + 1;
  }
  flush();
}

void HandleMysql(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kMysqlSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::string db(OptValue(words, "-D", "--database"));
  std::vector<const Word*> operands = OperandsOf(words);
  if (db.empty() && !operands.empty()) db = std::string(operands[0]->value);
  const std::string target = MysqlTarget(host, db);

  bool ran = false;
  for (const Word& word : words) {
    if (word.has_value && IsOpt(word, "-e", "--execute")) {
      ran = true;
      RunMysqlScript(word.value, host, db, inv.depth, ctx);
    }
  }
  if (ran) return;
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    RunMysqlScript(text, host, db, inv.depth, ctx);
    return;
  }
  if (ClassifyUnreadableStdin(inv, source, text, target, std::string(inv.name()), ctx)) return;
  EmitRead(ctx, target,
           std::string(inv.name()) +
               " opens an interactive session; nothing is run by the "
               "command itself");
}

void HandleMysqladmin(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kMysqlSpec);
  std::string host(OptValue(words, "-h", "--host"));
  std::vector<const Word*> operands = OperandsOf(words);
  bool any = false;
  for (std::size_t k = 0; k < operands.size(); ++k) {
    std::string_view command = operands[k]->value;
    if (!operands[k]->known) {
      any = true;
      ctx.Emit(MakeAction("opaque.exec", {}, Reversibility::kUnknown, Severity::kMedium,
                          "mysqladmin runs a command only known when it runs"));
      continue;
    }
    if (IEquals(command, "drop") && k + 1 < operands.size()) {
      any = true;
      Emit(ctx, "db.drop", MysqlTarget(host, operands[k + 1]->value), Reversibility::kIrreversible,
           Severity::kHigh,
           "mysqladmin drop removes the database " + std::string(operands[k + 1]->value));
      ++k;
    } else if (IEquals(command, "shutdown") || IEquals(command, "stop-replica") ||
               IEquals(command, "stop-slave")) {
      any = true;
      Emit(ctx, "service.stop", MysqlTarget(host, {}), Reversibility::kRecoverable, Severity::kLow,
           "mysqladmin stops the server or replication; data is kept");
    } else if (IEquals(command, "password")) {
      any = true;
      ++k;
      Emit(ctx, "db.credential.change", MysqlTarget(host, {}), Reversibility::kRecoverable,
           Severity::kLow, "mysqladmin password changes the account's password");
    } else if (IEquals(command, "create")) {
      any = true;
      ++k;
      Emit(ctx, "db.create", MysqlTarget(host, {}), Reversibility::kReversible, Severity::kNone,
           "mysqladmin create makes a database");
    }
  }
  if (!any)
    EmitRead(ctx, MysqlTarget(host, {}),
             "mysqladmin reports status or flushes server caches; no data is removed");
}

void HandleSqlDump(const Invocation& inv, Context& ctx) {
  Emit(ctx, "backup.create", {}, Reversibility::kReversible, Severity::kNone,
       std::string(inv.name()) + " reads a database to make a dump");
}

// ================================================================== sqlite3

constexpr std::string_view kSqliteValueOptions[] = {
    "-cmd",       "-init", "-separator", "-newline", "-nullvalue", "-vfs",   "-lookaside",
    "-pagecache", "-heap", "-maxsize",   "-mmap",    "-escape",    "-nonce", "-A"};

class SqliteScript {
 public:
  SqliteScript(Context& ctx, std::string target, bool readonly, int depth)
      : ctx_(ctx), target_(std::move(target)), readonly_(readonly), depth_(depth) {}

  // One argument or a whole stdin script: dot-commands start a line.
  void Run(std::string_view text) {
    std::string sql;
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t eol = text.find('\n', start);
      if (eol == std::string_view::npos) eol = text.size();
      std::string_view line = text.substr(start, eol - start);
      std::string_view trimmed = Trim(line);
      if (trimmed.starts_with('.') && IsBlank(sql)) {
        Dot(trimmed);
      } else {
        sql.append(line);
        sql.push_back('\n');
      }
      if (eol == text.size()) break;
      start = eol + 1;
    }
    FlushSql(sql);
  }

 private:
  void FlushSql(std::string_view sql) {
    if (IsBlank(sql)) return;
    if (readonly_) {
      EmitRead(ctx_, target_, "sqlite3 -readonly cannot change the database");
      return;
    }
    ctx_.ClassifySql(sql, SqlDialect::kSqlite, target_, depth_ + 1);
  }

  void Dot(std::string_view line) {
    std::vector<std::string> words = SplitWords(line);
    if (words.empty()) return;
    std::string_view name = std::string_view(words[0]).substr(1);
    std::string_view rest = Trim(line.substr(words[0].size()));
    if (name == "shell" || name == "system") {
      if (!rest.empty()) ctx_.ClassifyScript(rest, "", depth_ + 1);
      return;
    }
    auto pipe_target = [&](std::size_t index) -> std::string_view {
      return words.size() > index && words[index].starts_with('|')
                 ? std::string_view(words[index]).substr(1)
                 : std::string_view();
    };
    if (name == "read") {
      if (std::string_view cmd = pipe_target(1); !cmd.empty()) {
        ctx_.ClassifyScript(cmd, "", depth_ + 1);
        EmitOpaqueSql(ctx_, target_, "sqlite3 .read runs SQL printed by a command");
        return;
      }
      EmitOpaqueSql(ctx_, target_,
                    "sqlite3 .read runs the SQL in a file, which cannot be seen before it runs");
      return;
    }
    if (name == "output" || name == "once" || name == "import") {
      for (std::size_t k = 1; k < words.size(); ++k) {
        if (std::string_view cmd = pipe_target(k); !cmd.empty()) {
          ctx_.ClassifyScript(cmd, "", depth_ + 1);
          return;
        }
      }
      return;
    }
    if (name == "restore") {
      Emit(ctx_, "db.overwrite", target_, Reversibility::kIrreversible, Severity::kHigh,
           "sqlite3 .restore replaces the database's contents with a file");
      return;
    }
    if (name == "open") {
      bool fresh = false;
      for (std::size_t k = 1; k < words.size(); ++k) {
        if (words[k] == "--new" || words[k] == "-new")
          fresh = true;
        else if (!words[k].starts_with('-'))
          target_ = words[k];
      }
      if (fresh)
        Emit(ctx_, "db.drop", target_, Reversibility::kIrreversible, Severity::kHigh,
             "sqlite3 .open --new empties the database file");
      return;
    }
    if (name == "load") {
      ctx_.Emit(MakeAction("opaque.exec", Targets(target_), Reversibility::kUnknown,
                           Severity::kMedium, "sqlite3 .load runs native code from a library"));
      return;
    }
    if (name == "backup" || name == "save") {
      Emit(ctx_, "backup.create", target_, Reversibility::kReversible, Severity::kNone,
           "sqlite3 ." + std::string(name) + " writes a copy of the database");
      return;
    }
    EmitRead(ctx_, target_, "sqlite3 ." + std::string(name) + " only shows or sets client state");
  }

  Context& ctx_;
  std::string target_;
  bool readonly_;
  int depth_;
};

void HandleSqlite(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<std::string_view> cmds;
  bool readonly = false;
  bool has_init = false;
  std::size_t i = 0;
  std::vector<const Arg*> operands;
  for (; i < args.size(); ++i) {
    std::string_view text = args[i].text;
    if (!operands.empty() || text.size() < 2 || text[0] != '-') {
      operands.push_back(&args[i]);
      continue;
    }
    if (text.starts_with("--")) text.remove_prefix(1);
    if (text == "-readonly") readonly = true;
    if (InList(kSqliteValueOptions, text) && i + 1 < args.size()) {
      if (text == "-cmd") cmds.push_back(args[i + 1].text);
      if (text == "-init") has_init = true;
      ++i;
    }
  }
  std::string target;
  if (!operands.empty()) {
    ResolvedPath resolved = ResolvePath(*operands[0], inv.cwd, ctx.home());
    target = resolved.path.empty() ? operands[0]->text : resolved.path;
  } else {
    target = ":memory:";
  }
  SqliteScript script(ctx, target, readonly, inv.depth);
  if (has_init)
    EmitOpaqueSql(ctx, target, "sqlite3 -init runs the SQL in a file, which cannot be seen");
  for (std::string_view cmd : cmds) script.Run(cmd);
  if (operands.size() > 1) {
    for (std::size_t k = 1; k < operands.size(); ++k) script.Run(operands[k]->text);
    return;
  }
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    script.Run(text);
    return;
  }
  if (ClassifyUnreadableStdin(inv, source, text, target, "sqlite3", ctx)) return;
  if (cmds.empty() && !has_init)
    EmitRead(ctx, target, "sqlite3 opens an interactive session; nothing is run by the command");
}

// ================================================================ redis-cli

constexpr std::string_view kRedisLong[] = {"--user",
                                           "--pass",
                                           "--rdb",
                                           "--functions-rdb",
                                           "--pattern",
                                           "--count",
                                           "--eval",
                                           "--cluster",
                                           "--cacert",
                                           "--cacertdir",
                                           "--cert",
                                           "--key",
                                           "--tls-ciphers",
                                           "--tls-ciphersuites",
                                           "--sni",
                                           "--replica",
                                           "--quoted-pattern",
                                           "--memkeys-samples",
                                           "--show-pushes",
                                           "--lru-test",
                                           "--intrinsic-latency",
                                           "--askpass",
                                           "--resp"};
constexpr OptionSpec kRedisSpec{"hpsauriandD", "", kRedisLong};

struct RedisRule {
  std::string_view command;
  std::string_view op_class;
  Severity severity;
  Reversibility reversibility;
  std::string_view reason;
};

// Commands that destroy data or hand the server to someone else's dataset.
// Everything not listed reads or writes individual keys.
constexpr RedisRule kRedisRules[] = {
    {"flushall", "kv.flush", Severity::kCritical, Reversibility::kIrreversible,
     "FLUSHALL deletes every key in every database"},
    {"flushdb", "kv.flush", Severity::kHigh, Reversibility::kIrreversible,
     "FLUSHDB deletes every key in the database"},
    {"replicaof", "kv.flush", Severity::kHigh, Reversibility::kIrreversible,
     "REPLICAOF makes the server discard its data and copy another server's"},
    {"slaveof", "kv.flush", Severity::kHigh, Reversibility::kIrreversible,
     "SLAVEOF makes the server discard its data and copy another server's"},
    {"evalsha", "opaque.exec", Severity::kMedium, Reversibility::kUnknown,
     "EVALSHA runs a stored Lua script whose text is not visible"},
    {"evalsha_ro", "read.only", Severity::kNone, Reversibility::kReversible,
     "EVALSHA_RO runs a read-only script"},
    {"fcall", "opaque.exec", Severity::kMedium, Reversibility::kUnknown,
     "FCALL runs a stored function whose code is not visible"},
    {"fcall_ro", "read.only", Severity::kNone, Reversibility::kReversible,
     "FCALL_RO runs a read-only function"},
};

constexpr std::string_view kRedisReads[] = {
    "get",       "mget",     "info",     "keys",     "scan",    "ttl",      "pttl",
    "type",      "exists",   "hget",     "hgetall",  "hmget",   "hkeys",    "hvals",
    "hlen",      "hscan",    "lrange",   "llen",     "lindex",  "smembers", "scard",
    "sismember", "sscan",    "zrange",   "zscore",   "zcard",   "zscan",    "zrangebyscore",
    "zrevrange", "strlen",   "getrange", "dbsize",   "ping",    "echo",     "monitor",
    "slowlog",   "memory",   "time",     "lastsave", "role",    "command",  "xrange",
    "xrevrange", "xlen",     "xinfo",    "xread",    "pubsub",  "object",   "dump",
    "randomkey", "bitcount", "pfcount",  "geopos",   "geodist", "latency",  "lolwut"};

void ClassifyRedisCommand(std::span<const std::string_view> words, std::span<const char> known,
                          std::string_view target, Context& ctx) {
  if (words.empty()) return;
  if (!known.empty() && !known[0]) {
    ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown, Severity::kMedium,
                        "the redis command is not known before it runs"));
    return;
  }
  std::string command;
  for (char c : words[0]) command.push_back(Lower(c));
  auto arg_is = [&](std::size_t index, std::string_view value) {
    return words.size() > index && IEquals(words[index], value);
  };
  for (const RedisRule& rule : kRedisRules) {
    if (command == rule.command) {
      if ((command == "replicaof" || command == "slaveof") && arg_is(1, "no")) break;
      ctx.Emit(MakeAction(std::string(rule.op_class), Targets(target), rule.reversibility,
                          rule.severity, std::string(rule.reason)));
      return;
    }
  }
  if (command == "del" || command == "unlink") {
    bool bulk = words.size() < 2;
    for (std::size_t k = 1; k < words.size(); ++k)
      if ((k < known.size() && !known[k]) || words[k].find('*') != std::string_view::npos)
        bulk = true;
    if (bulk) {
      ctx.Emit(MakeAction("kv.delete.bulk", Targets(target), Reversibility::kIrreversible,
                          Severity::kHigh,
                          "DEL of keys that are only known at run time (e.g. from a scan)"));
    } else {
      ctx.Emit(MakeAction("kv.delete", Targets(target), Reversibility::kIrreversible,
                          Severity::kLow, "DEL of named keys"));
    }
    return;
  }
  if (command == "shutdown") {
    const bool nosave = arg_is(1, "nosave");
    ctx.Emit(MakeAction("service.stop", Targets(target),
                        nosave ? Reversibility::kIrreversible : Reversibility::kRecoverable,
                        nosave ? Severity::kMedium : Severity::kLow,
                        nosave ? "SHUTDOWN NOSAVE stops redis and loses unsaved writes"
                               : "SHUTDOWN stops redis after saving"));
    return;
  }
  if (command == "config" && arg_is(1, "set") && (arg_is(2, "dir") || arg_is(2, "dbfilename"))) {
    ctx.Emit(MakeAction("kv.config.write", Targets(target), Reversibility::kUnknown,
                        Severity::kHigh,
                        "CONFIG SET dir/dbfilename points redis's writes at arbitrary files"));
    return;
  }
  if ((command == "cluster" && (arg_is(1, "reset") || arg_is(1, "flushslots"))) ||
      (command == "script" && arg_is(1, "flush")) ||
      (command == "function" && arg_is(1, "flush"))) {
    ctx.Emit(MakeAction("kv.flush", Targets(target), Reversibility::kIrreversible,
                        Severity::kMedium, "the command wipes server-side state"));
    return;
  }
  if (command == "eval" || command == "eval_ro") {
    std::string_view script = words.size() > 1 ? words[1] : std::string_view();
    if (IContains(script, "flushall") || IContains(script, "flushdb")) {
      ctx.Emit(MakeAction("kv.flush", Targets(target), Reversibility::kIrreversible,
                          Severity::kHigh, "the Lua script flushes the database"));
    } else if (IContains(script, "'del'") || IContains(script, "\"del\"") ||
               IContains(script, "'unlink'") || IContains(script, "\"unlink\"")) {
      ctx.Emit(MakeAction("kv.delete.bulk", Targets(target), Reversibility::kIrreversible,
                          Severity::kMedium, "the Lua script deletes keys it computes"));
    } else {
      ctx.Emit(MakeAction("kv.write", Targets(target), Reversibility::kRecoverable, Severity::kLow,
                          "the Lua script reads or writes keys"));
    }
    return;
  }
  if (InList(kRedisReads, command) || (command == "config" && arg_is(1, "get")) ||
      (command == "client" && arg_is(1, "list")) || (command == "acl" && arg_is(1, "list"))) {
    ctx.Emit(MakeAction("read.only", Targets(target), Reversibility::kReversible, Severity::kNone,
                        "redis " + command + " only reads"));
    return;
  }
  ctx.Emit(MakeAction("kv.write", Targets(target), Reversibility::kRecoverable, Severity::kLow,
                      "redis " + command + " writes individual keys or server settings"));
}

void ClassifyRedisLines(std::string_view text, bool known, std::string_view target, Context& ctx) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos) eol = text.size();
    std::vector<std::string> words = SplitWords(text.substr(start, eol - start));
    std::vector<std::string_view> views(words.begin(), words.end());
    // In text with unknown parts, a word holding a placeholder is unknown.
    std::vector<char> known_words;
    for (const std::string& word : words)
      known_words.push_back(known || word.find('$') == std::string::npos);
    ClassifyRedisCommand(views, known_words, target, ctx);
    if (eol == text.size()) break;
    start = eol + 1;
  }
}

void HandleRedisCli(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  std::vector<Word> words = Walk(args, kRedisSpec);
  std::string target(OptValue(words, "-h"));
  if (std::string_view uri = OptValue(words, "-u"); !uri.empty()) target = std::string(uri);
  if (target.empty()) target = "localhost";
  if (std::string_view db = OptValue(words, "-n"); !db.empty()) {
    target.append("/");
    target.append(db);
  }
  target.insert(0, "redis:");

  if (std::string_view cluster = OptValue(words, "--cluster"); !cluster.empty()) {
    std::vector<const Word*> operands = OperandsOf(words);
    if (IEquals(cluster, "call") && operands.size() >= 2) {
      std::vector<std::string_view> cmd;
      std::vector<char> known;
      for (std::size_t k = 1; k < operands.size(); ++k) {
        cmd.push_back(operands[k]->value);
        known.push_back(operands[k]->known);
      }
      ClassifyRedisCommand(cmd, known, target, ctx);
      return;
    }
    const bool harmful = IEquals(cluster, "del-node") || IEquals(cluster, "fix");
    ctx.Emit(MakeAction("kv.cluster.admin", Targets(target), Reversibility::kRecoverable,
                        harmful ? Severity::kMedium : Severity::kLow,
                        "redis-cli --cluster " + std::string(cluster) + " changes the cluster"));
    return;
  }
  if (std::string_view file = OptValue(words, "--eval"); !file.empty()) {
    ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown, Severity::kMedium,
                        "redis-cli --eval runs the Lua script in " + std::string(file)));
    return;
  }
  if (HasOpt(words, "", "--pipe")) {
    std::string text;
    bool known = true;
    if (ClientStdin(inv, &text, &known) == StdinSource::kText) {
      ClassifyRedisLines(text, known, target, ctx);
      return;
    }
    ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown, Severity::kMedium,
                        "redis-cli --pipe sends commands from stdin, which cannot be seen"));
    return;
  }

  std::vector<std::string_view> command;
  std::vector<char> known;
  for (const Word* word : OperandsOf(words)) {
    command.push_back(word->value);
    known.push_back(word->known);
  }
  if (!command.empty()) {
    // -x appends stdin as the last argument: the command word is still known.
    ClassifyRedisCommand(command, known, target, ctx);
    return;
  }
  if (HasOpt(words, "", "--scan") || HasOpt(words, "", "--bigkeys") ||
      HasOpt(words, "", "--memkeys") || HasOpt(words, "", "--stat") ||
      HasOpt(words, "", "--latency") || HasOpt(words, "", "--hotkeys") ||
      HasOpt(words, "", "--rdb") || HasOpt(words, "", "--version")) {
    ctx.Emit(MakeAction("read.only", Targets(target), Reversibility::kReversible, Severity::kNone,
                        "redis-cli only scans or reports"));
    return;
  }
  std::string text;
  bool text_known = true;
  StdinSource source = ClientStdin(inv, &text, &text_known);
  if (source == StdinSource::kText) {
    ClassifyRedisLines(text, text_known, target, ctx);
    return;
  }
  if (source == StdinSource::kFile || source == StdinSource::kPipe) {
    ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown, Severity::kMedium,
                        "redis-cli runs commands read from stdin, which cannot be seen"));
    return;
  }
  ctx.Emit(MakeAction("read.only", Targets(target), Reversibility::kReversible, Severity::kNone,
                      "redis-cli opens an interactive session"));
}

// ================================================================ mongosh

// A token of JavaScript: identifiers and punctuation; strings and comments are
// skipped so `db.x.find({note: "drop()"})` has no `drop` call.
struct JsToken {
  enum Kind { kIdent, kPunct, kString, kNumber } kind;
  std::string_view text;
};

std::vector<JsToken> TokenizeJs(std::string_view js) {
  std::vector<JsToken> tokens;
  std::size_t i = 0;
  while (i < js.size()) {
    const char c = js[i];
    if (IsSpace(c)) {
      ++i;
    } else if (c == '/' && i + 1 < js.size() && js[i + 1] == '/') {
      i = js.find('\n', i);
      if (i == std::string_view::npos) i = js.size();
    } else if (c == '/' && i + 1 < js.size() && js[i + 1] == '*') {
      i = js.find("*/", i + 2);
      i = i == std::string_view::npos ? js.size() : i + 2;
    } else if (c == '"' || c == '\'' || c == '`') {
      std::size_t start = i++;
      while (i < js.size() && js[i] != c) {
        if (js[i] == '\\') ++i;
        ++i;
      }
      i = std::min(i + 1, js.size());
      tokens.push_back({JsToken::kString, js.substr(start, i - start)});
    } else if (IsIdentChar(c)) {
      std::size_t start = i;
      while (i < js.size() && IsIdentChar(js[i])) ++i;
      const bool digit = std::isdigit(static_cast<unsigned char>(c));
      tokens.push_back({digit ? JsToken::kNumber : JsToken::kIdent, js.substr(start, i - start)});
    } else {
      tokens.push_back({JsToken::kPunct, js.substr(i, 1)});
      ++i;
    }
  }
  return tokens;
}

bool IsPunct(const std::vector<JsToken>& tokens, std::size_t i, char c) {
  return i < tokens.size() && tokens[i].kind == JsToken::kPunct && tokens[i].text[0] == c;
}

// The collection a method is called on: `db.users.drop()` → users,
// `db.getCollection("users").drop()` → users.
std::string JsReceiver(const std::vector<JsToken>& tokens, std::size_t method) {
  if (method < 2 || !IsPunct(tokens, method - 1, '.')) return {};
  const JsToken& before = tokens[method - 2];
  if (before.kind == JsToken::kIdent) return std::string(before.text);
  if (IsPunct(tokens, method - 2, ')') && method >= 3 &&
      tokens[method - 3].kind == JsToken::kString)
    return std::string(Unquote(tokens[method - 3].text));
  return {};
}

// True when the call at tokens[open] ("(") has no filter or an empty `{}` one.
bool EmptyFilter(const std::vector<JsToken>& tokens, std::size_t open) {
  if (IsPunct(tokens, open + 1, ')')) return true;
  return IsPunct(tokens, open + 1, '{') && IsPunct(tokens, open + 2, '}') &&
         (IsPunct(tokens, open + 3, ')') || IsPunct(tokens, open + 3, ','));
}

// A placeholder the evaluator left for text unknown before running ($JS,
// $(...), ${X}) sitting in code position, not inside a string literal.
bool HasUnknownCode(const std::vector<JsToken>& tokens) {
  for (const JsToken& token : tokens) {
    if (token.kind != JsToken::kIdent || token.text[0] != '$') continue;
    if (token.text.size() == 1) return true;  // "$(" or "${"
    const char next = token.text[1];
    if (std::isupper(static_cast<unsigned char>(next)) || next == '_' ||
        std::isdigit(static_cast<unsigned char>(next)))
      return true;
  }
  return false;
}

void ClassifyMongoJs(std::string_view js, bool known, std::string_view target, Context& ctx) {
  std::vector<JsToken> tokens = TokenizeJs(js);
  if (!known && HasUnknownCode(tokens)) {
    ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown, Severity::kMedium,
                        "the mongo script holds code that is only known when it runs"));
    return;
  }
  bool found = false;
  auto emit = [&](std::string op, std::string object, Severity severity, std::string reason) {
    found = true;
    std::string full(target);
    if (!object.empty()) full += "." + object;
    ctx.Emit(MakeAction(std::move(op), {full}, Reversibility::kIrreversible, severity,
                        std::move(reason)));
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const JsToken& token = tokens[i];
    if (token.kind != JsToken::kIdent) continue;
    const bool call = IsPunct(tokens, i + 1, '(');
    const bool member = i > 0 && IsPunct(tokens, i - 1, '.');
    std::string_view name = token.text;
    // runCommand({dropDatabase: 1}) / ({drop: "users"}): the key names the command.
    const bool command_key = i > 0 && IsPunct(tokens, i - 1, '{') && IsPunct(tokens, i + 1, ':');
    if (name == "dropDatabase" && (call || command_key)) {
      emit("db.drop", {}, Severity::kHigh, "dropDatabase() deletes the whole database");
    } else if (name == "drop" && ((call && member) || command_key)) {
      emit("db.drop", JsReceiver(tokens, i), Severity::kHigh,
           "drop() deletes the collection and its documents");
    } else if ((name == "deleteMany" || name == "remove") && call && member) {
      if (EmptyFilter(tokens, i + 1))
        emit("db.delete.unbounded", JsReceiver(tokens, i), Severity::kHigh,
             std::string(name) + "() with an empty filter deletes every document");
      else
        emit("db.delete", JsReceiver(tokens, i), Severity::kLow,
             std::string(name) + "() deletes the documents matching its filter");
    } else if (name == "updateMany" && call && member && EmptyFilter(tokens, i + 1) &&
               !IsPunct(tokens, i + 2, ')')) {
      emit("db.update.unbounded", JsReceiver(tokens, i), Severity::kHigh,
           "updateMany() with an empty filter rewrites every document");
    } else if (name == "dropIndexes" && call && member) {
      emit("db.index.drop", JsReceiver(tokens, i), Severity::kMedium,
           "dropIndexes() removes every index of the collection");
    } else if ((name == "dropUser" || name == "dropAllUsersFromDatabase" ||
                name == "dropAllRoles" || name == "dropRole") &&
               call) {
      emit("db.role.drop", {}, Severity::kMedium, std::string(name) + "() removes access roles");
    } else if (name == "$out" || name == "$merge") {
      emit("db.overwrite", {}, Severity::kMedium,
           "an aggregation with " + std::string(name) + " overwrites a collection");
    } else if ((name == "load" || name == "eval" || name == "Function") && call && !member) {
      found = true;
      ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown,
                          Severity::kMedium,
                          std::string(name) + "() runs code that cannot be seen before it runs"));
    }
  }
  if (!found) EmitRead(ctx, target, "the script only reads or makes precise changes");
}

constexpr std::string_view kMongoLong[] = {"--host",
                                           "--port",
                                           "--username",
                                           "--password",
                                           "--authenticationDatabase",
                                           "--authenticationMechanism",
                                           "--eval",
                                           "--file",
                                           "--apiVersion",
                                           "--tlsCAFile",
                                           "--tlsCertificateKeyFile",
                                           "--db",
                                           "--collection",
                                           "--uri",
                                           "--archive",
                                           "--nsInclude",
                                           "--nsExclude",
                                           "--out",
                                           "--gzip-level",
                                           "--numParallelCollections",
                                           "--query",
                                           "--type",
                                           "--fields",
                                           "--mode",
                                           "--jsonArray-level"};
constexpr OptionSpec kMongoSpec{"hupfdcoq", "", kMongoLong, true};

void HandleMongosh(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kMongoSpec);
  std::string host(OptValue(words, "", "--host"));
  std::string db;
  std::vector<const Word*> operands = OperandsOf(words);
  bool ran = false;
  for (const Word* operand : operands) {
    std::string_view text = operand->value;
    if (text.ends_with(".js") || text.ends_with(".mongodb")) {
      ran = true;
      ctx.Emit(MakeAction("opaque.exec", Targets(text), Reversibility::kUnknown, Severity::kMedium,
                          "mongosh runs the script " + std::string(text) +
                              ", which cannot be seen before it runs"));
    } else if (db.empty()) {
      ParseConnString(text, &host, &db);
    }
  }
  std::string target = "mongodb:" + (host.empty() ? std::string("localhost") : host);
  if (!db.empty()) target += "/" + db;
  for (const Word& word : words) {
    if (!word.has_value) continue;
    if (IsOpt(word, "", "--eval")) {
      ran = true;
      ClassifyMongoJs(word.value, word.known, target, ctx);
    } else if (IsOpt(word, "-f", "--file")) {
      ran = true;
      ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown,
                          Severity::kMedium,
                          "mongosh runs the script " + std::string(word.value) +
                              ", which cannot be seen before it runs"));
    }
  }
  if (ran) return;
  std::string text;
  bool known = true;
  StdinSource source = ClientStdin(inv, &text, &known);
  if (source == StdinSource::kText) {
    ClassifyMongoJs(text, known, target, ctx);
    return;
  }
  if (source != StdinSource::kNone) {
    ctx.Emit(MakeAction("opaque.exec", Targets(target), Reversibility::kUnknown, Severity::kMedium,
                        "mongosh runs a script from stdin, which cannot be seen"));
    return;
  }
  EmitRead(ctx, target, "mongosh opens an interactive session");
}

void HandleMongoTool(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kMongoSpec);
  std::string_view name = inv.name();
  std::string target(OptValue(words, "-d", "--db"));
  if (HasOpt(words, "", "--drop")) {
    Emit(ctx, "db.drop", target, Reversibility::kIrreversible, Severity::kHigh,
         std::string(name) + " --drop drops each collection before loading it");
    return;
  }
  if (name == "mongodump" || name == "mongoexport") {
    Emit(ctx, "backup.create", target, Reversibility::kReversible, Severity::kNone,
         std::string(name) + " reads the database");
    return;
  }
  Emit(ctx, "db.restore", target, Reversibility::kReversible, Severity::kLow,
       std::string(name) + " loads documents without dropping anything");
}

// ===================================================== ClickHouse and CQL

// A keyword scan for dialects the PostgreSQL grammar does not take. It splits
// statements on `;` outside strings and comments and judges each by its
// leading keywords; anything unrecognised is opaque.
struct SqlToken {
  std::string_view text;
  bool word = false;
};

std::vector<std::vector<SqlToken>> SplitStatements(std::string_view sql) {
  std::vector<std::vector<SqlToken>> statements(1);
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (IsSpace(c)) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) i = sql.size();
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      i = sql.find("*/", i + 2);
      i = i == std::string_view::npos ? sql.size() : i + 2;
    } else if (c == '\'' || c == '"' || c == '`') {
      std::size_t start = i++;
      while (i < sql.size() && sql[i] != c) {
        if (sql[i] == '\\') ++i;
        ++i;
      }
      i = std::min(i + 1, sql.size());
      statements.back().push_back({sql.substr(start, i - start), false});
    } else if (c == ';') {
      if (!statements.back().empty()) statements.emplace_back();
      ++i;
    } else if (IsIdentChar(c) || c == '.') {
      std::size_t start = i;
      while (i < sql.size() && (IsIdentChar(sql[i]) || sql[i] == '.')) ++i;
      statements.back().push_back({sql.substr(start, i - start), true});
    } else {
      statements.back().push_back({sql.substr(i, 1), false});
      ++i;
    }
  }
  if (statements.back().empty()) statements.pop_back();
  return statements;
}

bool Kw(const std::vector<SqlToken>& s, std::size_t i, std::string_view keyword) {
  return i < s.size() && s[i].word && IEquals(s[i].text, keyword);
}

std::size_t FindKw(const std::vector<SqlToken>& s, std::string_view keyword, std::size_t from = 0) {
  for (std::size_t i = from; i < s.size(); ++i)
    if (Kw(s, i, keyword)) return i;
  return s.size();
}

// `WHERE 1`, `WHERE true`, `WHERE 1=1`: a condition that matches every row.
bool TrivialCondition(const std::vector<SqlToken>& s, std::size_t where) {
  std::size_t n = s.size() - where - 1;
  if (n == 1) return s[where + 1].text == "1" || IEquals(s[where + 1].text, "true");
  if (n == 3 && s[where + 2].text == "=") return s[where + 1].text == s[where + 3].text;
  return n == 0;
}

void ClassifyKeywordSql(std::string_view sql, std::string_view engine, std::string_view target,
                        Context& ctx) {
  static constexpr std::string_view kReads[] = {
      "select", "show",  "describe",    "desc",    "explain", "exists", "with",  "use",
      "set",    "check", "consistency", "tracing", "paging",  "expand", "help",  "exit",
      "quit",   "login", "serial",      "clear",   "cls",     "list",   "watch", "values"};
  static constexpr std::string_view kWrites[] = {
      "insert", "create",   "update",  "optimize", "system", "detach", "attach",
      "rename", "exchange", "kill",    "grant",    "revoke", "begin",  "apply",
      "move",   "backup",   "restore", "capture",  "copy"};
  const std::string engine_name(engine);
  for (std::vector<SqlToken>& statement : SplitStatements(sql)) {
    std::size_t head = 0;
    // CQL batches: BEGIN [UNLOGGED|COUNTER] BATCH <statement>.
    if (Kw(statement, 0, "begin")) {
      head = FindKw(statement, "batch") + 1;
      if (head > statement.size()) head = statement.size();
      if (head == statement.size()) continue;
    }
    if (Kw(statement, head, "apply") && Kw(statement, head + 1, "batch")) continue;
    if (head >= statement.size()) continue;
    const SqlToken& first = statement[head];
    if (!first.word) {
      EmitOpaqueSql(ctx, target, engine_name + " statement not understood");
      continue;
    }
    if (Kw(statement, head, "drop")) {
      const bool data =
          Kw(statement, head + 1, "table") || Kw(statement, head + 1, "database") ||
          Kw(statement, head + 1, "keyspace") || Kw(statement, head + 1, "schema") ||
          Kw(statement, head + 1, "dictionary") || Kw(statement, head + 1, "columnfamily") ||
          Kw(statement, head + 1, "materialized") || Kw(statement, head + 1, "temporary");
      Emit(ctx, data ? "db.drop" : "db.schema.drop", target, Reversibility::kIrreversible,
           data ? Severity::kHigh : Severity::kMedium,
           engine_name + " DROP removes " + (data ? "stored data" : "a schema object"));
    } else if (Kw(statement, head, "truncate")) {
      Emit(ctx, "db.truncate", target, Reversibility::kIrreversible, Severity::kHigh,
           engine_name + " TRUNCATE deletes every row of the table");
    } else if (Kw(statement, head, "delete")) {
      std::size_t where = FindKw(statement, "where", head);
      if (where == statement.size() || TrivialCondition(statement, where))
        Emit(ctx, "db.delete.unbounded", target, Reversibility::kIrreversible, Severity::kHigh,
             engine_name + " DELETE without a real WHERE deletes every row");
      else
        Emit(ctx, "db.delete", target, Reversibility::kIrreversible, Severity::kLow,
             engine_name + " DELETE with a WHERE clause");
    } else if (Kw(statement, head, "alter")) {
      std::size_t del = FindKw(statement, "delete", head);
      std::size_t drop = FindKw(statement, "drop", head);
      std::size_t clear = FindKw(statement, "clear", head);
      if (del < statement.size()) {
        std::size_t where = FindKw(statement, "where", del);
        if (where == statement.size() || TrivialCondition(statement, where))
          Emit(ctx, "db.delete.unbounded", target, Reversibility::kIrreversible, Severity::kHigh,
               engine_name + " ALTER ... DELETE matching every row");
        else
          Emit(ctx, "db.delete", target, Reversibility::kIrreversible, Severity::kLow,
               engine_name + " ALTER ... DELETE with a WHERE clause");
      } else if (drop < statement.size() || clear < statement.size()) {
        Emit(ctx, "db.drop.partial", target, Reversibility::kIrreversible, Severity::kMedium,
             engine_name + " ALTER drops a column, partition or part with its data");
      } else {
        Emit(ctx, "db.schema.change", target, Reversibility::kRecoverable, Severity::kLow,
             engine_name + " ALTER changes the schema without dropping data");
      }
    } else if (Kw(statement, head, "source")) {
      EmitOpaqueSql(ctx, target, engine_name + " SOURCE runs statements from a file");
    } else {
      std::string keyword;
      for (char c : first.text) keyword.push_back(Lower(c));
      if (InList(kReads, keyword)) {
        EmitRead(ctx, target, engine_name + " " + keyword + " only reads");
      } else if (InList(kWrites, keyword)) {
        Emit(ctx, "db.write", target, Reversibility::kRecoverable, Severity::kLow,
             engine_name + " " + keyword + " adds or changes data without deleting it");
      } else {
        EmitOpaqueSql(ctx, target, engine_name + " statement not understood: " + keyword);
      }
    }
  }
}

constexpr std::string_view kClickhouseLong[] = {
    "--query",    "--host",         "--port",        "--user",        "--password",
    "--database", "--queries-file", "--format",      "--config-file", "--config",
    "--param",    "--max_threads",  "--secure-port", "--connection",  "--multiquery-file"};
constexpr OptionSpec kClickhouseSpec{"qhpudfC", "", kClickhouseLong};

void HandleClickhouseArgs(const Invocation& inv, std::span<const Arg> args, Context& ctx) {
  std::vector<Word> words = Walk(args, kClickhouseSpec);
  std::string target = "clickhouse:" + std::string(OptValue(words, "-h", "--host"));
  if (std::string_view db = OptValue(words, "-d", "--database"); !db.empty())
    target += "/" + std::string(db);
  bool ran = false;
  for (const Word& word : words) {
    if (!word.has_value) continue;
    if (IsOpt(word, "-q", "--query")) {
      ran = true;
      ClassifyKeywordSql(word.value, "ClickHouse", target, ctx);
    } else if (IsOpt(word, "", "--queries-file")) {
      ran = true;
      EmitOpaqueSql(ctx, target, "clickhouse runs the queries in a file, which cannot be seen");
    }
  }
  if (ran) return;
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    ClassifyKeywordSql(text, "ClickHouse", target, ctx);
    return;
  }
  if (source != StdinSource::kNone) {
    // INSERT ... FORMAT CSV with data on stdin is the common case, but the
    // query then comes from -q; without one the statements are on stdin.
    EmitOpaqueSql(ctx, target, "clickhouse runs statements from stdin, which cannot be seen");
    return;
  }
  EmitRead(ctx, target, "clickhouse-client opens an interactive session");
}

void HandleClickhouseClient(const Invocation& inv, Context& ctx) {
  HandleClickhouseArgs(inv, ArgsOf(inv), ctx);
}

// The multi-tool binary: `clickhouse client ...`, `clickhouse local ...`.
void HandleClickhouse(const Invocation& inv, Context& ctx) {
  std::span<const Arg> args = ArgsOf(inv);
  if (args.empty()) return;
  if (args[0].text == "client" || args[0].text == "local")
    HandleClickhouseArgs(inv, args.subspan(1), ctx);
}

constexpr std::string_view kCqlshLong[] = {
    "--execute",  "--file",      "--keyspace",        "--username",
    "--password", "--cqlshrc",   "--request-timeout", "--connect-timeout",
    "--encoding", "--cqlversion"};
constexpr OptionSpec kCqlshSpec{"efkup", "", kCqlshLong};

void HandleCqlsh(const Invocation& inv, Context& ctx) {
  std::vector<Word> words = Walk(ArgsOf(inv), kCqlshSpec);
  std::vector<const Word*> operands = OperandsOf(words);
  std::string target = "cassandra:" + (operands.empty() ? std::string("localhost")
                                                        : std::string(operands[0]->value));
  if (std::string_view ks = OptValue(words, "-k", "--keyspace"); !ks.empty())
    target += "/" + std::string(ks);
  bool ran = false;
  for (const Word& word : words) {
    if (!word.has_value) continue;
    if (IsOpt(word, "-e", "--execute")) {
      ran = true;
      ClassifyKeywordSql(word.value, "CQL", target, ctx);
    } else if (IsOpt(word, "-f", "--file")) {
      ran = true;
      EmitOpaqueSql(ctx, target, "cqlsh runs the statements in a file, which cannot be seen");
    }
  }
  if (ran) return;
  std::string text;
  StdinSource source = ClientStdin(inv, &text);
  if (source == StdinSource::kText) {
    ClassifyKeywordSql(text, "CQL", target, ctx);
    return;
  }
  if (source != StdinSource::kNone) {
    EmitOpaqueSql(ctx, target, "cqlsh runs statements from stdin, which cannot be seen");
    return;
  }
  EmitRead(ctx, target, "cqlsh opens an interactive session");
}

constexpr PackEntry kDbCliPack[] = {
    {"psql", HandlePsql},
    {"dropdb", HandleDropdb},
    {"dropuser", HandleDropuser},
    {"createdb", HandleCreatedb},
    {"createuser", HandleCreatedb},
    {"pg_dump", HandlePgDump},
    {"pg_dumpall", HandlePgDump},
    {"pg_basebackup", HandlePgDump},
    {"pg_restore", HandlePgRestore},
    {"pg_dropcluster", HandlePgDropcluster},
    {"pg_ctl", HandlePgCtl},
    {"pg_ctlcluster", HandlePgCtl},
    {"pg_resetwal", HandlePgResetwal},
    {"pg_resetxlog", HandlePgResetwal},
    {"pg_archivecleanup", HandlePgArchivecleanup},
    {"mysql", HandleMysql},
    {"mariadb", HandleMysql},
    {"mysqladmin", HandleMysqladmin},
    {"mariadb-admin", HandleMysqladmin},
    {"mysqldump", HandleSqlDump},
    {"mariadb-dump", HandleSqlDump},
    {"mysqlpump", HandleSqlDump},
    {"sqlite3", HandleSqlite},
    {"sqlite", HandleSqlite},
    {"redis-cli", HandleRedisCli},
    {"valkey-cli", HandleRedisCli},
    {"keydb-cli", HandleRedisCli},
    {"mongosh", HandleMongosh},
    {"mongo", HandleMongosh},
    {"mongorestore", HandleMongoTool},
    {"mongoimport", HandleMongoTool},
    {"mongodump", HandleMongoTool},
    {"mongoexport", HandleMongoTool},
    {"clickhouse-client", HandleClickhouseClient},
    {"clickhouse", HandleClickhouse},
    {"cqlsh", HandleCqlsh},
};

}  // namespace

std::span<const PackEntry> DbCliPack() {
  return kDbCliPack;
}

}  // namespace dualkey::shell
