// audit export, once or following the file: new complete lines are read
// from where the last read stopped; a file that shrank or was replaced is
// read again from its start. Header and checkpoint lines are not entries.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "audit/audit.h"
#include "audit/internal/format.h"

namespace dualkey::audit {
namespace {

// Severity by what happened: refusals and trouble are warnings, holds and
// human decisions notices, the rest informational.
int Severity(const Entry& entry) {
  const std::string& k = entry.kind;
  if (k == "audit_gap" || k == "breaker" || k.starts_with("auth_") || k.starts_with("audit.") ||
      k.ends_with("_not_applied") || k == "bad_request" ||
      (k == "policy_reload" && entry.fields.find("\"applied\":false") != std::string::npos))
    return 4;
  if (k == "hold" || k == "approval" || k == "denial" || k == "consumed" || k == "breaker_reset" ||
      entry.fields.find("\"decision\":\"hold") != std::string::npos ||
      entry.fields.find("\"decision\":\"deny\"") != std::string::npos)
    return 5;
  return 6;
}

// PARAM-VALUE escaping of RFC 5424: '"', '\' and ']'.
std::string SdValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

// PRINTUSASCII without spaces, as HOSTNAME and MSGID must be.
std::string Token(const std::string& text, std::size_t max) {
  std::string out;
  for (char c : text)
    if (c > 32 && c < 127 && out.size() < max) out += c;
  return out.empty() ? "-" : out;
}

}  // namespace

std::string SyslogLine(const Entry& entry, const std::string& hostname) {
  constexpr int kLogAudit = 13;  // RFC 5424 facility 13: log audit
  const std::time_t seconds = static_cast<std::time_t>(entry.time_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[40];
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(entry.time_ms % 1000));
  std::string line = "<" + std::to_string(kLogAudit * 8 + Severity(entry)) + ">1 " + stamp + " " +
                     Token(hostname, 255) + " dualkey - " + Token(entry.kind, 32) +
                     " [dualkey@32473 seq=\"" + std::to_string(entry.seq) +
                     (entry.item > 0 ? "\" item=\"" + std::to_string(entry.item) : "") +
                     "\" hash=\"" + SdValue(entry.hash) + "\"] " + entry.fields;
  return line;
}

int Export(const std::string& path, const ExportOptions& options, std::ostream& out,
           std::ostream& err) {
  std::string hostname = options.hostname;
  if (hostname.empty()) {
    char buffer[256] = {};
    if (gethostname(buffer, sizeof buffer - 1) == 0) hostname = buffer;
  }
  auto stopped = [&] { return options.stop != nullptr && options.stop->load(); };
  std::ifstream in;
  ino_t inode = 0;
  std::uint64_t offset = 0;
  std::string partial;
  std::vector<Entry> readable;
  bool announced_wait = false;
  while (!stopped()) {
    struct stat st {};
    const bool exists = stat(path.c_str(), &st) == 0;
    if (exists &&
        (!in.is_open() || st.st_ino != inode || static_cast<std::uint64_t>(st.st_size) < offset)) {
      // First open, or the file was replaced or cut: from its start.
      if (in.is_open() && options.follow)
        err << "dualkey audit export: " << path << " was replaced; reading it from the start\n";
      in.close();
      in.clear();
      in.open(path, std::ios::binary);
      inode = st.st_ino;
      offset = 0;
      partial.clear();
    }
    if (!in.is_open()) {
      if (!options.follow) {
        err << "dualkey audit export: cannot open " << path << "\n";
        return 2;
      }
      if (!announced_wait) err << "dualkey audit export: waiting for " << path << " to appear\n";
      announced_wait = true;
    } else {
      in.clear();
      in.seekg(static_cast<std::streamoff>(offset));
      std::string chunk;
      char buffer[65536];
      while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
        chunk.append(buffer, static_cast<std::size_t>(in.gcount()));
      offset += chunk.size();
      partial += chunk;
      std::size_t start = 0;
      for (std::size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
        // Read as Read reads the file (headers, checkpoints and garbage skipped).
        internal::ParsedLine parsed =
            internal::ParseLine(std::string_view(partial).substr(start, nl - start));
        if (parsed.kind != internal::LineKind::kEntry || parsed.entry.time_ms < options.since_ms)
          continue;
        readable.clear();
        internal::AppendReadable(std::move(parsed.entry), &readable);
        for (const Entry& e : readable)
          out << (options.format == ExportOptions::Format::kSyslog ? SyslogLine(e, hostname)
                                                                   : internal::EntryJsonLine(e))
              << "\n";
      }
      partial.erase(0, start);  // a torn last line waits for the rest
      out.flush();
      if (!out) return 0;  // the reader went away
    }
    if (!options.follow) return 0;
    for (int waited = 0; waited < options.poll_ms && !stopped(); waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

}  // namespace dualkey::audit
