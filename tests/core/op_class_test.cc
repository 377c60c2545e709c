// The registry of operation classes (core/op_class.h) against what the
// adapters really emit: every labelled case (tests/cases, the drill's
// battery, every built-in pack's own tests, and the shared corpus beside the
// repository when present) goes through the real classifier, and every class
// of every Action it produces must be registered. Nothing here lists classes:
// a new class an adapter starts to emit fails until the registry has it.
// Static checks cover what no case reaches: every class a built-in pack can
// emit, and every class-shaped literal in the adapters' sources.
// Packs declare their own classes ([[class]]); docs/operation-classes.md must
// be what `dualkey classes --markdown` writes.
#include "core/op_class.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "guard/guard.h"
#include "packs/catalog.h"
#include "packs/spec.h"
#include "policy/policy.h"

namespace dualkey::op_class {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = DUALKEY_SOURCE_DIR;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(CoreOpClass, TableIsSortedUniqueAndWellFormed) {
  std::span<const Info> classes = Builtin();
  ASSERT_GT(classes.size(), 100u);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const Info& info = classes[i];
    EXPECT_TRUE(IsWellFormed(info.name)) << info.name;
    EXPECT_FALSE(info.meaning.empty()) << info.name;
    EXPECT_EQ(info.meaning.find('\n'), std::string_view::npos) << info.name << ": one line";
    EXPECT_LE(info.meaning.size(), 110u) << info.name << ": one short line";
    EXPECT_NE(LookupFamily(FamilyOf(info.name)), nullptr)
        << info.name << ": its family \"" << FamilyOf(info.name) << "\" has no line in Families()";
    if (i > 0) EXPECT_LT(classes[i - 1].name, info.name) << "sorted and unique";
    EXPECT_EQ(Lookup(info.name), &info);
  }
  std::span<const Family> families = Families();
  for (std::size_t i = 0; i < families.size(); ++i) {
    EXPECT_FALSE(families[i].meaning.empty()) << families[i].name;
    if (i > 0) EXPECT_LT(families[i - 1].name, families[i].name) << "sorted and unique";
    bool used = false;
    for (const Info& info : classes) used = used || FamilyOf(info.name) == families[i].name;
    EXPECT_TRUE(used) << "family " << families[i].name << " has no class";
  }
}

TEST(CoreOpClass, LookupAndFamilies) {
  ASSERT_NE(Lookup("fs.delete.recursive"), nullptr);
  EXPECT_EQ(Lookup("fs.delete.recursiv"), nullptr);
  EXPECT_EQ(Lookup(""), nullptr);
  EXPECT_EQ(FamilyOf("db.drop.index"), "db");
  EXPECT_EQ(FamilyOf("notify"), "notify");
  EXPECT_TRUE(IsWellFormed("acme.tenant.delete"));
  EXPECT_TRUE(IsWellFormed("build"));
  for (std::string_view bad : {"", ".a", "a.", "a..b", "A.b", "a b", "a.*"})
    EXPECT_FALSE(IsWellFormed(bad)) << bad;
}

TEST(CoreOpClass, RegistryTakesDeclaredClasses) {
  Registry registry;
  EXPECT_EQ(registry.List().size(), Builtin().size());
  std::string error;
  EXPECT_TRUE(registry.Declare({"acme.tenant.delete", "deletes a tenant and its data",
                                Destructive::kYes, Reversibility::kIrreversible, "pack acme"},
                               &error))
      << error;
  const Registry::Entry* entry = registry.Find("acme.tenant.delete");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->origin, "pack acme");
  EXPECT_EQ(registry.List("acme").size(), 1u);
  const std::vector<std::string> families = registry.FamilyNames();
  EXPECT_TRUE(std::binary_search(families.begin(), families.end(), "acme"));
  // Twice, a built-in name, a bad name, no meaning: refused.
  EXPECT_FALSE(registry.Declare({"acme.tenant.delete", "again"}, &error));
  EXPECT_FALSE(registry.Declare({"db.drop", "mine"}, &error));
  EXPECT_NE(error.find("built in"), std::string::npos) << error;
  EXPECT_FALSE(registry.Declare({"Acme Delete", "x"}, &error));
  EXPECT_FALSE(registry.Declare({"acme.purge", ""}, &error));
  EXPECT_EQ(registry.Find("db.drop")->meaning, Lookup("db.drop")->meaning);
}

