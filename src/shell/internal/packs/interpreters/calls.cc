// Per language, the calls that delete files, run shell commands or evaluate
// code, matched on dotted names.

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "shell/internal/packs/interpreters/interpreters.h"

namespace dualkey::shell::interpreters {

constexpr Call kPythonCalls[] = {
    {"os.system", Effect::kShell},
    {"os.popen", Effect::kShell},
    {"subprocess.run", Effect::kArgv},
    {"subprocess.call", Effect::kArgv},
    {"subprocess.check_call", Effect::kArgv},
    {"subprocess.check_output", Effect::kArgv},
    {"subprocess.Popen", Effect::kArgv},
    {"subprocess.getoutput", Effect::kShell},
    {"subprocess.getstatusoutput", Effect::kShell},
    {"shutil.rmtree", Effect::kDeleteTree},
    {"rmtree", Effect::kDeleteTree},
    {"os.remove", Effect::kDeleteFile},
    {"os.unlink", Effect::kDeleteFile},
    {"os.rmdir", Effect::kDeleteFile},
    {"os.removedirs", Effect::kDeleteFile},
    {"system", Effect::kShell},
    {"exec", Effect::kEval},
    {"eval", Effect::kEval},
    {"unlink", Effect::kDeleteFile},
    {"rmdir", Effect::kDeleteFile},
    {"os.execv", Effect::kArgv},
    {"os.execvp", Effect::kArgv},
    {"os.execl", Effect::kArgv},
    {"os.execlp", Effect::kArgv},
    {"os.execve", Effect::kArgv},
    {"os.spawnv", Effect::kArgv},
    {"os.spawnvp", Effect::kArgv},
    {"os.spawnl", Effect::kArgv},
    {"os.spawnlp", Effect::kArgv},
    {"os.posix_spawn", Effect::kArgv},
    {"os.posix_spawnp", Effect::kArgv},
    {"pty.spawn", Effect::kArgv},
    {"commands.getoutput", Effect::kShell},
    {"os.truncate", Effect::kDeleteFile},
    {"shutil.move", Effect::kNone},
    {"compile", Effect::kEval},
};
constexpr Call kJavaScriptCalls[] = {
    {"execSync", Effect::kShell},
    {"exec", Effect::kShell},
    {"spawnSync", Effect::kArgv},
    {"spawn", Effect::kArgv},
    {"execFileSync", Effect::kArgv},
    {"execFile", Effect::kArgv},
    {"rmSync", Effect::kDeleteTree},
    {"rmdirSync", Effect::kDeleteTree},
    {"fs.rm", Effect::kDeleteTree},
    {"fs.rmdir", Effect::kDeleteTree},
    {"promises.rm", Effect::kDeleteTree},
    {"unlinkSync", Effect::kDeleteFile},
    {"fs.unlink", Effect::kDeleteFile},
    {"removeSync", Effect::kDeleteTree},
    {"emptyDirSync", Effect::kDeleteTree},
    {"rimraf", Effect::kDeleteTree},
    {"eval", Effect::kEval},
    {"Function", Effect::kEval},
    {"Deno.remove", Effect::kDeleteTree},
    {"Bun.spawn", Effect::kArgv},
    {"execa", Effect::kArgv},
    {"execaSync", Effect::kArgv},
    {"execaCommand", Effect::kShell},
    {"execaCommandSync", Effect::kShell},
    {"truncateSync", Effect::kDeleteFile},
    {"shell.rm", Effect::kRmArgs},
    {"shell.exec", Effect::kShell},
    {"del.sync", Effect::kDeleteTree},
    {"deleteSync", Effect::kDeleteTree},
    {"Deno.Command", Effect::kArgv},
    {"Deno.run", Effect::kArgv},
    {"Bun.spawnSync", Effect::kArgv},
    {"vm.runInNewContext", Effect::kEval},
    {"vm.runInThisContext", Effect::kEval},
};
constexpr Call kPerlCalls[] = {
    {"system", Effect::kShell},      {"exec", Effect::kShell},
    {"qx", Effect::kShell},          {"readpipe", Effect::kShell},
    {"unlink", Effect::kDeleteFile}, {"rmdir", Effect::kDeleteFile},
    {"rmtree", Effect::kDeleteTree}, {"remove_tree", Effect::kDeleteTree},
    {"eval", Effect::kEval},
};
constexpr Call kRubyCalls[] = {
    {"system", Effect::kShell},
    {"exec", Effect::kShell},
    {"spawn", Effect::kShell},
    {"Open3.capture2", Effect::kShell},
    {"Open3.popen3", Effect::kShell},
    {"FileUtils.rm_rf", Effect::kDeleteTree},
    {"FileUtils.rm_r", Effect::kDeleteTree},
    {"FileUtils.remove_dir", Effect::kDeleteTree},
    {"FileUtils.remove_entry", Effect::kDeleteTree},
    {"FileUtils.rm", Effect::kDeleteFile},
    {"FileUtils.rm_f", Effect::kDeleteFile},
    {"File.delete", Effect::kDeleteFile},
    {"File.unlink", Effect::kDeleteFile},
    {"Dir.rmdir", Effect::kDeleteFile},
    {"Dir.delete", Effect::kDeleteFile},
    {"eval", Effect::kEval},
    {"qx", Effect::kShell},
    {"IO.popen", Effect::kShell},
    {"Open3.capture3", Effect::kShell},
    {"Open3.capture2e", Effect::kShell},
    {"Open3.popen2", Effect::kShell},
    {"Open3.popen2e", Effect::kShell},
    {"Process.spawn", Effect::kShell},
    {"FileUtils.rmtree", Effect::kDeleteTree},
    {"FileUtils.remove_entry_secure", Effect::kDeleteTree},
    {"rm_rf", Effect::kDeleteTree},
    {"rm_r", Effect::kDeleteTree},
    {"remove_dir", Effect::kDeleteTree},
    {"instance_eval", Effect::kEval},
    {"class_eval", Effect::kEval},
};
constexpr Call kPhpCalls[] = {
    {"system", Effect::kShell},
    {"exec", Effect::kShell},
    {"shell_exec", Effect::kShell},
    {"passthru", Effect::kShell},
    {"proc_open", Effect::kShell},
    {"popen", Effect::kShell},
    {"unlink", Effect::kDeleteFile},
    {"rmdir", Effect::kDeleteFile},
    {"eval", Effect::kEval},
    {"pcntl_exec", Effect::kArgv},
    {"qx", Effect::kShell},
    {"assert", Effect::kEval},
    {"create_function", Effect::kEval},
};
constexpr Call kAwkCalls[] = {{"system", Effect::kShell}};
constexpr Call kLuaCalls[] = {
    {"os.execute", Effect::kShell},     {"io.popen", Effect::kShell},
    {"os.remove", Effect::kDeleteFile}, {"load", Effect::kEval},
    {"loadstring", Effect::kEval},
};
constexpr Call kRCalls[] = {
    {"system", Effect::kShell},      {"system2", Effect::kArgv},
    {"unlink", Effect::kDeleteTree}, {"file.remove", Effect::kDeleteFile},
    {"eval", Effect::kEval},
};

std::span<const Call> CallsFor(Language language) {
  switch (language) {
    case Language::kPython:
      return kPythonCalls;
    case Language::kJavaScript:
      return kJavaScriptCalls;
    case Language::kPerl:
      return kPerlCalls;
    case Language::kRuby:
      return kRubyCalls;
    case Language::kPhp:
      return kPhpCalls;
    case Language::kAwk:
      return kAwkCalls;
    case Language::kLua:
      return kLuaCalls;
    case Language::kR:
      return kRCalls;
  }
  return {};
}

}  // namespace dualkey::shell::interpreters
