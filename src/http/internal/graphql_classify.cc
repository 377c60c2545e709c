// GraphQL endpoints: find the document (POST JSON, batched arrays,
// application/graphql, GET ?query=), parse it, pick the operation that runs,
// and classify each root field of a mutation by name: first kKnownMutations
// (exact names from platform schemas), then the words of the name (verb and
// object), with the arguments resolved through the request's variables where
// they decide the reach (Hasura's `where: {}`, GitHub's `force: true`).
// Queries and subscriptions only read, whatever their fields are called.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <string>

#include "http/internal/facts.h"
#include "http/internal/graphql.h"

namespace dualkey::http::internal {
namespace {

using nlohmann::json;
namespace gql = graphql;

struct KnownMutation {
  std::string_view name;
  std::string_view op_class;
  Severity severity;
  std::string_view reason;
};

// Exact mutation names from platform schemas (Railway, GitHub, Render ...).
constexpr std::array kKnownMutations = {
    KnownMutation{"volumeDelete", "cloud.delete", Severity::kCritical,
                  "deletes a volume, its data and its volume-level backups"},
    KnownMutation{"volumeInstanceBackupDelete", "backup.delete", Severity::kCritical,
                  "deletes a volume backup"},
    KnownMutation{"volumeInstanceBackupRestore", "db.restore.overwrite", Severity::kHigh,
                  "restores a backup over the volume's current data"},
    KnownMutation{"projectDelete", "cloud.delete", Severity::kCritical,
                  "deletes a project with every service, volume and database in it"},
    KnownMutation{"serviceDelete", "cloud.delete", Severity::kHigh, "deletes a service"},
    KnownMutation{"environmentDelete", "cloud.delete", Severity::kHigh,
                  "deletes an environment with its services and volumes"},
    KnownMutation{"pluginDelete", "db.drop", Severity::kHigh, "deletes a database plugin"},
    KnownMutation{"databaseDelete", "db.drop", Severity::kHigh, "deletes a database"},
    KnownMutation{"backupDelete", "backup.delete", Severity::kCritical, "deletes a backup"},
    KnownMutation{"deleteRepository", "repo.delete", Severity::kCritical, "deletes a repository"},
    KnownMutation{"deleteRef", "repo.branch.delete", Severity::kHigh, "deletes a git ref"},
    KnownMutation{"deleteBranchProtectionRule", "repo.protection.delete", Severity::kHigh,
                  "removes a branch protection rule"},
    KnownMutation{"deleteRepositoryRuleset", "repo.protection.delete", Severity::kHigh,
                  "deletes a repository ruleset"},
};

enum class WordKind { kDestroy, kRestore, kDisable };

struct VerbWord {
  std::string_view word;
  WordKind kind;
};

constexpr std::array kVerbWords = {
    VerbWord{"delete", WordKind::kDestroy},   VerbWord{"destroy", WordKind::kDestroy},
    VerbWord{"drop", WordKind::kDestroy},     VerbWord{"purge", WordKind::kDestroy},
    VerbWord{"remove", WordKind::kDestroy},   VerbWord{"wipe", WordKind::kDestroy},
    VerbWord{"reset", WordKind::kDestroy},    VerbWord{"erase", WordKind::kDestroy},
    VerbWord{"truncate", WordKind::kDestroy}, VerbWord{"terminate", WordKind::kDestroy},
    VerbWord{"nuke", WordKind::kDestroy},     VerbWord{"obliterate", WordKind::kDestroy},
    VerbWord{"clear", WordKind::kDestroy},    VerbWord{"restore", WordKind::kRestore},
    VerbWord{"disable", WordKind::kDisable},  VerbWord{"pause", WordKind::kDisable},
    VerbWord{"suspend", WordKind::kDisable},  VerbWord{"stop", WordKind::kDisable},
};

// Objects whose removal is undone in a click: the verb does not make these
// destructive (removeReaction, deleteLabel, clearCache, resetPassword).
constexpr std::string_view kTrivialObjects[] = {
    "reaction", "reactions",    "star",     "stars",     "label",        "labels",
    "assignee", "assignees",    "upvote",   "vote",      "reviewer",     "reviewers",
    "bookmark", "bookmarks",    "favorite", "favorites", "like",         "likes",
    "emoji",    "cache",        "session",  "sessions",  "notification", "notifications",
    "password", "subscription", "draft"};

constexpr std::string_view kBackupWords[] = {"backup", "backups", "snapshot", "snapshots",
                                             "recovery"};

struct ObjectWord {
  std::string_view word;
  std::string_view op_class;
  Severity severity;
};

// What a destroying verb reaches, by the object it names.
constexpr std::array kObjectWords = {
    ObjectWord{"repository", "repo.delete", Severity::kCritical},
    ObjectWord{"repo", "repo.delete", Severity::kCritical},
    ObjectWord{"database", "db.drop", Severity::kHigh},
    ObjectWord{"db", "db.drop", Severity::kHigh},
    ObjectWord{"table", "db.drop", Severity::kHigh},
    ObjectWord{"volume", "cloud.delete", Severity::kCritical},
    ObjectWord{"project", "cloud.delete", Severity::kCritical},
    ObjectWord{"organization", "cloud.delete", Severity::kCritical},
    ObjectWord{"workspace", "cloud.delete", Severity::kCritical},
    ObjectWord{"cluster", "cloud.delete", Severity::kCritical},
    ObjectWord{"bucket", "cloud.delete", Severity::kCritical},
    ObjectWord{"environment", "cloud.delete", Severity::kHigh},
    ObjectWord{"service", "cloud.delete", Severity::kHigh},
    ObjectWord{"instance", "cloud.delete", Severity::kHigh},
    ObjectWord{"branch", "repo.branch.delete", Severity::kHigh},
};

bool InList(std::span<const std::string_view> list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// "volumeInstanceBackupDelete" -> volume instance backup delete;
// "delete_users_by_pk" -> delete users by pk; "deleteDBInstance" -> delete db instance.
std::vector<std::string> Words(std::string_view name) {
  std::vector<std::string> words;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '_' || c == '-') {
      flush();
      continue;
    }
    const bool upper = std::isupper(static_cast<unsigned char>(c));
    if (upper && !current.empty()) {
      const bool prev_lower = !std::isupper(static_cast<unsigned char>(name[i - 1]));
      const bool next_lower =
          i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]));
      if (prev_lower || next_lower) flush();
    }
    current.push_back(Lower(c));
  }
  flush();
  return words;
}

