// Every example a user can copy is exercised, so none can rot: the examples
// in `dualkey --help-all`, in the README and docs/*.md (fenced blocks, inline
// code, heredocs), in `dualkey scan`'s advice, and the files in examples/.
// - A dualkey command line parses with the real CLI (`dualkey --parse-only
//   ...`), or, written as a name in prose (`dualkey approve`), names a real
//   command; options in [brackets] of a synopsis must exist.
// - `check` and `policy explain` examples also run (locally) and decide.
// - TOML loads with the loader that reads that file (policy layers, the
//   gateway's config; packs also pass their own [[test]] cases); JSON parses.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/gateway.h"
#include "policy/policy.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- Running the real binary -------------------------------------------------

struct Ran {
  int status = -1;
  std::string out, err;
};

Ran RunDualkey(const std::vector<std::string>& args) {
  int out[2], err[2];
  Ran ran;
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return ran;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    std::vector<char*> argv{const_cast<char*>(DUALKEY_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // Hermetic: no daemon, no user policy of whoever runs the tests.
    setenv("DUALKEY_SOCKET", "/nonexistent/dualkey.sock", 1);
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
    execv(DUALKEY_BINARY, argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_count = 2;
  while (open_count > 0) {
    if (poll(fds, 2, 30000) <= 0) break;
    for (pollfd& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(p.fd, buffer, sizeof buffer);
      if (n <= 0) {
        close(p.fd);
        p.fd = -1;
        --open_count;
        continue;
      }
      (p.fd == out[0] ? ran.out : ran.err).append(buffer, static_cast<std::size_t>(n));
    }
  }
  for (pollfd& p : fds)
    if (p.fd >= 0) close(p.fd);
  int status = 0;
  waitpid(pid, &status, 0);
  ran.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// ---- Reading command lines the way a shell does ---------------------------------

struct Token {
  bool op = false;  // an operator: | || && ; & ( ) or a redirection
  std::string text;
};

std::vector<Token> Tokens(const std::string& line) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  const std::size_t n = line.size();
  static const std::regex kRedirection(R"(^\d*(>>|>&|<<-?|<<<|>|<)\d*-?)");
  while (i < n) {
    const char c = line[i];
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (c == '#') break;  // a comment
    if (line.compare(i, 2, "&&") == 0 || line.compare(i, 2, "||") == 0) {
      tokens.push_back({true, line.substr(i, 2)});
      i += 2;
      continue;
    }
    if (c == '|' || c == ';' || c == '&' || c == '(' || c == ')') {
      tokens.push_back({true, std::string(1, c)});
      ++i;
      continue;
    }
    std::smatch m;
    const std::string rest = line.substr(i);
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '<' || c == '>') {
      if (std::regex_search(rest, m, kRedirection) && m.position(0) == 0) {
        tokens.push_back({true, m.str(0)});
        i += m.length(0);
        continue;
      }
    }
    std::string word;
    while (i < n) {
      const char d = line[i];
      if (d == ' ' || d == '\t' || d == '|' || d == ';' || d == '&' || d == '(' || d == ')' ||
          d == '<' || d == '>')
        break;
      if (d == '\'') {
        const std::size_t end = line.find('\'', i + 1);
        word += line.substr(i + 1, (end == std::string::npos ? n : end) - i - 1);
        i = end == std::string::npos ? n : end + 1;
      } else if (d == '"') {
        ++i;
        while (i < n && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < n) ++i;
          word.push_back(line[i++]);
        }
        ++i;
      } else if (d == '\\' && i + 1 < n) {
        word.push_back(line[i + 1]);
        i += 2;
      } else if (d == '$' && i + 1 < n && line[i + 1] == '(') {
        int depth = 0;
        const std::size_t start = i;
        for (; i < n; ++i) {
          if (line[i] == '(') ++depth;
          if (line[i] == ')' && --depth == 0) break;
        }
        word += line.substr(start, i + 1 - start);
        ++i;
      } else {
        word.push_back(d);
        ++i;
      }
    }
    tokens.push_back({false, word});
  }
  return tokens;
}

bool IsAssignment(const std::string& word) {
  static const std::regex kAssignment("^[A-Za-z_][A-Za-z0-9_]*=.*");
  return std::regex_match(word, kAssignment);
}

bool IsDualkey(const std::string& word) {
  return word == "dualkey" || word.ends_with("/dualkey");
}

// The argument vectors of every dualkey command in a command line (pipelines
// and lists included; `sudo`, `env` and assignments before it skipped).
std::vector<std::vector<std::string>> Invocations(const std::string& line) {
  std::vector<std::vector<std::string>> simple(1);
  const std::vector<Token> tokens = Tokens(line);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.op && (t.text.find('<') != std::string::npos || t.text.find('>') != std::string::npos)) {
      // A redirection: its target is not an argument.
      if (!t.text.ends_with("-") && !std::isdigit(static_cast<unsigned char>(t.text.back()))) ++i;
      continue;
    }
    if (t.op) {
      simple.emplace_back();
      continue;
    }
    simple.back().push_back(t.text);
  }
  std::vector<std::vector<std::string>> found;
  for (const std::vector<std::string>& words : simple) {
    std::size_t at = 0;
    while (at < words.size()) {
      const std::string& w = words[at];
      if (IsAssignment(w) || w == "env" || w == "exec" || w == "time") {
        ++at;
      } else if (w == "sudo") {
        ++at;
        while (at < words.size() && words[at].starts_with("-")) {
          const bool takes_value = words[at] == "-u" || words[at] == "-g";
          at += takes_value ? 2 : 1;
        }
      } else {
        break;
      }
    }
    if (at >= words.size() || !IsDualkey(words[at])) continue;
    std::vector<std::string> args(words.begin() + static_cast<long>(at) + 1, words.end());
    // The program's name alone (`dualkey`, `/usr/local/bin/dualkey`).
    if (args.empty()) continue;
    // Output shown in a console block or quoted in prose ("dualkey gateway:
    // listening on ...", "dualkey held this call: ...").
    bool output = false;
    for (std::size_t k = 0; k < args.size() && k < 4 && args[k] != "--"; ++k)
      output = output || (args[k].ends_with(":") && !args[k].starts_with("-"));
    if (output) continue;
    found.push_back(std::move(args));
  }
  return found;
}

