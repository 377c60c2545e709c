#include "mcp/mcp.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <span>

#include "base/text.h"
#include "core/verbs.h"
#include "file/file.h"
#include "http/http.h"
#include "protect/protect.h"
#include "shell/shell.h"
#include "sql/sql.h"

namespace dualkey::mcp {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 16;
constexpr std::size_t kMaxPayloads = 32;

// Argument names whose string value is SQL / a shell command line / a path /
// a URL. "query" is SQL only in a database context (a search tool's query is
// prose).
constexpr std::string_view kSqlKeys[] = {"sql",       "statement", "statements",
                                         "sql_query", "sqlquery",  "query_sql"};
constexpr std::string_view kShellKeys[] = {"command", "cmd",         "cli_command", "shell_command",
                                           "script",  "commandline", "command_line"};
constexpr std::string_view kPathKeys[] = {"path",     "file",        "file_path",
                                          "filepath", "filename",    "directory",
                                          "dir",      "destination", "target_path"};
constexpr std::string_view kCwdKeys[] = {"cwd", "working_directory", "workdir", "dir"};

// Words in a tool's name are read with the shared vocabulary (core/verbs.h);
// these add what only tool names say: process and file verbs.
constexpr std::string_view kExtraDestroying[] = {"kill", "unlink", "revoke", "rmdir"};
constexpr std::string_view kExtraReads[] = {"schema", "tables", "describe", "open",
                                            "fetch",  "count",  "explain"};
constexpr std::string_view kExtraWrites[] = {"post", "comment", "star", "save", "store"};
// Argument names whose value is an argv list (["delete", "ns", "prod"]).
constexpr std::string_view kArgvKeys[] = {"args",     "argv",          "arguments",
                                          "command",  "cmd",           "command_args",
                                          "cli_args", "argument_list", "commandargs"};
// Words of a server or tool that talk to Redis (or a Redis-compatible store).
constexpr std::string_view kRedisWords[] = {"redis",     "valkey",      "keydb",
                                            "dragonfly", "cache",       "memorystore",
                                            "upstash",   "elasticache", "kv"};
// Redis commands, to recognise a Redis command line by its first word.
constexpr std::string_view kRedisCommands[] = {"get",
                                               "set",
                                               "del",
                                               "unlink",
                                               "flushall",
                                               "flushdb",
                                               "keys",
                                               "scan",
                                               "hget",
                                               "hset",
                                               "hgetall",
                                               "hdel",
                                               "hmset",
                                               "hmget",
                                               "lpush",
                                               "rpush",
                                               "lpop",
                                               "rpop",
                                               "lrange",
                                               "ltrim",
                                               "lrem",
                                               "sadd",
                                               "srem",
                                               "smembers",
                                               "spop",
                                               "zadd",
                                               "zrem",
                                               "zrange",
                                               "zremrangebyscore",
                                               "zremrangebyrank",
                                               "expire",
                                               "pexpire",
                                               "ttl",
                                               "incr",
                                               "decr",
                                               "mget",
                                               "mset",
                                               "exists",
                                               "type",
                                               "info",
                                               "config",
                                               "shutdown",
                                               "save",
                                               "bgsave",
                                               "debug",
                                               "script",
                                               "eval",
                                               "evalsha",
                                               "publish",
                                               "xadd",
                                               "xdel",
                                               "xtrim",
                                               "rename",
                                               "move",
                                               "migrate",
                                               "swapdb",
                                               "select",
                                               "ping",
                                               "dbsize",
                                               "client",
                                               "acl",
                                               "memory",
                                               "slowlog",
                                               "getdel",
                                               "getex",
                                               "append",
                                               "strlen",
                                               "replicaof",
                                               "slaveof",
                                               "function",
                                               "fcall",
                                               "json.del",
                                               "json.get",
                                               "json.set",
                                               "ft.dropindex",
                                               "persist",
                                               "copy",
                                               "restore",
                                               "dump",
                                               "object",
                                               "randomkey",
                                               "bgrewriteaof"};
// Tool or server words that say an argument is a command to run.
constexpr std::string_view kExecWords[] = {
    "run", "exec",    "execute", "shell",   "terminal", "bash", "sh",     "cmd",        "command",
    "cli", "console", "script",  "process", "spawn",    "ssh",  "invoke", "powershell", "zsh"};

constexpr std::string_view kDatabaseWords[] = {"sql",        "postgres", "postgresql", "mysql",
                                               "sqlite",     "mariadb",  "supabase",   "neon",
                                               "database",   "db",       "pg",         "query",
                                               "clickhouse", "duckdb",   "snowflake",  "bigquery"};

bool In(std::string_view word, std::span<const std::string_view> set) {
  return std::find(set.begin(), set.end(), word) != set.end();
}

// "drop-database", "deleteMany", "kubectl_delete" -> lower-case words.
std::vector<std::string> Words(std::string_view name) {
  std::vector<std::string> words;
  std::string current;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool boundary = !std::isalnum(static_cast<unsigned char>(c));
    bool camel = std::isupper(static_cast<unsigned char>(c)) && i > 0 &&
                 std::islower(static_cast<unsigned char>(name[i - 1]));
    if ((boundary || camel) && !current.empty()) {
      words.push_back(current);
      current.clear();
    }
    if (!boundary)
      current.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (!current.empty()) words.push_back(current);
  return words;
}

Action McpAction(std::string op_class, std::vector<std::string> targets,
                 Reversibility reversibility, Severity severity, std::string reason) {
  return dualkey::MakeAction(Channel::kMcp, std::move(op_class), std::move(targets), reversibility,
                             severity, std::move(reason));
}

// What a destructive tool name destroys, from the other words in it.
std::string DestroyedClass(const std::vector<std::string>& words) {
  for (const std::string& w : words) {
    if (w == "backup" || w == "backups" || w == "snapshot" || w == "snapshots")
      return "backup.delete";
  }
  for (const std::string& w : words) {
    if (w == "database" || w == "db" || w == "table" || w == "collection" || w == "schema" ||
        w == "index" || w == "keyspace")
      return "db.drop";
    if (w == "many" || w == "documents" || w == "rows" || w == "records" || w == "all")
      return "db.delete.unbounded";
    if (w == "repository" || w == "repo" || w == "branch") return "repo.delete";
    if (w == "namespace" || w == "pod" || w == "deployment" || w == "pvc" || w == "kubectl" ||
        w == "resource" || w == "k8s")
      return "k8s.delete";
    if (w == "file" || w == "directory" || w == "folder" || w == "dir" || w == "path")
      return "fs.delete";
    if (w == "volume" || w == "project" || w == "instance" || w == "cluster" || w == "bucket" ||
        w == "service" || w == "environment" || w == "app" || w == "server" || w == "droplet")
      return "cloud.delete";
  }
  return "mcp.delete";
}

struct Payloads {
  std::vector<std::string> sql;
  std::vector<std::string> shell;
  std::vector<std::vector<std::string>> argvs;  // argv arrays
  std::vector<std::string> others;              // other string values, for their shape
  std::vector<std::string> paths;
  std::vector<std::string> sources;  // move/rename: these paths go away
  std::vector<std::string> urls;
  std::string method;
  std::string body;
  std::string cwd;
  std::vector<std::string> query_strings;  // "query" values: SQL in a database context
  std::vector<std::string> names;          // name/id-like values, for targets
  bool too_big = false;
};

void Collect(const json& value, std::string_view key, int depth, Payloads* out) {
  if (depth > kMaxDepth) {
    out->too_big = true;
    return;
  }
  if (value.is_object()) {
    // {"command": "bash", "args": ["-c", "rm -rf ..."]}: the program and its
    // arguments given apart, as MCP servers' own configs and process tools
    // take them, are one argv.
    std::string program;
    const json* arguments = nullptr;
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string lower = base::ToLower(it.key());
      if (it.value().is_string() && In(lower, kShellKeys)) {
        const std::string& text = it.value().get_ref<const std::string&>();
        if (!text.empty() && text.find_first_of(" \t\n") == std::string::npos) program = text;
      } else if (it.value().is_array() && In(lower, kArgvKeys) && lower != "command" &&
                 lower != "cmd") {
        arguments = &it.value();
      }
    }
    if (!program.empty() && arguments != nullptr &&
        std::all_of(arguments->begin(), arguments->end(),
                    [](const json& v) { return v.is_string(); })) {
      if (out->argvs.size() >= kMaxPayloads) {
        out->too_big = true;
        return;
      }
      std::vector<std::string> argv{program};
      for (const json& element : *arguments) argv.push_back(element.get<std::string>());
      out->argvs.push_back(std::move(argv));
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string lower = base::ToLower(it.key());
      Collect(it.value(), lower, depth + 1, out);
    }
    return;
  }
  if (value.is_array()) {
    // ["delete", "namespace", "prod"] under args/argv/command: one argv.
    if (In(key, kArgvKeys) && !value.empty() &&
        std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_string(); })) {
      if (out->argvs.size() >= kMaxPayloads) {
        out->too_big = true;
        return;
      }
      std::vector<std::string> argv;
      for (const json& element : value) argv.push_back(element.get<std::string>());
      out->argvs.push_back(std::move(argv));
      return;
    }
    for (const json& element : value) Collect(element, key, depth + 1, out);
    return;
  }
  if (!value.is_string()) return;
  const std::string& text = value.get_ref<const std::string&>();
  if (out->sql.size() + out->shell.size() + out->paths.size() > kMaxPayloads) {
    out->too_big = true;
    return;
  }
  if (In(key, kSqlKeys))
    out->sql.push_back(text);
  else if (key == "query" || key == "q")
    out->query_strings.push_back(text);
  else if (In(key, kShellKeys))
    out->shell.push_back(text);
  else if (key == "url" || key == "uri" || key == "endpoint")
    out->urls.push_back(text);
  else if (key == "method")
    out->method = text;
  else if (key == "body" || key == "data")
    out->body = text;
  else if (In(key, kCwdKeys) && !text.empty() && text[0] == '/')
    out->cwd = text;
  else if (In(key, kPathKeys) || key == "paths")
    out->paths.push_back(text);
  else if (key == "source" || key == "src" || key == "from" || key == "old_path" ||
           key == "source_path")
    out->sources.push_back(text);
  else if (out->others.size() < kMaxPayloads)
    out->others.push_back(text);
  if (key == "name" || key == "database" || key == "repo" || key == "project" ||
      key == "projectid" || key == "volumeid" || key == "id" || key == "bucket" || key == "table" ||
      key == "collection" || key == "namespace" || key == "resourcetype" || key == "project_id")
    out->names.push_back(text);
}