// ---------------------------------------------------------------------------
// What the adapters emit, from every labelled case.

struct Case {
  std::string where;  // file:line
  guard::Request request;
};

// Placeholders of the drill's battery ({canary}, {home} ...).
std::string Fill(std::string text) {
  static const std::pair<std::string_view, std::string_view> kValues[] = {
      {"{canary}", "/tmp/dualkey-canary"}, {"{home}", "/home/dev"},
      {"{project}", "/home/dev/app"},      {"{schema}", "dualkey_canary"},
      {"{api}", "http://127.0.0.1:9"},     {"{binary}", "/usr/local/bin/dualkey"},
      {"{config_dir}", "/etc/dualkey"},    {"{socket}", "/run/dualkey/dualkey.sock"},
      {"{state_dir}", "/var/lib/dualkey"}};
  for (const auto& [key, value] : kValues)
    for (std::size_t at; (at = text.find(key)) != std::string::npos;)
      text.replace(at, key.size(), value);
  return text;
}

void ReadJsonl(const fs::path& path, std::vector<Case>* out) {
  std::ifstream in(path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("channel") || !parsed.contains("input")) continue;
    Case c;
    c.where = path.string() + ":" + std::to_string(number);
    if (!ParseChannel(parsed["channel"].get<std::string>(), &c.request.channel)) continue;
    const nlohmann::json& input = parsed["input"];
    c.request.input = Fill(input.is_string() ? input.get<std::string>() : input.dump());
    c.request.cwd = parsed.contains("cwd") && parsed["cwd"].is_string()
                        ? Fill(parsed["cwd"].get<std::string>())
                        : "/home/dev/app";
    c.request.home = "/home/dev";
    if (c.request.channel == Channel::kFile)
      c.request.file_operation = parsed.contains("operation") && parsed["operation"].is_string()
                                     ? parsed["operation"].get<std::string>()
                                     : "write";
    out->push_back(std::move(c));
  }
}

