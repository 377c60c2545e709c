// The dispatcher: parses, evaluates, and routes every command that would run
// to the packs that know it. It is also the Context packs report to, so a
// wrapper (sudo, bash -c, ssh) re-enters here for the command it wraps.
//
// It remembers what the command line writes (WrittenFiles): `printf 'rm -rf
// x' > f.sh && sh f.sh`, `cp /bin/rm ./tidy && ./tidy -rf ~`, `curl -o i.sh
// URL && bash i.sh` are judged by what the file holds when it runs, and a
// file that is run but was not written by the line is read from this machine
// (bounded), like `psql -f` does.
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "base/text.h"
#include "shell/internal/evaluate.h"
#include "shell/internal/invocation.h"
#include "shell/internal/output.h"
#include "shell/internal/pack_table.h"
#include "shell/internal/packs/packs.h"
#include "shell/internal/packs/shared.h"
#include "shell/internal/parser.h"
#include "shell/internal/paths.h"
#include "shell/shell.h"
#include "sql/sql.h"

namespace dualkey::shell {
namespace {

constexpr int kMaxNesting = 12;                        // wrappers and inner scripts, stacked
constexpr int kMaxDispatches = 4096;                   // commands classified for one input
constexpr std::size_t kMaxCodeFileBytes = 256 * 1024;  // same as the parser's input limit
constexpr std::size_t kMaxWrittenFiles = 256;
constexpr std::size_t kMaxFactPaths = 8;  // deleted folders whose git facts one input reads

std::string DisplayArg(const std::string& text) {
  if (!text.empty() && text.find_first_of(" \t\n'\"\\;&|<>()$`*?[]{}#~") == std::string::npos)
    return text;
  return base::ShellSingleQuote(text);
}

using shared::Opaque;

std::string_view Basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Directories programs are installed in: a copy of /usr/bin/rm is rm.
bool IsProgramPath(std::string_view path) {
  for (std::string_view dir : {"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/",
                               "/usr/local/sbin/", "/usr/libexec/", "/opt/homebrew/bin/"}) {
    if (path.starts_with(dir) && path.find('/', dir.size()) == std::string_view::npos) return true;
  }
  return false;
}

class Classifier final : public Context, public InvocationSink {
 public:
  Classifier(const Options& options, Analysis* out) : options_(options), out_(out) {}

  void Emit(Action action) override {
    const bool unseen =
        action.op_class.starts_with("opaque.") ||
        (action.op_class.starts_with("fs.") && action.reversibility == Reversibility::kUnknown);
    if (project_code_depth_ > 0 && unseen && !budget_.exhausted()) {
      // Inside a script read from this machine (the project's own code, not
      // text of this command line), what cannot be seen through (eval of
      // computed text, rm -rf "$DIR" with DIR set at run time) is the
      // script's business, as running it unread was before; what it visibly
      // destroys (rm -rf /srv/data) still counts. A spent budget does not.
      action.op_class = "exec.unverified";
      action.severity = Severity::kLow;
      action.reason = "in a script on this machine: " + action.reason;
    }
    out_->actions.push_back(std::move(action));
  }

  void ClassifyInvocation(const Invocation& inner) override { Dispatch(inner); }

  void ClassifyRemoteScript(std::string_view script, int depth) override {
    const bool saved = in_remote_;
    in_remote_ = true;
    auto saved_env = std::move(current_env_);
    current_env_.reset();  // a remote shell does not inherit ours
    ClassifyScript(script, "", depth);
    current_env_ = std::move(saved_env);
    in_remote_ = saved;
  }

  void ClassifyScript(std::string_view script, std::string_view cwd, int depth) override {
    RunScript(script, cwd, depth, /*project_code=*/false);
  }

  void ClassifyFileScript(std::string_view script, std::string_view cwd, int depth,
                          bool project_code) override {
    RunScript(script, cwd, depth, project_code);
  }

  void ClassifySql(std::string_view text, SqlDialect dialect, std::string_view target,
                   int depth) override {
    sql::Options sql_options;
    sql_options.dialect = dialect == SqlDialect::kMySql    ? sql::Dialect::kMySql
                          : dialect == SqlDialect::kSqlite ? sql::Dialect::kSqlite
                                                           : sql::Dialect::kPostgres;
    sql_options.database = target;
    for (Action& action : sql::Classify(text, sql_options)) {
      action.channel = Channel::kShell;
      Emit(std::move(action));
    }
  }