bool LooksLikeSql(std::string_view text) {
  std::size_t start = text.find_first_not_of(" \t\r\n(");
  if (start == std::string_view::npos) return false;
  std::string word;
  for (std::size_t i = start; i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]));
       ++i)
    word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
  static constexpr std::string_view kStarts[] = {
      "select", "insert",  "update",  "delete", "with", "drop",  "truncate", "alter",
      "create", "grant",   "revoke",  "merge",  "copy", "do",    "call",     "explain",
      "vacuum", "analyze", "replace", "upsert", "set",  "begin", "commit",   "show"};
  return In(word, kStarts);
}

// Quotes a word for a shell command line.
std::string ShellQuote(std::string_view word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./:=@,+%") == std::string_view::npos)
    return std::string(word);
  return base::ShellSingleQuote(word);
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& word : argv) {
    if (!line.empty()) line.push_back(' ');
    line += ShellQuote(word);
  }
  return line;
}

std::string FirstWord(std::string_view text) {
  std::size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  std::size_t end = text.find_first_of(" \t\r\n", start);
  return std::string(text.substr(start, end == std::string_view::npos ? end : end - start));
}

bool IsRedisCommand(std::string_view word) {
  return In(base::ToLower(word), kRedisCommands);
}

bool AllUpper(std::string_view word) {
  bool letter = false;
  for (char c : word) {
    if (std::islower(static_cast<unsigned char>(c))) return false;
    letter = letter || std::isupper(static_cast<unsigned char>(c));
  }
  return letter;
}

