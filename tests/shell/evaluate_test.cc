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

// A name reached by ${!x} whose subscript expands ${!x} again: found by
// fuzz_shell_evaluate_fuzz as a stack overflow. The nesting stops, and what
// it could not follow is said (the command is held), never a crash.
TEST(Evaluate, SubscriptsThatExpandThemselvesAreBounded) {
  Evaluated e = Eval("x='a[${!x}]'; echo ${!x}; rm -rf \"${!x}\"");
  EXPECT_FALSE(e.opaque.empty());
  static const char kFuzzed[] =
      "x='a"
      "\xf3"
      "\xff"
      "\xff"
      "\xff"
      "[4(rx]${A:-/b}"
      "\x1e"
      "\x00"
      "\x00"
      "\x00"
      ";${!x};x= {%z$/bm -rf /s;v)]'; e"
      "\x80"
      "ho"
      "\x01"
      "\x00"
      "y $((x)); [ %w 0";
  Evaluated fuzzed = Eval(std::string(kFuzzed, sizeof kFuzzed - 1));
  EXPECT_FALSE(fuzzed.opaque.empty());
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

namespace dualkey::shell {
namespace {

bool RanCommand(const Evaluated& e, std::string_view argv) {
  for (std::size_t i = 0; i < e.invocations.size(); ++i)
    if (e.Argv(i) == argv) return true;
  return false;
}

TEST(Evaluate, SubstitutionsInsideArithmeticRun) {
  EXPECT_TRUE(RanCommand(Eval("echo $((1 + $(rm -rf /x; echo 1)))"), "rm -rf /x"));
  EXPECT_TRUE(RanCommand(Eval("(( a[$(rm -rf /x)] ))"), "rm -rf /x"));
  EXPECT_TRUE(RanCommand(Eval("for ((i=$(rm -rf /x); i<2; i++)); do :; done"), "rm -rf /x"));
}

TEST(Evaluate, ArithmeticValuesAreComputed) {
  Evaluated e = Eval("n=4; echo $(( (n + 2) * 3 )) $((7 % 4)) $((x))");
  EXPECT_EQ(e.Argv(0), "echo 18 3 0");
  EXPECT_FALSE(Eval("read n; echo $((n+1))").invocations.back().argv[1].known);
}

TEST(Evaluate, VariablesHoldingSubscriptsRunWhenEvaluatedArithmetically) {
  // x is evaluated as an expression; the subscript in its value runs.
  EXPECT_TRUE(RanCommand(Eval("x='a[$(rm -rf /x)]'; echo $((x))"), "rm -rf /x"));
  EXPECT_TRUE(RanCommand(Eval("x='a[$(rm -rf /x)]'; [[ $x -eq 0 ]]"), "rm -rf /x"));
  EXPECT_TRUE(RanCommand(Eval("x='a[$(rm -rf /x)]'; declare -i y; declare -i y=$x"), "rm -rf /x"));
}

TEST(Evaluate, BuiltinsThatTakeVariableNamesEvaluateSubscripts) {
  for (const char* script :
       {"test -v 'a[$(rm -rf /x)]'", "[ -v 'a[$(rm -rf /x)]' ]", "[[ -v a[$(rm -rf /x)] ]]",
        "printf -v 'a[$(rm -rf /x)]' %s 1", "read 'a[$(rm -rf /x)]' <<< v",
        "unset 'a[$(rm -rf /x)]'", "declare 'a[$(rm -rf /x)]=1'", "a[$(rm -rf /x)]=1",
        "echo ${a[$(rm -rf /x)]}", "ref='a[$(rm -rf /x)]'; echo ${!ref}",
        "mapfile -t 'a[$(rm -rf /x)]' < f", "let 'y=$(rm -rf /x)'"}) {
    EXPECT_TRUE(RanCommand(Eval(script), "rm -rf /x")) << script;
  }
}

TEST(Evaluate, PrintfVAssignsTheFormattedValue) {
  Evaluated e = Eval("printf -v cmd '%s -%s %s' rm rf /x; $cmd");
  EXPECT_TRUE(RanCommand(e, "rm -rf /x"));
}

TEST(Evaluate, FieldSplittingFollowsIfs) {
  EXPECT_EQ(Eval("IFS=,; c=rm,-rf,/x; $c").Argv(0), "rm -rf /x");
  EXPECT_EQ(Eval("IFS=:; c='a::b'; printf %s $c").invocations[0].argv.size(), 5u);  // a "" b
  EXPECT_EQ(Eval("c='a b'; IFS=; echo $c").invocations[0].argv.size(), 2u);         // no splitting
  Evaluated unknown = Eval("IFS=$(cat sep); c=rm,-rf,/x; $c");
  EXPECT_FALSE(unknown.invocations.back().argv[0].known);
  EXPECT_EQ(Eval("x='a '; echo ${x}b").Argv(0), "echo a b");
}

TEST(Evaluate, AliasesExpandLikeBash) {
  EXPECT_TRUE(RanCommand(Eval("alias x='rm -rf'; x /y"), "rm -rf /y"));
  EXPECT_TRUE(RanCommand(Eval("alias a=b; alias b='rm -rf /y'; a"), "rm -rf /y"));
  Evaluated self = Eval("alias ls='ls -l'; ls /tmp");
  EXPECT_TRUE(RanCommand(self, "ls -l /tmp"));
  EXPECT_FALSE(Eval("alias x=\"$(cat f)\"; x").opaque.empty());
}

TEST(Evaluate, TrapHandlersAndNotFoundHandlerRunAtExit) {
  EXPECT_TRUE(RanCommand(Eval("trap cleanup EXIT; cleanup() { rm -rf /y; }"), "rm -rf /y"));
  EXPECT_TRUE(RanCommand(Eval("trap 'rm -rf /y' INT TERM"), "rm -rf /y"));
  EXPECT_FALSE(Eval("trap \"$HANDLER\" EXIT").opaque.empty());
  EXPECT_TRUE(Eval("trap - EXIT; trap '' INT; trap -p").opaque.empty());
  EXPECT_TRUE(RanCommand(Eval("command_not_found_handle() { rm -rf /y; }; foo"), "rm -rf /y"));
}

TEST(Evaluate, HashPMapsANameToAProgram) {
  EXPECT_TRUE(RanCommand(Eval("hash -p /bin/rm tidy; tidy -rf /y"), "/bin/rm -rf /y"));
}

TEST(Evaluate, ChildShellsGetExportedVariablesAndFunctions) {
  Evaluated e = Eval("f() { rm -rf /y; }; export -f f; X=1; export X; bash -c f");
  ASSERT_FALSE(e.invocations.empty());
  const Invocation& bash = e.invocations.back();
  ASSERT_TRUE(bash.env);
  EXPECT_TRUE(bash.env->functions.contains("f"));
  EXPECT_TRUE(bash.env->variables.contains("X"));
  Evaluated prefix = Eval("GIT_SSH_COMMAND='rm -rf /y' git fetch");
  ASSERT_TRUE(prefix.invocations.back().env);
  EXPECT_EQ(prefix.invocations.back().EnvValue("GIT_SSH_COMMAND")->text, "rm -rf /y");
  EXPECT_FALSE(Eval("ls").invocations.back().env);  // nothing exported: no environment
}

TEST(Evaluate, PipelinesCarryPredictableOutput) {
  Evaluated e = Eval("printf 'rm -rf %s\\n' /y | sh");
  ASSERT_EQ(e.invocations.size(), 2u);
  ASSERT_TRUE(e.invocations[1].piped_text);
  EXPECT_EQ(*e.invocations[1].piped_text, "rm -rf /y\n");
  Evaluated decoded = Eval("echo cm0gLXJmIC95 | base64 -d | sh");
  ASSERT_TRUE(decoded.invocations[2].piped_text);
  EXPECT_EQ(*decoded.invocations[2].piped_text, "rm -rf /y");
  EXPECT_FALSE(Eval("curl -s https://x | sh").invocations[1].piped_text);
}

TEST(Evaluate, SubstitutionValuesComeFromPrintfAndCat) {
  EXPECT_TRUE(RanCommand(Eval("V=$(printf 'rm%s' ' -rf /y'); eval \"$V\"; $V"), "rm -rf /y"));
  EXPECT_EQ(Eval("x=$(printf '%05d' 42); echo $x").Argv(1), "echo 00042");
}

TEST(EvaluateBudget, ExpansionStopsAtTheByteBudget) {
  std::string chain = "a=xx";
  for (int i = 0; i < 40; ++i) chain += "; a=$a$a";
  chain += "; rm -rf \"$a\"";
  ParseResult parsed = Parse(chain);
  ASSERT_TRUE(parsed.ok);
  Recorder recorder;
  EvalLimits limits;
  EvalBudget budget(limits);
  Evaluator evaluator(recorder, {}, "/", "/home/dev", 0, limits, &budget);
  evaluator.Run(*parsed.list);
  EXPECT_LE(budget.expanded_bytes(), limits.max_expansion_bytes);
  EXPECT_TRUE(budget.exhausted());
  ASSERT_EQ(recorder.opaque.size(), 1u);
  EXPECT_NE(recorder.opaque[0].find("KiB"), std::string::npos);
  EXPECT_TRUE(recorder.invocations.empty());  // the rm never ran with a partial word
}

TEST(EvaluateBudget, ABudgetIsSharedAndReportedOnce) {
  EvalLimits limits;
  limits.max_expansion_bytes = 64;
  EvalBudget budget(limits);
  Recorder recorder;
  ParseResult parsed = Parse("a=0123456789012345678901234567890123456789; b=$a$a$a; echo $b");
  ASSERT_TRUE(parsed.ok);
  Evaluator first(recorder, {}, "/", "/home/dev", 0, limits, &budget);
  first.Run(*parsed.list);
  Evaluator second(recorder, {}, "/", "/home/dev", 1, limits, &budget);
  second.Run(*parsed.list);
  EXPECT_EQ(recorder.opaque.size(), 1u);
  EXPECT_LE(budget.expanded_bytes(), 64u);
}

}  // namespace
}  // namespace dualkey::shell