  const std::string& home() const override { return options_.home; }

  bool WrittenHere(const Arg& path, std::string_view cwd, bool remote) override {
    if (!path.known || (written_.empty() && unknown_trees_.empty())) return false;
    const std::string key = FileKey(path.text, cwd, remote || in_remote_);
    if (written_.contains(key)) return true;
    for (const std::string& tree : unknown_trees_)
      if (key == tree || (key.size() > tree.size() && key.starts_with(tree) &&
                          (tree.back() == '/' || key[tree.size()] == '/')))
        return true;
    return false;
  }

  bool CreatedHere(const Arg& path, std::string_view cwd, bool remote) override {
    if (!path.known || remote || in_remote_) return false;
    if (written_.empty() && unknown_trees_.empty() && created_dirs_.empty()) return false;
    const std::string key = FileKey(path.text, cwd, false);
    if (key.empty() || key[0] != '/') return false;
    // Something there now was not made by the line.
    struct stat st;
    if (::lstat(key.c_str(), &st) == 0 || errno != ENOENT) return false;
    auto related = [&](std::string_view other) {
      return IsSameOrUnder(key, other) || IsSameOrUnder(other, key);
    };
    // Data moved in from elsewhere (mv, rsync --remove-source-files) would
    // be lost with it.
    for (const std::string& moved : moved_into_)
      if (related(moved)) return false;
    for (const std::string& dir : created_dirs_)
      if (related(dir)) return true;
    for (const std::string& tree : unknown_trees_)
      if (related(tree)) return true;
    for (const auto& [written, file] : written_)
      if (related(written)) return true;
    return false;
  }

  LossFacts LossFactsFor(std::string_view path) override {
    if (auto it = loss_facts_.find(path); it != loss_facts_.end()) return it->second;
    LossFacts facts;
    if (loss_facts_.size() >= kMaxFactPaths) {
      facts.outcome = LossFacts::Outcome::kUnreadable;
      facts.note =
          "git facts not read (more deleted folders than dualkey reads facts for), "
          "judged by its name";
    } else {
      facts = ReadLossFacts(path);
    }
    loss_facts_.emplace(std::string(path), facts);
    return facts;
  }

  CodeFile ReadCodeFile(const Arg& path, std::string_view cwd, bool remote) override {
    CodeFile file;
    file.path = path.text;
    if (!path.known) {
      file.state = CodeFile::State::kUnknown;
      return file;
    }
    const bool here_remote = remote || in_remote_;
    const std::string key = FileKey(path.text, cwd, here_remote);
    file.path = key;
    if (auto it = written_.find(key); it != written_.end()) {
      CodeFile written = it->second;
      if (written.appended && written.state == CodeFile::State::kText && !here_remote &&
          !key.empty() && key[0] == '/') {
        // Appended to a file on this machine: what it held comes first.
        CodeFile before = DiskFile(key);
        if (before.state == CodeFile::State::kText)
          written.text = before.text + written.text;
        else if (before.state != CodeFile::State::kMissing)
          written.state = CodeFile::State::kUnknown;
      }
      return written;
    }
    for (const std::string& tree : unknown_trees_) {
      if (key == tree || (key.size() > tree.size() && key.starts_with(tree) &&
                          (tree.back() == '/' || key[tree.size()] == '/'))) {
        file.state = CodeFile::State::kUnknown;
        file.written_here = true;
        return file;
      }
    }
    if (here_remote) {
      file.state = CodeFile::State::kNotLocal;
      return file;
    }
    if (key.empty() || key[0] != '/') {
      file.state = CodeFile::State::kMissing;  // relative to an unknown directory
      return file;
    }
    return DiskFile(key);
  }

  CodeFile DiskFile(const std::string& key) {
    if (auto it = disk_cache_.find(key); it != disk_cache_.end()) return it->second;
    CodeFile file = ReadFromDisk(key);
    if (!budget_.ChargeBytes(file.text.size())) {
      if (budget_.TakeReport()) Emit(Opaque(budget_.reason()));
      file.state = CodeFile::State::kTooLarge;
      file.text.clear();
    }
    disk_cache_[key] = file;
    return file;
  }

