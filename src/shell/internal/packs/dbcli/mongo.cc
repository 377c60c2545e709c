// mongosh/mongo: a JavaScript scan for destroying calls; the mongo tools.

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "shell/internal/packs/dbcli/dbcli.h"

namespace dualkey::shell::dbcli {

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

}  // namespace dualkey::shell::dbcli
