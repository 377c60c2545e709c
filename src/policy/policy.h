// Turns Actions into a Verdict. A policy is layers of TOML rules: built-in <
// system (/etc/dualkey/policy.toml) < user (~/.config/dualkey/policy.toml) <
// project (.dualkey.toml). The project layer, which an agent can write, only
// ever tightens; backup losses never go below hold; a file that fails to load
// leaves every destructive action held, never allowed.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"

namespace dualkey::packs {
class Catalog;
}

namespace dualkey::policy {

enum class Mode { kEnforce, kObserve };

enum class LayerKind { kBuiltin, kSystem, kUser, kProject };

// One [[rules]] entry. Empty lists match anything.
struct Rule {
  std::string name;
  std::vector<std::string> channels;  // "shell", "sql", ...
  std::vector<std::string> classes;   // globs: "db.drop*", "backup.*"
  std::vector<std::string> targets;   // globs on any target: "/srv/*", "*prod*"
  std::vector<std::string> agents;    // "claude", "cursor", "codex", "gemini"
  std::vector<std::string> envs;      // environment labels: "production"
  Severity min_severity = Severity::kNone;
  int destructive = -1;  // -1 any, 0 only non-destructive, 1 only destructive
  Decision decision = Decision::kHold;
  // decision = "snapshot": held (decision stays kHold), unless a component
  // that can save what the action destroys (the PostgreSQL proxy) does so
  // and finds it under the [snapshot] thresholds; then it runs without a
  // human. Only for action classes such a save can undo (SnapshotCapable).
  bool snapshot = false;
  std::string message;  // shown to the human and the agent
  int line = 0;         // where the rule starts in its file
};

// Classes whose destruction a snapshot can undo: rows deleted, overwritten
// or truncated in one table. Never whole databases, schemas, backups or
// dualkey itself.
bool SnapshotCapable(std::string_view op_class);

// How the daemon and the proxies pace destructive work: [breaker],
// [rate_limit] and [blast_radius] in a policy file. Later layers override
// earlier ones, except that a project layer (or a user layer under
// lock_user) may only tighten.
struct Limits {
  int breaker_attempts = 3;         // held or denied destructive attempts that freeze an agent...
  int breaker_window_seconds = 60;  // ...within this window
  int rate_burst = 20;              // token bucket per agent on destructive requests
  double rate_per_minute = 20;
  double hold_rows_over = 1000;            // proxy: hold a DELETE/UPDATE touching more rows...
  double hold_table_fraction_over = 0.10;  // ...or more of its table than this
  // [snapshot]: the "snapshot" decision runs a statement without a human
  // only when what it destroys is at most this many rows, this many bytes
  // and this share of its table. A migration's lock table (1 row) or a small
  // config table qualifies; a customers table does not.
  double snapshot_max_rows = 100;
  double snapshot_max_bytes = 1 << 20;
  double snapshot_max_table_fraction = 1.0;
};

struct Layer {
  LayerKind kind = LayerKind::kBuiltin;
  std::string path;  // the file; "built-in" for the defaults
  std::vector<Rule> rules;
  bool has_mode = false;
  Mode mode = Mode::kEnforce;
  std::vector<std::string> env;  // labels this layer declares
  bool lock_user = false;        // system layer: the user layer may only tighten
  // "breaker.attempts" -> 3, ...: the [limits] keys this layer sets.
  std::vector<std::pair<std::string, double>> limits;
};

struct Policy {
  std::vector<Layer> layers;     // built-in first
  Mode mode = Mode::kEnforce;    // from the layers, project cannot relax it
  std::vector<std::string> env;  // union of the layers' labels and $DUALKEY_ENV
  bool lock_user = false;
  Limits limits;
  std::vector<std::string> errors;  // "path:line: message" for files that failed
  // The packs in force beside the built-in ones (packs/catalog.h): system,
  // user and project pack files found next to the policy layers. Null: the
  // built-in packs only. A pack file that fails to load is in `errors`.
  std::shared_ptr<const packs::Catalog> packs;
};

// Who is asking: rules can match on it.
struct Subject {
  std::string agent;
};

// One layer file read once, with what reading it found. The daemon keeps
// its system layer this way and reads it again only on reload (SIGHUP), so
// a broken edit can be refused while the previous policy stays in force.
struct LayerFile {
  std::string path;
  bool present = false;             // the file exists (absent: no layer, no error)
  Layer layer;                      // when present and without errors
  std::vector<std::string> errors;  // "path:line: message"
};
LayerFile ReadLayerFile(const std::string& path, LayerKind kind);

// Where the layers come from; empty paths are skipped.
struct Sources {
  std::string system_path = "/etc/dualkey/policy.toml";
  // When set, the system layer as already read (system_path is not read).
  std::shared_ptr<const LayerFile> system_file;
  std::string user_path;    // default: $XDG_CONFIG_HOME or ~/.config, /dualkey/policy.toml
  std::string project_dir;  // searched upward for .dualkey.toml (stops at the repo root or /)
  std::string env_labels;   // comma-separated extra labels ($DUALKEY_ENV)
  // A protected install: the user layer is a file the user (and so an agent
  // running as the user) can write, so like the project layer it may only
  // tighten and cannot set observe mode.
  bool user_tighten_only = false;
  // Why the sources could not be determined (a protected install whose
  // configuration cannot be trusted): a policy error, so every destructive
  // action is held.
  std::string error;
};

// The built-in layer alone.
Policy Builtin();

// The layers from `sources`. Never fails: errors are kept in Policy::errors
// and make every destructive action held. Also loads the pack files in the
// packs/ directories beside the system and user files and in the project's
// .dualkey/packs (a project's packs, and on a protected install the user's,
// can only add holds).
Policy Load(const Sources& sources);

// Actions of this class (dualkey's own state, policy, keys, hooks, processes)
// are never decided below hold2, whatever a layer says.
inline constexpr std::string_view kGuardTamperClass = "guard.tamper";
bool IsGuardTamper(const Action& action);

// Sources for a command running in `cwd` as this process's user. On a
// protected install (install::CurrentLayout()) ProtectedSources for getuid();
// in a sandbox SandboxSources; otherwise SingleUserSources.
Sources DefaultSources(std::string_view cwd, std::string_view home);

// Single-user mode: the user layer from $XDG_CONFIG_HOME, else `home`;
// labels from $DUALKEY_ENV.
Sources SingleUserSources(std::string_view cwd, std::string_view home);

// A sandbox (install::PinSandbox, the demo's): the system layer from
// `config_dir`/policy.toml, no user layer, the project layer above `cwd`;
// nothing from the environment or the home.
Sources SandboxSources(std::string_view config_dir, std::string_view cwd);

// A protected install: the system layer from `config_dir`/policy.toml
// (root-owned), the user layer of the account `uid` (its home from the
// password database, never $HOME or $XDG_CONFIG_HOME) as tighten-only, the
// project layer above `cwd`. Nothing is read from the environment. uid -1:
// no user layer (a caller whose account is not known).
Sources ProtectedSources(std::string_view config_dir, uid_t uid, std::string_view cwd);

// Parses one layer's TOML. Returns false and appends "path:line: message"
// errors when the text is not a valid policy; unknown keys are errors (a typo
// must not silently weaken a rule).
bool ParseLayer(std::string_view text, LayerKind kind, std::string path, Layer* out,
                std::vector<std::string>* errors);

// How one layer judged one action, for `dualkey policy explain`.
struct Step {
  LayerKind layer = LayerKind::kBuiltin;
  std::string path;
  std::string rule;  // the rule's name, or "#N" when unnamed
  int line = 0;
  Decision decision = Decision::kAllow;  // what the rule said
  Decision result = Decision::kAllow;    // the decision after this step
  bool snapshot = false;                 // the rule said "snapshot"
  bool result_snapshot = false;          // ... and that still stands after this step
  std::string note;                      // "tighten-only layer: ignored a loosening"
};

struct ActionDecision {
  Action action;
  Decision decision = Decision::kAllow;
  bool snapshot = false;  // decision is kHold, and a snapshot may stand in for the human
  std::string message;    // the deciding rule's message, else the action's reason
  std::vector<Step> steps;
};

std::vector<ActionDecision> Explain(const Policy& policy, const std::vector<Action>& actions,
                                    const Subject& subject);

// The strictest decision over all actions; no action at all means allow.
// In observe mode the verdict says what would happen and is marked observe_only.
Verdict Decide(const Policy& policy, std::vector<Action> actions, const Subject& subject);

// Built-in defaults only.
Verdict Decide(std::vector<Action> actions);

// For input that could not be understood at all: held, with the reason.
Verdict FailClosed(std::string reason);

// A component that knows more than the text shows (the PostgreSQL proxy,
// which counted the rows a DELETE touches) raises a verdict to `minimum`,
// never lowers it, and says why in `detail`. When that raises an allow, the
// allow's words ("low impact: ...") no longer hold: the reason becomes what
// is at stake, the detail first ("deletes 2,999 rows of public.orders (of
// 8,000); DELETE of orders limited by its WHERE clause").
void Raise(Verdict* verdict, std::optional<Decision> minimum, std::string_view detail);

std::string_view ToString(LayerKind kind);
// "snapshot" for a held decision a snapshot may stand in for, else the
// decision's own name.
std::string_view DecisionName(Decision decision, bool snapshot);

}  // namespace dualkey::policy