// The basename a word runs as ("/usr/bin/kubectl" -> "kubectl").
std::string_view CommandName(std::string_view word) {
  std::size_t slash = word.rfind('/');
  return slash == std::string_view::npos ? word : word.substr(slash + 1);
}

void Retag(std::vector<Action>* actions, std::vector<Action>* out) {
  for (Action& action : *actions) {
    action.channel = Channel::kMcp;
    out->push_back(std::move(action));
  }
}

}  // namespace

Result<ToolCall> ParseToolCallJson(std::string_view text) {
  ToolCall out;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    return Status::InvalidArgument("an MCP tool call is a JSON object {server, tool, arguments}");
  if (!parsed.contains("tool") || !parsed["tool"].is_string() ||
      parsed["tool"].get<std::string>().empty())
    return Status::InvalidArgument("the MCP tool call has no tool name");
  out.tool = parsed["tool"];
  if (auto server = parsed.find("server"); server != parsed.end() && !server->is_null()) {
    if (!server->is_string())
      return Status::InvalidArgument("the MCP tool call's server must be a string");
    out.server = server->get<std::string>();
  }
  if (parsed.contains("arguments")) {
    if (!parsed["arguments"].is_object() && !parsed["arguments"].is_null())
      return Status::InvalidArgument("MCP tool arguments must be an object");
    if (parsed["arguments"].is_object()) out.arguments = parsed["arguments"];
  }
  if (parsed.contains("annotations") && parsed["annotations"].is_object()) {
    const json& annotations = parsed["annotations"];
    // Hints are booleans; one of another type is not believed: a
    // destructive hint that cannot be read counts as given, a read-only one
    // as not.
    if (auto hint = annotations.find("destructiveHint"); hint != annotations.end())
      out.destructive_hint = !hint->is_boolean() || hint->get<bool>();
    if (auto hint = annotations.find("readOnlyHint"); hint != annotations.end())
      out.read_only_hint = hint->is_boolean() && hint->get<bool>();
  }
  return out;
}