  // InvocationSink: `cat f`, `$(< f)`.
  CodeFile ReadFile(const Arg& path, std::string_view cwd) override {
    return ReadCodeFile(path, cwd, in_remote_);
  }

  std::optional<SourcedText> SourceFile(const Invocation& inv) override {
    const Arg& file = inv.argv[1];
    const std::string what = inv.argv[0].text + " " + file.text;
    if (file.text == "/dev/stdin" || file.text == "/dev/fd/0" || file.text == "/proc/self/fd/0") {
      if (std::optional<std::string> text = inv.StdinText()) return SourcedText{*text, false};
      if (inv.has_stdin_text || inv.stdin_piped)
        Emit(Opaque(what + " reads shell code computed at run time"));
      return std::nullopt;
    }
    // .env files hold settings (and secrets): they are not read here.
    if (IsCredentialFile(file.text, options_.home)) return std::nullopt;
    CodeFile content = ReadCodeFile(file, inv.cwd, inv.remote || in_remote_);
    if (content.state == CodeFile::State::kText)
      return SourcedText{std::move(content.text), !content.written_here};
    ClassifyCodeFile(inv, *this, file, CodeLanguage::kShell, what);  // says why it is not seen
    return std::nullopt;
  }

  void ProjectCode(bool enter) override { project_code_depth_ += enter ? 1 : -1; }

  void OnInvocation(const Invocation& invocation) override { Dispatch(invocation); }

  void OnOpaque(std::string reason) override { Emit(Opaque(std::move(reason))); }

  void Run(std::string_view command_line) {
    ParseResult parsed = Parse(command_line);
    if (!parsed.ok) {
      out_->parsed = false;
      out_->parse_error =
          "offset " + std::to_string(parsed.error.offset) + ": " + parsed.error.message;
      Emit(Opaque("cannot parse the command: " + out_->parse_error));
      return;
    }
    Evaluator evaluator(*this, Variables{}, options_.cwd, options_.home, 0, {}, &budget_);
    evaluator.Run(*parsed.list);
  }

 private:
  void RunScript(std::string_view script, std::string_view cwd, int depth, bool project_code) {
    if (depth > kMaxNesting) {
      Emit(Opaque("commands nested deeper than dualkey follows (" + std::to_string(kMaxNesting) +
                  " levels)"));
      return;
    }
    if (budget_.exhausted()) return;
    ParseResult parsed = Parse(script);
    if (!parsed.ok) {
      Emit(Opaque("cannot parse the shell text another command runs: " + parsed.error.message));
      return;
    }
    Evaluator evaluator(*this, Variables{}, std::string(cwd), options_.home, depth, {}, &budget_);
    if (current_env_) evaluator.Inherit(*current_env_);
    if (project_code) ++project_code_depth_;
    evaluator.Run(*parsed.list);
    if (project_code) --project_code_depth_;
  }

  void Dispatch(const Invocation& inv) {
    if (++dispatches_ > kMaxDispatches) {
      if (dispatches_ == kMaxDispatches + 1)
        Emit(Opaque("the input runs more commands than dualkey classifies"));
      return;
    }
    if (inv.depth > kMaxNesting) {
      Emit(Opaque("commands nested deeper than dualkey follows"));
      return;
    }
    if (in_remote_ && !inv.remote) {
      // Everything below a remote command is remote too.
      Invocation remote = inv;
      remote.remote = true;
      Dispatch(remote);
      return;
    }
    const bool saved_remote = in_remote_;
    in_remote_ = inv.remote;
    // What this command passes to child shells; wrappers keep passing it on.
    std::shared_ptr<const Environment> saved_env = current_env_;
    if (inv.env) current_env_ = inv.env;
    DispatchHere(inv);
    current_env_ = std::move(saved_env);
    in_remote_ = saved_remote;
  }