// ---- Where examples are --------------------------------------------------------

enum class Kind {
  kCommand,  // a command line to run or parse
  kName,     // inline code in prose: a command line, or a command's name
  kToml,
  kJson,
};

struct Example {
  Kind kind;
  std::string where;  // file:line
  std::string text;
  std::string file_name;  // TOML: the file it is meant for, when known
};

void CommandsIn(const std::string& line, Kind kind, const std::string& where,
                std::vector<Example>* out) {
  if (line.find("dualkey") == std::string::npos) return;
  out->push_back({kind, where, line, ""});
}

// Fenced blocks, heredocs in shell blocks, and inline code of a Markdown file.
void FromMarkdown(const fs::path& path, std::vector<Example>* out) {
  const std::string name = fs::relative(path, DUALKEY_SOURCE_DIR).string();
  std::istringstream in(Read(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  static const std::regex kFence(R"(^\s*(```|~~~)\s*([A-Za-z0-9_+-]*).*)");
  static const std::regex kHeredoc(R"(<<-?\s*'?"?([A-Za-z_]+)'?"?)");
  static const std::regex kCatTarget(R"(>\s*(\S+))");
  static const std::regex kInline("`([^`]+)`");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch fence;
    if (std::regex_match(lines[i], fence, kFence)) {
      const std::string lang = fence[2];
      std::size_t end = i + 1;
      while (end < lines.size() && !std::regex_match(lines[end], kFence)) ++end;
      const bool shell =
          lang.empty() || lang == "sh" || lang == "bash" || lang == "shell" || lang == "console";
      std::string block;
      for (std::size_t j = i + 1; j < end; ++j) block += lines[j] + "\n";
      const std::string where = name + ":" + std::to_string(i + 2);
      if (lang == "toml") {
        std::smatch target;
        const std::string first = lines[i + 1];
        out->push_back({Kind::kToml, where, block,
                        first.starts_with("#") ? first.substr(first.find_last_of("/ ") + 1) : ""});
      } else if (lang == "json" || lang == "jsonl") {
        out->push_back({Kind::kJson, where, block, lang});
      } else if (shell) {
        std::string pending;
        for (std::size_t j = i + 1; j < end; ++j) {
          std::string line = lines[j];
          if (line.ends_with("\\")) {
            pending += line.substr(0, line.size() - 1) + " ";
            continue;
          }
          line = pending + line;
          pending.clear();
          line = std::regex_replace(line, std::regex(R"(^\s*\$ )"), "");
          const std::string at = name + ":" + std::to_string(j + 1);
          std::smatch heredoc;
          if (std::regex_search(line, heredoc, kHeredoc)) {
            // cat > FILE <<'EOF' ... EOF: FILE's content is an example too.
            const std::string delimiter = heredoc[1];
            std::smatch target;
            const std::string before = line.substr(0, heredoc.position(0));
            std::string file;
            if (std::regex_search(before, target, kCatTarget)) file = target[1];
            std::string content;
            std::size_t k = j + 1;
            for (; k < end && lines[k] != delimiter; ++k) content += lines[k] + "\n";
            if (file.ends_with(".toml"))
              out->push_back({Kind::kToml, at, content, fs::path(file).filename().string()});
            if (file.ends_with(".json")) out->push_back({Kind::kJson, at, content, "json"});
            CommandsIn(before, Kind::kCommand, at, out);
            j = k;
            continue;
          }
          CommandsIn(line, Kind::kCommand, at, out);
        }
      }
      i = end;
      continue;
    }
    for (std::sregex_iterator it(lines[i].begin(), lines[i].end(), kInline), stop; it != stop;
         ++it) {
      const std::string span = (*it)[1];
      if (!Invocations(span).empty())
        out->push_back({Kind::kName, name + ":" + std::to_string(i + 1), span, ""});
    }
  }
}

// Every command's --help, found by walking the command list of each:
// example lines (a dualkey command first, then two or more spaces before a
// comment or a second example), inline code, and TOML under a line that
// ends with "(TOML):".
bool StartsAnExample(const std::string& segment) {
  static const std::regex kExample(
      R"(^((sudo|env)\s+|[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(\S*/)?dualkey\s.*|.*\|\s*(\S*/)?dualkey\s.*)");
  return std::regex_match(segment, kExample);
}

void FromHelpText(const std::string& command, const std::string& text, std::vector<Example>* out) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  static const std::regex kInline("`([^`]+)`");
  static const std::regex kGap(R"(\s{2,})");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const std::string where = "dualkey " + command + " --help:" + std::to_string(i + 1);
    const std::size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    if (line.ends_with("(TOML):")) {
      std::string toml;
      std::size_t j = i + 1;
      for (; j < lines.size() && lines[j].find_first_not_of(' ') != std::string::npos &&
             lines[j].find_first_not_of(' ') > indent;
           ++j)
        toml += lines[j].substr(lines[j].find_first_not_of(' ')) + "\n";
      out->push_back({Kind::kToml, where, toml, "gateway.toml"});
      continue;
    }
    for (std::sregex_iterator it(line.begin(), line.end(), kInline), stop; it != stop; ++it) {
      const std::string span = (*it)[1];
      if (!Invocations(span).empty()) out->push_back({Kind::kName, where, span, ""});
    }
    std::vector<std::string> segments;
    const std::string body = line.substr(indent);
    std::sregex_token_iterator it(body.begin(), body.end(), kGap, -1), stop;
    for (; it != stop; ++it) segments.push_back(*it);
    if (segments.empty() || !StartsAnExample(segments[0])) continue;
    for (std::size_t s = 0; s < segments.size(); ++s)
      if (s == 0 || segments[s].starts_with("dualkey "))
        out->push_back({Kind::kCommand, where, segments[s], ""});
  }
}