std::vector<Action> Classify(const ToolCall& call, const Options& options) {
  std::vector<Action> actions;
  const std::string who = call.server.empty() ? call.tool : call.server + "/" + call.tool;
  Payloads payloads;
  Collect(call.arguments, "", 0, &payloads);
  if (payloads.too_big) {
    actions.push_back(
        McpAction("opaque.mcp", {who}, Reversibility::kUnknown, Severity::kHigh,
                  who + ": the arguments are nested or numerous beyond what dualkey reads"));
    return actions;
  }
  std::vector<std::string> words = Words(call.tool);
  const std::vector<std::string> server_words = Words(call.server);
  auto any_word = [&](std::span<const std::string_view> set, const std::vector<std::string>& ws) {
    for (const std::string& w : ws)
      if (In(w, set)) return true;
    return false;
  };
  const bool database_context =
      any_word(kDatabaseWords, server_words) || any_word(kDatabaseWords, words);
  std::vector<std::string> maybe_sql;  // a "query" outside a database context
  for (const std::string& text : payloads.query_strings) {
    if (database_context)
      payloads.sql.push_back(text);
    else if (LooksLikeSql(text))
      maybe_sql.push_back(text);
  }

  bool has_payload = false;
  for (const std::string& text : payloads.sql) {
    has_payload = true;
    sql::Options sql_options;
    sql_options.dialect =
        any_word(std::array<std::string_view, 2>{"mysql", "mariadb"}, server_words)
            ? sql::Dialect::kMySql
        : any_word(std::array<std::string_view, 1>{"sqlite"}, server_words)
            ? sql::Dialect::kSqlite
            : sql::Dialect::kPostgres;
    std::vector<Action> found = sql::Classify(text, sql_options);
    Retag(&found, &actions);
  }
  // Outside a database, a "query" that starts like SQL counts as SQL only when
  // it parses as SQL: `DROP TABLE in:title` is a search for those words.
  for (const std::string& text : maybe_sql) {
    if (!sql::ParsesAsPostgres(text)) continue;
    std::vector<Action> found = sql::Classify(text);
    has_payload = true;
    Retag(&found, &actions);
  }
  const std::string cwd = payloads.cwd.empty() ? options.cwd : payloads.cwd;
  const bool redis_context = any_word(kRedisWords, server_words) || any_word(kRedisWords, words);
  const bool exec_context = any_word(kExecWords, words) || any_word(kExecWords, server_words);
  // A program the server or tool is named after ("kubectl", "run_gcloud"),
  // for argv lists that leave it out.
  std::string program;
  for (const std::vector<std::string>* list :
       std::array<const std::vector<std::string>*, 2>{&words, &server_words})
    for (const std::string& w : *list)
      if (program.empty() && shell::IsKnownCommand(w) && !In(w, kExecWords)) program = w;
  if (program.empty() && shell::IsKnownCommand(base::ToLower(call.tool)))
    program = base::ToLower(call.tool);
  auto run_shell = [&](const std::string& line) {
    has_payload = true;
    shell::Analysis analysis = shell::Analyze(line, {cwd, options.home, options.packs});
    Retag(&analysis.actions, &actions);
  };
  auto run_sql = [&](const std::string& text) {
    has_payload = true;
    std::vector<Action> found = sql::Classify(text);
    Retag(&found, &actions);
  };
  // What a command line (or argv) is: a program's, a Redis command, SQL.
  // `line` is the text as given (empty for an argv).
  auto classify_command = [&](std::vector<std::string> argv, const std::string& line) {
    if (argv.empty()) return;
    const std::string first = argv.front();
    const std::string text = line.empty() ? JoinArgv(argv) : line;
    const bool known = shell::IsKnownCommand(CommandName(first));
    auto as_redis = [&] {
      has_payload = true;
      shell::Analysis analysis =
          shell::Analyze("redis-cli " + text, {cwd, options.home, options.packs});
      Retag(&analysis.actions, &actions);
    };
    if (!known && redis_context && IsRedisCommand(first)) return as_redis();
    if (!known && LooksLikeSql(text) && (sql::ParsesAsPostgres(text) || AllUpper(first)))
      return run_sql(text);
    if (!known && AllUpper(first) && IsRedisCommand(first)) return as_redis();
    if (!known && !program.empty() && CommandName(first) != program)
      return run_shell(program + " " + text);
    run_shell(text);
  };
  for (const std::string& text : payloads.shell) {
    std::string first = FirstWord(text);
    if (first.empty()) continue;
    classify_command({first}, text);
  }
  for (const std::vector<std::string>& argv : payloads.argvs) classify_command(argv, "");
  // In a tool that runs things, any other argument shaped like a command
  // line of a known program is one.
  if (exec_context) {
    for (const std::string& text : payloads.others) {
      std::string first = FirstWord(text);
      if (first.empty() || !shell::IsKnownCommand(CommandName(first))) continue;
      run_shell(text);
    }
  }
  for (const std::string& url : payloads.urls) {
    has_payload = true;
    http::Request request{payloads.method, url, {}, payloads.body};
    std::vector<Action> found = http::Classify(request);
    Retag(&found, &actions);
  }

  // The tool's name, read with the shared verb vocabulary.
  auto name_has = [&](verbs::Kind kind, std::span<const std::string_view> extra) {
    for (const std::string& w : words)
      if (verbs::WordKind(w) == kind || In(w, extra)) return true;
    return false;
  };
  const bool destructive_name = name_has(verbs::Kind::kDestroy, kExtraDestroying);
  const bool read_name = !destructive_name && name_has(verbs::Kind::kRead, kExtraReads);
  const bool write_name =
      !destructive_name && !read_name && name_has(verbs::Kind::kWrite, kExtraWrites);

  // Moving or renaming removes the source from where it was.
  if (!payloads.sources.empty() &&
      any_word(std::array<std::string_view, 3>{"move", "rename", "mv"}, words)) {
    has_payload = true;
    for (const std::string& path : payloads.sources) {
      std::vector<Action> found = file::ClassifyFileWrite(path, "delete", cwd, options.home);
      Retag(&found, &actions);
    }
  }
  // File tools: the path and what the tool does to it decide.
  if (!payloads.paths.empty() && (destructive_name || write_name)) {
    has_payload = true;
    const char* operation = destructive_name ? "delete" : "write";
    if (any_word(std::array<std::string_view, 3>{"edit", "patch", "append"}, words))
      operation = "edit";
    for (const std::string& path : payloads.paths) {
      std::vector<Action> found = file::ClassifyFileWrite(path, operation, cwd, options.home);
      Retag(&found, &actions);
    }
  } else if (destructive_name && !has_payload) {
    // The name is all we have: "drop-database", "volume_delete", "delete_repository".
    std::vector<std::string> targets = payloads.names;
    if (targets.empty()) targets.push_back(who);
    std::string op_class = DestroyedClass(words);
    actions.push_back(McpAction(op_class, targets, Reversibility::kIrreversible,
                                op_class == "backup.delete" ? Severity::kCritical : Severity::kHigh,
                                who + " destroys what it names (" + call.tool + ")"));
  } else if (destructive_name) {
    // A payload was classified; a destroying name still deserves a look when
    // the payload itself looked harmless.
    bool any_destructive = false;
    for (const Action& action : actions) any_destructive = any_destructive || IsDestructive(action);
    if (!any_destructive)
      actions.push_back(
          McpAction(DestroyedClass(words),
                    payloads.names.empty() ? std::vector<std::string>{who} : payloads.names,
                    Reversibility::kIrreversible, Severity::kHigh,
                    who + " is a destroying tool (" + call.tool + ")"));
  }

  // A read of dualkey's secrets (its store, its keys) by any tool.
  if (!destructive_name && !write_name) {
    for (const std::string& path : payloads.paths) {
      const std::string absolute = protect::ResolveLiteral(path, cwd, options.home);
      const protect::Place place = protect::Classify(absolute, options.home);
      if (place.kind != protect::Kind::kGuardSecret) continue;
      actions.push_back(McpAction("guard.tamper", {absolute}, Reversibility::kIrreversible,
                                  Severity::kCritical,
                                  who + " reads " + std::string(place.what) + " (" + absolute +
                                      "): an agent must not read the guard's secrets"));
    }
  }

  if (call.destructive_hint) {
    bool any_destructive = false;
    for (const Action& action : actions) any_destructive = any_destructive || IsDestructive(action);
    if (!any_destructive)
      actions.push_back(McpAction("mcp.destructive_hint", {who}, Reversibility::kUnknown,
                                  Severity::kMedium,
                                  who + " declares itself destructive (destructiveHint)"));
  }

  if (actions.empty()) {
    if (read_name || has_payload) {
      actions.push_back(McpAction("read.only", {who}, Reversibility::kReversible, Severity::kNone,
                                  who + " reads"));
    } else if (write_name) {
      actions.push_back(McpAction("mcp.write", {who}, Reversibility::kReversible, Severity::kLow,
                                  who + " creates or changes something ordinary"));
    } else {
      // readOnlyHint alone is the server's word, not ours.
      actions.push_back(McpAction("opaque.mcp", {who}, Reversibility::kUnknown, Severity::kHigh,
                                  who + ": dualkey cannot tell what this tool does"));
    }
  }
  return actions;
}

}  // namespace dualkey::mcp