  void DispatchHere(const Invocation& inv) {
    Record(inv);
    for (const FileRedirect& redirect : inv.redirects) {
      if (redirect.kind == RedirectKind::kTruncate || redirect.kind == RedirectKind::kAppend)
        ClassifyRedirect(redirect, inv, *this);
    }
    ClassifyCredentialAccess(inv, *this);
    ClassifyGuardTamper(inv, *this);  // dualkey's own files, hooks, secrets (tamper.cc)
    if (!inv.argv.empty()) {
      if (!inv.NameKnown()) {
        Emit(Opaque("the command name is computed at run time (" + inv.argv[0].text +
                    "), so what runs cannot be known"));
      } else if (!RunWrittenFile(inv)) {
        // Every handler registered for the name: a command may be both a
        // carrier of code (crontab FILE) and a destroyer (crontab -r).
        const PackTable::Found found =
            Packs().ForEach(inv.name(), [&](const PackEntry& entry) { entry.handler(inv, *this); });
        // No pack judges the command itself (none, or only a carrier that
        // follows the code it runs): the data packs and the unknown rule
        // read its verbs (packs/*.toml, data.cc).
        if (!found.claimed) ClassifyWithDataPacks(inv, *this, options_.packs);
        if (!found.any && inv.argv[0].text.find('/') != std::string::npos)
          ClassifyCodeFile(inv, *this, inv.argv[0], CodeLanguage::kByShebang,
                           "running " + inv.argv[0].text);
      }
    }
    TrackWrites(inv);
  }

  // A command that names a file written earlier in this line (./f, or a
  // copied program found by name, `tidy` after `cp /bin/rm ~/bin/tidy`) runs
  // that file's content, whatever pack its name would pick.
  bool RunWrittenFile(const Invocation& inv) {
    if (written_.empty()) return false;
    const std::string& command = inv.argv[0].text;
    std::string key;
    if (command.find('/') != std::string::npos) {
      key = FileKey(command, inv.cwd, in_remote_);
      if (!written_.contains(key)) return false;
    } else {
      // Found by name: it may or may not come first in PATH, so the
      // program of that name is judged too.
      auto it = written_programs_.find(command);
      if (it == written_programs_.end()) return false;
      ClassifyCodeFile(inv, *this, Arg{it->second}, CodeLanguage::kByShebang, "running " + command);
      return false;
    }
    ClassifyCodeFile(inv, *this, Arg{key}, CodeLanguage::kByShebang, "running " + command);
    return true;
  }

  void Record(const Invocation& inv) {
    if (inv.argv.empty()) return;
    ExecutedCommand command;
    for (const Arg& arg : inv.argv) {
      if (!command.text.empty()) command.text.push_back(' ');
      command.text += DisplayArg(arg.text);
    }
    command.cwd = inv.cwd;
    command.depth = inv.depth;
    out_->commands.push_back(std::move(command));
  }

  // ------------------------------------------------------------ written files

  std::string FileKey(std::string_view text, std::string_view cwd, bool remote) const {
    std::string path;
    if (text.starts_with('/')) {
      path = NormalizePath(text);
    } else if (!cwd.empty() && cwd[0] == '/') {
      path = NormalizePath(std::string(cwd) + "/" + std::string(text));
    } else {
      path = std::string(text);  // relative to an unknown directory
    }
    return remote ? "remote:" + path : path;
  }

  void Remember(const std::string& key, CodeFile file) {
    if (written_.size() >= kMaxWrittenFiles && !written_.contains(key)) return;
    // What the line writes counts against the same byte budget as expansion.
    if (!budget_.ChargeBytes(file.text.size() + key.size())) {
      if (budget_.TakeReport()) Emit(Opaque(budget_.reason()));
      file.state = CodeFile::State::kUnknown;
      file.text.clear();
    }
    file.written_here = true;
    file.path = key;
    // Found by name later only when it lands where commands are looked up.
    const std::string_view whole(key);
    const std::size_t slash = whole.rfind('/');
    const std::string_view dir =
        Basename(whole.substr(0, slash == std::string_view::npos ? 0 : slash));
    if (dir == "bin" || dir == "sbin") written_programs_[std::string(Basename(key))] = key;
    written_[key] = std::move(file);
  }

  // `written` is what the command puts into the file (for an append, only
  // the appended part): code that something runs later is judged now.
  void NoteWrite(const std::string& key, const CodeFile& written, const Invocation& inv) {
    if (!in_remote_) ClassifyCodeThatRunsLater(key, written, inv, *this);
  }

  void RememberUnknown(const Arg& target, const std::string& cwd, const Invocation& inv) {
    if (!target.known) return;  // an unknown path: nothing to look up later
    CodeFile file;
    file.state = CodeFile::State::kUnknown;
    const std::string key = FileKey(target.text, cwd, in_remote_);
    NoteWrite(key, file, inv);
    Remember(key, std::move(file));
  }

