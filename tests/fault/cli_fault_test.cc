// Faults at the command-line boundaries: the agent hook's stdin and
// `check --jsonl` with bytes that are not UTF-8 (a running daemon beside
// them), and the vault on a disk that fills up mid-put (a small tmpfs in a
// private mount namespace: gone when the test ends, even if it fails) or
// with links planted in a restore target.
#include <gtest/gtest.h>

#include "harness.h"

namespace dualkey::fault {
namespace {

class CliFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ScratchDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

// Every agent's hook blocks input that is not UTF-8 with a reason, exit 2,
// with the daemon running; the daemon is unharmed and the next call works.
TEST_F(CliFaults, HookStdinThatIsNotUtf8BlocksForEveryAgent) {
  Daemon daemon(dir_);
  ASSERT_TRUE(daemon.up());
  const std::string bad =
      "{\"session_id\":\"s\",\"cwd\":\"/tmp\",\"hook_event_name\":\"PreToolUse\","
      "\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"rm -rf /srv/\xff\"}}";
  for (const char* agent : {"claude", "cursor", "codex", "gemini"}) {
    Output out = daemon.Cli(std::string("hook ") + agent, bad);
    EXPECT_EQ(out.status, 2) << agent << ": " << out.out;
    EXPECT_NE(out.out.find("not valid UTF-8"), std::string::npos) << agent << ": " << out.out;
  }
  const std::string good =
      "{\"session_id\":\"s\",\"cwd\":\"/tmp\",\"hook_event_name\":\"PreToolUse\","
      "\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"}}";
  EXPECT_EQ(daemon.Cli("hook claude", good).status, 0);
  EXPECT_TRUE(daemon.Alive());
}

// `check --jsonl`: each bad line answers hold with why; the run goes on.
TEST_F(CliFaults, CheckJsonlWithBadBytesHoldsAndGoesOn) {
  const std::string cases =
      "{\"id\":\"a\",\"channel\":\"shell\",\"input\":\"rm -rf /\xff\"}\n"
      "\xff\xfe\xfd\n"
      "{\"id\":\"b\",\"channel\":\"mcp\",\"input\":{\"server\":\"s\xc3\",\"tool\":\"x\"}}\n"
      "{\"id\":\"c\",\"channel\":\"shell\",\"input\":\"ls\"}\n";
  Output out =
      Sh(std::string("DUALKEY_SOCKET=/nonexistent ") + DUALKEY_BINARY + " check --jsonl -", cases);
  ASSERT_EQ(out.status, 0) << out.out;
  std::istringstream lines(out.out);
  std::vector<json> answers;
  for (std::string line; std::getline(lines, line);) answers.push_back(json::parse(line));
  ASSERT_EQ(answers.size(), 4u) << out.out;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(answers[i]["decision"], "hold") << answers[i];
  EXPECT_EQ(answers[3]["decision"], "allow");
}

bool Root() {
  return geteuid() == 0;
}