// A GraphQL value as JSON, with variables substituted (defaults when the
// request leaves them out). Numbers stay text: no decision rests on them.
json ToJson(const gql::Value& value, const json& variables, const gql::Operation& operation,
            int depth) {
  if (depth > gql::kMaxDepth) return nullptr;
  switch (value.kind) {
    case gql::Value::Kind::kVariable: {
      if (variables.is_object()) {
        auto it = variables.find(value.text);
        if (it != variables.end()) return *it;
      }
      for (const gql::VariableDefinition& definition : operation.variables)
        if (definition.name == value.text && definition.has_default)
          return ToJson(definition.default_value, variables, operation, depth + 1);
      return nullptr;
    }
    case gql::Value::Kind::kInt:
    case gql::Value::Kind::kFloat:
    case gql::Value::Kind::kString:
    case gql::Value::Kind::kEnum:
      return value.text;
    case gql::Value::Kind::kBoolean:
      return value.text == "true";
    case gql::Value::Kind::kNull:
      return nullptr;
    case gql::Value::Kind::kList: {
      json list = json::array();
      for (const gql::Value& item : value.items)
        list.push_back(ToJson(item, variables, operation, depth + 1));
      return list;
    }
    case gql::Value::Kind::kObject: {
      json object = json::object();
      for (const gql::Value& item : value.items)
        object[item.name] = ToJson(item, variables, operation, depth + 1);
      return object;
    }
  }
  return nullptr;
}

const json* FindKey(const json& value, std::string_view key, int depth) {
  if (depth > 16) return nullptr;
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key() == key) return &it.value();
      if (const json* found = FindKey(it.value(), key, depth + 1)) return found;
    }
  } else if (value.is_array()) {
    for (const json& item : value)
      if (const json* found = FindKey(item, key, depth + 1)) return found;
  }
  return nullptr;
}

struct FieldFacts {
  const gql::Field& field;
  json arguments;  // name -> resolved value
  std::vector<std::string> targets;
};

Action FieldAction(const FieldFacts& facts, std::string op_class, Severity severity,
                   std::string reason) {
  const bool harmless = severity <= Severity::kLow && !op_class.starts_with("backup.");
  return MakeAction(std::move(op_class), facts.targets,
                    harmless ? Reversibility::kReversible : Reversibility::kIrreversible, severity,
                    "GraphQL mutation " + facts.field.name + ": " + std::move(reason));
}

// An argument that filters rows (where, filter) and is absent or empty.
bool Unfiltered(const json& arguments) {
  for (const char* key : {"where", "filter"}) {
    auto it = arguments.find(key);
    if (it != arguments.end()) return it->is_null() || (it->is_object() && it->empty());
  }
  return true;
}