void FromHelp(std::vector<Example>* out, std::size_t* commands_seen) {
  std::vector<std::vector<std::string>> queue{{}};
  static const std::regex kListed(R"(^  ([a-z][a-z0-9-]*)\s{2,}\S.*)");
  while (!queue.empty()) {
    const std::vector<std::string> path = queue.back();
    queue.pop_back();
    std::vector<std::string> args = path;
    args.push_back("--help");
    const Ran help = RunDualkey(args);
    ASSERT_EQ(help.status, 0) << Join(args) << ": " << help.err;
    ++*commands_seen;
    FromHelpText(Join(path), help.out, out);
    // Its own commands, listed under "Subcommands:".
    std::istringstream in(help.out);
    bool listing = false;
    for (std::string line; std::getline(in, line);) {
      if (line == "Subcommands:") {
        listing = true;
        continue;
      }
      std::smatch m;
      if (listing && std::regex_match(line, m, kListed)) {
        std::vector<std::string> sub = path;
        sub.push_back(m[1]);
        queue.push_back(sub);
      } else if (listing && !line.starts_with("  ")) {
        listing = false;
      }
    }
  }
}

// ---- Checking one example --------------------------------------------------------

// A synopsis writes optional parts in brackets ("dualkey audit tail [-n N]
// [--json]"): the command must parse without them, and every option they
// name must be one of the command's.
std::vector<std::string> OptionalOptions(std::string* text) {
  std::vector<std::string> options;
  static const std::regex kOptional(R"(\[([^\]]*)\])");
  std::smatch m;
  std::string rest = *text, kept;
  while (std::regex_search(rest, m, kOptional)) {
    kept += m.prefix().str();
    std::istringstream words(m[1].str());
    for (std::string w; words >> w;)
      if (w.starts_with("-")) options.push_back(w.substr(0, w.find('=')));
    rest = m.suffix().str();
  }
  *text = kept + rest;
  return options;
}

