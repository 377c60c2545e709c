// redis-cli (and valkey-cli, keydb-cli): commands that destroy data or hand the
// server to another dataset.

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/dbcli/dbcli.h"

namespace dualkey::shell::dbcli {

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
  for (std::string_view line : base::SplitLines(text)) {
    std::vector<std::string> words = SplitWords(line);
    std::vector<std::string_view> views(words.begin(), words.end());
    // In text with unknown parts, a word holding a placeholder is unknown.
    std::vector<char> known_words;
    for (const std::string& word : words)
      known_words.push_back(known || word.find('$') == std::string::npos);
    ClassifyRedisCommand(views, known_words, target, ctx);
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

}  // namespace dualkey::shell::dbcli
