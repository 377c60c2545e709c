// APIs whose request carries SQL that the service runs: the SQL is classified
// by the SQL channel (src/sql) and its Actions re-tagged as HTTP. Only the
// endpoints in kSqlEndpoints: a "query" field elsewhere (a search box, an
// Elasticsearch query object) is data, not SQL.
#include <array>
#include <string>

#include "http/internal/facts.h"
#include "sql/sql.h"

namespace dualkey::http::internal {
namespace {

using nlohmann::json;

enum class SqlPlace {
  kJsonKey,       // a top-level string field of a JSON body
  kJsonAnyDepth,  // every string field of that name, at any depth
  kQueryOrBody,   // ?query=... or the raw body (ClickHouse's HTTP interface)
};

struct SqlEndpoint {
  std::string_view host;        // glob; "" any host
  int port;                     // 0 any port
  std::string_view amz_target;  // glob on X-Amz-Target; "" when not used
  std::string_view path;        // segment globs, "**" tail
  SqlPlace place;
  std::string_view key;
  sql::Dialect dialect;
  std::string_view service;
};

constexpr std::array kSqlEndpoints = {
    SqlEndpoint{"api.supabase.com", 0, "", "v1/projects/*/database/query", SqlPlace::kJsonKey,
                "query", sql::Dialect::kPostgres, "Supabase"},
    SqlEndpoint{"*.supabase.co", 0, "", "pg/query", SqlPlace::kJsonKey, "query",
                sql::Dialect::kPostgres, "Supabase pg-meta"},
    SqlEndpoint{"*.neon.tech", 0, "", "sql", SqlPlace::kJsonKey, "query", sql::Dialect::kPostgres,
                "Neon serverless"},
    SqlEndpoint{"api.cloudflare.com", 0, "", "client/v4/accounts/*/d1/database/*/*",
                SqlPlace::kJsonKey, "sql", sql::Dialect::kSqlite, "Cloudflare D1"},
    SqlEndpoint{"*.turso.io", 0, "", "**", SqlPlace::kJsonAnyDepth, "sql", sql::Dialect::kSqlite,
                "Turso"},
    SqlEndpoint{"", 0, "", "v2/query", SqlPlace::kJsonAnyDepth, "sql", sql::Dialect::kPostgres,
                "Hasura run_sql"},
    SqlEndpoint{"", 0, "", "api/2.0/sql/statements**", SqlPlace::kJsonKey, "statement",
                sql::Dialect::kMySql, "Databricks SQL"},
    SqlEndpoint{"*.snowflakecomputing.com", 0, "", "api/v2/statements", SqlPlace::kJsonKey,
                "statement", sql::Dialect::kMySql, "Snowflake"},
    SqlEndpoint{"*googleapis.com", 0, "", "bigquery/v2/projects/*/queries", SqlPlace::kJsonKey,
                "query", sql::Dialect::kMySql, "BigQuery"},
    SqlEndpoint{"*googleapis.com", 0, "", "bigquery/v2/projects/*/jobs", SqlPlace::kJsonAnyDepth,
                "query", sql::Dialect::kMySql, "BigQuery"},
    SqlEndpoint{"rds-data.*.amazonaws.com", 0, "", "*Execute*", SqlPlace::kJsonKey, "sql",
                sql::Dialect::kPostgres, "RDS Data API"},
    SqlEndpoint{"", 0, "RedshiftData.*Execute*", "**", SqlPlace::kJsonAnyDepth, "Sql",
                sql::Dialect::kPostgres, "Redshift Data API"},
    SqlEndpoint{"", 0, "DynamoDB_*.*ExecuteStatement", "**", SqlPlace::kJsonAnyDepth, "Statement",
                sql::Dialect::kPostgres, "DynamoDB PartiQL"},
    SqlEndpoint{"", 8123, "", "**", SqlPlace::kQueryOrBody, "query", sql::Dialect::kMySql,
                "ClickHouse HTTP"},
};

bool PathMatches(std::string_view pattern, const std::vector<std::string>& segments) {
  std::size_t index = 0;
  while (!pattern.empty()) {
    std::size_t slash = pattern.find('/');
    std::string_view glob = pattern.substr(0, slash);
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
    if (glob == "**") return true;
    if (glob.ends_with("**") && index < segments.size() &&
        GlobMatch(glob.substr(0, glob.size() - 1), segments[index]))
      return true;
    if (index >= segments.size() || !GlobMatch(glob, segments[index])) return false;
    ++index;
  }
  return index == segments.size();
}

bool Matches(const SqlEndpoint& endpoint, const Facts& facts) {
  if (!endpoint.host.empty() && !GlobMatch(endpoint.host, facts.url().host)) return false;
  if (endpoint.port != 0 && endpoint.port != facts.url().port) return false;
  if (!endpoint.amz_target.empty() && !GlobMatch(endpoint.amz_target, facts.Header("x-amz-target")))
    return false;
  return PathMatches(endpoint.path, facts.url().segments);
}

void CollectKey(const json& value, std::string_view key, int depth, std::vector<std::string>* out) {
  if (depth > 16 || out->size() > 64) return;
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key() == key && it.value().is_string())
        out->push_back(it.value().get<std::string>());
      else
        CollectKey(it.value(), key, depth + 1, out);
    }
  } else if (value.is_array()) {
    for (const json& item : value) CollectKey(item, key, depth + 1, out);
  }
}

}  // namespace

bool ClassifySqlEndpoint(const Facts& facts, std::vector<Action>* out) {
  const SqlEndpoint* endpoint = nullptr;
  for (const SqlEndpoint& candidate : kSqlEndpoints) {
    if (Matches(candidate, facts)) {
      endpoint = &candidate;
      break;
    }
  }
  if (endpoint == nullptr) return false;
  std::vector<std::string> statements;
  switch (endpoint->place) {
    case SqlPlace::kJsonKey:
    case SqlPlace::kJsonAnyDepth: {
      if (facts.IsRead() && facts.body().empty()) return false;  // a GET on the resource
      const json* body = facts.Json();
      if (body == nullptr) {
        out->push_back(Opaque(std::string(endpoint->service) +
                              " runs SQL from this request, but its body is not JSON"));
        return true;
      }
      if (endpoint->place == SqlPlace::kJsonKey) {
        if (body->is_object()) {
          auto it = body->find(std::string(endpoint->key));
          if (it != body->end() && it->is_string()) statements.push_back(it->get<std::string>());
        }
      } else {
        CollectKey(*body, endpoint->key, 0, &statements);
      }
      break;
    }
    case SqlPlace::kQueryOrBody:
      if (const std::string* query = facts.QueryParam(endpoint->key)) statements.push_back(*query);
      if (!facts.body().empty()) statements.push_back(facts.body());
      if (statements.empty()) return false;
      break;
  }
  if (statements.empty()) {
    out->push_back(Opaque(std::string(endpoint->service) +
                          " runs SQL from this request, but no statement was found in it"));
    return true;
  }
  sql::Options options;
  options.dialect = endpoint->dialect;
  const std::string target = facts.Target();
  options.database = target;
  const std::size_t before = out->size();
  for (const std::string& statement : statements) {
    for (Action& action : sql::Classify(statement, options)) {
      action.channel = Channel::kHttp;
      action.reason = std::string(endpoint->service) + " runs SQL: " + action.reason;
      out->push_back(std::move(action));
    }
  }
  if (out->size() == before)
    out->push_back(Read(facts, std::string(endpoint->service) + ": the SQL does nothing"));
  return true;
}

}  // namespace dualkey::http::internal
