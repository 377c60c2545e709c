// Facts over names: deletes inside real git work trees, built here with the
// git command line, are judged by what they would lose (git_facts.h).
#include "shell/internal/git_facts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/action.h"
#include "shell/shell.h"

namespace dualkey::shell {
namespace {

namespace fs = std::filesystem;

void Sh(const std::string& command) {
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A home with a project in it: <base>/home/proj/repo. Under a home, the name
// rules see an ordinary project (not /tmp, which is temp by its name).
class GitFacts : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "dualkey-gitfacts-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    home_ = base_ / "home";
    repo_ = home_ / "proj" / "repo";
    fs::create_directories(repo_);
    Sh("git init -q " + repo_.string());
    Write(repo_ / "docs/guide.md", "# guide\n");
    Write(repo_ / "docs/api/index.md", "# api\n");
    Write(repo_ / "work/plan.txt", "plan\n");
    Write(repo_ / ".gitignore", "site-out/\n*.log\n.env\n");
    Write(repo_ / "site-out/index.html", "<html>\n");
    Write(repo_ / "README.md", "readme\n");
    Commit(repo_);
    // git init wrote info/exclude a moment ago; a recent change of it is
    // taken as a possible attempt to make things look ignored (see below).
    Settle(repo_ / ".git/info/exclude");
    // The user's git config and ignore file: this test's own.
    const char* home = std::getenv("HOME");
    saved_home_ = home != nullptr ? home : "";
    ::setenv("HOME", home_.c_str(), 1);
    ::unsetenv("XDG_CONFIG_HOME");
  }
  void TearDown() override {
    ::setenv("HOME", saved_home_.c_str(), 1);
    fs::remove_all(base_);
  }

  static void Settle(const fs::path& path) {
    fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(1));
  }

  static void Commit(const fs::path& repo) {
    Sh("cd " + repo.string() +
       " && git add -A && git -c user.email=t@example.com -c user.name=t commit -qm c");
  }

  // The delete action of `command` run in the repository.
  Action Delete(const std::string& command, const fs::path& cwd = {}) {
    Options options{(cwd.empty() ? repo_ : cwd).string(), home_.string()};
    Analysis analysis = Analyze(command, options);
    for (const Action& action : analysis.actions)
      if (action.op_class.starts_with("fs.delete") || action.op_class == "git.history.delete")
        return action;
    ADD_FAILURE() << "no delete in: " << command;
    return {};
  }

  static bool Held(const Action& action) { return action.severity >= Severity::kMedium; }

  fs::path base_, home_, repo_;
  std::string saved_home_;
};

TEST_F(GitFacts, TrackedUnchangedFolderIsRestorable) {
  Action action = Delete("rm -rf docs");
  EXPECT_FALSE(Held(action)) << action.reason;
  EXPECT_EQ(action.op_class, "fs.delete.scoped");
  EXPECT_NE(action.reason.find("restorable from git: 2 tracked files"), std::string::npos)
      << action.reason;
  EXPECT_FALSE(Held(Delete("rm -rf docs/*")));
  EXPECT_FALSE(Held(Delete("rm -rf " + (repo_ / "docs/api").string(), home_)));
}

TEST_F(GitFacts, IgnoredFolderIsTheProjectsOutput) {
  Action action = Delete("rm -rf site-out");
  EXPECT_FALSE(Held(action)) << action.reason;
  EXPECT_NE(action.reason.find("ignored by the project"), std::string::npos) << action.reason;
}