// The command path of args ("vault ls --json" -> "vault ls").
std::string CommandPath(const std::vector<std::string>& args) {
  std::vector<std::string> path;
  for (const std::string& a : args) {
    if (a.starts_with("-")) break;
    path.push_back(a);
    const Ran help = RunDualkey([&] {
      std::vector<std::string> h = path;
      h.push_back("--help");
      return h;
    }());
    if (help.out.find("Usage: dualkey " + Join(path) + " ") == std::string::npos &&
        help.out.find("Usage: dualkey " + Join(path) + "\n") == std::string::npos) {
      path.pop_back();
      break;
    }
  }
  return Join(path);
}

std::string CheckCommand(const Example& example) {
  std::string text = example.text;
  const std::vector<std::string> optional = OptionalOptions(&text);
  std::string problems;
  for (const std::vector<std::string>& args : Invocations(text)) {
    std::vector<std::string> parse{"--parse-only"};
    parse.insert(parse.end(), args.begin(), args.end());
    const Ran parsed = RunDualkey(parse);
    std::string problem;
    if (parsed.status != 0) {
      // Prose may name a command without its arguments (`dualkey approve`).
      const std::string path = CommandPath(args);
      const bool names_a_command =
          example.kind == Kind::kName && !path.empty() && path == Join(args);
      if (!names_a_command) problem = parsed.err;
    }
    if (problem.empty() && !optional.empty()) {
      std::vector<std::string> help_args;
      std::istringstream words(CommandPath(args));
      for (std::string w; words >> w;) help_args.push_back(w);
      help_args.push_back("--help");
      const Ran help = RunDualkey(help_args);
      for (const std::string& option : optional)
        if (help.out.find(option) == std::string::npos)
          problem += "no option " + option + " in `dualkey " + Join(help_args) + "`\n";
    }
    // check and policy explain examples are run: they must decide (0 allow,
    // 1 held), not fail on their input.
    const bool has_input = std::find(args.begin(), args.end(), "--") != args.end();
    if (problem.empty() && parsed.status == 0 && has_input) {
      const bool check = args[0] == "check" &&
                         std::find(args.begin(), args.end(), "--jsonl") == args.end() &&
                         std::find(args.begin(), args.end(), "--dry-run") == args.end();
      const bool explain = args.size() > 1 && args[0] == "policy" && args[1] == "explain";
      if (check || explain) {
        std::vector<std::string> run = args;
        if (check) run.insert(run.begin() + 1, "--local");
        if (check) run.insert(run.begin() + 1, "--json");
        const Ran ran = RunDualkey(run);
        if (ran.status != 0 && ran.status != 1)
          problem = "exit status " + std::to_string(ran.status) + ": " + ran.err;
        // Held with no action at all: the input itself was not understood
        // (an HTTP or MCP example in the wrong shape).
        const json decided = json::parse(ran.out, nullptr, false);
        if (check && problem.empty() && decided.is_object() &&
            decided.value("decision", "") != "allow" && decided.contains("actions") &&
            decided["actions"].empty())
          problem = "its input is not understood: " + decided.value("reason", "") + "\n";
      }
    }
    if (!problem.empty()) problems += "  dualkey " + Join(args) + "\n    " + problem;
  }
  return problems;
}