Action ClassifyMutationField(const FieldFacts& facts) {
  const std::string& name = facts.field.name;
  for (const KnownMutation& known : kKnownMutations)
    if (known.name == name)
      return FieldAction(facts, std::string(known.op_class), known.severity,
                         std::string(known.reason));

  const std::vector<std::string> words = Words(name);
  const bool backup = std::any_of(words.begin(), words.end(),
                                  [](const std::string& w) { return InList(kBackupWords, w); });
  const bool trivial = std::any_of(words.begin(), words.end(),
                                   [](const std::string& w) { return InList(kTrivialObjects, w); });
  const VerbWord* verb = nullptr;
  for (const std::string& word : words) {
    for (const VerbWord& candidate : kVerbWords)
      if (candidate.word == word) verb = &candidate;
    if (verb != nullptr) break;
  }

  // Moving a ref with force drops the commits it pointed past.
  if (const json* force = FindKey(facts.arguments, "force", 0);
      force && force->is_boolean() && force->get<bool>() &&
      std::any_of(words.begin(), words.end(),
                  [](const std::string& w) { return w == "ref" || w == "refs" || w == "branch"; }))
    return FieldAction(facts, "git.push.force", Severity::kHigh,
                       "force-moves a ref, dropping commits");

  // Row operations in the Hasura shape: delete_users(where: {...}).
  const bool row_operation = !words.empty() && name.find('_') != std::string::npos &&
                             (words.front() == "delete" || words.front() == "update");
  if (row_operation) {
    const bool deletes = words.front() == "delete";
    if (name.ends_with("_by_pk"))
      return FieldAction(facts, deletes ? "db.delete" : "db.write",
                         deletes ? Severity::kMedium : Severity::kLow,
                         deletes ? "deletes one row by primary key" : "updates one row");
    if (Unfiltered(facts.arguments))
      return FieldAction(
          facts, deletes ? "db.delete.unbounded" : "db.update.unbounded", Severity::kHigh,
          std::string(deletes ? "deletes" : "updates") + " every row: the where filter is empty");
    return FieldAction(facts, deletes ? "db.delete" : "db.write",
                       deletes ? Severity::kMedium : Severity::kLow,
                       deletes ? "deletes the rows a filter matches" : "updates filtered rows");
  }

  if (verb == nullptr)
    return FieldAction(facts, "graphql.mutation", Severity::kLow, "creates or changes data");

  switch (verb->kind) {
    case WordKind::kRestore:
      return FieldAction(facts, "db.restore.overwrite", Severity::kHigh,
                         "restores over the current data");
    case WordKind::kDisable:
      if (backup) return FieldAction(facts, "backup.delete", Severity::kHigh, "turns backups off");
      return FieldAction(facts, "graphql.mutation", Severity::kLow, "pauses or disables");
    case WordKind::kDestroy:
      break;
  }
  if (backup) return FieldAction(facts, "backup.delete", Severity::kCritical, "deletes backups");
  if (trivial)
    return FieldAction(facts, "graphql.mutation", Severity::kLow,
                       "removes something trivially restored");
  const bool many = std::any_of(words.begin(), words.end(),
                                [](const std::string& w) { return w == "many" || w == "all"; });
  if (many && Unfiltered(facts.arguments))
    return FieldAction(facts, "db.delete.unbounded", Severity::kHigh,
                       "deletes every record: no filter");
  for (const std::string& word : words)
    for (const ObjectWord& object : kObjectWords)
      if (object.word == word)
        return FieldAction(facts, std::string(object.op_class), object.severity,
                           verb->word == "reset" ? "resets it, losing its data"
                                                 : std::string(verb->word) + "s a " + word);
  return FieldAction(facts, "cloud.delete", Severity::kMedium,
                     std::string(verb->word) + " in the name: destroys data");
}

void ClassifyDocument(const Facts& facts, std::string_view text, const json& variables,
                      std::string_view operation_name, std::vector<Action>* out) {
  gql::Document document;
  std::string error;
  if (!gql::Parse(text, &document, &error)) {
    out->push_back(Opaque("the GraphQL document does not parse (" + error +
                          "), so what it does cannot be known"));
    out->back().targets = {facts.Target()};
    return;
  }
  std::vector<const gql::Operation*> operations;
  for (const gql::Operation& operation : document.operations)
    if (operation_name.empty() || operation.name == operation_name)
      operations.push_back(&operation);
  if (operations.empty()) {
    out->push_back(Opaque("operationName \"" + std::string(operation_name) +
                          "\" names no operation in the document"));
    return;
  }
  for (const gql::Operation* operation : operations) {
    std::vector<const gql::Field*> fields;
    if (!gql::RootFields(document, *operation, &fields, &error)) {
      out->push_back(Opaque("the GraphQL document is invalid: " + error));
      return;
    }
    if (operation->type != gql::OperationType::kMutation) {
      std::string names;
      for (const gql::Field* field : fields) {
        if (names.size() > 80) break;
        if (!names.empty()) names += ", ";
        names += field->name;
      }
      out->push_back(MakeAction("read.only", {facts.Target()}, Reversibility::kReversible,
                                Severity::kNone,
                                "GraphQL " + std::string(gql::ToString(operation->type)) +
                                    " only reads (" + names + ")"));
      continue;
    }
    for (const gql::Field* field : fields) {
      FieldFacts field_facts{*field, json::object(), {facts.Target(), "graphql:" + field->name}};
      for (const gql::Argument& argument : field->arguments) {
        json value = ToJson(argument.value, variables, *operation, 0);
        if (value.is_string() && field_facts.targets.size() < 6)
          field_facts.targets.push_back(argument.name + "=" + value.get<std::string>());
        field_facts.arguments[argument.name] = std::move(value);
      }
      out->push_back(ClassifyMutationField(field_facts));
    }
  }
}

