// `dualkey packs list` and `dualkey packs test [FILE...]`: which packs are in
// force (built-in, system, user, project) and whether each pack's own test
// cases still get the decisions they expect.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "guard/guard.h"
#include "packs/catalog.h"
#include "policy/policy.h"

namespace dualkey::cli {
namespace {

using nlohmann::json;

json PackJson(const packs::Pack& pack, packs::Trust trust, bool add_only) {
  json tools = json::array();
  for (const packs::Tool& tool : pack.tools)
    for (const std::string& name : tool.names) tools.push_back(name);
  return json{{"name", pack.name},          {"description", pack.description},
              {"source", pack.source},      {"trust", packs::ToString(trust)},
              {"add_only", add_only},       {"tools", tools},
              {"rules", pack.rules.size()}, {"tests", pack.tests.size()}};
}

policy::Policy LoadHere(const PacksOptions& options) {
  std::string home = options.home;
  if (home.empty()) {
    const char* env = std::getenv("HOME");
    home = env != nullptr && *env == '/' ? env : "/root";
  }
  return policy::Load(
      policy::DefaultSources(options.cwd.empty() ? CurrentDirectory() : options.cwd, home));
}

int List(const PacksOptions& options) {
  policy::Policy loaded = LoadHere(options);
  json out = json::array();
  for (std::size_t i = 0; i < packs::BuiltinPackCount(); ++i)
    if (const packs::Pack* pack = packs::BuiltinPack(i))
      out.push_back(PackJson(*pack, packs::Trust::kBuiltin, false));
  if (loaded.packs)
    for (const auto& added : loaded.packs->added())
      out.push_back(PackJson(added->pack, added->trust, added->add_only));
  if (options.json) {
    std::cout << json{{"packs", out}, {"errors", loaded.errors}}.dump() << "\n";
    return loaded.errors.empty() ? 0 : 1;
  }
  for (const json& pack : out) {
    std::cout << pack["name"].get<std::string>() << "  [" << pack["trust"].get<std::string>()
              << (pack["add_only"].get<bool>() ? ", add-only" : "") << "]  "
              << pack["source"].get<std::string>() << "\n    "
              << pack["description"].get<std::string>() << "\n    tools:";
    for (const json& tool : pack["tools"]) std::cout << " " << tool.get<std::string>();
    std::cout << "\n    " << pack["rules"].get<std::size_t>() << " rules, "
              << pack["tests"].get<std::size_t>() << " tests\n";
  }
  std::cout << out.size() << " packs\n";
  for (const std::string& error : loaded.errors) std::cout << "error: " << error << "\n";
  return loaded.errors.empty() ? 0 : 1;
}

bool Held(Decision decision) {
  return decision != Decision::kAllow;
}

bool Meets(const std::string& expect, Decision got) {
  if (expect == "allow") return got == Decision::kAllow;
  if (expect == "hold") return Held(got);
  if (expect == "hold2") return got >= Decision::kHold2;
  return got == Decision::kDeny;
}

struct Tally {
  int passed = 0;
  int failed = 0;
  json failures = json::array();
};

// Runs one pack's cases against the built-in policy with `catalog`'s packs.
void RunTests(const packs::Pack& pack, const std::shared_ptr<const packs::Catalog>& catalog,
              const PacksOptions& options, Tally* tally) {
  policy::Policy policy = policy::Builtin();
  policy.packs = catalog;
  const std::string home = options.home.empty() ? "/home/dev" : options.home;
  for (const packs::Test& test : pack.tests) {
    guard::Request request;
    request.channel = Channel::kShell;
    request.input = test.command;
    request.cwd = test.cwd.empty() ? home + "/app" : test.cwd;
    request.home = home;
    guard::Result result = guard::Check(request, policy);
    bool ok = Meets(test.expect, result.verdict.decision);
    std::string why;
    if (!ok)
      why = "expected " + test.expect + ", got " + std::string(ToString(result.verdict.decision));
    if (ok && !test.op_class.empty()) {
      bool found = false;
      for (const Action& action : result.verdict.actions)
        found = found || action.op_class == test.op_class;
      if (!found) {
        ok = false;
        why = "no action of class " + test.op_class;
      }
    }
    if (ok) {
      ++tally->passed;
      continue;
    }
    ++tally->failed;
    std::string classes;
    for (const Action& action : result.verdict.actions)
      classes += (classes.empty() ? "" : ", ") + action.op_class;
    tally->failures.push_back(json{{"pack", pack.name},
                                   {"where", pack.source + ":" + std::to_string(test.line)},
                                   {"command", test.command},
                                   {"expect", test.expect},
                                   {"decision", ToString(result.verdict.decision)},
                                   {"classes", classes},
                                   {"reason", result.verdict.reason},
                                   {"why", why}});
    if (!options.json)
      std::cout << "FAIL  " << pack.source << ":" << test.line << "  " << test.command << "\n      "
                << why << " [" << classes << "] " << result.verdict.reason << "\n";
  }
}

int Test(const PacksOptions& options) {
  Tally tally;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;  // classes without a description (packs::LintPack)
  auto lint = [&warnings](const packs::Pack& pack) {
    for (std::string& warning : packs::LintPack(pack)) warnings.push_back(std::move(warning));
  };
  int pack_count = 0;
  if (options.files.empty()) {
    // Every pack in force here: the built-in ones, then those added.
    policy::Policy loaded = LoadHere(options);
    errors = loaded.errors;
    std::shared_ptr<const packs::Catalog> catalog =
        loaded.packs ? loaded.packs : std::make_shared<packs::Catalog>();
    for (std::size_t i = 0; i < packs::BuiltinPackCount(); ++i) {
      const packs::Pack* pack = packs::BuiltinPack(i);
      if (pack == nullptr) {
        errors.push_back("built-in pack #" + std::to_string(i) + " is damaged");
        continue;
      }
      ++pack_count;
      RunTests(*pack, catalog, options, &tally);
      lint(*pack);
    }
    for (const auto& added : catalog->added()) {
      ++pack_count;
      RunTests(added->pack, catalog, options, &tally);
      lint(added->pack);
    }
  } else {
    // Each file as a trusted pack beside the built-in ones, as a user's pack
    // is on a single-user install.
    for (const std::string& file : options.files) {
      auto catalog = std::make_shared<packs::Catalog>();
      if (!catalog->AddFile(file, packs::Trust::kUser, false, &errors)) continue;
      ++pack_count;
      RunTests(catalog->added().front()->pack, catalog, options, &tally);
      lint(catalog->added().front()->pack);
    }
  }
  const bool ok = tally.failed == 0 && errors.empty();
  if (options.json) {
    std::cout << json{{"ok", ok},
                      {"packs", pack_count},
                      {"passed", tally.passed},
                      {"failed", tally.failed},
                      {"failures", tally.failures},
                      {"errors", errors},
                      {"warnings", warnings}}
                     .dump()
              << "\n";
  } else {
    for (const std::string& error : errors) std::cout << "error: " << error << "\n";
    for (const std::string& warning : warnings) std::cout << "warning: " << warning << "\n";
    std::cout << pack_count << " packs, " << tally.passed << " cases passed, " << tally.failed
              << " failed\n";
  }
  return ok ? 0 : 1;
}

}  // namespace

int RunPacks(const PacksOptions& options) {
  if (options.action == "list") return List(options);
  if (options.action == "test") return Test(options);
  std::cerr << "dualkey packs: use `packs list` or `packs test [FILE...]`\n";
  return 2;
}

// `dualkey packs list|test`: the subcommand and its options.
std::unique_ptr<Command> NewPacksCommand() {
  class Packs final : public Command {
   public:
    void Add(CLI::App& app) override {
      CLI::App* packs_cmd = app.add_subcommand(
          "packs",
          "The packs that tell what tools do: built-in (packs/*.toml, compiled in), system\n"
          "(/etc/dualkey/packs), user (~/.config/dualkey/packs) and project (.dualkey/packs;\n"
          "it can only add holds). A command no pack names is read for its verbs.");
      packs_cmd->require_subcommand(1);
      CLI::App* packs_list = packs_cmd->add_subcommand("list", "List the packs in force here.");
      packs_list->add_option("--cwd", packs.cwd, "directory whose project packs to include");
      packs_list->add_flag("--json", packs.json, "print JSON");
      packs_list->callback([&] { packs.action = "list"; });
      CLI::App* packs_test = packs_cmd->add_subcommand(
          "test",
          "Run packs' own [[test]] cases. With FILEs, each file as a user pack beside the\n"
          "built-in ones; without, every pack in force. Exit status 1 on any failure.");
      packs_test->add_option("files", packs.files, "pack files to test");
      packs_test->add_option("--cwd", packs.cwd, "directory whose project packs to include");
      packs_test->add_option("--home", packs.home,
                             "home directory the cases assume (default /home/dev)");
      packs_test->add_flag("--json", packs.json, "print JSON");
      packs_test->callback([&] { packs.action = "test"; });
    }
    bool Parsed() const override { return !packs.action.empty(); }
    int Run() override { return RunPacks(packs); }

   private:
    PacksOptions packs;
  };
  return std::make_unique<Packs>();
}

}  // namespace dualkey::cli