std::string CheckToml(const Example& example, const fs::path& scratch) {
  const std::string& name = example.file_name;
  if (example.text.starts_with("[pack]") || example.text.find("\n[pack]") != std::string::npos) {
    // A pack: it must load, and its own [[test]] cases must pass.
    const fs::path file = scratch / "example-pack.toml";
    std::ofstream(file) << example.text;
    const Ran tested = RunDualkey({"packs", "test", file.string()});
    if (tested.status != 0) return "  packs test: " + tested.out + tested.err;
    return "";
  }
  const fs::path file = scratch / (name.empty() ? "policy.toml" : name);
  std::ofstream(file) << example.text;
  if (name == "gateway.toml" ||
      example.text.find("[[gateway.http.upstream]]") != std::string::npos) {
    if (auto config = dualkey::gateway::LoadConfig(file.string()); !config.ok())
      return "  gateway config: " + config.status().message();
    return "";
  }
  // Anything else here is a policy layer (system, user or project file).
  dualkey::policy::Layer layer;
  std::vector<std::string> errors;
  const auto kind = name == ".dualkey.toml"                 ? dualkey::policy::LayerKind::kProject
                    : name == "policy.toml" || name.empty() ? dualkey::policy::LayerKind::kUser
                                                            : dualkey::policy::LayerKind::kUser;
  if (!dualkey::policy::ParseLayer(example.text, kind, file.string(), &layer, &errors)) {
    std::string out;
    for (const std::string& e : errors) out += "  policy: " + e + "\n";
    return out;
  }
  return "";
}

std::string CheckJson(const Example& example) {
  if (!json::accept(example.text)) {
    // JSON lines: each line on its own.
    std::istringstream lines(example.text);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty() && !json::accept(line)) return "  not JSON: " + line;
  }
  return "";
}

class Examples : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = fs::temp_directory_path() / ("dualkey-examples-" + std::to_string(getpid()));
    fs::create_directories(scratch_);
  }
  void TearDown() override { fs::remove_all(scratch_); }

  std::string Check(const std::vector<Example>& examples) {
    std::string failures;
    for (const Example& e : examples) {
      std::string problem;
      switch (e.kind) {
        case Kind::kCommand:
        case Kind::kName:
          problem = CheckCommand(e);
          break;
        case Kind::kToml:
          problem = CheckToml(e, scratch_);
          break;
        case Kind::kJson:
          problem = CheckJson(e);
          break;
      }
      if (!problem.empty()) failures += e.where + ": " + e.text + "\n" + problem + "\n";
    }
    return failures;
  }

  fs::path scratch_;
};

