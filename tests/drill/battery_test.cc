// The battery as data: it parses, it is large enough, and it is safe — every
// attempt that could ever run (SQL through the proxy, API calls through the
// gateway, MCP calls to the stand-in) aims only at the drill's canaries.
#include "drill/internal/battery.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "drill/internal/attempt.h"

namespace dualkey::drill::internal {
namespace {

using nlohmann::json;

Battery Builtin() {
  BatterySources sources;
  return LoadBattery(sources);
}

TEST(DrillBattery, BuiltinLoadsWithoutErrors) {
  const Battery battery = Builtin();
  EXPECT_TRUE(battery.errors.empty()) << battery.errors.front();
  EXPECT_GE(battery.cases.size(), 300u);
  std::set<std::string> ids;
  std::map<std::string, int> per_channel, per_section;
  int controls = 0;
  for (const Case& c : battery.cases) {
    EXPECT_TRUE(ids.insert(c.id).second) << c.id;
    ++per_channel[c.channel];
    ++per_section[c.section];
    controls += c.destructive() ? 0 : 1;
    EXPECT_FALSE(c.why.empty()) << c.id;
    EXPECT_FALSE(c.cls.empty()) << c.id;
  }
  for (const char* channel : {"shell", "file", "sql", "http", "mcp"})
    EXPECT_GE(per_channel[channel], 10) << channel;
  for (const char* section : {"destructive", "obfuscation", "tamper", "control", "burst"})
    EXPECT_GE(per_section[section], 5) << section;
  // Enough harmless controls to see a hook that holds everything.
  EXPECT_GE(controls, 40);
  EXPECT_EQ(battery.hash.size(), 64u);
}

TEST(DrillBattery, EveryPlaceholderIsOneTheDrillFills) {
  const std::set<std::string> known = {"canary",    "project",    "home",   "user",
                                       "state_dir", "config_dir", "socket", "binary",
                                       "schema",    "db",         "api",    "prefix"};
  const std::regex placeholder(R"(\{([a-z_]+)\})");
  for (const Case& c : Builtin().cases) {
    const std::string text = c.input.is_string() ? c.input.get<std::string>() : c.input.dump();
    for (std::sregex_iterator it(text.begin(), text.end(), placeholder), end; it != end; ++it)
      EXPECT_TRUE(known.contains((*it)[1].str())) << c.id << ": {" << (*it)[1].str() << "}";
  }
}

// SQL that could run (when the proxy lets it through) touches the canary
// schema and nothing else of the database.
TEST(DrillBattery, SqlAimsOnlyAtTheCanarySchema) {
  const std::regex forbidden(
      R"((DROP\s+(DATABASE|OWNED|ROLE|USER|EXTENSION))|pg_terminate_backend|pg_cancel_backend|ALTER\s+SYSTEM|lo_unlink|pg_read_file|COPY\s+\w+\s+FROM\s+PROGRAM)",
      std::regex::icase);
  // What a statement names after FROM, INTO, TABLE, TRUNCATE, SCHEMA or a
  // leading UPDATE, outside string literals and dollar-quoted bodies.
  const std::regex names_table(
      R"(\b(?:FROM|INTO|TABLE|TRUNCATE|SCHEMA)\s+(?:(?:ONLY|IF\s+EXISTS|TABLE)\s+)*([^\s,;()]+)|(?:^|;)\s*UPDATE\s+(?:ONLY\s+)?([^\s,;()]+))",
      std::regex::icase);
  const std::regex literals(R"('[^']*'|\$\$[\s\S]*?\$\$)");
  for (const Case& c : Builtin().cases) {
    if (c.channel != "sql") continue;
    const std::string sql = c.input.get<std::string>();
    EXPECT_FALSE(std::regex_search(sql, forbidden)) << c.id << ": " << sql;
    const std::string bare = std::regex_replace(sql, literals, "''");
    for (std::sregex_iterator it(bare.begin(), bare.end(), names_table), end; it != end; ++it) {
      const std::string target = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
      // A qualified canary name, a CTE's own name, or a table after SET search_path.
      if (target.find("{schema}") != std::string::npos) continue;
      const bool search_path = sql.find("search_path = {schema}") != std::string::npos;
      const bool cte = sql.find("WITH " + target) != std::string::npos;
      EXPECT_TRUE(search_path || cte)
          << c.id << " names " << target << " outside the canary: " << sql;
    }
  }
}

TEST(DrillBattery, ApiCallsGoOnlyToTheStandIn) {
  for (const Case& c : Builtin().cases) {
    if (c.channel != "http") continue;
    EXPECT_TRUE(c.input.value("url", "").starts_with("{api}/")) << c.id;
    EXPECT_EQ(c.via, std::vector<std::string>{kViaGateway}) << c.id;
  }
}

// Paths in MCP arguments: the canary, or places that hold nothing.
TEST(DrillBattery, McpPathsAreTheCanarys) {
  std::function<void(const std::string&, const json&)> visit = [&](const std::string& id,
                                                                   const json& value) {
    if (value.is_string()) {
      const std::string text = value.get<std::string>();
      if (text.starts_with("/"))
        EXPECT_TRUE(text == "/dev/null" || text == "/var/empty") << id << ": " << text;
    } else if (value.is_structured()) {
      for (const json& v : value) visit(id, v);
    }
  };
  for (const Case& c : Builtin().cases)
    if (c.channel == "mcp") visit(c.id, c.input.value("arguments", json::object()));
}

TEST(DrillBattery, TheBurstIsEnoughDistinctAttempts) {
  std::set<std::string> inputs;
  for (const Case& c : Builtin().cases)
    if (std::find(c.via.begin(), c.via.end(), kViaBreaker) != c.via.end()) {
      EXPECT_EQ(c.channel, "shell") << c.id;
      EXPECT_TRUE(c.destructive()) << c.id;
      inputs.insert(c.input.get<std::string>());
    }
  EXPECT_GE(inputs.size(), 4u);  // more than the default limit of 3
}

TEST(DrillBattery, BadLinesAreErrorsWithTheirPlaceAndTheRestLoads) {
  Battery battery;
  ParseBattery(
      "# a comment\n"
      "\n"
      "{\"id\":\"a-1\",\"channel\":\"shell\",\"input\":\"rm -rf ~\",\"expect\":\"hold\"}\n"
      "not json\n"
      "{\"id\":\"a-2\",\"channel\":\"ftp\",\"input\":\"x\",\"expect\":\"hold\"}\n"
      "{\"id\":\"a-3\",\"channel\":\"shell\",\"input\":\"ls\",\"expect\":\"maybe\"}\n"
      "{\"id\":\"a-1\",\"channel\":\"shell\",\"input\":\"ls\",\"expect\":\"allow\"}\n"
      "{\"id\":\"a-4\",\"channel\":\"http\",\"input\":\"GET /\",\"expect\":\"hold\"}\n"
      "{\"id\":\"a-5\",\"channel\":\"shell\",\"input\":\"x\",\"expect\":\"hold\",\"via\":[\"ssh\"]}"
      "\n"
      "{\"id\":\"a-6\",\"channel\":\"file\",\"input\":{\"path\":\"/x\",\"operation\":\"chmod\"},"
      "\"expect\":\"hold\"}\n"
      "{\"id\":\"a-7\",\"channel\":\"sql\",\"input\":\"DROP TABLE "
      "{schema}.t\",\"expect\":\"deny\"}\n",
      "mine.jsonl", &battery);
  ASSERT_EQ(battery.cases.size(), 2u);
  EXPECT_EQ(battery.cases[0].id, "a-1");
  EXPECT_EQ(battery.cases[0].section, "destructive");
  EXPECT_EQ(battery.cases[0].via, std::vector<std::string>{kViaHooks});
  EXPECT_EQ(battery.cases[1].id, "a-7");
  EXPECT_EQ(battery.cases[1].expect, "hold");  // deny and hold2 count as held
  EXPECT_EQ(battery.cases[1].via, std::vector<std::string>{kViaPgProxy});
  ASSERT_EQ(battery.errors.size(), 7u);
  EXPECT_EQ(battery.errors[0].rfind("mine.jsonl:4: not JSON", 0), 0u) << battery.errors[0];
  EXPECT_NE(battery.errors[1].find("unknown channel 'ftp'"), std::string::npos);
  EXPECT_NE(battery.errors[3].find(":7: id 'a-1' is taken"), std::string::npos)
      << battery.errors[3];
}

TEST(DrillBattery, UserFilesAddButNeverReplace) {
  Battery battery = Builtin();
  const std::size_t before = battery.cases.size();
  const std::string first = battery.cases.front().id;
  ParseBattery("{\"id\":\"" + first +
                   "\",\"channel\":\"shell\",\"input\":\"ls\",\"expect\":\"allow\"}\n"
                   "{\"id\":\"mine-1\",\"channel\":\"shell\",\"input\":\"acmectl nuke --all\","
                   "\"expect\":\"hold\"}\n",
               "user.jsonl", &battery);
  EXPECT_EQ(battery.cases.size(), before + 1);
  EXPECT_EQ(battery.cases.front().expect, Builtin().cases.front().expect);
  EXPECT_EQ(battery.errors.size(), 1u);
}

// A case from a user's file is sent through the real proxy and gateway, so
// it is held to what the built-in battery's tests hold it to: what it could
// destroy if let through is the drill's canary, nothing else.
TEST(DrillBattery, UserCasesTouchOnlyTheCanaries) {
  const std::vector<std::pair<std::string, bool>> sql = {
      {"DROP TABLE customers", false},
      {"DROP TABLE public.customers", false},
      {"UPDATE public.customers SET email = NULL", false},
      {"INSERT INTO customers VALUES (1)", false},
      {"DELETE FROM public.orders", false},
      {"WITH customers AS (SELECT 1) DELETE FROM customers", false},
      {"WITH t AS (SELECT 1 AS x) SELECT x FROM t; DELETE FROM t", false},
      {"CREATE TABLE public.t AS SELECT 1", false},
      {"DELETE FROM {schema}.orders WHERE id IN (SELECT id FROM public.orders)", false},
      {"SELECT pg_terminate_backend(pid) FROM {schema}.sessions", false},
      {"DROP DATABASE shop", false},
      {"COMMIT; DROP TABLE {schema}.t", false},
      {"COPY {schema}.t FROM PROGRAM 'rm -rf /'", false},
      {"SET search_path = public; DROP TABLE customers", false},
      {"DROP SCHEMA public CASCADE", false},
      {"DROP FUNCTION {schema}.f()", false},
      {"DO $$ BEGIN EXECUTE 'DROP TABLE public.customers'; END $$", false},
      {"UPDATE other_db.{schema}.t SET x = 1", false},
      {"DROP TABLE (", false},
      {"DROP SCHEMA {schema} CASCADE", true},
      {"TRUNCATE {schema}.a, {schema}.b", true},
      {"WITH gone AS (DELETE FROM {schema}.orders RETURNING *) SELECT count(*) FROM gone", true},
      {"UPDATE {schema}.customers SET email = md5(email)", true},
      {"ALTER TABLE {schema}.customers DROP COLUMN email", true},
  };
  for (const auto& [text, ok] : sql) {
    Battery battery;
    ParseBattery(
        json{{"id", "u-1"}, {"channel", "sql"}, {"input", text}, {"expect", "hold"}}.dump(),
        "mine.jsonl", &battery);
    EXPECT_EQ(battery.cases.size(), ok ? 1u : 0u) << text;
    if (!ok && !battery.errors.empty())
      EXPECT_NE(battery.errors[0].find("canary schema"), std::string::npos) << battery.errors[0];
  }
  const std::vector<std::pair<std::string, bool>> urls = {
      {"http://127.0.0.1:8787/platform/v1/volumes/x", false},
      {"{api}/../platform/v1/volumes/x", false},
      {"{api}/%2e%2e/platform/v1", false},
      {"{api}//platform/v1", false},
      {"{api}/v1/volumes/vol-canary-data", true},
  };
  for (const auto& [url, ok] : urls) {
    Battery battery;
    ParseBattery(json{{"id", "u-2"},
                      {"channel", "http"},
                      {"input", {{"method", "DELETE"}, {"url", url}}},
                      {"expect", "hold"}}
                     .dump(),
                 "mine.jsonl", &battery);
    EXPECT_EQ(battery.cases.size(), ok ? 1u : 0u) << url;
  }
  // Each way in takes its own channel (a shell line is never sent as SQL).
  Battery battery;
  ParseBattery(
      "{\"id\":\"u-3\",\"channel\":\"shell\",\"input\":\"rm -rf ~\",\"expect\":\"hold\","
      "\"via\":[\"pg-proxy\"]}\n",
      "mine.jsonl", &battery);
  EXPECT_TRUE(battery.cases.empty());
  ASSERT_EQ(battery.errors.size(), 1u);
  EXPECT_NE(battery.errors[0].find("via does not fit"), std::string::npos) << battery.errors[0];
}

TEST(DrillBattery, SubstitutesKnownNamesOnly) {
  const Placeholders values = {{"canary", "/home/u/c"}, {"schema", "s1"}};
  EXPECT_EQ(Substitute(std::string("rm -rf {canary}/x {}"), values), "rm -rf /home/u/c/x {}");
  EXPECT_EQ(Substitute(std::string("echo {\"ok\":true} {nope}"), values),
            "echo {\"ok\":true} {nope}");
  EXPECT_EQ(Substitute(std::string("{schema}.t{schema}"), values), "s1.ts1");
  const json in{{"path", "{canary}/a"}, {"list", {"{schema}", 3}}};
  const json out = Substitute(in, values);
  EXPECT_EQ(out["path"], "/home/u/c/a");
  EXPECT_EQ(out["list"][0], "s1");
  EXPECT_EQ(out["list"][1], 3);
}

TEST(DrillBattery, UpstreamDatabaseIsWhatLibpqWouldUse) {
  EXPECT_EQ(UpstreamDatabase("postgresql://app@db:5432/shop?sslmode=require"), "shop");
  EXPECT_EQ(UpstreamDatabase("postgresql://app@db:5432"), "app");
  EXPECT_EQ(UpstreamDatabase("postgres://app:pw@%2Fvar%2Frun%2Fpostgresql/my%20db"), "my db");
  EXPECT_EQ(UpstreamDatabase("postgresql://app@/?host=/run/pg&dbname=orders"), "orders");
}

}  // namespace
}  // namespace dualkey::drill::internal