TEST_F(GitFacts, ModifiedAndUntrackedFilesAreHeldWithCountsAndNames) {
  Write(repo_ / "work/plan.txt", "plan, rewritten and not committed\n");
  Action modified = Delete("rm -rf work");
  EXPECT_TRUE(Held(modified));
  EXPECT_NE(modified.reason.find("1 modified file"), std::string::npos) << modified.reason;
  EXPECT_NE(modified.reason.find("work/plan.txt"), std::string::npos) << modified.reason;

  Write(repo_ / "docs/notes.md", std::string(2048, 'n'));
  Write(repo_ / "docs/drafts/a.md", "a\n");
  Write(repo_ / "docs/drafts/b.md", "b\n");
  Write(repo_ / "docs/drafts/c.md", "c\n");
  Action untracked = Delete("rm -rf docs");
  EXPECT_TRUE(Held(untracked));
  EXPECT_NE(untracked.reason.find("4 untracked files, 2.0 KB"), std::string::npos)
      << untracked.reason;
  EXPECT_NE(untracked.reason.find("would be lost: "), std::string::npos) << untracked.reason;
  EXPECT_NE(untracked.reason.find(", …"), std::string::npos) << untracked.reason;
  // The same through a glob and through rsync --delete.
  EXPECT_TRUE(Held(Delete("rm -rf docs/*")));
  EXPECT_TRUE(Held(Delete("rsync -a --delete /srv/empty/ docs/")));
}

// A repository kept inside an ignored folder: its history is nowhere else,
// whatever the folder's ignore rule says.
TEST_F(GitFacts, RepositoryUnderAnIgnoredFolderIsHeld) {
  const fs::path nested = repo_ / "site-out" / "theme";
  fs::create_directories(nested);
  Sh("git init -q " + nested.string());
  Write(nested / "layout.html", "<main>\n");
  Commit(nested);
  Action action = Delete("rm -rf site-out");
  EXPECT_TRUE(Held(action)) << action.reason;
  EXPECT_NE(action.reason.find("site-out/theme/.git"), std::string::npos) << action.reason;
}

TEST_F(GitFacts, IgnoredDataIsStillData) {
  Write(repo_ / "work/.env", "TOKEN=x\n");
  Action action = Delete("rm -rf work");
  EXPECT_TRUE(Held(action));
  EXPECT_NE(action.reason.find("1 ignored data file"), std::string::npos) << action.reason;
  Write(repo_ / "docs/debug.log", "log\n");  // ignored and not data: nothing lost
  EXPECT_FALSE(Held(Delete("rm -rf docs")));
  // Inside an ignored folder, which git lists as one entry.
  Write(repo_ / "site-out/cache/app.sqlite3", "SQLite format 3");
  Action database = Delete("rm -rf site-out");
  EXPECT_TRUE(Held(database));
  EXPECT_NE(database.reason.find("site-out/cache/app.sqlite3"), std::string::npos)
      << database.reason;
  fs::remove(repo_ / "site-out/cache/app.sqlite3");
  // A dependency tree is not walked for them.
  Write(repo_ / ".gitignore", "site-out/\n*.log\n.env\nnode_modules/\n");
  Commit(repo_);
  Write(repo_ / "docs/node_modules/pkg/test.db", "x");
  Action dependencies = Delete("rm -rf docs");
  EXPECT_FALSE(Held(dependencies)) << dependencies.reason;
}

// An agent that wants a folder gone without asking could first make it look
// ignored, or make its changes invisible to git.
TEST_F(GitFacts, IgnoreRulesChangedJustNowAreNotTheProjects) {
  Write(repo_ / "work/mine.txt", "mine\n");
  EXPECT_TRUE(Held(Delete("rm -rf work")));
  // An uncommitted .gitignore line above the folder.
  Write(repo_ / ".gitignore", "site-out/\n*.log\n.env\nwork/\n");
  Action action = Delete("rm -rf work");
  EXPECT_TRUE(Held(action));
  EXPECT_NE(action.reason.find("ignore rules were changed (.gitignore)"), std::string::npos)
      << action.reason;
  // Or the repository's own exclude file, or a global excludes file.
  Sh("git -C " + repo_.string() + " checkout -q .gitignore");
  EXPECT_FALSE(Held(Delete("rm -rf site-out")));
  Write(repo_ / ".git/info/exclude", "work/\n");
  EXPECT_TRUE(Held(Delete("rm -rf work")));
  Settle(repo_ / ".git/info/exclude");
  EXPECT_FALSE(Held(Delete("rm -rf work")));  // the user's own rule, kept for a while
  Write(repo_ / ".git/info/exclude", "");
  Settle(repo_ / ".git/info/exclude");
  Write(home_ / ".config/git/ignore", "work/\n");
  EXPECT_TRUE(Held(Delete("rm -rf work")));
  fs::remove(home_ / ".config/git/ignore");
  // git push -u rewrites .git/config: not an ignore rule.
  Sh("git -C " + repo_.string() + " config branch.main.remote origin");
  EXPECT_FALSE(Held(Delete("rm -rf site-out")));
  Sh("git -C " + repo_.string() + " config core.excludesFile " + (home_ / "ex").string());
  EXPECT_TRUE(Held(Delete("rm -rf site-out")));
}