TEST(ExampleReader, ReadsCommandLinesAsAShellWould) {
  using Args = std::vector<std::vector<std::string>>;
  EXPECT_EQ(Invocations("dualkey check -- 'rm -rf ~/x'"), (Args{{"check", "--", "rm -rf ~/x"}}));
  EXPECT_EQ(Invocations("echo \"$T\" | dualkey gateway credential set r --type bearer"),
            (Args{{"gateway", "credential", "set", "r", "--type", "bearer"}}));
  EXPECT_EQ(Invocations("sudo -u dualkey PGPASSWORD=x dualkey serve --state-dir /s &"),
            (Args{{"serve", "--state-dir", "/s"}}));
  EXPECT_EQ(Invocations("dualkey vault put --stdin dump < db.sql 2>&1 | tee log"),
            (Args{{"vault", "put", "--stdin", "dump"}}));
  EXPECT_EQ(Invocations("dualkey gateway: listening on 127.0.0.1:8787"), Args{});
  EXPECT_EQ(Invocations("build/dualkey demo   # the incident"), (Args{{"demo"}}));
  EXPECT_EQ(Invocations("cd x && ./build/dualkey doctor"), (Args{{"doctor"}}));
  std::string synopsis = "dualkey audit tail [-n N] [--json]";
  EXPECT_EQ(OptionalOptions(&synopsis), (std::vector<std::string>{"-n", "--json"}));
  EXPECT_EQ(Invocations(synopsis), (Args{{"audit", "tail"}}));
}

// A wrong example is caught: a misspelled option, a command that does not
// exist, TOML the loader refuses.
TEST_F(Examples, AWrongExampleIsCaught) {
  EXPECT_FALSE(CheckCommand({Kind::kCommand, "t", "dualkey check --jsn -- ls", ""}).empty());
  EXPECT_FALSE(CheckCommand({Kind::kName, "t", "dualkey chek", ""}).empty());
  EXPECT_FALSE(CheckCommand({Kind::kName, "t", "dualkey audit tail [--jsn]", ""}).empty());
  EXPECT_FALSE(CheckCommand({Kind::kCommand, "t",
                             "dualkey check --channel http -- '{\"verb\":\"DELETE\"}'", ""})
                   .empty());
  EXPECT_TRUE(CheckCommand({Kind::kName, "t", "dualkey approve", ""}).empty());
  EXPECT_FALSE(
      CheckToml({Kind::kToml, "t", "[[gateway.http.upstream]]\nname = \"a\"  base_url = \"b\"\n",
                 "gateway.toml"},
                scratch_)
          .empty());
  EXPECT_FALSE(
      CheckToml({Kind::kToml, "t", "[[rules]]\ndecision = \"maybe\"\n", ""}, scratch_).empty());
}

TEST_F(Examples, EveryExampleInTheHelpWorks) {
  std::vector<Example> examples;
  std::size_t seen = 0;
  FromHelp(&examples, &seen);
  EXPECT_GE(seen, 40u) << "every command's help was not read";
  std::size_t commands = 0, toml = 0;
  for (const Example& e : examples) (e.kind == Kind::kToml ? toml : commands)++;
  EXPECT_GE(commands, 40u) << "the help's examples were not found";
  EXPECT_GE(toml, 1u);
  EXPECT_EQ(Check(examples), "");
}

