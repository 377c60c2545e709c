// `dualkey demo --json` end to end: the real binary sets up PostgreSQL, the
// daemon, the proxy, the gateway and the stand-in platform, plays the 47
// attempts through them, and reports. Every promise is asserted here.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace {

using nlohmann::json;

TEST(Demo, LosesNothingAndKeepsEveryPromise) {
  // Not under build/ or /tmp: dualkey rightly treats those as disposable,
  // and the demo's production must not be.
  const char* home = std::getenv("HOME");
  const std::string dir = std::filesystem::path(home != nullptr ? home : "/root") /
                          ".local/share/dualkey-test" / ("demo-" + std::to_string(getpid()));
  const std::string command = std::string(DUALKEY_BINARY) + " demo --json --dir '" + dir + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  // The last line is the JSON table.
  std::string last = out;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  if (std::size_t nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
  json table = json::parse(last, nullptr, false);
  ASSERT_TRUE(table.is_object()) << out;

  EXPECT_EQ(table["destructive_attempts"], 47) << out;
  EXPECT_EQ(table["destructive_allowed"], 0) << table.dump(2);
  EXPECT_GT(table["ordinary_attempts"].get<int>(), 0);
  EXPECT_EQ(table["ordinary_allowed"], table["ordinary_attempts"]) << table.dump(2);
  EXPECT_GE(table["breaker_trips"].get<int>(), 1);
  EXPECT_EQ(table["lost"], (json{{"rows", 0}, {"files", 0}, {"backups", 0}})) << table.dump(2);
  EXPECT_EQ(table["audit_verified"], true);
  EXPECT_EQ(table["undo_restored"], true) << table.dump(2);
  EXPECT_GT(table["decision_latency_us"]["p50"].get<double>(), 0);
  EXPECT_GE(table["decision_latency_us"]["p99"].get<double>(),
            table["decision_latency_us"]["p50"].get<double>());
  // The platform never carried out a delete: nothing destructive reached it.
  EXPECT_EQ(table["platform"]["deletes_carried_out"], 0);
  EXPECT_EQ(status, 0) << out;
  // Everything it created is gone.
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
