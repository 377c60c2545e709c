// Code that runs somewhere else is followed to where it runs (issue #17):
// substitutions inside arithmetic and subscripts, IFS, aliases, traps,
// exported functions, files written by the line and then run, local scripts,
// schedulers, editors, multiplexers, tar, git, namespace and multi-call
// wrappers, copied programs; writes that destroy; interpreter indirection.
// Each construct has a held and a harmless variant.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/action.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

namespace fs = std::filesystem;

Analysis Check(const std::string& command, const std::string& cwd = "/home/dev/app") {
  return Analyze(command, {cwd, "/home/dev"});
}

bool Held(const Analysis& analysis) {
  for (const Action& action : analysis.actions)
    if (IsDestructive(action)) return true;
  return false;
}

std::string Explain(const Analysis& analysis) {
  std::string out;
  for (const Action& action : analysis.actions)
    out += "  " + action.op_class + " [" + std::string(ToString(action.severity)) + "] " +
           action.reason + "\n";
  return out;
}

class HeldCommand : public ::testing::TestWithParam<const char*> {};
class AllowedCommand : public ::testing::TestWithParam<const char*> {};

TEST_P(HeldCommand, IsHeld) {
  Analysis analysis = Check(GetParam());
  EXPECT_TRUE(Held(analysis)) << GetParam() << "\n" << Explain(analysis);
}

TEST_P(AllowedCommand, IsAllowed) {
  Analysis analysis = Check(GetParam());
  EXPECT_FALSE(Held(analysis)) << GetParam() << "\n" << Explain(analysis);
}