  void RememberCreatedDir(const Arg& dir, const std::string& cwd) {
    if (dir.known && !in_remote_ && created_dirs_.size() < kMaxWrittenFiles)
      created_dirs_.push_back(FileKey(dir.text, cwd, false));
  }

  void RememberMovedInto(const Arg& destination, const std::string& cwd) {
    if (in_remote_) return;
    // An unknown destination may be anything the line created.
    if (!destination.known) {
      created_dirs_.clear();
      unknown_trees_.clear();
      return;
    }
    if (moved_into_.size() < kMaxWrittenFiles)
      moved_into_.push_back(FileKey(destination.text, cwd, false));
  }

  void RememberTree(const std::string& dir, const std::string& cwd) {
    if (unknown_trees_.size() < kMaxWrittenFiles)
      unknown_trees_.push_back(FileKey(dir, cwd, in_remote_));
  }

  // The content a copy of `source` holds.
  CodeFile CopyOf(const Arg& source, const std::string& cwd) {
    CodeFile file;
    if (!source.known) {
      file.state = CodeFile::State::kUnknown;
      return file;
    }
    std::string key = FileKey(source.text, cwd, in_remote_);
    if (auto it = written_.find(key); it != written_.end()) return it->second;
    if (IsProgramPath(key)) {
      file.state = CodeFile::State::kProgram;
      file.text = std::string(Basename(source.text));
      return file;
    }
    file = ReadCodeFile(source, cwd, in_remote_);
    if (file.state == CodeFile::State::kBinary) {
      file.state = CodeFile::State::kProgram;  // a compiled program keeps its own name
      file.text = std::string(Basename(source.text));
    }
    return file;
  }

