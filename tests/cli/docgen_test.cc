// Manual pages and completions come from the CLI's own definition: every
// option `--help` lists is in the page and the completion, the scripts
// parse in their shells, and bash, zsh and fish complete subcommands,
// options and pending approval ids.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Ran {
  int status = -1;
  std::string out;
};

Ran Sh(const std::string& command) {
  Ran ran;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return ran;
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) ran.out.append(buffer.data(), n);
  const int raw = pclose(pipe);
  ran.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return ran;
}

std::string Dk() {
  return std::string("DUALKEY_SOCKET=/nonexistent/dualkey.sock ") + DUALKEY_BINARY;
}

class Docgen : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dualkey-docgen-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A fake `dualkey` to put first on PATH: it answers `pending --json` for
  // the completions' approval ids.
  fs::path FakeDualkeyDir() {
    const fs::path bin = dir_ / "bin";
    fs::create_directories(bin);
    std::ofstream(bin / "dualkey") << R"(#!/bin/sh
cat <<'JSON'
[{"agent":"claude","code":"K7Q","id":"ap_1234abcd","input":"rm -rf x,\"id\":\"evil\""},{"id":"ap_99ffee00"}]
JSON
)";
    fs::permissions(bin / "dualkey", fs::perms(0755));
    return bin;
  }
  fs::path dir_;
};

// The long options `dualkey ARGS --help` prints.
std::vector<std::string> HelpOptions(const std::string& args) {
  const Ran help = Sh(Dk() + " " + args + " --help");
  std::vector<std::string> options;
  static const std::regex kOption(R"(^\s+(?:-\w, ?)?(--[a-z][a-z0-9-]*))");
  std::istringstream lines(help.out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kOption)) options.push_back(m[1]);
  }
  return options;
}

TEST_F(Docgen, ManPagesCarryEveryOptionOfTheHelp) {
  const Ran made = Sh(Dk() + " man " + dir_.string());
  ASSERT_EQ(made.status, 0) << made.out;
  for (const std::string& page : {"dualkey.1", "dualkey-audit-export.1", "dualkey-serve.1",
                                  "dualkey-completion.1", "dualkey-vault-restore.1"})
    EXPECT_TRUE(fs::exists(dir_ / page)) << page;
  EXPECT_FALSE(fs::exists(dir_ / "dualkey-man.1"));  // hidden: packaging's
  for (const auto& [args, page] :
       std::vector<std::pair<std::string, std::string>>{{"audit export", "dualkey-audit-export.1"},
                                                        {"serve", "dualkey-serve.1"},
                                                        {"check", "dualkey-check.1"}}) {
    std::ifstream in(dir_ / page);
    std::stringstream text;
    text << in.rdbuf();
    const std::vector<std::string> options = HelpOptions(args);
    ASSERT_FALSE(options.empty()) << args;
    for (std::string option : options) {
      std::string roff;
      for (char c : option) roff += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_NE(text.str().find(roff), std::string::npos) << page << " lacks " << option;
    }
  }
  // It renders, as man would.
  const Ran rendered =
      Sh("groff -man -Tutf8 -ww " + (dir_ / "dualkey-audit-export.1").string() + " | col -b");
  ASSERT_EQ(rendered.status, 0) << rendered.out;
  EXPECT_NE(rendered.out.find("--follow"), std::string::npos) << rendered.out;
  EXPECT_NE(rendered.out.find("dualkey-audit-export - "), std::string::npos) << rendered.out;
}

TEST_F(Docgen, BashCompletesSubcommandsOptionsAndApprovalIds) {
  const fs::path script = dir_ / "dualkey.bash";
  ASSERT_EQ(Sh(Dk() + " completion bash > " + script.string()).status, 0);
  ASSERT_EQ(Sh("bash -n " + script.string()).status, 0);
  const fs::path bin = FakeDualkeyDir();
  auto complete = [&](const std::string& words, int cword) {
    return Sh("PATH=" + bin.string() + ":$PATH bash -c 'source " + script.string() +
              "; COMP_WORDS=(" + words + "); COMP_CWORD=" + std::to_string(cword) +
              "; _dualkey; printf \"%s\\n\" \"${COMPREPLY[@]}\"'")
        .out;
  };
  EXPECT_NE(complete("dualkey au", 1).find("audit"), std::string::npos);
  const std::string audit = complete("dualkey audit ''", 2);
  EXPECT_NE(audit.find("export"), std::string::npos) << audit;
  EXPECT_NE(audit.find("verify"), std::string::npos) << audit;
  const std::string exported = complete("dualkey audit export --f", 3);
  EXPECT_NE(exported.find("--follow"), std::string::npos) << exported;
  EXPECT_NE(exported.find("--format"), std::string::npos) << exported;
  EXPECT_EQ(exported.find("--lines"), std::string::npos) << exported;  // tail's, not export's
  const std::string ids = complete("dualkey approve ''", 2);
  EXPECT_NE(ids.find("ap_1234abcd"), std::string::npos) << ids;
  EXPECT_NE(ids.find("ap_99ffee00"), std::string::npos) << ids;
  EXPECT_EQ(ids.find("evil"), std::string::npos) << ids;  // an id inside an input is not one
}