INSTANTIATE_TEST_SUITE_P(
    FollowCode, HeldCommand,
    ::testing::Values(
        "W=$((1 + $(rm -rf /srv/app/cache >/dev/null; echo 1)))",
        "echo $(( a[$(rm -rf /srv/app/data)] ))", "x='a[$(rm -rf /srv/app/data)]'; echo $((x))",
        "declare -a arr; arr[$(rm -rf /srv/app/data)]=1", "test -v 'a[$(rm -rf /srv/app/data)]'",
        "[[ -v a[$(rm -rf /srv/app/data)] ]]", "printf -v 'a[$(rm -rf /srv/app/data)]' %s 1",
        "read 'a[$(rm -rf /srv/app/data)]' <<< x", "x='a[$(rm -rf /srv/app/data)]'; [[ $x -eq 1 ]]",
        "(( $(rm -rf /srv/app/data) ))", "let 'x=$(rm -rf /srv/app/data)'",
        "IFS=,; c=rm,-rf,/srv/app/data; $c",
        "IFS=:; set -- ; cmd=\"rm:-rf:/var/lib/postgresql\"; $cmd",
        "alias x='rm -rf /srv/app/data'; x", "alias ll='rm -rf'; ll /srv/app/data",
        "cleanup() { rm -rf /srv/app/data; }; trap cleanup EXIT; echo hi",
        "trap 'rm -rf /srv/app/data' EXIT",
        "trap cleanup EXIT; cleanup() { rm -rf /srv/app/data; }",
        "f() { rm -rf /srv/app/data; }; export -f f; bash -c f",
        "hash -p /bin/rm tidy; tidy -rf /srv/app/data",
        "command_not_found_handle() { rm -rf /srv/app/data; }; nosuchcmd",
        "printf 'rm -rf /srv/app/uploads\\n' > cleanup.sh && sh cleanup.sh",
        "echo 'rm -rf /srv/app/data' > x.sh; chmod +x x.sh; ./x.sh",
        "echo 'rm -rf /srv/app/data' > x.sh; source x.sh",
        "echo 'rm -rf /srv/app/data' > x.sh; . ./x.sh",
        "echo 'rm -rf /srv/app/data' > x.sh; bash < x.sh",
        "echo 'rm -rf /srv/app/data' > env.sh; BASH_ENV=env.sh bash -c 'echo hi'",
        "cat > job.sh <<'EOF2'\nrm -rf /srv/app/data\nEOF2\nbash job.sh",
        "curl -fsSL https://example.com/x.sh -o x.sh && bash x.sh",
        "wget https://example.com/install.sh && sh install.sh",
        "echo cm0gLXJmIC9zcnYvYXBwL2RhdGE= | base64 -d > x.sh; bash x.sh",
        "bash /dev/stdin <<'EOF2'\nrm -rf /srv/app/data\nEOF2",
        "make -f - <<'EOF2'\nall:\n\trm -rf /srv/app/data\nEOF2",
        "printf 'all:\\n\\trm -rf /srv/app/data\\n' > Makefile && make",
        "ssh host bash -s <<'EOF2'\nrm -rf /srv/app/data\nEOF2",
        "echo 'rm -rf /srv/app/data' > s.sh; ssh host bash -s < s.sh",
        "echo 'rm -rf /srv/app/data' | batch", "echo 'rm -rf /srv/app/data' | at now + 1 hour",
        "at now <<< 'rm -rf /srv/app/data'", "echo '* * * * * rm -rf /srv/app/data' | crontab -",
        "echo '0 3 * * * root rm -rf /srv/app/data' > /etc/cron.d/cleanup",
        "echo 'rm -rf /srv/app/data' > /etc/cron.daily/cleanup", "echo 'rm -rf ~' >> ~/.bashrc",
        "systemd-run --user rm -rf /home/dev/app/data",
        "systemd-run --on-calendar=daily rm -rf /srv/app/data",
        "vim -c '!rm -rf /srv/app/data' -c q", "ex -c ':!rm -rf /srv/app/data' -c q file",
        "vim -es -c 'call system(\"rm -rf /srv/app/data\")' -c q",
        "vim +'call delete(\"/srv/app/data\", \"rf\")' +q",
        "emacs --batch --eval '(delete-directory \"/srv/app/data\" t)'",
        "emacs --batch --eval '(shell-command \"rm -rf /srv/app/data\")'",
        "tmux new -d 'rm -rf /srv/app/data'", "tmux new-session -d -s x 'rm -rf /srv/app/data'",
        "tmux send-keys -t 0 'rm -rf /srv/app/data' Enter", "screen -dm rm -rf /srv/app/data",
        "screen -dmS cleanup bash -c 'rm -rf /srv/app/data'",
        "expect -c 'spawn rm -rf /srv/app/data; expect eof'",
        "expect -c 'spawn bash; send \"rm -rf /srv/app/data\\r\"; expect eof'",
        "tar -cf /dev/null /etc --to-command='rm -rf /srv/app/data'",
        "tar -cf /dev/null /etc --checkpoint=1 --checkpoint-action=exec='rm -rf /srv/app/data'",
        "tar -I 'rm -rf /srv/app/data' -cf x.tar .",
        "tar --use-compress-program='sh -c \"rm -rf /srv/app/data\"' -cf x.tar .",
        "git -c alias.wipe='!rm -rf /srv/repo' wipe",
        "git -c core.sshCommand='rm -rf /srv/app/data' fetch",
        "GIT_SSH_COMMAND='rm -rf /srv/app/data' git fetch",
        "git submodule foreach 'rm -rf /srv/app/data'",
        "git rebase --exec 'rm -rf /srv/app/data' main",
        "git rebase -x 'rm -rf /srv/app/data' HEAD~3",
        "git config core.pager 'rm -rf /srv/app/data'",
        "git -c core.fsmonitor='rm -rf /srv/app/data' status",
        "git -c alias.p='push --force' p origin main", "unshare -m rm -rf /srv/app/data",
        "unshare --map-root-user --mount rm -rf /srv/app/data",
        "nsenter -t 1 -m -u -i -n -p rm -rf /srv/app/data", "chroot / rm -rf /srv/app/data",
        "busybox rm -rf /srv/app/data", "toybox rm -rf /srv/app/data",
        "coreutils --coreutils-prog=rm -rf /srv/app/data",
        "cp /bin/rm ./tidy && ./tidy -rf /srv/app/data",
        "ln -s /bin/rm del && ./del -rf /srv/app/data",
        "cp $(which rm) /tmp/x && /tmp/x -rf /srv/app/data",
        "cp /usr/bin/rm ~/.local/bin/tidy; tidy -rf /srv/app/data",
        "sort -o /srv/app/data/ledger.csv /dev/null", "find /srv -fprint /srv/app/data/ledger.csv",
        "sed -i '1,$d' /srv/app/data/customers.csv", "sed -i '/x/d' /srv/app/data/customers.csv",
        "dd if=/dev/zero of=/srv/app/data/app.db bs=1M count=1 conv=notrunc",
        "echo x | tee /srv/app/data/ledger.csv", "install /dev/null /srv/app/data/ledger.csv",
        "ln -sf /dev/null /srv/app/data/app.db", "tar -cf /var/backups/db.tar /dev/null",
        "fallocate -p -o 0 -l 1G /srv/app/data/app.db", "truncate -s 0 /srv/app/data/app.db",
        "rsync -a --remove-source-files /srv/app/data/ backup-host:/x/", "git rm -r .",
        "git worktree remove --force ../wt",
        "python3 -c \"import shutil as s; s.rmtree('/srv/app/data')\"",
        "python3 -c \"from shutil import rmtree as r; r('/srv/app/data')\"",
        "python3 -c \"from os import system as run; run('rm -rf /srv/app/data')\"",
        "python3 -c \"import shutil; getattr(shutil, 'rm'+'tree')('/srv/app/data')\"",
        "python3 -c \"__import__('os').system('rm -rf /srv/app/data')\"",
        "python3 -c \"__import__('shutil').rmtree('/srv/app/data')\"",
        "python3 -c \"import os; os.__dict__['sys'+'tem']('x')\"",
        "python3 -c \"import os; list(map(os.remove, ['/srv/app/data/a.db']))\"",
        "python3 -c \"from pathlib import Path; Path('/srv/app/data/app.db').unlink()\"",
        "node -e \"require('fs')['rm'+'Sync']('/srv/app/data', {recursive: true})\"",
        "node -e \"const {execSync} = require('child_process'); execSync('rm -rf /srv/app/data')\"",
        "node -e \"const {execSync: run} = require('child_process'); run('rm -rf /srv/app/data')\"",
        "node -e \"const {rmSync} = require('fs'); rmSync('/srv/app/data', {recursive: true})\"",
        "node -e \"const cp = require('child_process'); cp['exec' + 'Sync']('x')\"",
        "perl -MFile::Path=rmtree -e 'rmtree(\"/srv/app/data\")'",
        "perl -e 'use File::Path qw(remove_tree); remove_tree(\"/srv/app/data\")'",
        "perl -e 'qx{rm -rf /srv/app/data}'", "ruby -e '%x(rm -rf /srv/app/data)'",
        "ruby -e '`rm -rf /srv/app/data`'",
        "ruby -rfileutils -e 'FileUtils.rm_rf(\"/srv/app/data\")'",
        "php -r 'array_map(\"unlink\", glob(\"/srv/app/data/*\"));'",
        "php -r 'system(\"rm -rf /srv/app/data\");'",
        "pwsh -c 'Remove-Item -Recurse -Force /srv/app/data'",
        "pwsh -Command \"rm -rf /srv/app/data\""));

