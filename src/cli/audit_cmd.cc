// CLI glue for `dualkey audit`: the logic is in src/audit/.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "audit/audit.h"
#include "audit/search.h"
#include "base/json_text.h"
#include "cli/commands.h"
#include "client/client.h"
#include "install/layout.h"

namespace dualkey::cli {
namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "1732550000" (epoch seconds), "1732550000000" (ms), or "15m", "2h", "7d" ago.
bool ParseSince(const std::string& text, std::int64_t* since_ms) {
  if (text.empty()) {
    *since_ms = 0;
    return true;
  }
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return false;
  const std::int64_t value = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  if (unit.empty()) {
    *since_ms = value < 100'000'000'000 ? value * 1000 : value;
    return true;
  }
  std::int64_t seconds = 0;
  if (unit == "s")
    seconds = value;
  else if (unit == "m")
    seconds = value * 60;
  else if (unit == "h")
    seconds = value * 3600;
  else if (unit == "d")
    seconds = value * 86400;
  else
    return false;
  *since_ms = now - seconds * 1000;
  return true;
}

// `dualkey audit search`: the page's History on the terminal (audit/search.h).
int Search(const AuditOptions& options, const std::string& path) {
  audit::SearchQuery query;
  query.agent = options.agent;
  query.op_class = options.op_class;
  query.decision = options.decision;
  query.text = options.text;
  query.limit = options.limit;
  if (!options.cursor.empty() && !audit::ParseCursor(options.cursor, &query)) {
    std::cerr << "dualkey audit search: --cursor takes the cursor a search printed (N or N.M)\n";
    return 2;
  }
  std::string error;
  std::optional<audit::SearchResult> found = audit::Search(path, query, &error);
  if (!found) {
    std::cerr << "dualkey audit search: " << error << "\n";
    return 2;
  }
  audit::VerifyStatus status;
  if (options.no_verify) {
    status.why_not = "skipped with --no-verify; `dualkey audit verify` checks it";
  } else {
    status = audit::StatusOf(audit::Verify(path, options.public_key), NowMs());
  }
  if (options.json) {
    std::cout << base::JsonDump(audit::SearchReply(*found, status)) << "\n";
  } else {
    // The same search again, for the next page.
    std::string more = "dualkey audit search";
    auto add = [&](const char* flag, const std::string& value) {
      if (!value.empty()) more += std::string(" ") + flag + " " + audit::ShellWord(value);
    };
    add("--agent", options.agent);
    add("--class", options.op_class);
    add("--decision", options.decision);
    add("--text", options.text);
    if (options.limit != 50) add("--limit", std::to_string(options.limit));
    if (!options.file.empty()) add("--file", options.file);
    if (!options.public_key.empty()) add("--pubkey", options.public_key);
    if (options.no_verify) more += " --no-verify";
    std::cout << audit::SearchText(*found, status, more);
  }
  if (status.state == audit::VerifyStatus::State::kUnreadable) return 2;
  return status.state == audit::VerifyStatus::State::kBroken ? 1 : 0;
}

}  // namespace

int RunAudit(const AuditOptions& options) {
  if (options.action == "pubkey") {
    // The running daemon knows its key best; its key file is the fallback.
    const std::string state =
        options.state_dir.empty() ? install::DefaultStateDir() : options.state_dir;
    client::ClientOptions client_options;
    client_options.socket_path = options.socket;
    const char* env = std::getenv("DUALKEY_SOCKET");
    if (client_options.socket_path.empty() && !options.state_dir.empty() &&
        (env == nullptr || *env == '\0'))
      client_options.socket_path = state + "/dualkey.sock";
    std::string key;
    Status asked = Status::Ok();
    Result<nlohmann::json> raw = client::Client::ForThisProcess(client_options)
                                     .Call(nlohmann::json{{"op", client::kOpAuditInfo}});
    Result<client::AuditInfoReply> info = raw.ok() ? client::Decode<client::AuditInfoReply>(*raw)
                                                   : Result<client::AuditInfoReply>(raw.status());
    if (info.ok()) {
      key = info->public_key;
    } else if (Result<std::string> from_file = audit::PublicKeyOfKeyFile(state + "/audit.key");
               from_file.ok()) {
      key = *from_file;
    } else {
      std::cerr << "dualkey audit pubkey: neither the daemon (" << info.status().message()
                << ") nor the key file (" << from_file.status().message() << ") could be read\n";
      return 2;
    }
    if (options.json)
      std::cout << nlohmann::json{{"public_key", key}}.dump() << "\n";
    else
      std::cout << key << "\n";
    return 0;
  }
  std::int64_t since_ms = 0;
  if (!ParseSince(options.since, &since_ms)) {
    std::cerr << "dualkey audit: --since takes epoch seconds or a duration like 15m, 2h, 7d\n";
    return 2;
  }
  const std::string path =
      options.file.empty() ? install::DefaultStateDir() + "/audit.jsonl" : options.file;
  if (options.action == "search") return Search(options, path);
  if (options.action == "export") {
    audit::ExportOptions export_options;
    export_options.since_ms = since_ms;
    export_options.follow = options.follow;
    export_options.format = options.format == "syslog" ? audit::ExportOptions::Format::kSyslog
                                                       : audit::ExportOptions::Format::kJson;
    return audit::Export(path, export_options, std::cout, std::cerr);
  }
  return audit::RunAuditCommand(options.action, path, since_ms, options.lines, options.json,
                                options.public_key, std::cout, std::cerr);
}