std::vector<Case> LabelledCases() {
  std::vector<Case> cases;
  std::vector<fs::path> files;
  for (const fs::path dir : {kSource / "tests/cases", kSource / "src/drill/battery"})
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
  for (const char* name : {"cases.jsonl", "next.jsonl"})
    if (fs::exists(kSource / "../shared/corpus" / name))
      files.push_back(kSource / "../shared/corpus" / name);
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) ReadJsonl(file, &cases);
  // The file channel composes its classes from the operation and the kind of
  // path: every operation on a path of every kind.
  for (const char* path : {"/",
                           "/etc/passwd",
                           "/home/dev",
                           "/home/dev/app/.git/config",
                           "/home/dev/.ssh/id_rsa",
                           "/home/dev/.aws/credentials",
                           "/home/dev/.bashrc",
                           "/tmp/x.txt",
                           "/dev/null",
                           "/dev/sda",
                           "/home/dev/app/node_modules/x.js",
                           "/home/dev/app/build/out.o",
                           "$HOME/x",
                           "~other/x",
                           "/var/lib/postgresql/16/main/base/1",
                           "/var/lib/mysql/ibdata1",
                           "/home/dev/app/src/main.c",
                           "src/main.c",
                           "/opt/other/file.txt",
                           "/home/dev/backups/db.dump",
                           "/var/backups/x.tar",
                           "/etc/dualkey/policy.toml",
                           "/home/dev/.claude/settings.json",
                           ""}) {
    for (const char* operation : {"create", "write", "edit", "delete", "chmod"}) {
      Case c;
      c.where = std::string("file channel: ") + operation + " " + path;
      c.request.channel = Channel::kFile;
      c.request.input = path;
      c.request.file_operation = operation;
      c.request.cwd = "/home/dev/app";
      c.request.home = "/home/dev";
      cases.push_back(std::move(c));
    }
  }
  for (std::size_t i = 0; i < packs::BuiltinPackCount(); ++i) {
    const packs::Pack* pack = packs::BuiltinPack(i);
    if (pack == nullptr) continue;
    for (const packs::Test& test : pack->tests) {
      Case c;
      c.where = pack->source + ":" + std::to_string(test.line);
      c.request.input = test.command;
      c.request.cwd = test.cwd.empty() ? "/home/dev/app" : test.cwd;
      c.request.home = "/home/dev";
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

// Every class every labelled case's Actions have, with the first case that
// emitted it and whether it was ever / always destructive.
struct Seen {
  std::string first;
  bool destructive_once = false;
  bool harmless_once = false;
};

const std::map<std::string, Seen>& EmittedClasses() {
  static const std::map<std::string, Seen> seen = [] {
    std::map<std::string, Seen> out;
    const policy::Policy policy = policy::Builtin();
    for (const Case& c : LabelledCases()) {
      const guard::Result result = guard::Check(c.request, policy);
      for (const Action& action : result.verdict.actions) {
        Seen& s = out[action.op_class];
        if (s.first.empty()) s.first = c.where + " (" + c.request.input.substr(0, 80) + ")";
        (IsDestructive(action) ? s.destructive_once : s.harmless_once) = true;
      }
    }
    return out;
  }();
  return seen;
}

TEST(CoreOpClass, EveryClassTheLabelledCasesEmitIsRegistered) {
  const auto& seen = EmittedClasses();
  EXPECT_GT(seen.size(), 80u) << "the cases were not found";
  for (const auto& [name, s] : seen)
    EXPECT_NE(Lookup(name), nullptr)
        << "class \"" << name << "\" is emitted but not registered in src/core/op_class.cc; "
        << "first seen at " << s.first;
}

// What the table says an Action of a class is, against what the adapters do.
TEST(CoreOpClass, DestructiveDefaultsHoldForTheLabelledCases) {
  for (const auto& [name, s] : EmittedClasses()) {
    const Info* info = Lookup(name);
    if (info == nullptr) continue;  // the test above says so
    if (info->destructive == Destructive::kNo)
      EXPECT_FALSE(s.destructive_once) << name << " is registered as never destructive";
    if (info->destructive == Destructive::kYes)
      EXPECT_FALSE(s.harmless_once) << name << " is registered as always destructive";
  }
}

// What no case reaches: every class a built-in pack's rules and tools can emit.
TEST(CoreOpClass, EveryBuiltinPackClassIsRegistered) {
  int classes = 0;
  for (std::size_t i = 0; i < packs::BuiltinPackCount(); ++i) {
    const packs::Pack* pack = packs::BuiltinPack(i);
    ASSERT_NE(pack, nullptr);
    for (const packs::Rule& rule : pack->rules) {
      if (rule.op_class.empty()) continue;
      ++classes;
      EXPECT_NE(Lookup(rule.op_class), nullptr) << pack->source << ":" << rule.line << ": class \""
                                                << rule.op_class << "\" is not registered";
    }
    for (const packs::Tool& tool : pack->tools) {
      const std::string name = tool.destroy_class.empty() ? "unknown.delete" : tool.destroy_class;
      EXPECT_NE(Lookup(name), nullptr) << pack->source << ":" << tool.line << ": destroy_class \""
                                       << name << "\" is not registered";
    }
  }
  EXPECT_GT(classes, 250);
}

// What no case reaches in code: a string literal in an adapter's source that
// is shaped like a class of a registered family ("db.attach" in a rule
// table) is a class and must be registered. Host names and the names a
// script's own language gives its functions are not classes.
TEST(CoreOpClass, EveryClassShapedLiteralInTheAdaptersIsRegistered) {
  // Identifiers of the languages the shell adapter reads inside scripts
  // (Node's fs module, process.binding): they share a family name.
  static const std::set<std::string, std::less<>> kNotClasses = {"fs.promises", "fs.rm", "fs.rmdir",
                                                                 "fs.unlink", "process.binding"};
  static const std::regex kLiteral(R"re("([a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)+)")re");
  static const std::regex kHost(R"re(\.(com|net|org|io|dev|tech|cn|app|co|cloud)$)re");
  int literals = 0;
  for (const char* module : {"shell", "sql", "http", "mcp", "file", "guard", "proxy", "gateway"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kSource / "src" / module)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".cc" && ext != ".h") continue;
      const std::string text = ReadFile(entry.path());
      for (auto it = std::sregex_iterator(text.begin(), text.end(), kLiteral);
           it != std::sregex_iterator(); ++it) {
        const std::string name = (*it)[1];
        if (LookupFamily(FamilyOf(name)) == nullptr || kNotClasses.contains(name) ||
            std::regex_search(name, kHost))
          continue;
        ++literals;
        const std::size_t line = 1 + std::count(text.begin(), text.begin() + it->position(), '\n');
        EXPECT_NE(Lookup(name), nullptr) << entry.path().string() << ":" << line << ": \"" << name
                                         << "\" looks like a class of family \"" << FamilyOf(name)
                                         << "\" but is not registered in src/core/op_class.cc";
      }
    }
  }
  EXPECT_GT(literals, 300);
}