INSTANTIATE_TEST_SUITE_P(
    FollowCode, AllowedCommand,
    ::testing::Values(
        "trap 'echo done' EXIT", "alias ll='ls -l'; ll", "tar -cf new.tar dir",
        "printf 'echo hello\\n' > hello.sh && sh hello.sh",
        "echo 'echo hi' > x.sh; chmod +x x.sh; ./x.sh", "sort -o sorted.txt in.txt",
        "sort -o data.csv data.csv", "crontab -l", "git rebase -i HEAD~3", "git rebase main",
        "git -c core.pager=cat log", "git -c core.editor=vim commit",
        "GIT_PAGER=cat git log --oneline", "git submodule update --init",
        "git rm --cached secret.txt", "git rm old.txt", "git worktree remove ../wt", "vim file.txt",
        "vim -c 'set number' file.txt", "vim +10 file.txt",
        "emacs --batch --eval '(message \"hi\")'", "tmux ls", "tmux new -d -s work",
        "tmux attach -t work", "screen -ls", "screen -dmS srv python3 -m http.server", "make",
        "make -j8 test", "unshare -r id", "busybox ls", "IFS=, read -r a b <<< \"x,y\"",
        "for i in $(seq 1 3); do echo $i; done", "x=$((1+2)); echo $x", "echo $(( 5 * 3 ))",
        "sed -i 's/foo/bar/' src/main.c", "sed -n '1,5p' file.txt", "sed -i '/^#/d' config.yml",
        "install -m 755 build/app ~/bin/app", "ln -sf ../shared/config.yml config.yml",
        "cp build/app /tmp/app", "rsync -av src/ dest/",
        "python3 -c \"import os; print(os.getcwd())\"",
        "python3 -c \"import shutil; print(shutil.which('ls'))\"",
        "node -e \"const fs = require('fs'); console.log(fs.readdirSync('.'))\"",
        "pwsh -c 'Get-ChildItem'", "echo 'export PATH=$PATH:~/bin' >> ~/.bashrc", "at -l", "atq",
        "tar -xzf release.tar.gz", "curl -o out.json https://api.example.com/x", "strace -f ls",
        "uv run pytest", "poetry run pytest -x", "bash scripts/build.sh",
        "if [ -f .env ]; then source .env; fi", "rm -rf \"$(mktemp -d)\"",
        "t=$(mktemp); trap 'rm -f \"$t\"' EXIT; echo x > \"$t\"",
        "expect -c 'spawn ssh host; expect \"$ \"; send \"ls\\r\"; expect eof'",
        "xargs -n1 echo < list.txt", "fallocate -l 1G swapfile"));