void ClassifyPayload(const Facts& facts, const json& payload, std::vector<Action>* out) {
  if (!payload.is_object()) {
    out->push_back(Opaque("a GraphQL request that is not a JSON object"));
    return;
  }
  auto query = payload.find("query");
  if (query == payload.end() || !query->is_string()) {
    const bool persisted = payload.contains("extensions");
    out->push_back(Opaque(persisted ? "a persisted GraphQL query: the document is not in the "
                                      "request, so what it does cannot be known"
                                    : "a GraphQL request without a query document"));
    return;
  }
  json variables = json::object();
  if (auto it = payload.find("variables"); it != payload.end()) {
    if (it->is_object()) {
      variables = *it;
    } else if (it->is_string()) {
      const std::string& text = it->get_ref<const std::string&>();
      if (JsonDepth(text) <= kMaxJsonDepth) {
        json parsed = json::parse(text, nullptr, false);
        if (parsed.is_object()) variables = std::move(parsed);
      }
    }
  }
  std::string operation_name;
  if (auto it = payload.find("operationName"); it != payload.end() && it->is_string())
    operation_name = it->get<std::string>();
  ClassifyDocument(facts, query->get_ref<const std::string&>(), variables, operation_name, out);
}

// A GraphQL mutation sent to a path that does not say graphql (a custom
// mount, or a URL only known at run time): the body says it, when its
// "query" is a mutation document that parses.
bool BodyIsGraphqlMutation(const Facts& facts) {
  if (facts.IsRead()) return false;
  const json* body = facts.Json();
  if (body == nullptr || !body->is_object()) return false;
  auto query = body->find("query");
  if (query == body->end() || !query->is_string()) return false;
  std::string_view text = query->get_ref<const std::string&>();
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || !text.substr(first).starts_with("mutation")) return false;
  gql::Document document;
  std::string error;
  return gql::Parse(text, &document, &error);
}

bool IsGraphqlEndpoint(const Facts& facts) {
  if (facts.content_type() == "application/graphql") return true;
  for (const std::string& segment : facts.url().segments)
    if (IContains(segment, "graphql") || IEquals(segment, "gql")) return true;
  return BodyIsGraphqlMutation(facts);
}

}  // namespace

bool ClassifyGraphqlEndpoint(const Facts& facts, std::vector<Action>* out) {
  if (!IsGraphqlEndpoint(facts)) return false;
  if (const std::string* query = facts.QueryParam("query")) {
    json variables = json::object();
    if (const std::string* text = facts.QueryParam("variables");
        text && JsonDepth(*text) <= kMaxJsonDepth) {
      json parsed = json::parse(*text, nullptr, false);
      if (parsed.is_object()) variables = std::move(parsed);
    }
    const std::string* name = facts.QueryParam("operationName");
    ClassifyDocument(facts, *query, variables, name ? *name : "", out);
    return true;
  }
  if (facts.IsRead()) {
    out->push_back(Read(facts, "loads a GraphQL endpoint without a document"));
    return true;
  }
  if (facts.content_type() == "application/graphql") {
    ClassifyDocument(facts, facts.body(), json::object(), "", out);
    return true;
  }
  const json* body = facts.Json();
  if (body == nullptr) {
    out->push_back(Opaque("a GraphQL request whose body is not JSON"));
    out->back().targets = {facts.Target()};
    return true;
  }
  if (body->is_array()) {
    if (body->empty() || body->size() > 64) {
      out->push_back(
          Opaque("a batched GraphQL request with " + std::to_string(body->size()) + " operations"));
      return true;
    }
    for (const json& payload : *body) ClassifyPayload(facts, payload, out);
    return true;
  }
  ClassifyPayload(facts, *body, out);
  return true;
}

}  // namespace dualkey::http::internal
