// `dualkey audit verify|tail|export` (once): the CLI runner over Verify and
// Read. Following exports are export.cc's.
#include <ctime>
#include <ostream>

#include "audit/audit.h"
#include "audit/internal/format.h"

namespace dualkey::audit {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own internals

std::string FormatTime(std::int64_t time_ms) {
  std::time_t seconds = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof(buffer) - n, ".%03dZ", static_cast<int>(time_ms % 1000));
  return buffer;
}

}  // namespace

int RunAuditCommand(const std::string& action, const std::string& path, std::int64_t since_ms,
                    int tail_lines, bool json, std::ostream& out, std::ostream& err) {
  return RunAuditCommand(action, path, since_ms, tail_lines, json, {}, out, err);
}

int RunAuditCommand(const std::string& action, const std::string& path, std::int64_t since_ms,
                    int tail_lines, bool json, std::string_view public_key, std::ostream& out,
                    std::ostream& err) {
  if (action == "verify") {
    VerifyReport report = Verify(path, public_key);
    if (json) {
      Json result{{"ok", report.ok},
                  {"path", path},
                  {"entries", report.entries},
                  {"records", report.records},
                  {"checkpoints", report.checkpoints},
                  {"last_seq", report.last_seq},
                  {"last_hash", report.last_hash},
                  {"last_checkpoint_seq", report.last_checkpoint_seq},
                  {"public_key", report.public_key},
                  {"key_pinned", report.key_pinned},
                  {"foreign_records", report.foreign_records},
                  {"first_foreign_seq", report.first_foreign_seq},
                  {"first_foreign_line", report.first_foreign_line},
                  {"unreadable", report.unreadable},
                  {"problems", report.problems},
                  {"notes", report.notes}};
      out << DumpCanonical(result) << "\n";
    } else if (report.unreadable) {
      for (const std::string& p : report.problems) err << "dualkey audit verify: " << p << "\n";
    } else {
      out << (report.ok ? "audit log intact: " : "audit log TAMPERED: ") << path << "\n"
          << "  " << report.entries << " entries (" << report.records
          << " records as export reads them), " << report.checkpoints
          << " signed checkpoints; last entry is seq " << report.last_seq << " (hash "
          << report.last_hash << "), last signed checkpoint at seq " << report.last_checkpoint_seq
          << "\n"
          << "  public key " << (report.public_key.empty() ? "(none)" : report.public_key)
          << (report.key_pinned ? " (pinned)" : " (from the log's header)") << "\n";
      if (report.foreign_records > 0)
        out << "  " << report.foreign_records
            << " record(s) not written by dualkey; the first at line " << report.first_foreign_line
            << " (seq " << report.first_foreign_seq << ")\n";
      for (const std::string& p : report.problems) out << "  problem: " << p << "\n";
      for (const std::string& n : report.notes) out << "  note: " << n << "\n";
      if (report.ok) {
        out << "  compare the last entry and key with an external copy to detect a truncated or "
               "rewritten log\n";
      }
    }
    if (report.unreadable) return 2;
    return report.ok ? 0 : 1;
  }
  if (action == "tail" || action == "export") {
    Result<std::vector<Entry>> read = Read(path, action == "export" ? since_ms : 0);
    if (!read.ok()) {
      err << "dualkey audit " << action << ": " << read.status().message() << "\n";
      return 2;
    }
    const std::vector<Entry>& entries = *read;
    std::size_t begin = 0;
    if (action == "tail") {
      std::size_t count = tail_lines > 0 ? static_cast<std::size_t>(tail_lines) : 20;
      begin = entries.size() > count ? entries.size() - count : 0;
    }
    for (std::size_t i = begin; i < entries.size(); ++i) {
      const Entry& entry = entries[i];
      if (action == "export" || json) {
        out << EntryJsonLine(entry) << "\n";
      } else {
        out << "#" << entry.seq << (entry.item > 0 ? "." + std::to_string(entry.item) : "") << "  "
            << FormatTime(entry.time_ms) << "  " << entry.kind << "  " << entry.fields << "\n";
      }
    }
    return 0;
  }
  err << "dualkey audit: unknown action '" << action << "' (verify, tail or export)\n";
  return 2;
}

}  // namespace dualkey::audit