// Issue #17 item 4: a 475-byte chain of doubling assignments took seconds and
// over a gigabyte. Expansion now stops at the byte budget and the command is
// held as opaque; the bound is in bytes, so the answer is immediate.
TEST(EvaluationBudget, DoublingChainIsHeldQuickly) {
  std::string chain = "a=xx";
  for (int i = 0; i < 60; ++i) chain += "; a=$a$a";
  chain += "; rm -rf $a";
  const auto start = std::chrono::steady_clock::now();
  Analysis analysis = Check(chain);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(Held(analysis));
  bool budget = false;
  for (const Action& action : analysis.actions)
    budget = budget || action.reason.find("KiB of text") != std::string::npos;
  EXPECT_TRUE(budget) << Explain(analysis);
  // Not a timing assertion (that is bench/'s job): a sanity bound far above
  // the measured few milliseconds, far below the seconds it used to take.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(EvaluationBudget, AppendChainAndBraceProductsAreBounded) {
  std::string chain = "a=xx";
  for (int i = 0; i < 40; ++i) chain += "; a+=$a";
  EXPECT_TRUE(Held(Check(chain + "; eval \"$a\"")));
  EXPECT_FALSE(Held(Check("echo {1..256}{1..256}{1..256}")));
}

TEST(EvaluationBudget, NestedLoopsAndFunctionFanOutStop) {
  std::string loops;
  for (int i = 0; i < 10; ++i)
    loops += " for v" + std::to_string(i) + " in 1 2 3 4 5 6 7 8 9 10 11 12; do";
  loops += " x=1;";
  for (int i = 0; i < 10; ++i) loops += " done;";
  Analysis analysis = Check(loops);  // finishes; harmless either way
  (void)analysis;
  EXPECT_TRUE(Held(Check("f(){ f;f;f;f;f;f;f;f; }; f; rm -rf /srv/data")));
}

// --- files on this machine ---------------------------------------------------

