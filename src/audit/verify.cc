// Reading the audit log back: Verify re-reads the whole file and checks the
// chain, the seq order, the signatures and the seals (docs/audit.md lists
// what it reports); Read returns the entries for tail and export.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "audit/audit.h"
#include "audit/internal/format.h"

namespace dualkey::audit {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own internals

constexpr std::size_t kMaxProblems = 100;

}  // namespace

VerifyReport Verify(const std::string& path, std::string_view public_key) {
  VerifyReport report;
  if (sodium_init() < 0) {
    report.unreadable = true;
    report.problems.push_back("libsodium failed to initialise");
    return report;
  }
  std::uint64_t line_no = 0;
  std::uint64_t line_seq = 0;  // the seq the line being read names (0: none)
  auto problem = [&](std::string text) {
    if (report.problems.empty()) {
      report.first_problem_line = line_no;
      report.first_problem_seq = line_seq;
    }
    if (report.problems.size() < kMaxProblems) {
      report.problems.push_back(std::move(text));
    } else if (report.problems.size() == kMaxProblems) {
      report.problems.push_back("... further problems not listed");
    }
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    report.unreadable = true;
    report.problems.push_back("cannot open " + path + ": " + std::strerror(errno));
    return report;
  }

  std::optional<PublicKeyBytes> key;
  auto use_key = [&](std::string_view hex) {
    PublicKeyBytes pk{};
    if (Unhex(hex, &pk)) {
      key = pk;
      report.public_key = std::string(hex);
    }
  };
  if (!public_key.empty()) {
    report.key_pinned = true;
    use_key(public_key);
    if (!key) problem("the public key given to verify is not 64 hex digits");
  }
  // After a signed "close" checkpoint nothing may follow until our "open".
  bool closed = false;
  std::uint64_t closed_at = 0, foreign_after_close = 0;
  auto foreign = [&](std::uint64_t count, std::uint64_t seq, std::uint64_t line) {
    if (report.foreign_records == 0) {
      report.first_foreign_seq = seq;
      report.first_foreign_line = line;
    }
    report.foreign_records += count;
  };

  Sha256 sha;
  std::string line;
  std::uint64_t last_seq = 0;
  std::string last_hash(kZeroHash);
  bool seen_header = false;
  while (std::getline(in, line)) {
    ++line_no;
    std::string where = "line " + std::to_string(line_no) + ": ";
    if (in.eof()) {
      // No '\n': an unfinished write from a crash, never acknowledged. Open
      // cuts it off.
      report.notes.push_back(where +
                             "torn final line (an unfinished write, never acknowledged); ignored");
      break;
    }
    if (line_no == 1) {
      seen_header = true;
      std::string why;
      std::optional<Header> header = ParseHeader(line, &why);
      if (!header) {
        problem(where + "bad header (" + why + ")");
      } else if (!public_key.empty()) {
        if (key && header->public_key != report.public_key) {
          problem(where + "header public key " + header->public_key +
                  " differs from the expected key " + report.public_key + " (header replaced)");
        }
      } else {
        use_key(header->public_key);
      }
      continue;
    }
    ParsedLine parsed = ParseLine(line);
    line_seq = parsed.kind == LineKind::kEntry        ? parsed.entry.seq
               : parsed.kind == LineKind::kCheckpoint ? parsed.checkpoint.seq
                                                      : 0;
    switch (parsed.kind) {
      case LineKind::kGarbage:
        problem(where + parsed.why + " (garbage or a damaged record)");
        break;
      case LineKind::kHeader:
        problem(where + "a second header (files spliced together?)");
        break;
      case LineKind::kCheckpoint: {
        const ParsedCheckpoint& cp = parsed.checkpoint;
        std::string what = where + "checkpoint at seq " + std::to_string(cp.seq) + ": ";
        bool signed_ok = key && CheckSignature(cp.seq, cp.hash, cp.event, cp.sig, *key);
        if (signed_ok && cp.event == "close") {
          closed = true;
          closed_at = cp.seq;
        } else if (signed_ok && cp.event == "open") {
          if (closed && foreign_after_close > 0)
            problem("line " + std::to_string(line_no) + ": the log was opened again at seq " +
                    std::to_string(cp.seq) + " after " + std::to_string(foreign_after_close) +
                    " record(s) that were not dualkey's");
          closed = false;
          foreign_after_close = 0;
        }
        if (!key) {
          problem(what + "cannot check the signature (no valid public key)");
        } else if (!signed_ok) {
          problem(what + "bad signature (checkpoint forged or edited, or the header key replaced)");
        }
        if (cp.seq > last_seq) {
          problem(what + "but the entries before it end at seq " + std::to_string(last_seq) +
                  " (records removed or reordered)");
        } else if (cp.seq < last_seq) {
          problem(what + "out of place after seq " + std::to_string(last_seq) +
                  " (records reordered)");
        } else if (cp.hash != last_hash) {
          problem(what + "does not match the hash of entry " + std::to_string(last_seq) +
                  " (records edited or replaced)");
        } else if (signed_ok) {
          ++report.checkpoints;
          report.last_checkpoint_seq = cp.seq;
        }
        break;
      }
      case LineKind::kEntry: {
        const ParsedEntry& entry = parsed.entry;
        ++report.entries;
        const Json* items = BatchItems(entry.kind, entry.fields);
        report.records += items != nullptr ? items->size() : 1;
        std::string what = where + "seq " + std::to_string(entry.seq) + ": ";
        // The daemon's own notes about what it found are written before it
        // signs "open"; they are not foreign.
        const bool own_note =
            entry.kind == "audit.foreign_records" || entry.kind == "audit.discontinuity";
        if (closed && !own_note) {
          if (foreign_after_close++ == 0)
            problem(what + "written after the log was closed and sealed at seq " +
                    std::to_string(closed_at) +
                    " (not dualkey's: records appended while the daemon was stopped)");
          foreign(1, entry.seq, line_no);
        }
        if (entry.kind == "audit.foreign_records") {
          const Json& f = entry.fields;
          const std::uint64_t records = f.value("records", std::uint64_t{0});
          const std::uint64_t first_seq = f.value("first_seq", std::uint64_t{0});
          const std::uint64_t first_line = f.value("first_line", std::uint64_t{0});
          problem(what + "when dualkey opened the log it found " + std::to_string(records) +
                  " record(s) it did not write after its seq " +
                  std::to_string(f.value("own_last_seq", std::uint64_t{0})) +
                  ", the first at line " + std::to_string(first_line) + " (seq " +
                  std::to_string(first_seq) + "): appended or edited while it was stopped");
          if (report.foreign_records == 0) foreign(records, first_seq, first_line);
        } else if (entry.kind == "audit.discontinuity") {
          problem(
              what + "when dualkey opened the log: " +
              entry.fields.value("why", std::string("the log was deleted, replaced or shortened")));
        }
        if (RecomputeHash(entry, &sha) != entry.hash) {
          problem(what + "hash mismatch (record edited)");
        }
        if (entry.seq != last_seq + 1) {
          if (entry.seq <= last_seq) {
            problem(what + "comes after seq " + std::to_string(last_seq) +
                    " (records reordered or duplicated)");
          } else {
            problem(what + "follows seq " + std::to_string(last_seq) + " (records " +
                    std::to_string(last_seq + 1) +
                    (entry.seq - 1 > last_seq + 1 ? ".." + std::to_string(entry.seq - 1) : "") +
                    " removed or moved)");
          }
        } else if (entry.prev != last_hash) {
          problem(what + "prev does not match the hash of seq " + std::to_string(last_seq) +
                  " (the chain is broken: records replaced or edited)");
        }
        // Resynchronise on the record as written, so that one edit is
        // reported once rather than at every later line.
        last_seq = entry.seq;
        last_hash = entry.hash;
        break;
      }
    }
  }
  if (in.bad()) {
    report.unreadable = true;
    report.problems.push_back("read error in " + path);
  }
  line_seq = 0;
  if (!seen_header) problem("the file is empty: no header (truncated)");
  report.last_seq = last_seq;
  report.last_hash = last_hash;
  if (report.last_checkpoint_seq < last_seq && !closed) {
    report.notes.push_back(
        "entries after seq " + std::to_string(report.last_checkpoint_seq) +
        " are not covered by a signed checkpoint yet (the daemon is running, or stopped without "
        "closing the log: it checks them when it starts)");
  }
  if (!report.key_pinned && !report.public_key.empty()) {
    report.notes.push_back(
        "the signer was read from the log's own header: a log rewritten with a new key would "
        "verify too; pin it with --pubkey KEY (`dualkey audit pubkey` prints it)");
  }
  report.ok = report.problems.empty() && !report.unreadable;
  return report;
}

Result<std::vector<Entry>> Read(const std::string& path, std::int64_t since_ms) {
  std::vector<Entry> entries;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const std::string message = "cannot open " + path + ": " + std::strerror(errno);
    return errno == ENOENT ? Status::NotFound(message) : Status::IOError(message);
  }
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // torn final line
    if (first) {
      first = false;
      continue;
    }
    ParsedLine parsed = ParseLine(line);
    if (parsed.kind != LineKind::kEntry || parsed.entry.time_ms < since_ms) continue;
    internal::AppendReadable(std::move(parsed.entry), &entries);
  }
  if (in.bad()) return Status::IOError("read error in " + path);
  return entries;
}

}  // namespace dualkey::audit
