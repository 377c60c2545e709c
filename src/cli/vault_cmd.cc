// CLI glue for `dualkey vault`: the logic is in src/vault/.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "base/time_text.h"
#include "cli/commands.h"
#include "install/layout.h"
#include "vault/vault.h"

namespace dualkey::cli {
namespace {

using nlohmann::json;

// JSON for stdout: paths and errors may carry any byte (JsonDump replaces
// what is not UTF-8 instead of throwing).
std::string Text(const json& value) {
  return base::JsonDump(value);
}

std::string UserName() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') return user;
  if (passwd* pw = getpwuid(getuid()); pw != nullptr) return pw->pw_name;
  return "unknown";
}

std::string Dir(const VaultOptions& o) {
  return o.dir.empty() ? vault::DefaultVaultDir() : o.dir;
}

std::string Time(std::int64_t ms) {
  return base::FormatTime(ms, "%Y-%m-%d %H:%M:%S", base::TimeZone::kLocal);
}

std::string Size(std::uint64_t bytes) {
  char text[32];
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = bytes / 1024.0;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

json InfoJson(const vault::SnapshotInfo& s) {
  return json{
      {"id", s.id},          {"created_ms", s.created_ms}, {"retain_until_ms", s.retain_until_ms},
      {"who", s.meta.who},   {"action", s.meta.action},    {"approval_id", s.meta.approval_id},
      {"kind", s.meta.kind}, {"tags", s.meta.tags},        {"roots", s.roots},
      {"files", s.files},    {"bytes", s.bytes},           {"added_bytes", s.added_bytes}};
}

// A progress bar on stderr, only for a person watching a terminal.
class Bar {
 public:
  Bar(const char* verb, bool enabled) : verb_(verb), enabled_(enabled && isatty(STDERR_FILENO)) {
    start_ = std::chrono::steady_clock::now();
    progress_.report = [this](const vault::ProgressState& s) { Draw(s); };
  }
  ~Bar() { Clear(); }
  // Erases the bar, before printing the result.
  void Clear() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }
  const vault::Progress* get() const { return enabled_ ? &progress_ : nullptr; }

 private:
  void Draw(const vault::ProgressState& s) {
    auto now = std::chrono::steady_clock::now();
    // At most ten times a second: restore reports every chunk.
    if (now - last_ < std::chrono::milliseconds(100) && s.bytes_done < s.bytes_total) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    double rate = seconds > 0 ? s.bytes_done / seconds / 1e6 : 0;
    int width = 30;
    int filled = s.bytes_total
                     ? static_cast<int>(width * std::min(1.0, double(s.bytes_done) / s.bytes_total))
                     : 0;
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    char line[200];
    std::snprintf(line, sizeof(line), "\r%s [%s] %s / %s  %.0f MB/s", verb_, bar.c_str(),
                  Size(s.bytes_done).c_str(), Size(s.bytes_total).c_str(), rate);
    std::cerr << line << "\033[K" << std::flush;
    drawn_ = true;
  }

  const char* verb_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_{};
  vault::Progress progress_;
};

// Runs argv (no shell) and waits; returns its exit status, or -1.
int RunProgram(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (stdin_fd >= 0) dup2(stdin_fd, STDIN_FILENO);
    if (stdout_fd >= 0) dup2(stdout_fd, STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::perror(args[0]);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int Fail(const VaultOptions& o, const std::string& what, const std::string& error, int code = 1) {
  if (o.json) std::cout << Text(json{{"ok", false}, {"error", error}}) << "\n";
  std::cerr << "dualkey vault " << what << ": " << error << "\n";
  return code;
}

// A vault that cannot be opened: 2 when there is none at all (as for a
// usage error, see docs/vault.md), 1 when one is there but cannot be read.
int OpenFailed(const VaultOptions& o, const std::string& what, const Status& status) {
  return Fail(o, what, status.message(), status.Is(Status::Code::kNotFound) ? 2 : 1);
}

int Init(const VaultOptions& o) {
  const std::string dir = Dir(o);
  vault::InitOptions init;
  init.retention_days = o.retention_days;
  init.average_chunk = o.average_chunk;
  init.compression_level = o.compression_level;
  if (Status made = vault::Vault::Init(dir, init); !made.ok())
    return Fail(o, "init", made.message());
  Result<vault::Vault> v = vault::Vault::Open(dir);
  if (!v.ok()) return Fail(o, "init", v.status().message());
  if (o.json)
    std::cout << Text(json{{"ok", true}, {"vault", dir}, {"retention_days", v->retention_days()}})
              << "\n";
  else
    std::cout << "vault " << dir << ": snapshots kept at least " << v->retention_days()
              << " days\n";
  return 0;
}

void PrintSaved(const VaultOptions& o, const vault::SnapshotInfo& s, double seconds) {
  if (o.json) {
    json j = InfoJson(s);
    j["ok"] = true;
    j["seconds"] = seconds;
    std::cout << Text(j) << "\n";
    return;
  }
  std::cout << "saved snapshot " << s.id << ": " << s.files << " files, " << Size(s.bytes)
            << ", added " << Size(s.added_bytes) << " (" << std::fixed;
  std::cout.precision(2);
  std::cout << seconds << " s); kept until " << Time(s.retain_until_ms) << "\n";
}

int Put(const VaultOptions& o) {
  Result<vault::Vault> v = vault::Vault::Open(Dir(o));
  if (!v.ok()) return OpenFailed(o, "put", v.status());
  vault::SnapshotMeta meta;
  meta.who = o.who.empty() ? UserName() : o.who;
  meta.action = o.reason;
  meta.approval_id = o.approval_id;
  meta.tags = o.tags;
  auto start = std::chrono::steady_clock::now();
  Result<vault::SnapshotInfo> info = Status::Internal("nothing was saved");
  if (!o.pg.empty()) {
    if (!o.paths.empty() || !o.stdin_name.empty())
      return Fail(o, "put", "--pg saves a database; give no paths or --stdin with it", 2);
    // pg_dump's custom format: pg_restore can restore it selectively.
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Fail(o, "put", "cannot create a pipe");
    pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      execlp("pg_dump", "pg_dump", "--format=custom", "--dbname", o.pg.c_str(), nullptr);
      std::perror("pg_dump");
      _exit(127);
    }
    close(fds[1]);
    meta.kind = "pg_dump";
    std::string name = o.stdin_name.empty() ? "pg_dump" : o.stdin_name;
    info = v->PutStreams({vault::StreamFromFd(name + ".dump", fds[0])}, meta);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return Fail(o, "put",
                  "pg_dump failed" + std::string(info.ok() ? " (its partial output was saved as "
                                                             "snapshot " +
                                                                 info->id + "; do not rely on it)"
                                                           : ""));
  } else if (!o.stdin_name.empty()) {
    meta.kind = o.kind.empty() ? "sql_rows" : o.kind;
    info = v->PutStreams({vault::StreamFromFd(o.stdin_name, STDIN_FILENO)}, meta);
  } else {
    if (o.paths.empty())
      return Fail(o, "put", "give the paths to save (or --stdin NAME, --pg URI)", 2);
    meta.kind = "files";
    Bar bar("saving", !o.json && !o.quiet);
    info = v->PutPaths(o.paths, meta, bar.get());
    bar.Clear();
  }
  if (!info.ok())
    return Fail(o, "put", info.status().message() + "\nnothing was saved; the vault is unchanged");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintSaved(o, *info, seconds);
  return 0;
}

int Ls(const VaultOptions& o) {
  Result<vault::Vault> v = vault::Vault::Open(Dir(o));
  if (!v.ok()) return OpenFailed(o, "ls", v.status());
  Result<std::vector<vault::SnapshotInfo>> listed = v->List();
  if (!listed.ok()) return Fail(o, "ls", listed.status().message());
  const std::vector<vault::SnapshotInfo>& list = *listed;
  if (o.json) {
    json out = json::array();
    for (const auto& s : list) out.push_back(InfoJson(s));
    std::cout << Text(out) << "\n";
    return 0;
  }
  if (list.empty()) std::cout << "no snapshots yet\n";
  for (const auto& s : list) {
    std::cout << s.id << "  " << Time(s.created_ms) << "  " << s.meta.kind << "  " << s.files
              << " files  " << Size(s.bytes) << "  by " << s.meta.who;
    if (!s.meta.approval_id.empty()) std::cout << " (" << s.meta.approval_id << ")";
    if (!s.meta.tags.empty()) {
      std::cout << "  tags";
      for (const auto& t : s.meta.tags) std::cout << " " << t;
    }
    std::cout << "\n    ";
    for (const auto& r : s.roots) std::cout << r << " ";
    if (!s.meta.action.empty()) std::cout << "  — " << s.meta.action;
    std::cout << "\n";
  }
  return 0;
}

int Show(const VaultOptions& o) {
  Result<vault::Vault> v = vault::Vault::Open(Dir(o));
  if (!v.ok()) return OpenFailed(o, "show", v.status());
  std::vector<vault::EntryInfo> entries;
  Result<vault::SnapshotInfo> s = v->Show(o.snapshot, &entries);
  if (!s.ok()) return Fail(o, "show", s.status().message());
  if (o.json) {
    json j = InfoJson(*s);
    json list = json::array();
    for (const auto& e : entries) {
      json item{{"path", e.path},
                {"type", e.type},
                {"mode", e.mode},
                {"size", e.size},
                {"mtime_ns", e.mtime_ns}};
      if (e.type == "symlink") item["target"] = e.target;
      list.push_back(std::move(item));
    }
    j["entries"] = std::move(list);
    std::cout << Text(j) << "\n";
    return 0;
  }
  std::cout << "snapshot " << s->id << "\n"
            << "  created   " << Time(s->created_ms) << " by " << s->meta.who << "\n"
            << "  kept until " << Time(s->retain_until_ms) << "\n"
            << "  kind      " << s->meta.kind << "\n";
  if (!s->meta.action.empty()) std::cout << "  action    " << s->meta.action << "\n";
  if (!s->meta.approval_id.empty()) std::cout << "  approval  " << s->meta.approval_id << "\n";
  std::cout << "  files     " << s->files << ", " << Size(s->bytes) << " (added "
            << Size(s->added_bytes) << ")\n";
  for (const auto& e : entries) {
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", e.mode);
    std::cout << "  "
              << (e.type == "dir"       ? 'd'
                  : e.type == "symlink" ? 'l'
                                        : '-')
              << " " << mode << " " << std::setw(12) << e.size << "  " << e.path;
    if (e.type == "symlink") std::cout << " -> " << e.target;
    std::cout << "\n";
  }
  return 0;
}

int RestoreDb(const VaultOptions& o, vault::Vault& v) {
  std::vector<vault::EntryInfo> entries;
  Result<vault::SnapshotInfo> s = v.Show(o.snapshot, &entries);
  if (!s.ok()) return Fail(o, "restore", s.status().message());
  char temp_dir[] = "/tmp/dualkey-restore-XXXXXX";
  if (!mkdtemp(temp_dir)) return Fail(o, "restore", "cannot create a temp directory");
  int status = 0;
  for (const auto& e : entries) {
    if (e.type != "stream") continue;
    const std::string file = std::string(temp_dir) + "/stream";
    int fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const Status written = fd >= 0 ? v.RestoreStream(s->id, e.path, fd) : Status::IOError("");
    bool ok = written.ok();
    char magic[5] = {};
    if (ok) ok = pread(fd, magic, 5, 0) >= 0;
    if (fd >= 0) close(fd);
    if (!ok) {
      status = Fail(o, "restore", e.path + ": " + written.message());
      break;
    }
    // pg_dump's custom format starts with PGDMP; anything else is SQL text.
    std::vector<std::string> argv =
        std::string(magic, 5) == "PGDMP"
            ? std::vector<std::string>{"pg_restore", "--no-owner", "--exit-on-error",
                                       "--dbname",   o.db,         file}
            : std::vector<std::string>{"psql",    "--no-psqlrc", "-v", "ON_ERROR_STOP=1",
                                       "--quiet", "--dbname",    o.db, "--file",
                                       file};
    int rc = RunProgram(argv, -1, o.json ? STDERR_FILENO : -1);
    unlink(file.c_str());
    if (rc != 0) {
      status = Fail(o, "restore", argv[0] + " failed restoring " + e.path + " into the database");
      break;
    }
    if (!o.json)
      std::cout << "restored " << e.path << " into " << o.db << " with " << argv[0] << "\n";
  }
  rmdir(temp_dir);
  if (status == 0 && o.json)
    std::cout << Text(json{{"ok", true}, {"snapshot", s->id}, {"database", o.db}}) << "\n";
  return status;
}

int Restore(const VaultOptions& o) {
  Result<vault::Vault> v = vault::Vault::Open(Dir(o));
  if (!v.ok()) return OpenFailed(o, "restore", v.status());
  if (!o.db.empty()) return RestoreDb(o, *v);
  vault::RestoreOptions options;
  options.to_dir = o.to;
  options.overwrite = o.overwrite;
  options.only = o.only;
  Bar bar("restoring", !o.json && !o.quiet);
  options.progress = bar.get();
  auto start = std::chrono::steady_clock::now();
  Result<vault::RestoreReport> report = v->Restore(o.snapshot, options);
  bar.Clear();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!report.ok()) return Fail(o, "restore", report.status().message());
  if (o.json) {
    std::cout << Text(json{{"ok", report->problems.empty()},
                           {"files", report->files},
                           {"bytes", report->bytes},
                           {"seconds", seconds},
                           {"problems", report->problems}})
              << "\n";
  } else {
    std::cout << std::fixed;
    std::cout.precision(2);
    std::cout << "restored " << report->files << " files, " << Size(report->bytes) << " in "
              << seconds << " s" << (o.to.empty() ? " to their original place" : " under " + o.to)
              << "\n";
    for (const auto& p : report->problems) std::cerr << "  problem: " << p << "\n";
  }
  return report->problems.empty() ? 0 : 1;
}

int Verify(const VaultOptions& o) {
  Result<vault::Vault> v = vault::Vault::Open(Dir(o));
  if (!v.ok()) return OpenFailed(o, "verify", v.status());
  Bar bar("verifying", !o.json && !o.quiet);
  vault::VerifyReport r = v->Verify(bar.get());
  bar.Clear();
  json unrestorable = json::array();
  for (const auto& [id, why] : r.unrestorable)
    unrestorable.push_back(json{{"snapshot", id}, {"why", why}});
  if (o.json) {
    std::cout << Text(json{{"ok", r.ok},
                           {"snapshots", r.snapshots},
                           {"packs", r.packs},
                           {"chunks", r.chunks},
                           {"bytes", r.bytes},
                           {"problems", r.problems},
                           {"notes", r.notes},
                           {"unrestorable", unrestorable}})
              << "\n";
  } else {
    std::cout << (r.ok ? "vault intact: " : "vault DAMAGED: ") << r.snapshots << " snapshots, "
              << r.packs << " packs, " << r.chunks << " chunks, " << Size(r.bytes)
              << " re-hashed\n";
    for (const auto& p : r.problems) std::cout << "  problem: " << p << "\n";
    if (!r.unrestorable.empty())
      std::cout << "  " << r.unrestorable.size()
                << " snapshot(s) cannot be fully restored (each named above)\n";
    for (const auto& n : r.notes) std::cout << "  note: " << n << "\n";
  }
  return r.ok ? 0 : 1;
}

int Prune(const VaultOptions& o) {
  Result<vault::Vault> v = vault::Vault::Open(Dir(o));
  if (!v.ok()) return OpenFailed(o, "prune", v.status());
  vault::PruneOptions options;
  options.approver = o.approver.empty() ? UserName() : o.approver;
  options.totp = o.totp;
  if (options.totp.empty()) {
    if (!isatty(STDIN_FILENO))
      return Fail(o, "prune", "give the approver's current TOTP code with --totp", 2);
    std::cerr << "TOTP code for " << options.approver << ": " << std::flush;
    std::getline(std::cin, options.totp);
  }
  const std::string state = o.state_dir.empty() ? install::DefaultStateDir() : o.state_dir;
  options.store = o.store.empty() ? state + "/state.sqlite3" : o.store;
  options.dry_run = o.dry_run;
  Result<vault::PruneReport> r = v->Prune(options);
  if (!r.ok()) return Fail(o, "prune", r.status().message());
  if (o.json) {
    std::cout << Text(json{{"ok", true},
                           {"dry_run", o.dry_run},
                           {"snapshots_removed", r->snapshots_removed},
                           {"packs_removed", r->packs_removed},
                           {"bytes_freed", r->bytes_freed},
                           {"kept_unexpired", r->kept_unexpired}})
              << "\n";
  } else {
    std::cout << (o.dry_run ? "would remove " : "removed ") << r->snapshots_removed.size()
              << " expired snapshot(s), " << r->packs_removed << " pack(s), "
              << Size(r->bytes_freed) << "; " << r->kept_unexpired.size()
              << " snapshot(s) still under retention\n";
  }
  return 0;
}

int Gc(const VaultOptions& o) {
  Result<vault::Vault> v = vault::Vault::Open(Dir(o));
  if (!v.ok()) return Fail(o, "gc", v.status().message(), 2);
  vault::GcOptions options;
  options.dry_run = o.dry_run;
  Result<vault::GcReport> r = v->Gc(options);
  if (!r.ok()) return Fail(o, "gc", r.status().message());
  if (o.json) {
    std::cout << Text(json{{"ok", true},
                           {"dry_run", o.dry_run},
                           {"packs_removed", r->packs_removed},
                           {"bytes_freed", r->bytes_freed},
                           {"packs_reindexed", r->packs_reindexed},
                           {"index_replaced", r->index_replaced}})
              << "\n";
  } else if (r->packs_removed.empty() && r->packs_reindexed.empty() && r->index_replaced.empty()) {
    std::cout << "nothing to collect: every pack is needed and indexed\n";
  } else {
    std::cout << (o.dry_run ? "would remove " : "removed ") << r->packs_removed.size()
              << " pack(s) no snapshot needs (" << Size(r->bytes_freed) << "), "
              << (o.dry_run ? "would re-index " : "re-indexed ") << r->packs_reindexed.size()
              << " pack(s) snapshots need; recorded in " << Dir(o) << "/audit.jsonl\n";
  }
  return 0;
}

}  // namespace