// `dualkey audit verify|search|tail|export|pubkey`: the subcommand and its options.
std::unique_ptr<Command> NewAuditCommand() {
  class Audit final : public Command {
   public:
    void Add(CLI::App& app) override {
      CLI::App* audit_cmd = app.add_subcommand("audit", "The hash-chained audit log.");
      audit_cmd->require_subcommand(1);
      for (const char* action : {"verify", "search", "tail", "export", "pubkey"}) {
        const std::string name = action;
        CLI::App* sub = audit_cmd->add_subcommand(
            action,
            name == "verify"
                ? "Re-hash the whole log; say which record was edited, removed, reordered or not\n"
                  "written by dualkey. Pin the signer with --pubkey (see `dualkey audit pubkey`).\n"
                  "Exit status: 0 intact, 1 tampered, 2 unreadable."
            : name == "search"
                ? "Search the log newest first, as the approver's page (History) does: by agent,\n"
                  "class (or a family: fs.delete matches fs.delete.recursive), decision and text.\n"
                  "The first line says whether the log verifies (as `audit verify`); an approved\n"
                  "action shows its vault snapshot and the exact command that restores it.\n"
                  "  dualkey audit search --decision approved\n"
                  "  dualkey audit search --agent claude --class fs.delete --decision hold\n"
                  "  dualkey audit search --text /srv/data --json\n"
                  "  dualkey audit search --decision denied --cursor N   (older: the N it "
                  "printed)\n"
                  "Decisions: allow, hold, hold2, deny (the verdict), approved (a completed\n"
                  "approval, and the approved action's run), denied, expired.\n"
                  "Reads at most 16 MiB of the log per call (it says when it stopped early).\n"
                  "Exit status: 0 the log verifies (or --no-verify), 1 it is tampered, 2 "
                  "unreadable\n"
                  "or a bad option."
            : name == "tail"   ? "The last records, for people."
            : name == "export" ? "Records as JSON lines, for SIEMs."
                               : "Print the log's signing public key (hex), to keep somewhere an\n"
                                 "agent cannot write and pass to `audit verify --pubkey`.");
        if (name != "pubkey")
          sub->add_option("--file", audit.file, "the log (default STATE/audit.jsonl)");
        if (name == "verify" || name == "search")
          sub->add_option("--pubkey", audit.public_key,
                          "the signer's public key (hex) to expect; default: the log header's");
        if (name == "search") {
          sub->add_option("--agent", audit.agent, "only this agent's records (claude, codex...)");
          sub->add_option("--class", audit.op_class,
                          "only this action class, or its family (fs.delete, db.drop)");
          sub->add_option("--decision", audit.decision,
                          "only this decision: allow, hold, hold2, deny, approved, denied, expired")
              ->check(CLI::IsMember(
                  {"allow", "hold", "hold2", "deny", "approved", "denied", "expired"}));
          sub->add_option("-q,--text", audit.text,
                          "only records with this text (any case) in their kind or fields");
          sub->add_option("-n,--limit", audit.limit, "records to print, 1-200 (50)");
          sub->add_option("--cursor", audit.cursor,
                          "go on from where the last page stopped (it prints the cursor)");
          sub->add_flag("--no-verify", audit.no_verify,
                        "do not re-hash the whole log first (it says: not checked)");
        }
        if (name == "tail" || name == "export")
          sub->add_option("--since", audit.since, "from a time: epoch seconds, or 15m, 2h, 7d ago");
        if (name == "tail") sub->add_option("-n,--lines", audit.lines, "how many (20)");
        if (name == "export") {
          sub->add_flag("-f,--follow", audit.follow,
                        "keep printing new records as they are written (like tail -F), for a SIEM");
          sub->add_option("--format", audit.format,
                          "json (one object a line) or syslog (RFC 5424, facility log audit)")
              ->check(CLI::IsMember({"json", "syslog"}));
        }
        if (name == "pubkey") {
          AddStateDir(sub, audit.state_dir, "the daemon's state directory");
          sub->add_option("--socket", audit.socket, "the daemon's socket");
        }
        sub->add_flag("--json", audit.json, "print JSON");
        sub->callback([this, action] { audit.action = action; });
      }
    }
    bool Parsed() const override { return !audit.action.empty(); }
    int Run() override { return RunAudit(audit); }

   private:
    AuditOptions audit;
  };
  return std::make_unique<Audit>();
}

}  // namespace dualkey::cli
