// Self-protection: what an agent might run against dualkey itself, in single-
// user mode (home /home/dev), and the ordinary uses of dualkey that stay
// allowed.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "policy/policy.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

Verdict Check(std::string_view command) {
  Analysis analysis = Analyze(command, {"/home/dev/app", "/home/dev"});
  return policy::Decide(std::move(analysis.actions));
}

bool IsTamper(const Verdict& verdict) {
  for (const Action& action : verdict.actions)
    if (action.op_class == "guard.tamper") return true;
  return false;
}

TEST(Tamper, WritesToStatePolicyKeysSocketAndBinary) {
  for (const char* command :
       {"echo 'mode = \"observe\"' | tee ~/.config/dualkey/policy.toml",
        "echo 'mode = \"observe\"' > ~/.config/dualkey/policy.toml",
        "truncate -s 0 ~/.local/state/dualkey/audit.jsonl", "rm ~/.local/state/dualkey/audit.jsonl",
        "rm -rf ~/.local/state/dualkey", "mv ~/.local/state/dualkey/vault /tmp/v",
        "chmod 777 /var/lib/dualkey", "cp /tmp/evil /usr/local/bin/dualkey",
        "rm -f /run/dualkey/dualkey.sock",
        "sqlite3 ~/.local/state/dualkey/state.sqlite3 \"UPDATE requests SET state='approved'\"",
        "sqlite3 ~/.local/state/dualkey/state.sqlite3 .dump", "rm .dualkey.toml",
        "echo '[[rules]]' >> /home/dev/app/.dualkey.toml", "rm -rf ~/.config",
        "mkdir -p ~/.config/dualkey/packs", "cat ~/.local/state/dualkey/audit.key",
        "base64 < ~/.local/state/dualkey/audit.key", "ln -sf /dev/null /etc/dualkey/policy.toml"}) {
    Verdict verdict = Check(command);
    EXPECT_TRUE(IsTamper(verdict)) << command;
    EXPECT_EQ(verdict.decision, Decision::kHold2) << command;
  }
}

TEST(Tamper, AgentHookConfigsByAnyTool) {
  for (const char* command :
       {"sed -i '/hooks/d' ~/.claude/settings.json",
        "jq 'del(.hooks)' ~/.claude/settings.json > /tmp/s && mv /tmp/s ~/.claude/settings.json",
        "rm .cursor/hooks.json", "rm ~/.cursor/hooks.json", "echo '{}' > ~/.gemini/settings.json",
        "printf '' > .gemini/settings.json", "rm -rf ~/.codex", "vim ~/.codex/config.toml",
        "git checkout -- .claude/settings.json", "cp /tmp/blank.json .claude/settings.local.json",
        "python3 -c \"import json,os;p=os.path.expanduser('~/.claude/settings.json');"
        "d=json.load(open(p));d.pop('hooks',None);json.dump(d,open(p,'w'))\"",
        "node -e \"require('fs').writeFileSync(process.env.HOME+'/.cursor/hooks.json','{}')\""}) {
    EXPECT_EQ(Check(command).decision, Decision::kHold2) << command;
  }
}

TEST(Tamper, StartupFilesThatRedirectTheGuard) {
  for (const char* command :
       {"echo 'export DUALKEY_SOCKET=/tmp/other.sock' >> ~/.zshrc",
        "echo 'export XDG_CONFIG_HOME=/tmp/cfg' >> ~/.bashrc",
        "echo 'export PATH=/tmp/evil:$PATH' >> ~/.profile",
        "printf 'DUALKEY_STATE_DIR=/tmp/s\\n' | tee -a ~/.config/environment.d/x.conf",
        "cat >> ~/.bash_profile <<'EOF'\nexport PATH=\"$HOME/bin:$PATH\"\nEOF"})
    EXPECT_EQ(Check(command).decision, Decision::kHold2) << command;
  // Appending to PATH keeps dualkey ahead; other lines are not tampering.
  EXPECT_FALSE(IsTamper(Check("echo 'export PATH=$PATH:/opt/tools/bin' >> ~/.bashrc")));
  EXPECT_FALSE(IsTamper(Check("echo 'alias ll=\"ls -l\"' >> ~/.bashrc")));
}