int RunVault(const VaultOptions& o) {
  if (o.action == "init") return Init(o);
  if (o.action == "put") return Put(o);
  if (o.action == "gc") return Gc(o);
  if (o.action == "ls") return Ls(o);
  if (o.action == "show") return Show(o);
  if (o.action == "restore") return Restore(o);
  if (o.action == "verify") return Verify(o);
  if (o.action == "prune") return Prune(o);
  std::cerr << "dualkey vault: unknown command\n";
  return 2;
}

// `dualkey vault init|put|ls|show|restore|verify|prune|gc`: the subcommand and its options.
std::unique_ptr<Command> NewVaultCommand() {
  class Vault final : public Command {
   public:
    void Add(CLI::App& app) override {
      CLI::App* vault_cmd = app.add_subcommand(
          "vault",
          "The vault: append-only, retention-locked copies of what approved destructive actions\n"
          "destroy. Deduplicated, compressed, signed snapshots; no delete before retention.\n"
          "  dualkey vault init --retention-days 30\n"
          "  dualkey vault put /srv/data/uploads --tag before-cleanup\n"
          "  dualkey vault ls                  dualkey vault show latest\n"
          "  dualkey vault restore latest --to /tmp/back     (default: where they were)\n"
          "  dualkey vault verify              re-hash everything, report damage\n"
          "Vault directory: --vault DIR, else $DUALKEY_VAULT, else STATE/vault.");
      vault_cmd->require_subcommand(1);
      auto vault_common = [&](CLI::App* cmd) {
        cmd->add_option("--vault", vault.dir,
                        "vault directory (default $DUALKEY_VAULT or STATE/vault)");
        cmd->add_flag("--json", vault.json, "print JSON");
      };
      CLI::App* vault_init = vault_cmd->add_subcommand(
          "init", "Create a vault, or extend an existing vault's retention (never shorten it).");
      vault_common(vault_init);
      vault_init->add_option("--retention-days", vault.retention_days,
                             "days every snapshot is kept before a prune may remove it (30)");
      vault_init->add_option("--chunk-size", vault.average_chunk,
                             "average content-defined chunk size in bytes (1048576)");
      vault_init->add_option("--compression", vault.compression_level, "zstd level 1-19 (1)");
      vault_init->callback([&] { vault.action = "init"; });
      CLI::App* vault_put = vault_cmd->add_subcommand(
          "put",
          "Save files and trees (absolute paths kept), stdin (--stdin NAME) or a\n"
          "PostgreSQL database (--pg URI, with pg_dump). Durable before it says saved.");
      vault_common(vault_put);
      vault_put->add_option("paths", vault.paths, "files and directories to save");
      vault_put->add_option("--tag", vault.tags, "label the snapshot (repeatable)")
          ->allow_extra_args(false);
      vault_put->add_option("--as", vault.who, "who saves (default: $USER)");
      vault_put->add_option("--who", vault.who, "the same as --as")->group("");
      vault_put->add_option("--reason", vault.reason, "the action this protects against");
      vault_put->add_option("--approval", vault.approval_id, "the approval id that allowed it");
      vault_put->add_option("--stdin", vault.stdin_name,
                            "save standard input as one stream named NAME");
      vault_put->add_option("--kind", vault.kind, "with --stdin: sql_rows (default) or pg_dump");
      vault_put->add_option("--pg", vault.pg, "dump this database with pg_dump and save the dump");
      vault_put->add_flag("--quiet", vault.quiet, "no progress bar");
      vault_put->callback([&] { vault.action = "put"; });
      CLI::App* vault_ls = vault_cmd->add_subcommand("ls", "List snapshots, oldest first.");
      vault_common(vault_ls);
      vault_ls->callback([&] { vault.action = "ls"; });
      CLI::App* vault_show =
          vault_cmd->add_subcommand("show", "A snapshot's metadata and entries.");
      vault_common(vault_show);
      vault_show->add_option("snapshot", vault.snapshot, "snapshot id, unique prefix, or latest")
          ->required();
      vault_show->callback([&] { vault.action = "show"; });
      CLI::App* vault_restore = vault_cmd->add_subcommand(
          "restore",
          "Restore a snapshot where it was (or under --to DIR); a database snapshot\n"
          "into the database --db names (pg_restore or psql). Every chunk is re-hashed.");
      vault_common(vault_restore);
      vault_restore->add_option("snapshot", vault.snapshot, "snapshot id, unique prefix, or latest")
          ->required();
      vault_restore->add_option("--to", vault.to, "restore under this directory instead");
      vault_restore->add_flag("--overwrite", vault.overwrite, "replace files that exist");
      vault_restore->add_option("--only", vault.only, "restore only this path and what is under it")
          ->allow_extra_args(false);
      vault_restore->add_option("--db", vault.db, "database (name or URI) for a database snapshot");
      vault_restore->add_flag("--quiet", vault.quiet, "no progress bar");
      vault_restore->callback([&] { vault.action = "restore"; });
      CLI::App* vault_verify = vault_cmd->add_subcommand(
          "verify",
          "Re-read and re-hash every chunk, check every snapshot's signature.\n"
          "Exit status: 0 intact, 1 damage found, 2 no vault.");
      vault_common(vault_verify);
      vault_verify->add_flag("--quiet", vault.quiet, "no progress bar");
      vault_verify->callback([&] { vault.action = "verify"; });
      CLI::App* vault_prune = vault_cmd->add_subcommand(
          "prune",
          "Remove snapshots past their retention, with an approver's TOTP code. Audited\n"
          "in VAULT/audit.jsonl. Nothing under retention can be removed, by anyone.");
      vault_common(vault_prune);
      vault_prune->add_option("--as,--approver", vault.approver, "approver name (default: $USER)");
      vault_prune->add_option("--code,--totp", vault.totp,
                              "their current TOTP code (default: asked on the terminal)");
      AddStateDir(vault_prune, vault.state_dir, "the daemon's state directory (approvers)");
      vault_prune->add_option("--store", vault.store, "the approval store, if not the default");
      vault_prune->add_flag("--dry-run", vault.dry_run, "show what would be removed");
      vault_prune->callback([&] { vault.action = "prune"; });
      CLI::App* vault_gc = vault_cmd->add_subcommand(
          "gc",
          "Collect what no snapshot needs (packs left by an interrupted or failed put), and\n"
          "re-index packs snapshots need that no readable index names (a damaged index).\n"
          "Removes nothing while a snapshot cannot be read. Audited in VAULT/audit.jsonl.");
      vault_common(vault_gc);
      vault_gc->add_flag("--dry-run", vault.dry_run, "show what would change, change nothing");
      vault_gc->callback([&] { vault.action = "gc"; });
    }
    bool Parsed() const override { return !vault.action.empty(); }
    int Run() override { return RunVault(vault); }

   private:
    VaultOptions vault;
  };
  return std::make_unique<Vault>();
}

}  // namespace dualkey::cli