// ---------------------------------------------------------------------------
// Packs declare their own classes.

constexpr const char* kAcme = R"(
[pack]
name = "acme"
description = "acmectl"

[[tool]]
names = ["acmectl"]
destroy_class = "acme.delete"

[[rule]]
name = "tenant-wipe"
command = "acmectl tenants wipe"
class = "acme.tenant.delete"
severity = "critical"

[[rule]]
name = "cache-purge"
command = "acmectl cache purge"
class = "cache.delete"
severity = "low"

[[class]]
name = "acme.tenant.delete"
description = "deletes a tenant with its data"
)";

TEST(CoreOpClass, PacksDeclareClassesWithADescription) {
  packs::Pack pack;
  std::vector<std::string> errors;
  ASSERT_TRUE(packs::ParsePack(kAcme, "acme.toml", &pack, &errors)) << errors.front();
  ASSERT_EQ(pack.classes.size(), 1u);
  EXPECT_EQ(pack.classes[0].name, "acme.tenant.delete");
  EXPECT_EQ(pack.classes[0].description, "deletes a tenant with its data");
  // The compiled form keeps them.
  packs::Pack back;
  ASSERT_TRUE(packs::Deserialize(packs::Serialize(pack), &back));
  ASSERT_EQ(back.classes.size(), 1u);
  EXPECT_EQ(back.classes[0].description, pack.classes[0].description);
  EXPECT_EQ(back.classes[0].line, pack.classes[0].line);
  // Only the undescribed destroy_class is worth a warning (cache.delete is built in).
  const std::vector<std::string> warnings = packs::LintPack(pack);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("acme.delete"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("acme.toml:"), std::string::npos) << warnings[0];
  // Into a registry, destructive as its rules emit it.
  Registry registry;
  std::vector<std::string> refused;
  packs::DeclareClasses(pack, &registry, &refused);
  EXPECT_TRUE(refused.empty());
  const Registry::Entry* entry = registry.Find("acme.tenant.delete");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->destructive, Destructive::kYes);
  EXPECT_NE(entry->origin.find("pack acme"), std::string::npos);
}

TEST(CoreOpClass, PackClassDeclarationsAreChecked) {
  auto errors_of = [](const std::string& classes) {
    packs::Pack pack;
    std::vector<std::string> errors;
    packs::ParsePack(std::string(kAcme) + classes, "acme.toml", &pack, &errors);
    return errors;
  };
  EXPECT_TRUE(errors_of("").empty());
  for (const char* bad : {"[[class]]\nname = \"Acme Delete\"\ndescription = \"x\"\n",
                          "[[class]]\nname = \"acme.purge\"\n", "[[class]]\ndescription = \"x\"\n",
                          "[[class]]\nname = \"acme.purge\"\ndescription = \"x\"\nsevere = 1\n",
                          "[[class]]\nname = \"acme.tenant.delete\"\ndescription = \"again\"\n"})
    EXPECT_FALSE(errors_of(bad).empty()) << bad;
  // A pack without [[class]] still loads (old packs); a built-in name is a warning.
  packs::Pack pack;
  std::vector<std::string> errors;
  ASSERT_TRUE(packs::ParsePack(
      std::string(kAcme) + "[[class]]\nname = \"db.drop\"\ndescription = \"mine\"\n", "acme.toml",
      &pack, &errors));
  const std::vector<std::string> warnings = packs::LintPack(pack);
  EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
    return w.find("\"db.drop\" is built in") != std::string::npos;
  }));
}