TEST_F(GitFacts, ChangesHiddenFromGitAreHeld) {
  Write(repo_ / "work/plan.txt", "plan, changed\n");
  Sh("git -C " + repo_.string() + " update-index --assume-unchanged work/plan.txt");
  Action action = Delete("rm -rf work");
  EXPECT_TRUE(Held(action));
  EXPECT_NE(action.reason.find("1 file git does not hold or does not compare"), std::string::npos)
      << action.reason;
  Sh("git -C " + repo_.string() + " update-index --no-assume-unchanged work/plan.txt");
  Sh("git -C " + repo_.string() + " update-index --skip-worktree docs/guide.md");
  EXPECT_TRUE(Held(Delete("rm -rf docs")));
  // An entry whose blob was hashed but never written: nothing to restore from.
  Write(repo_ / "docs/forged.md", "never stored\n");
  Sh("cd " + repo_.string() +
     " && git update-index --add --cacheinfo 100644,$(git hash-object "
     "docs/forged.md),docs/forged.md"
     " && git update-index -q --refresh");
  Action forged = Delete("rm -rf docs");
  EXPECT_TRUE(Held(forged)) << forged.reason;
  EXPECT_NE(forged.reason.find("docs/forged.md"), std::string::npos) << forged.reason;
  Sh("git -C " + repo_.string() + " rm -q --cached docs/forged.md && rm " +
     (repo_ / "docs/forged.md").string());
  // Staged content is in the object store: the index restores it.
  Sh("git -C " + repo_.string() + " update-index --no-skip-worktree docs/guide.md");
  Write(repo_ / "docs/guide.md", "# guide, staged\n");
  Sh("git -C " + repo_.string() + " add docs/guide.md");
  EXPECT_FALSE(Held(Delete("rm -rf docs")));
}

TEST_F(GitFacts, NestedRepositoryInsideTheFolderIsHeld) {
  fs::path nested = repo_ / "docs/vendored";
  fs::create_directories(nested);
  Sh("git init -q " + nested.string());
  Write(nested / "lib.c", "int x;\n");
  Commit(nested);
  Action action = Delete("rm -rf docs");
  EXPECT_TRUE(Held(action));
  EXPECT_NE(action.reason.find("1 repository with its own history"), std::string::npos)
      << action.reason;
  // Inside the nested repository its own facts count: tracked and clean.
  Write(nested / "src/x.c", "int y;\n");
  Commit(nested);
  EXPECT_FALSE(Held(Delete("rm -rf docs/vendored/src")))
      << Delete("rm -rf docs/vendored/src").reason;
  // Its root is a work tree's root: the name rules stay.
  EXPECT_TRUE(Held(Delete("rm -rf docs/vendored")));
}

TEST_F(GitFacts, SubmodulesCleanAreRestorableDirtyAreHeld) {
  fs::path upstream = base_ / "upstream";
  fs::create_directories(upstream);
  Sh("git init -q " + upstream.string());
  Write(upstream / "lib.c", "int x;\n");
  Commit(upstream);
  Sh("cd " + repo_.string() + " && git -c protocol.file.allow=always submodule add -q " +
     upstream.string() + " deps/lib >/dev/null 2>&1");
  Commit(repo_);
  Action clean = Delete("rm -rf deps");
  EXPECT_FALSE(Held(clean)) << clean.reason;
  Write(repo_ / "deps/lib/local-change.c", "int mine;\n");
  Action dirty = Delete("rm -rf deps");
  EXPECT_TRUE(Held(dirty)) << dirty.reason;
  EXPECT_NE(dirty.reason.find("deps/lib"), std::string::npos) << dirty.reason;
}