// zsh and fish: the scripts parse, and their completion functions complete
// subcommands, options and approval ids in the shell itself. zsh's
// completion system needs a terminal; its builtins the script calls
// (_describe, compadd, _files, compdef) are stood in for by functions that
// print what they were given. A shell that is not installed is a skip
// (scripts/install-deps.sh installs both).
TEST_F(Docgen, ZshAndFishComplete) {
  const fs::path bin = FakeDualkeyDir();
  std::string missing;
  if (Sh("command -v zsh").status == 0) {
    const fs::path script = dir_ / "_dualkey";
    ASSERT_EQ(Sh(Dk() + " completion zsh > " + script.string()).status, 0);
    const Ran parsed = Sh("zsh -n " + script.string());
    EXPECT_EQ(parsed.status, 0) << parsed.out;
    const fs::path driver = dir_ / "complete.zsh";
    std::ofstream(driver) << R"(compdef() { :; }
_describe() { local name=${@[-1]}; print -rl -- "${(@P)name}"; }
compadd() { local name=${@[-1]}; print -rl -- "${(@P)name}"; }
_files() { print -r -- FILES; }
source ${0:h}/_dualkey
words=("$@")
CURRENT=$#
_dualkey
)";
    // The words of the line; the last is the one being completed.
    auto complete = [&](const std::string& words) {
      return Sh("PATH=" + bin.string() + ":$PATH zsh -f " + driver.string() + " " + words).out;
    };
    const std::string top = complete("dualkey ''");
    EXPECT_NE(top.find("audit:The hash-chained audit log."), std::string::npos) << top;
    const std::string audit = complete("dualkey audit ''");
    EXPECT_NE(audit.find("export:"), std::string::npos) << audit;
    EXPECT_NE(audit.find("verify:"), std::string::npos) << audit;
    EXPECT_EQ(audit.find("serve:"), std::string::npos) << audit;
    const std::string exported = complete("dualkey audit export --f");
    EXPECT_NE(exported.find("--follow:"), std::string::npos) << exported;
    EXPECT_NE(exported.find("--format:"), std::string::npos) << exported;
    EXPECT_EQ(exported.find("--lines:"), std::string::npos) << exported;  // tail's
    const std::string ids = complete("dualkey approve ''");
    EXPECT_NE(ids.find("ap_1234abcd\n"), std::string::npos) << ids;
    EXPECT_NE(ids.find("ap_99ffee00\n"), std::string::npos) << ids;
    EXPECT_EQ(ids.find("evil"), std::string::npos) << ids;
  } else {
    missing += " zsh";
  }
  if (Sh("command -v fish").status == 0) {
    const fs::path script = dir_ / "dualkey.fish";
    ASSERT_EQ(Sh(Dk() + " completion fish > " + script.string()).status, 0);
    const Ran parsed = Sh("fish --no-execute " + script.string());
    EXPECT_EQ(parsed.status, 0) << parsed.out;
    auto complete = [&](const std::string& line) {
      return Sh("PATH=" + bin.string() + ":$PATH fish --no-config -c 'source " + script.string() +
                "; complete -C \"" + line + "\"'")
          .out;
    };
    const std::string audit = complete("dualkey audit ");
    EXPECT_NE(audit.find("export\t"), std::string::npos) << audit;
    EXPECT_NE(audit.find("verify\t"), std::string::npos) << audit;
    const std::string exported = complete("dualkey audit export --f");
    EXPECT_NE(exported.find("--follow"), std::string::npos) << exported;
    EXPECT_NE(exported.find("--format"), std::string::npos) << exported;
    const std::string ids = complete("dualkey approve ");
    EXPECT_NE(ids.find("ap_1234abcd"), std::string::npos) << ids;
    EXPECT_NE(ids.find("ap_99ffee00"), std::string::npos) << ids;
    EXPECT_EQ(ids.find("evil"), std::string::npos) << ids;
  } else {
    missing += " fish";
  }
  if (!missing.empty()) GTEST_SKIP() << "not installed:" << missing;
}

TEST_F(Docgen, UnknownShellIsAUsageError) {
  const Ran ran = Sh(Dk() + " completion tcsh");
  EXPECT_EQ(ran.status, 2) << ran.out;
}

}  // namespace
