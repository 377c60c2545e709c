// The evaluator: what each command would run with, after expansion.
#include "shell/internal/evaluate.h"

#include <gtest/gtest.h>

#include "shell/internal/parser.h"

namespace dualkey::shell {
namespace {

class Recorder : public InvocationSink {
 public:
  void OnInvocation(const Invocation& invocation) override { invocations.push_back(invocation); }
  void OnOpaque(std::string reason) override { opaque.push_back(std::move(reason)); }
  std::vector<Invocation> invocations;
  std::vector<std::string> opaque;
};

struct Evaluated {
  std::vector<Invocation> invocations;
  std::vector<std::string> opaque;

  // The argv of the i-th command, joined with single spaces.
  std::string Argv(std::size_t i) const {
    std::string out;
    if (i >= invocations.size()) return "<none>";
    for (const Arg& arg : invocations[i].argv) {
      if (!out.empty()) out.push_back(' ');
      out += arg.text;
    }
    return out;
  }
};

Evaluated Eval(std::string_view script, std::string cwd = "/home/dev/app") {
  ParseResult parsed = Parse(script);
  EXPECT_TRUE(parsed.ok) << script << ": " << parsed.error.message;
  Recorder recorder;
  if (parsed.ok) {
    Evaluator evaluator(recorder, {}, std::move(cwd), "/home/dev", 0);
    evaluator.Run(*parsed.list);
  }
  return {std::move(recorder.invocations), std::move(recorder.opaque)};
}

TEST(Evaluate, QuotesAreRemoved) {
  Evaluated e = Eval("'r'\"m\" -r''f /x");
  ASSERT_EQ(e.invocations.size(), 1u);
  EXPECT_EQ(e.Argv(0), "rm -rf /x");
  EXPECT_TRUE(e.invocations[0].argv[0].known);
}

TEST(Evaluate, VariablesAssignedEarlierAreTracked) {
  Evaluated e = Eval("D=/; rm -rf $D");
  ASSERT_EQ(e.invocations.size(), 1u);
  EXPECT_EQ(e.Argv(0), "rm -rf /");
}

TEST(Evaluate, UnsetVariablesStayUnknown) {
  Evaluated e = Eval("rm -rf \"$NOPE\"/x");
  ASSERT_EQ(e.invocations.size(), 1u);
  EXPECT_FALSE(e.invocations[0].argv[2].known);
}

TEST(Evaluate, HomeAndTildeExpandToTheHome) {
  Evaluated e = Eval("rm -rf ~ ~/x $HOME/y ~bob");
  EXPECT_EQ(e.Argv(0), "rm -rf /home/dev /home/dev/x /home/dev/y /home/bob");
}

TEST(Evaluate, QuotedTildeIsLiteral) {
  Evaluated e = Eval("rm -rf '~'");
  EXPECT_EQ(e.Argv(0), "rm -rf ~");
}

TEST(Evaluate, DefaultValueOfUnsetParameter) {
  Evaluated e = Eval("rm -rf \"${BACKUP_DIR:-/var/backups}\"/*");
  EXPECT_EQ(e.Argv(0), "rm -rf /var/backups/*");
  EXPECT_TRUE(e.invocations[0].argv[2].glob);
}

TEST(Evaluate, UnquotedVariablesSplitIntoWords) {
  Evaluated e = Eval("X='-rf /srv'; rm $X");
  EXPECT_EQ(e.Argv(0), "rm -rf /srv");
  EXPECT_EQ(e.invocations[0].argv.size(), 3u);
}

TEST(Evaluate, QuotedVariablesDoNotSplit) {
  Evaluated e = Eval("X='a b'; touch \"$X\"");
  ASSERT_EQ(e.invocations[0].argv.size(), 2u);
  EXPECT_EQ(e.invocations[0].argv[1].text, "a b");
}

TEST(Evaluate, BraceExpansion) {
  Evaluated e = Eval("rm -rf /srv/{a,b}/{1..2}");
  EXPECT_EQ(e.Argv(0), "rm -rf /srv/a/1 /srv/a/2 /srv/b/1 /srv/b/2");
}

TEST(Evaluate, QuotedBracesDoNotExpand) {
  Evaluated e = Eval("echo '{a,b}'");
  EXPECT_EQ(e.Argv(0), "echo {a,b}");
}

TEST(Evaluate, GlobsStaySymbolic) {
  Evaluated e = Eval("rm -rf /srv/* '/x/*'");
  EXPECT_TRUE(e.invocations[0].argv[2].glob);
  EXPECT_FALSE(e.invocations[0].argv[3].glob);
}

TEST(Evaluate, CdChangesTheWorkingDirectory) {
  Evaluated e = Eval("cd .. && rm -rf app; cd /var/lib; ls; cd; pwd");
  ASSERT_GE(e.invocations.size(), 6u);
  EXPECT_EQ(e.invocations[1].cwd, "/home/dev");
  EXPECT_EQ(e.invocations[3].cwd, "/var/lib");
  EXPECT_EQ(e.invocations[5].cwd, "/home/dev");
}

TEST(Evaluate, SubshellCdDoesNotLeak) {
  Evaluated e = Eval("(cd /var/lib && rm -rf mysql); ls");
  ASSERT_EQ(e.invocations.size(), 3u);
  EXPECT_EQ(e.invocations[1].cwd, "/var/lib");
  EXPECT_EQ(e.invocations[2].cwd, "/home/dev/app");
}

TEST(Evaluate, CdToUnknownMakesCwdUnknown) {
  Evaluated e = Eval("cd \"$X\" && rm -rf data");
  EXPECT_EQ(e.invocations[1].cwd, "");
}

TEST(Evaluate, EveryBranchRuns) {
  Evaluated e = Eval("false || rm -rf /a; if x; then rm /b; else rm /c; fi");
  std::vector<std::string> argvs;
  for (std::size_t i = 0; i < e.invocations.size(); ++i) argvs.push_back(e.Argv(i));
  EXPECT_NE(std::find(argvs.begin(), argvs.end(), "rm -rf /a"), argvs.end());
  EXPECT_NE(std::find(argvs.begin(), argvs.end(), "rm /b"), argvs.end());
  EXPECT_NE(std::find(argvs.begin(), argvs.end(), "rm /c"), argvs.end());
}

TEST(Evaluate, ForLoopBindsEachWord) {
  Evaluated e = Eval("for d in /srv/* /opt/x; do rm -rf \"$d\"; done");
  ASSERT_EQ(e.invocations.size(), 2u);
  EXPECT_EQ(e.Argv(0), "rm -rf /srv/*");
  EXPECT_TRUE(e.invocations[0].argv[2].glob) << "a loop over a glob reaches every match";
  EXPECT_EQ(e.Argv(1), "rm -rf /opt/x");
}

TEST(Evaluate, CommandSubstitutionRunsAndIsUnknown) {
  Evaluated e = Eval("echo $(rm -rf /srv/uploads)");
  ASSERT_EQ(e.invocations.size(), 2u);
  EXPECT_EQ(e.Argv(0), "rm -rf /srv/uploads");
}

TEST(Evaluate, MktempIsATempPath) {
  Evaluated e = Eval("t=$(mktemp -d) && rm -rf \"$t\"");
  ASSERT_EQ(e.invocations.size(), 2u);
  EXPECT_TRUE(e.invocations[1].argv[2].temp);
}

TEST(Evaluate, EchoSubstitutionIsKnown) {
  Evaluated e = Eval("$(echo rm) -rf /x");
  ASSERT_EQ(e.invocations.size(), 2u);
  EXPECT_EQ(e.Argv(1), "rm -rf /x");
  EXPECT_TRUE(e.invocations[1].argv[0].known);
}

TEST(Evaluate, FunctionsRunWhereCalled) {
  Evaluated e = Eval("wipe() { rm -rf /srv/data; }; echo start; wipe");
  ASSERT_EQ(e.invocations.size(), 2u);
  EXPECT_EQ(e.Argv(1), "rm -rf /srv/data");
}

TEST(Evaluate, RecursiveFunctionsAreBounded) {
  Evaluated e = Eval("f() { f; }; f");
  EXPECT_LE(e.invocations.size(), 16u);
}

TEST(Evaluate, HereDocAndHereStringFeedStdin) {
  Evaluated e = Eval("psql <<'EOF'\nDROP TABLE t;\nEOF\nX=1; psql <<< \"SELECT $X\"");
  ASSERT_GE(e.invocations.size(), 2u);
  EXPECT_TRUE(e.invocations[0].has_stdin_text);
  EXPECT_EQ(e.invocations[0].stdin_text, "DROP TABLE t;\n");
  EXPECT_EQ(e.invocations.back().stdin_text, "SELECT 1");
}

TEST(Evaluate, PipelineStagesKnowTheirProducer) {
  Evaluated e = Eval("echo cm0= | base64 -d | sh");
  ASSERT_EQ(e.invocations.size(), 3u);
  EXPECT_TRUE(e.invocations[2].stdin_piped);
  ASSERT_FALSE(e.invocations[2].piped_from.empty());
  EXPECT_EQ(e.invocations[2].piped_from[0].text, "base64");
}

TEST(Evaluate, RedirectionsAreReported) {
  Evaluated e = Eval(": > /var/lib/app/db.sqlite3; echo x >> log; cat < in; ls 2>&1");
  ASSERT_EQ(e.invocations.size(), 4u);
  ASSERT_EQ(e.invocations[0].redirects.size(), 1u);
  EXPECT_EQ(e.invocations[0].redirects[0].kind, RedirectKind::kTruncate);
  EXPECT_EQ(e.invocations[0].redirects[0].target.text, "/var/lib/app/db.sqlite3");
  EXPECT_EQ(e.invocations[1].redirects[0].kind, RedirectKind::kAppend);
  EXPECT_EQ(e.invocations[2].redirects[0].kind, RedirectKind::kRead);
  EXPECT_EQ(e.invocations[3].redirects[0].kind, RedirectKind::kDup);
}

TEST(Evaluate, ExportedVariablesReachChildShells) {
  ParseResult parsed = Parse("A=1; export B=2; C=3; export C");
  ASSERT_TRUE(parsed.ok);
  Recorder recorder;
  Evaluator evaluator(recorder, {}, "/", "/home/dev", 0);
  evaluator.Run(*parsed.list);
  Variables exported = evaluator.ExportedVariables();
  EXPECT_FALSE(exported.contains("A"));
  EXPECT_TRUE(exported.contains("B"));
  EXPECT_TRUE(exported.contains("C"));
}

TEST(Evaluate, WorkIsBounded) {
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "true;";
  Evaluated e = Eval(many);
  EXPECT_FALSE(e.opaque.empty());
  EXPECT_LE(e.invocations.size(), 2048u);
}

}  // namespace
}  // namespace dualkey::shell

namespace dualkey::shell {
namespace {

// Found by the fuzzer: an operand whose $(...) reassigns variables must not
// leave the expansion reading a freed variable.
TEST(Evaluate, ParameterOperandWithSubstitutionIsSafe) {
  Evaluated e = Eval("x=/a; echo ${x#$(echo /)} ${x%$(x=2)}");
  ASSERT_FALSE(e.invocations.empty());
  const Invocation& echo = e.invocations.back();
  ASSERT_EQ(echo.argv.size(), 3u);
  EXPECT_EQ(echo.argv[1].text, "a");
  // $(x=2) prints nothing, so ${x%} is x itself.
  EXPECT_EQ(echo.argv[2].text, "/a");
}

}  // namespace
}  // namespace dualkey::shell