TEST_F(GitFacts, SymlinksOutOfTheTreeAreNotTakenForTheTree) {
  fs::path outside = base_ / "outside";
  Write(outside / "precious.txt", "only copy\n");
  fs::create_directory_symlink(outside, repo_ / "out-link");
  // The link itself: deleting it loses nothing of the target, but the names decide.
  EXPECT_TRUE(Held(Delete("rm -rf out-link/*")));
  EXPECT_TRUE(Held(Delete("rm -rf out-link/sub")));
  // Through a link, the path really deleted is outside any work tree.
  fs::create_directories(outside / "sub");
  EXPECT_TRUE(Held(Delete("rm -rf out-link/sub")));
  // A tracked link inside a folder: rm does not follow it, git restores it.
  fs::create_directory_symlink(outside, repo_ / "docs/ext");
  Commit(repo_);
  EXPECT_FALSE(Held(Delete("rm -rf docs")));
}

TEST_F(GitFacts, RootGitDirAndOutsideKeepTheNameRules) {
  EXPECT_TRUE(Held(Delete("rm -rf repo", repo_.parent_path())));
  EXPECT_EQ(Delete("rm -rf .git").op_class, "git.history.delete");
  EXPECT_TRUE(Held(Delete("rm -rf .git/objects")));
  fs::create_directories(home_ / "proj" / "loose" / "data");
  EXPECT_TRUE(Held(Delete("rm -rf loose/data", home_ / "proj")));
  // Another host's files are not these.
  EXPECT_TRUE(Held(Delete("ssh build1 'cd " + repo_.string() + " && rm -rf docs'")));
}

TEST_F(GitFacts, CorruptRepositoryFallsBackToNamesNeverToAllow) {
  Write(repo_ / ".git/index", "this is not an index");
  Action action = Delete("rm -rf docs");
  EXPECT_TRUE(Held(action));
  EXPECT_NE(action.reason.find("git facts not read"), std::string::npos) << action.reason;
  fs::remove_all(repo_ / ".git");
  fs::create_directories(repo_ / ".git");  // an empty .git
  EXPECT_TRUE(Held(Delete("rm -rf docs")));
}

