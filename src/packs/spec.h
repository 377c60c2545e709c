// Packs as data: what a command-line tool's subcommands do, written in TOML
// (packs/*.toml in the repository, /etc/dualkey/packs/, ~/.config/dualkey/
// packs/, a project's .dualkey/packs/) with the pack's own test cases inside.
// This header is the pack model, its TOML reader (line-numbered errors; an
// unknown key is an error, so a typo never silently weakens a rule) and a
// compact binary form the build uses to compile the built-in packs into the
// binary (tools/packgen.cc), so no built-in pack is parsed at run time.
//
// The format, by example (docs/packs.md has the reference):
//
//   [pack]
//   name = "github-cli"
//   description = "GitHub's gh"
//
//   [[tool]]
//   names = ["gh"]
//   value_options = ["-R", "--repo"]   # options that take the next word
//   destroy_class = "repo.delete"       # a destroying verb no rule names
//
//   [[rule]]
//   name = "repo-delete"
//   command = "gh repo delete"          # tool, then leading words ("*", "a|b", globs)
//   class = "repo.delete"
//   severity = "critical"
//   reason = "deletes the repository, its issues, pull requests and wiki"
//
//   [[test]]
//   command = "gh repo delete acme/app --yes"
//   expect = "hold"
//
//   [[class]]                           # a class no built-in one covers
//   name = "acme.tenant.delete"
//   description = "deletes a tenant with its data"   # one line, for policy writers
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"
#include "core/op_class.h"

namespace dualkey::packs {

enum class ToolKind : std::uint8_t {
  kCli,    // subcommands: unmatched words are read for their verb
  kPlain,  // its words are data (echo, grep, pytest): never read as verbs
};

struct Tool {
  std::vector<std::string> names;  // basenames the tool is run as
  ToolKind kind = ToolKind::kCli;
  std::vector<std::string> value_options;  // options that consume the next word
  std::string destroy_class;               // default: "unknown.delete"
  Severity destroy_severity = Severity::kHigh;
  int verb_depth = 4;  // leading words read for a verb
  int line = 0;
};

// Where a part of the command comes from: "operands", "operands:2" (from the
// second on), "after-dashes", "option:-c|--command", "operand:2", "stdin",
// "none". Operands are the words after the rule's path, then all after `--`.
struct Source {
  enum class Kind : std::uint8_t {
    kNone,
    kOperands,
    kAfterDashes,
    kOption,
    kOperand,
    kStdin,
    kOperandsFrom,
  };
  Kind kind = Kind::kNone;
  std::vector<std::string> options;  // kOption: any of these
  int index = 0;                     // kOperand: 1-based, after the rule's path
};

struct HttpSpec {
  bool enabled = false;
  Source method;                          // the method's option (-X, --method)
  std::string default_method = "GET";     // without one
  std::string body_method = "POST";       // without one but with a body option
  std::vector<std::string> body_options;  // -f, --field, --input, -d ...
  Source url;                             // the path or URL
  std::string base;                       // prefixed to a relative path
};

struct Rule {
  std::string name;
  std::string tool;                  // the first word of `command`
  std::vector<std::string> path;     // the words after it
  std::vector<std::string> with;     // any of these options present
  std::vector<std::string> without;  // none of these options present
  std::string option;                // this option's value matches `value`
  std::string value;                 // glob, case-insensitive; "a|b" alternatives
  std::vector<std::string> operand;  // any operand after the path matches a glob
  // Effect: an Action of this class...
  std::string op_class;
  Severity severity = Severity::kNone;
  Reversibility reversibility = Reversibility::kReversible;
  bool reversibility_set = false;
  std::string reason;
  Source targets;  // default: operands
  // ...or the command another one runs, SQL it sends, or an HTTP call.
  Source run;
  std::vector<std::string> run_prefix;  // prepended to the run operands ("rm", "-rf")
  Source sql;
  std::string dialect = "postgres";  // postgres, mysql, sqlite
  HttpSpec http;
  int line = 0;
};

struct Test {
  std::string command;
  std::string cwd;
  std::string expect;    // allow, hold, hold2, deny
  std::string op_class;  // optional: a class one of the actions must have
  int line = 0;
};

// A class the pack's rules emit that no built-in class covers
// (core/op_class.h), with its line of meaning. Optional: a pack without
// [[class]] still loads, and LintPack warns about each undescribed class.
struct ClassDecl {
  std::string name;         // "acme.tenant.delete"
  std::string description;  // one line
  int line = 0;
};

struct Pack {
  std::string name;
  std::string description;
  std::string source;  // the file it came from ("packs/gh.toml" for built-ins)
  std::vector<Tool> tools;
  std::vector<Rule> rules;
  std::vector<Test> tests;
  std::vector<ClassDecl> classes;
};

// Reads one pack file. On error returns false and appends "path:line:
// message" lines to `errors`; `out` is then not to be used.
bool ParsePack(std::string_view text, const std::string& path, Pack* out,
               std::vector<std::string>* errors);

// Warnings about a pack that loads ("path:line: message"): a class its
// rules or tools emit that is neither built in nor declared by a [[class]]
// with a description, a class name that is not dotted lower-case words, a
// [[class]] that repeats a built-in class.
std::vector<std::string> LintPack(const Pack& pack);

// Adds the pack's [[class]] declarations to `registry` (origin: the pack and
// line), destructive and reversible as the pack's rules of that class emit
// them. A declaration the registry refuses (a built-in or already declared
// name) becomes a warning.
void DeclareClasses(const Pack& pack, op_class::Registry* registry,
                    std::vector<std::string>* warnings);

// The binary form compiled into the binary: Serialize at build time,
// Deserialize on first use. Deserialize returns false on a damaged blob.
std::string Serialize(const Pack& pack);
bool Deserialize(std::string_view blob, Pack* out);

}  // namespace dualkey::packs