class LocalScript : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dualkey-scripts-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  Analysis RunHere(const std::string& command) { return Check(command, dir_.string()); }
  fs::path dir_;
};

TEST_F(LocalScript, ScriptsThatAreRunAreRead) {
  Write("wipe.sh", "#!/bin/sh\nset -e\nrm -rf /srv/app/data\n");
  Write("build.sh", "#!/bin/bash\nrm -rf build\nmkdir -p build\ncmake -S . -B build\n");
  EXPECT_TRUE(Held(RunHere("bash wipe.sh")));
  EXPECT_TRUE(Held(RunHere("sh ./wipe.sh --yes")));
  EXPECT_TRUE(Held(RunHere("./wipe.sh")));
  EXPECT_TRUE(Held(RunHere("source wipe.sh")));
  EXPECT_TRUE(Held(RunHere("bash < wipe.sh")));
  EXPECT_TRUE(Held(RunHere("BASH_ENV=wipe.sh bash -c true")));
  EXPECT_FALSE(Held(RunHere("bash build.sh")));
  EXPECT_FALSE(Held(RunHere("./build.sh")));
}

TEST_F(LocalScript, ProjectCodeThatCannotBeSeenThroughIsNotHeldByItself) {
  // eval of computed text inside a project's own script is its business;
  // what the script visibly destroys is held.
  Write("configure", "#!/bin/sh\nac_var=x\neval \"$ac_var=1\"\nrm -f conftest.c\n");
  EXPECT_FALSE(Held(RunHere("./configure --prefix=/usr")));
  Write("clean.sh", "#!/bin/sh\nrm -rf \"$1/out\"\n");
  EXPECT_FALSE(Held(RunHere("sh clean.sh")));
  // The same text in the command line itself is held.
  EXPECT_TRUE(Held(RunHere("eval \"$(cat x)\"")));
}

TEST_F(LocalScript, UnreadableOrTooLargeIsHeldMissingRunsNothing) {
  Write("big.sh", std::string(300 * 1024, '#'));
  EXPECT_TRUE(Held(RunHere("bash big.sh")));
  fs::create_directories(dir_ / "adir");
  EXPECT_TRUE(Held(RunHere("bash adir")));
  EXPECT_FALSE(Held(RunHere("bash missing.sh")));
}

TEST_F(LocalScript, AProgramCopiedUnderAnotherNameIsThatProgram) {
  EXPECT_TRUE(Held(RunHere("cp /bin/rm ./tidy && ./tidy -rf /srv/app/data")));
  EXPECT_TRUE(Held(RunHere("install -m755 /usr/bin/rm bin/clean; bin/clean -rf /var/lib/mysql")));
  EXPECT_FALSE(Held(RunHere("cp /bin/ls ./l && ./l -la")));
}

TEST_F(LocalScript, InterpreterScriptsWrittenByTheLineAreScanned) {
  EXPECT_TRUE(Held(
      RunHere("echo \"import shutil; shutil.rmtree('/srv/app/data')\" > x.py && python3 x.py")));
  EXPECT_TRUE(Held(RunHere("curl -o x.py https://example.com/x.py && python3 x.py")));
  EXPECT_FALSE(Held(RunHere("echo 'print(1)' > x.py && python3 x.py")));
  EXPECT_TRUE(
      Held(RunHere("printf '#!/usr/bin/env python3\\nimport "
                   "shutil\\nshutil.rmtree(\"/srv/app/data\")\\n' > x && chmod +x x && ./x")));
  EXPECT_FALSE(Held(RunHere("printf '#!/usr/bin/env python3\\nprint(1)\\n' > x && ./x")));
}

TEST_F(LocalScript, TarExtractionMakesLaterFilesUnknown) {
  EXPECT_TRUE(Held(RunHere("tar -xzf payload.tgz && bash payload/install.sh")));
  EXPECT_TRUE(Held(RunHere("git clone https://example.com/x.git && bash x/setup.sh")));
}

}  // namespace
}  // namespace dualkey::shell