// The vault on a 48 MiB tmpfs: a put of 80 MiB fails on the full disk and
// takes back every pack it wrote (the space is free again), the snapshot
// saved before restores, and the next put works. The tmpfs lives in a
// private mount namespace (unshare -m): it is gone when the script ends,
// whatever happens, and is unmounted explicitly too.
TEST_F(CliFaults, DiskFullDuringVaultPutLeavesNothingBehind) {
  if (!Root()) GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  if (Sh("command -v unshare").status != 0) GTEST_SKIP() << "unshare (util-linux) is missing";
  const fs::path mnt = dir_ / "disk";
  const fs::path data = dir_ / "data";
  fs::create_directories(mnt);
  fs::create_directories(data);
  std::ofstream(data / "small.txt") << "saved before the disk filled";
  ASSERT_EQ(Sh("head -c 83886080 /dev/urandom > " + Quote((data / "big.bin").string())).status, 0);
  const std::string vault = (mnt / "vault").string();
  const std::string bin = DUALKEY_BINARY;
  auto v = [&](const std::string& args) {
    return Quote(bin) + " vault " + args + " --vault " + Quote(vault);
  };
  const std::string script =
      "set -u\n"
      "mount -t tmpfs -o size=48m dualkey-fault-tmpfs " +
      Quote(mnt.string()) +
      " || exit 90\n"
      "trap 'umount " +
      Quote(mnt.string()) + "' EXIT\n" + v("init") + " >/dev/null || exit 91\n" +
      v("put --quiet --json " + Quote((data / "small.txt").string())) + " > " +
      Quote((dir_ / "first.json").string()) +
      " || exit 92\n"
      "echo used-before $(df -k --output=used " +
      Quote(mnt.string()) + " | tail -1)\n" +
      v("put --quiet " + Quote((data / "big.bin").string())) +
      "; echo put-status $?\n"
      "echo used-after $(df -k --output=used " +
      Quote(mnt.string()) +
      " | tail -1)\n"
      "echo packs $(ls " +
      Quote(vault + "/packs") + " | wc -l) tmp $(ls " + Quote(vault + "/tmp") +
      " | wc -l) index $(ls " + Quote(vault + "/index") + " | wc -l)\n" + v("verify --quiet") +
      "; echo verify-status $?\n" +
      v("restore $(sed -n 's/.*\"id\":\"\\([0-9a-f]*\\)\".*/\\1/p' " +
        Quote((dir_ / "first.json").string()) + ") --quiet --to " +
        Quote((mnt / "back").string())) +
      "; echo restore-status $?\n"
      "cat " +
      Quote((mnt / "back").string() + (data / "small.txt").string()) +
      "; echo\n"
      "head -c 4194304 " +
      Quote((data / "big.bin").string()) + " > " + Quote((data / "part.bin").string()) + "\n" +
      v("put --quiet " + Quote((data / "part.bin").string())) + "; echo next-put-status $?\n";
  Output run = Sh("unshare -m --propagation private sh -c " + Quote(script));
  ASSERT_NE(run.out.find("put-status"), std::string::npos) << run.out;
  auto number_after = [&](const std::string& key) {
    const std::size_t at = run.out.find(key + " ");
    return at == std::string::npos ? -1L : std::stol(run.out.substr(at + key.size() + 1));
  };
  EXPECT_EQ(number_after("put-status"), 1) << run.out;
  EXPECT_NE(run.out.find("cannot write to the vault"), std::string::npos) << run.out;
  EXPECT_EQ(number_after("packs"), 1) << run.out;
  EXPECT_EQ(number_after("tmp"), 0) << run.out;
  EXPECT_EQ(number_after("index"), 1) << run.out;
  EXPECT_LT(number_after("used-after") - number_after("used-before"), 1024)
      << "the failed put left its packs behind:\n"
      << run.out;
  EXPECT_EQ(number_after("verify-status"), 0) << run.out;
  EXPECT_EQ(number_after("restore-status"), 0) << run.out;
  EXPECT_NE(run.out.find("saved before the disk filled"), std::string::npos) << run.out;
  EXPECT_EQ(number_after("next-put-status"), 0) << run.out;
  // The mount was private to the script's namespace: nothing is mounted here.
  EXPECT_EQ(Sh("grep -c dualkey-fault-tmpfs /proc/self/mounts").out, "0\n");
}

// A link planted inside a restore target is never written through.
TEST_F(CliFaults, LinksInARestoreTargetAreNeverFollowed) {
  const fs::path data = dir_ / "data";
  fs::create_directories(data / "etc");
  std::ofstream(data / "etc" / "app.conf") << "mine";
  const std::string vault = (dir_ / "vault").string();
  const std::string bin = DUALKEY_BINARY;
  ASSERT_EQ(Sh(bin + " vault init --vault " + Quote(vault)).status, 0);
  Output put =
      Sh(bin + " vault put --quiet --json --vault " + Quote(vault) + " " + Quote(data.string()));
  ASSERT_EQ(put.status, 0) << put.out;
  const std::string id = json::parse(put.out)["id"];
  const fs::path victim = dir_ / "victim";
  fs::create_directories(victim);
  // The target holds a link where the snapshot has a directory.
  const fs::path to = dir_ / "restore-here";
  fs::create_directories(to / data.relative_path());
  fs::remove(to / data.relative_path());
  fs::create_symlink(victim, to / data.relative_path());
  Output restored =
      Sh(bin + " vault restore " + id + " --vault " + Quote(vault) + " --to " + Quote(to.string()));
  EXPECT_EQ(restored.status, 1) << restored.out;
  EXPECT_NE(restored.out.find("symbolic link"), std::string::npos) << restored.out;
  EXPECT_TRUE(fs::is_empty(victim)) << "written through the link";
}

}  // namespace
}  // namespace dualkey::fault