// Built-in packs need no [[class]]: every class they emit is built in.
TEST(CoreOpClass, BuiltinPacksLintClean) {
  for (std::size_t i = 0; i < packs::BuiltinPackCount(); ++i) {
    const packs::Pack* pack = packs::BuiltinPack(i);
    ASSERT_NE(pack, nullptr);
    for (const std::string& warning : packs::LintPack(*pack)) ADD_FAILURE() << warning;
  }
}

// ---------------------------------------------------------------------------
// `dualkey classes` and the document it writes.

struct Ran {
  int status = -1;
  std::string out;
};

Ran Sh(const std::string& command) {
  Ran ran;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return ran;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) ran.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  ran.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return ran;
}

TEST(CoreOpClass, DocumentIsWrittenFromTheRegistry) {
  const Ran ran = Sh(std::string(DUALKEY_BINARY) + " classes --markdown");
  ASSERT_EQ(ran.status, 0);
  EXPECT_TRUE(ran.out == ReadFile(kSource / "docs/operation-classes.md"))
      << "docs/operation-classes.md differs from the registry; write it again with\n"
         "  build/dualkey classes --markdown > docs/operation-classes.md";
  for (const Info& info : Builtin())
    EXPECT_NE(ran.out.find("| `" + std::string(info.name) + "` |"), std::string::npos) << info.name;
  // Linked from the documents people read first.
  for (const char* doc : {"docs/policy.md", "docs/architecture.md", "docs/packs.md"})
    EXPECT_NE(ReadFile(kSource / doc).find("operation-classes.md"), std::string::npos) << doc;
}

class CoreClassesCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dualkey-classes-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "home");
    fs::create_directories(dir_ / "repo/.git");
    fs::create_directories(dir_ / "repo/.dualkey/packs");
  }
  void TearDown() override { fs::remove_all(dir_); }
  Ran Classes(const std::string& args) {
    return Sh("HOME=" + (dir_ / "home").string() +
              " XDG_CONFIG_HOME=" + (dir_ / "home/.config").string() + " " + DUALKEY_BINARY +
              " classes --cwd " + (dir_ / "repo").string() + " " + args + " 2>&1");
  }
  fs::path dir_;
};

TEST_F(CoreClassesCommand, ListsOneFamilyAsJson) {
  const Ran ran = Classes("--json db");
  ASSERT_EQ(ran.status, 0) << ran.out;
  const nlohmann::json out = nlohmann::json::parse(ran.out);
  ASSERT_GT(out["classes"].size(), 30u);
  for (const auto& entry : out["classes"]) {
    EXPECT_EQ(entry["family"], "db");
    EXPECT_FALSE(entry["meaning"].get<std::string>().empty());
    EXPECT_EQ(entry["origin"], "built-in");
  }
  EXPECT_EQ(Classes("no-such-family").status, 2);
  const Ran text = Classes("backup");
  EXPECT_NE(text.out.find("backup.delete"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("db.drop"), std::string::npos) << text.out;
}

TEST_F(CoreClassesCommand, ShowsPackClassesAndWarnsOfUndescribedOnes) {
  std::ofstream(dir_ / "repo/.dualkey/packs/acme.toml") << kAcme;
  const Ran ran = Classes("--json acme");
  ASSERT_EQ(ran.status, 0) << ran.out;
  const nlohmann::json out = nlohmann::json::parse(ran.out);
  ASSERT_EQ(out["classes"].size(), 1u) << ran.out;
  EXPECT_EQ(out["classes"][0]["name"], "acme.tenant.delete");
  EXPECT_EQ(out["classes"][0]["meaning"], "deletes a tenant with its data");
  EXPECT_NE(out["classes"][0]["origin"].get<std::string>().find("pack acme"), std::string::npos);
  ASSERT_EQ(out["warnings"].size(), 1u) << ran.out;
  EXPECT_NE(out["warnings"][0].get<std::string>().find("acme.delete"), std::string::npos);
}

}  // namespace
}  // namespace dualkey::op_class