TEST(Tamper, StoppingTheGuard) {
  for (const char* command :
       {"killall dualkey", "pkill -f 'dualkey serve'", "systemctl stop dualkey",
        "systemctl --user disable --now dualkey.service", "sudo service dualkey stop"})
    EXPECT_EQ(Check(command).decision, Decision::kHold2) << command;
}

TEST(Tamper, TargetsComputedFromALookupOfDualkey) {
  for (const char* command :
       {"kill $(pgrep -f 'dualkey serve')", "kill -9 $(pidof dualkey)",
        "pgrep dualkey | xargs kill", "kill $(cat ~/.local/state/dualkey/dualkey.pid)",
        "cp /bin/true \"$(command -v dualkey)\"", "ln -sf /bin/true $(which dualkey)"})
    EXPECT_EQ(Check(command).decision, Decision::kHold2) << command;
  // Each input starts afresh: an earlier lookup does not taint a later kill.
  EXPECT_EQ(Check("pgrep -f dualkey").decision, Decision::kAllow);
  EXPECT_EQ(Check("kill $(lsof -t -i:3000)").decision, Decision::kAllow);
  EXPECT_EQ(Check("cp a.txt \"$(mktemp -d)\"").decision, Decision::kAllow);
}

// On a protected install the pid file is readable, so the evaluator knows
// what `$(cat .../dualkey.pid)` prints: the kill gets a literal pid.
TEST(Tamper, PidFileReadableAtClassificationTime) {
  char dir[] = "/tmp/dk-tamper-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string pid_file = std::string(dir) + "/dualkey.pid";
  { std::ofstream(pid_file) << "4242\n"; }
  for (const std::string& command :
       {"kill $(cat " + pid_file + ")", "kill -9 `cat " + pid_file + "`",
        "p=$(cat " + pid_file + "); kill -TERM $p", "cat " + pid_file + " | xargs kill"})
    EXPECT_EQ(Check(command).decision, Decision::kHold2) << command;
  std::filesystem::remove_all(dir);
}

// A pid learnt in an earlier call is checked against the running processes.
TEST(Tamper, SignalToARunningDualkeyProcess) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    prctl(PR_SET_NAME, "dualkey");
    char byte = 1;
    (void)!write(ready[1], &byte, 1);
    pause();
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  const std::string pid = std::to_string(child);
  EXPECT_EQ(Check("kill " + pid).decision, Decision::kHold2);
  EXPECT_EQ(Check("kill -9 " + pid).decision, Decision::kHold2);
  EXPECT_EQ(Check("kill -s KILL " + pid).decision, Decision::kHold2);
  // Another process of the same user is an ordinary signal.
  EXPECT_EQ(Check("kill " + std::to_string(getpid())).decision, Decision::kAllow);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

TEST(Tamper, AdministrationFromAnAgent) {
  for (const char* command :
       {"dualkey approver add ci-bot", "dualkey approve 7f3a --code 123456",
        "dualkey breaker reset --agent claude", "dualkey install --uninstall claude",
        "sudo dualkey setup --remove", "dualkey serve --state /tmp/s", "dualkey vault prune"})
    EXPECT_EQ(Check(command).decision, Decision::kHold2) << command;
}

TEST(Tamper, OrdinaryUsesStayAllowed) {
  for (const char* command :
       {"dualkey pending --json", "dualkey audit verify && dualkey vault ls", "dualkey doctor",
        "dualkey check -- 'rm -rf /'", "dualkey policy explain -- 'git push -f'",
        "cat ~/.config/dualkey/policy.toml", "cat ~/.claude/settings.json",
        "jq .hooks ~/.claude/settings.json", "tail -n 50 ~/.local/state/dualkey/audit.jsonl",
        "ls -la ~/.local/state/dualkey", "grep -rn hooks ~/.claude",
        "cp ~/.claude/settings.json /tmp/settings.backup.json", "git add .claude/settings.json",
        "git diff .claude/settings.json", "less /usr/share/doc/dualkey/README.md",
        "python3 -c \"import json;print(json.load(open('/home/dev/.claude/settings.json')))\"",
        "man dualkey", "which dualkey"}) {
    Verdict verdict = Check(command);
    EXPECT_EQ(verdict.decision, Decision::kAllow) << command << ": " << verdict.reason;
  }
}

}  // namespace
}  // namespace dualkey::shell