TEST_F(GitFacts, LargeRepositoryHitsTheBoundAndFallsBackToNames) {
  // 100,000 tracked files, indexed in one step (one blob for all).
  fs::path big = repo_ / "big";
  std::string blob;
  {
    Write(big / "seed", "same\n");
    FILE* pipe = ::popen(("git -C " + repo_.string() + " hash-object -w big/seed").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char line[128] = {};
    ASSERT_NE(std::fgets(line, sizeof line, pipe), nullptr);
    ::pclose(pipe);
    blob = std::string(line, 40);
  }
  fs::path list = base_ / "index-info";
  {
    std::ofstream out(list);
    for (int d = 0; d < 100; ++d) {
      fs::create_directories(big / std::to_string(d));
      for (int f = 0; f < 1000; ++f) {
        std::string rel = "big/" + std::to_string(d) + "/f" + std::to_string(f);
        std::ofstream(repo_ / rel) << "same\n";
        out << "100644 " << blob << "\t" << rel << "\n";
      }
    }
  }
  Sh("git -C " + repo_.string() + " update-index --index-info < " + list.string());
  Action action = Delete("rm -rf big");
  EXPECT_TRUE(Held(action));
  EXPECT_NE(action.reason.find("git facts not read (more than 20000 tracked files)"),
            std::string::npos)
      << action.reason;
  // The time bound: a budget already spent reads nothing.
  LossLimits spent;
  spent.budget = std::chrono::milliseconds(0);
  LossFacts facts = ReadLossFacts((repo_ / "big/7").string(), spent);
  EXPECT_EQ(facts.outcome, LossFacts::Outcome::kUnreadable) << facts.note;
  EXPECT_NE(facts.note.find("time bound"), std::string::npos) << facts.note;
  // A folder well inside the count bound is read (with a time budget a
  // loaded CI machine cannot exhaust: the time bound is checked above).
  LossLimits roomy;
  roomy.budget = std::chrono::seconds(60);
  LossFacts small = ReadLossFacts((repo_ / "big/7").string(), roomy);
  EXPECT_EQ(small.outcome, LossFacts::Outcome::kRead) << small.note;
}

TEST_F(GitFacts, PathsTheLineCreatedAreDisposable) {
  EXPECT_FALSE(Held(Delete("mkdir -p gen-out && ./configure && rm -rf gen-out")));
  EXPECT_FALSE(Held(Delete("mkdir -p stage/a/b && rm -rf stage")));
  EXPECT_FALSE(Held(Delete("git clone https://example.com/x.git vendor-x && rm -rf vendor-x")));
  // Existing folders were not created by the line, whatever mkdir -p says.
  Write(repo_ / "work/scratch.txt", "mine\n");
  EXPECT_TRUE(Held(Delete("mkdir -p work && rm -rf work")));
  // Data moved in from elsewhere would go with it.
  EXPECT_TRUE(Held(Delete("mkdir -p gen-out && mv ~/notes gen-out/ && rm -rf gen-out")));
}

TEST(TempVariables, PerJobTempDirectoriesAreTemp) {
  Options options{"/home/dev/app", "/home/dev"};
  auto severity = [&](const std::string& command) {
    Severity worst = Severity::kNone;
    for (const Action& action : Analyze(command, options).actions)
      worst = std::max(worst, action.severity);
    return worst;
  };
  EXPECT_EQ(severity("rm -rf \"$RUNNER_TEMP/artifacts\""), Severity::kLow);
  EXPECT_EQ(severity("rm -rf ${RUNNER_TEMP}/cache/*"), Severity::kLow);
  EXPECT_EQ(severity("rm -rf \"$XDG_RUNTIME_DIR/app-socket\""), Severity::kLow);
  EXPECT_EQ(severity("rm -rf \"$TMPDIR/pytest-of-dev\""), Severity::kLow);
  // The variable alone is the whole temp directory; `..` climbs out of it.
  EXPECT_GE(severity("rm -rf \"$RUNNER_TEMP\""), Severity::kHigh);
  EXPECT_GE(severity("rm -rf $TMPDIR/../../etc"), Severity::kHigh);
  // Set by the line itself, the variable is what the line says.
  EXPECT_GE(severity("RUNNER_TEMP=$HOME; rm -rf $RUNNER_TEMP/projects"), Severity::kMedium);
  EXPECT_GE(severity("rm -rf $RUNNER_TEMPLATES/x"), Severity::kMedium);
}

TEST(GeneratedNames, UnderscoreOutputFoldersAndSiteOutputs) {
  Options options{"/home/dev/app", "/home/dev"};
  for (const char* command : {"rm -rf _bin", "rm -rf _output", "rm -rf _site", "rm -rf .vercel",
                              "rm -rf cdk.out", "rm -rf test-results playwright-report"}) {
    for (const Action& action : Analyze(command, options).actions)
      EXPECT_LT(action.severity, Severity::kMedium) << command << ": " << action.reason;
  }
  for (const Action& action : Analyze("rm -rf _templates", options).actions)
    EXPECT_GE(action.severity, Severity::kMedium) << action.reason;  // not a known output name
}

TEST(LossFactsText, DescribesWhatDecides) {
  LossFacts facts;
  facts.outcome = LossFacts::Outcome::kRead;
  facts.untracked = 3;
  facts.lost_files = 3;
  facts.lost_bytes = 12 * 1024;
  facts.preview = {"notes.md", "a.md", "b.md"};
  EXPECT_EQ(facts.Describe(), "3 untracked files, 12 KB, would be lost: notes.md, a.md, b.md");
  facts.untracked = 5;
  facts.lost_files = 5;
  EXPECT_EQ(facts.Describe(), "5 untracked files, 12 KB, would be lost: notes.md, a.md, b.md, …");
  EXPECT_EQ(HumanBytes(1), "1 byte");
  EXPECT_EQ(HumanBytes(1536), "1.5 KB");
}

}  // namespace
}  // namespace dualkey::shell