TEST_F(Examples, EveryExampleInTheReadmeAndDocsWorks) {
  std::vector<Example> examples;
  std::vector<fs::path> files{fs::path(DUALKEY_SOURCE_DIR) / "README.md"};
  for (const auto& entry : fs::directory_iterator(fs::path(DUALKEY_SOURCE_DIR) / "docs"))
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  for (const auto& entry : fs::directory_iterator(fs::path(DUALKEY_SOURCE_DIR) / "examples"))
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  for (const fs::path& file : files) FromMarkdown(file, &examples);
  std::size_t commands = 0, toml = 0;
  for (const Example& e : examples) {
    if (e.kind == Kind::kCommand || e.kind == Kind::kName) ++commands;
    if (e.kind == Kind::kToml) ++toml;
  }
  EXPECT_GE(commands, 150u) << "the docs' examples were not found";
  EXPECT_GE(toml, 3u);
  EXPECT_EQ(Check(examples), "");
}

// examples/: each file loads with the loader that reads it.
TEST_F(Examples, TheExampleFilesLoad) {
  const fs::path dir = fs::path(DUALKEY_SOURCE_DIR) / "examples";
  std::vector<Example> examples;
  for (const char* name : {"policy.toml", "gateway.toml"})
    examples.push_back({Kind::kToml, std::string("examples/") + name, Read(dir / name), name});
  // Every example pack (its own [[test]] cases run).
  std::size_t packs = 0;
  for (const auto& entry : fs::directory_iterator(dir / "packs")) {
    if (entry.path().extension() != ".toml") continue;
    ++packs;
    examples.push_back({Kind::kToml, "examples/packs/" + entry.path().filename().string(),
                        Read(entry.path()), entry.path().filename().string()});
  }
  EXPECT_GE(packs, 1u);
  EXPECT_EQ(Check(examples), "");
  // And the policy example is a policy `dualkey policy check` accepts.
  const Ran checked = RunDualkey({"policy", "check", (dir / "policy.toml").string()});
  EXPECT_EQ(checked.status, 0) << checked.out << checked.err;
}

// `dualkey scan`'s advice: its commands parse, its gateway.toml lines load.
TEST_F(Examples, ScanAdviceCanBeCopied) {
  const fs::path home = scratch_ / "home";
  fs::create_directories(home / ".aws");
  std::ofstream(home / ".env") << "RAILWAY_TOKEN=" << std::string(32, 'a') << "1b2c\n";
  std::ofstream(home / ".aws/credentials")
      << "[default]\naws_access_key_id = AKIA"
      << "Q3XAMPLQ7HZ2MFKD"
      << "\naws_secret_access_key = " << std::string(20, 'k') << "Xy9/Zt7+Qw3Er5Ty8Ui0\n";
  const Ran scan = RunDualkey({"scan", "--json", home.string()});
  ASSERT_EQ(scan.status, 1) << scan.out << scan.err;
  const json report = json::parse(scan.out);
  std::vector<Example> examples;
  std::size_t with_toml = 0;
  for (const json& finding : report["findings"]) {
    const std::string move = finding["move"];
    std::istringstream lines(move);
    std::string toml;
    for (std::string line; std::getline(lines, line);) {
      const std::size_t start = line.find_first_not_of(' ');
      if (start == std::string::npos) continue;
      const std::string text = line.substr(start);
      if (text.starts_with("[[") ||
          (!toml.empty() && text.find(" = ") != std::string::npos && line.starts_with("     "))) {
        toml += text + "\n";
        continue;
      }
      // "1. echo ... | dualkey ..." : the step's command.
      const std::string command = std::regex_replace(text, std::regex(R"(^\d+\. )"), "");
      if (!Invocations(command).empty())
        examples.push_back(
            {Kind::kCommand, "scan: " + finding["kind"].get<std::string>(), command, ""});
    }
    if (!toml.empty()) {
      ++with_toml;
      examples.push_back(
          {Kind::kToml, "scan: " + finding["kind"].get<std::string>(), toml, "gateway.toml"});
    }
  }
  EXPECT_GE(with_toml, 2u) << scan.out;
  EXPECT_EQ(Check(examples), "");
}

}  // namespace