  // Records what `inv` writes, for commands later in the line that run it.
  void TrackWrites(const Invocation& inv) {
    if (budget_.exhausted()) return;
    // Redirections: the command's output, when it can be predicted.
    for (const FileRedirect& redirect : inv.redirects) {
      if (redirect.kind != RedirectKind::kTruncate && redirect.kind != RedirectKind::kAppend)
        continue;
      if (!redirect.target.known) continue;
      CodeFile file;
      file.state = CodeFile::State::kUnknown;
      if (redirect.fd == -1 || redirect.fd == 1) {
        PredictedOutput output = PredictOutput(
            inv,
            [this](const Arg& p, std::string_view c) { return ReadCodeFile(p, c, in_remote_); },
            /*redirected=*/true);
        if (output.text) {
          file.state = CodeFile::State::kText;
          file.text = std::move(*output.text);
        }
      }
      const std::string key = FileKey(redirect.target.text, inv.cwd, in_remote_);
      if (key.starts_with("/dev/")) continue;
      NoteWrite(key, file, inv);
      if (redirect.kind == RedirectKind::kAppend && file.state == CodeFile::State::kText) {
        // What the file held before is read only if something runs it.
        if (auto it = written_.find(key); it != written_.end()) {
          if (it->second.state == CodeFile::State::kText)
            file.text = it->second.text + file.text;
          else if (it->second.state != CodeFile::State::kMissing)
            file.state = CodeFile::State::kUnknown;
          file.appended = it->second.appended;
        } else {
          file.appended = true;
        }
      }
      Remember(key, std::move(file));
    }
    if (inv.argv.empty() || !inv.NameKnown()) return;
    const std::string_view name = inv.name();
    static constexpr std::string_view kWriters[] = {
        "tee",  "cp",   "mv",   "install", "ln",     "rsync",  "scp",   "curl",
        "wget", "dd",   "sort", "tar",     "gtar",   "bsdtar", "unzip", "7z",
        "7za",  "cpio", "git",  "rm",      "unlink", "mkdir"};
    if (std::find(std::begin(kWriters), std::end(kWriters), name) == std::end(kWriters)) return;
    std::span<const Arg> args = std::span<const Arg>(inv.argv).subspan(1);
    if (name == "mkdir") {
      for (const Arg& operand : Operands(args, {"-m", "--mode", "-Z", "--context"}))
        RememberCreatedDir(operand, inv.cwd);
      return;
    }
    if ((name == "mv" || name == "rsync") &&
        (name == "mv" || HasLongFlag(args, "--remove-source-files"))) {
      std::vector<Arg> operands = Operands(args, {"-t", "--target-directory", "-S", "--suffix"});
      std::string target_dir = OptionValue(args, "-t");
      if (target_dir.empty()) target_dir = OptionValue(args, "--target-directory");
      if (!target_dir.empty())
        RememberMovedInto(Arg{target_dir}, inv.cwd);
      else if (operands.size() >= 2)
        RememberMovedInto(operands.back(), inv.cwd);
    }
    if (name == "tee") {
      std::optional<std::string> text = inv.StdinText();
      for (const Arg& operand : Operands(args)) {
        if (!operand.known) continue;
        CodeFile file;
        file.state = text ? CodeFile::State::kText : CodeFile::State::kUnknown;
        if (text) file.text = *text;
        const std::string key = FileKey(operand.text, inv.cwd, in_remote_);
        NoteWrite(key, file, inv);
        Remember(key, std::move(file));
      }
    } else if (name == "cp" || name == "mv" || name == "install" || name == "ln" ||
               name == "rsync" || name == "scp") {
      std::vector<Arg> operands =
          Operands(args, {"-t", "--target-directory", "-S", "--suffix", "-m", "--mode", "-o",
                          "--owner", "-g", "--group", "-e", "--rsh", "-P", "-i", "-F"});
      std::string target_dir = OptionValue(args, "-t");
      if (target_dir.empty()) target_dir = OptionValue(args, "--target-directory");
      if (operands.empty()) return;
      Arg destination;
      if (!target_dir.empty()) {
        destination = Arg{target_dir};
      } else {
        if (operands.size() < 2) return;
        destination = operands.back();
        operands.pop_back();
      }
      if (!destination.known) return;
      if (name == "rsync" || name == "scp") {
        if (destination.text.find(':') == std::string::npos)
          RememberTree(destination.text, inv.cwd);
        return;
      }
      const bool into_directory = !target_dir.empty() || operands.size() > 1 ||
                                  destination.text.ends_with('/') ||
                                  IsDirectory(FileKey(destination.text, inv.cwd, in_remote_));
      for (const Arg& source : operands) {
        std::string target = destination.text;
        if (into_directory) {
          if (!target.ends_with('/')) target.push_back('/');
          target += std::string(Basename(source.text));
        }
        CodeFile content = CopyOf(source, inv.cwd);
        const std::string key = FileKey(target, inv.cwd, in_remote_);
        NoteWrite(key, content, inv);
        Remember(key, std::move(content));
      }
    } else if (name == "curl") {
      for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& text = args[i].text;
        if ((text == "-o" || text == "--output") && i + 1 < args.size()) {
          if (args[i + 1].text != "-") RememberUnknown(args[i + 1], inv.cwd, inv);
        } else if (text.starts_with("--output=")) {
          RememberUnknown(Arg{text.substr(9), args[i].known}, inv.cwd, inv);
        } else if (text.size() > 2 && text.starts_with("-o") && text[2] != '-') {
          RememberUnknown(Arg{text.substr(2), args[i].known}, inv.cwd, inv);
        } else if (text == "-O" || text == "--remote-name" || text == "--remote-name-all") {
          for (const Arg& arg : args)
            if (arg.known && arg.text.find("://") != std::string::npos)
              RememberUnknown(Arg{std::string(Basename(arg.text))}, inv.cwd, inv);
        }
      }
    } else if (name == "wget") {
      std::string output = OptionValue(args, "-O");
      if (output.empty()) output = OptionValue(args, "--output-document");
      std::string prefix = OptionValue(args, "-P");
      if (prefix.empty()) prefix = OptionValue(args, "--directory-prefix");
      if (!output.empty()) {
        if (output != "-") RememberUnknown(Arg{output}, inv.cwd, inv);
      } else {
        for (const Arg& arg : args) {
          if (!arg.known || arg.text.find("://") == std::string::npos) continue;
          std::string base(Basename(arg.text));
          if (base.empty() || base.find("://") != std::string::npos) base = "index.html";
          RememberUnknown(Arg{prefix.empty() ? base : prefix + "/" + base}, inv.cwd, inv);
        }
      }
    } else if (name == "dd") {
      for (const Arg& arg : args)
        if (arg.text.starts_with("of="))
          RememberUnknown(Arg{arg.text.substr(3), arg.known}, inv.cwd, inv);
    } else if (name == "sort") {
      std::string output = OptionValue(args, "-o");
      if (output.empty()) output = OptionValue(args, "--output");
      if (!output.empty()) RememberUnknown(Arg{output}, inv.cwd, inv);
    } else if (name == "tar" || name == "gtar" || name == "bsdtar") {
      bool extract = false;
      std::string directory = ".";
      for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& text = args[i].text;
        if (text == "--extract" || text == "--get")
          extract = true;
        else if ((text == "-C" || text == "--directory") && i + 1 < args.size())
          directory = args[++i].text;
        else if (text.starts_with("--directory="))
          directory = text.substr(12);
        else if (!text.starts_with("--") && (text.starts_with("-") || i == 0) &&
                 text.find('x') != std::string::npos)
          extract = true;
      }
      if (extract) RememberTree(directory, inv.cwd);
    } else if (name == "unzip" || name == "7z" || name == "7za" || name == "cpio") {
      std::string directory = OptionValue(args, "-d");
      RememberTree(directory.empty() ? "." : directory, inv.cwd);
    } else if (name == "git" && std::any_of(args.begin(), args.end(),
                                            [](const Arg& arg) { return arg.text == "clone"; })) {
      std::vector<Arg> operands = Operands(args, {"-b", "--branch", "--depth", "-o", "--origin",
                                                  "-c", "--config", "--reference", "-C"});
      if (!operands.empty() && operands[0].text == "clone" && operands.size() >= 2) {
        std::string dir =
            operands.size() >= 3 ? operands[2].text : std::string(Basename(operands[1].text));
        if (dir.ends_with(".git")) dir.resize(dir.size() - 4);
        if (!dir.empty()) RememberTree(dir, inv.cwd);
      }
    } else if ((name == "rm" || name == "unlink") && !written_.empty()) {
      for (const Arg& operand : Operands(args)) {
        if (!operand.known) continue;
        std::string key = FileKey(operand.text, inv.cwd, in_remote_);
        if (auto it = written_.find(key); it != written_.end()) {
          it->second.state = CodeFile::State::kMissing;
          it->second.text.clear();
        }
      }
    }
  }

  static bool IsDirectory(const std::string& path) {
    struct stat st;
    return !path.empty() && path[0] == '/' && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  CodeFile ReadFromDisk(const std::string& path) {
    CodeFile file;
    file.path = path;
    if (path == "/dev/null") {
      file.state = CodeFile::State::kText;
      return file;
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      file.state = errno == ENOENT || errno == ENOTDIR ? CodeFile::State::kMissing
                                                       : CodeFile::State::kUnreadable;
      return file;
    }
    if (!S_ISREG(st.st_mode)) {
      file.state = CodeFile::State::kUnreadable;
      return file;
    }
    if (static_cast<std::size_t>(st.st_size) > kMaxCodeFileBytes) {
      file.state = CodeFile::State::kTooLarge;
      return file;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      file.state = CodeFile::State::kUnreadable;
      return file;
    }
    std::string text(kMaxCodeFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxCodeFileBytes) {
      file.state = CodeFile::State::kTooLarge;
      return file;
    }
    if (text.substr(0, 4096).find('\0') != std::string::npos) {
      file.state = CodeFile::State::kBinary;
      return file;
    }
    file.state = CodeFile::State::kText;
    file.text = std::move(text);
    return file;
  }

  const Options& options_;
  Analysis* out_;
  int dispatches_ = 0;
  bool in_remote_ = false;  // classifying what runs on another host or container
  int project_code_depth_ = 0;
  EvalBudget budget_;
  std::shared_ptr<const Environment> current_env_;
  std::map<std::string, CodeFile, std::less<>> written_;
  std::map<std::string, std::string, std::less<>> written_programs_;  // basename -> key
  std::vector<std::string> unknown_trees_;
  std::vector<std::string> created_dirs_;  // mkdir operands
  std::vector<std::string> moved_into_;    // mv destinations: data from elsewhere
  std::map<std::string, LossFacts, std::less<>> loss_facts_;
  std::map<std::string, CodeFile, std::less<>> disk_cache_;
};

}  // namespace

Analysis Analyze(std::string_view command_line, const Options& options) {
  Analysis analysis;
  BeginGuardTamperInput();  // tamper.cc remembers lookups of dualkey per input
  Classifier classifier(options, &analysis);
  classifier.Run(command_line);
  return analysis;
}

}  // namespace dualkey::shell
