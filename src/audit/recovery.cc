// Opening the audit log: recovery. Open cuts a torn final line (a write the
// crash interrupted, never acknowledged), reads back from the end to the last
// checkpoint its key signed, takes the entries after it that carry its mac
// and continue its chain as its own, reports everything else as foreign (never
// sealing over it), compares the file with what the store remembers, and
// signs an "open" checkpoint. docs/audit-format.md has the rules.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <vector>

#include "audit/audit.h"
#include "audit/internal/file_io.h"
#include "audit/internal/format.h"
#include "audit/internal/key_file.h"
#include "audit/internal/writer.h"

namespace dualkey::audit {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own internals

// Cuts an unfinished final line (no '\n': a write the crash interrupted, never
// acknowledged). Returns the new size, or -1 with `error` set.
off_t CutTornLine(int fd, off_t size, std::string* error) {
  if (size == 0) return 0;
  char last = 0;
  if (!PreadAll(fd, &last, 1, size - 1, error)) return -1;
  if (last == '\n') return size;
  off_t end = size;
  std::string chunk;
  off_t keep = 0;
  while (end > 0) {
    off_t start = std::max<off_t>(0, end - 65536);
    chunk.resize(static_cast<std::size_t>(end - start));
    if (!PreadAll(fd, chunk.data(), chunk.size(), start, error)) return -1;
    std::size_t newline = chunk.rfind('\n');
    if (newline != std::string::npos) {
      keep = start + static_cast<off_t>(newline) + 1;
      break;
    }
    end = start;
  }
  if (::ftruncate(fd, keep) != 0 || ::fdatasync(fd) != 0) {
    *error = Errno("cannot cut the torn last line of the audit log");
    return -1;
  }
  return keep;
}

// Reads the header line and checks it names our key.
Status CheckHeader(int fd, off_t size, const std::string& public_key_hex, const std::string& path) {
  std::string line;
  std::size_t want = 4096;
  while (true) {
    line.resize(std::min<std::size_t>(want, static_cast<std::size_t>(size)));
    if (std::string error; !PreadAll(fd, line.data(), line.size(), 0, &error))
      return Status::IOError(error);
    std::size_t newline = line.find('\n');
    if (newline != std::string::npos) {
      line.resize(newline);
      break;
    }
    if (line.size() == static_cast<std::size_t>(size)) break;  // cannot happen after CutTornLine
    want *= 2;
  }
  std::string why;
  std::optional<Header> header = ParseHeader(line, &why);
  if (!header) return Status::Corruption(path + " line 1: bad audit log header (" + why + ")");
  if (header->public_key != public_key_hex) {
    return Status::FailedPrecondition(
        path + " was created with another signing key (header public key " + header->public_key +
        ", key file gives " + public_key_hex + ")");
  }
  return Status::Ok();
}

// The end of an existing log as Open reads it: the last checkpoint this
// key signed and the lines after it.
struct TailScan {
  bool found_checkpoint = false;
  ParsedCheckpoint checkpoint;
  std::int64_t covered_time_ms = 0;  // time of the entry the checkpoint covers, when read
  off_t after_offset = 0;            // where the lines after the checkpoint start
  std::vector<std::string> after;    // those lines, oldest first
};

bool ScanTail(int fd, off_t size, const PublicKeyBytes& pk, TailScan* scan, std::string* error) {
  BackwardLines lines(fd, size);
  std::string line;
  off_t offset = 0;
  std::vector<std::string> newest_first;
  scan->after_offset = size;
  while (lines.Next(&line, &offset, error)) {
    if (offset == 0) break;  // the header
    ParsedLine parsed = ParseLine(line);
    if (!scan->found_checkpoint && parsed.kind == LineKind::kCheckpoint &&
        CheckSignature(parsed.checkpoint.seq, parsed.checkpoint.hash, parsed.checkpoint.event,
                       parsed.checkpoint.sig, pk)) {
      scan->found_checkpoint = true;
      scan->checkpoint = parsed.checkpoint;
      continue;  // one more line: the entry it covers, for its time
    }
    if (scan->found_checkpoint) {
      if (parsed.kind == LineKind::kEntry && parsed.entry.seq == scan->checkpoint.seq)
        scan->covered_time_ms = parsed.entry.time_ms;
      if (parsed.kind != LineKind::kCheckpoint) break;
      continue;
    }
    newest_first.push_back(std::move(line));
    scan->after_offset = offset;
  }
  if (!error->empty()) return false;
  scan->after.assign(std::make_move_iterator(newest_first.rbegin()),
                     std::make_move_iterator(newest_first.rend()));
  return true;
}

// The hash of entry `seq`, searched from the end; empty when the file has none.
std::string FindEntryHash(int fd, off_t size, std::uint64_t seq, std::string* error) {
  BackwardLines lines(fd, size);
  std::string line;
  off_t offset = 0;
  while (lines.Next(&line, &offset, error) && offset > 0) {
    ParsedLine parsed = ParseLine(line);
    if (parsed.kind != LineKind::kEntry) continue;
    if (parsed.entry.seq == seq) return parsed.entry.hash;
    if (parsed.entry.seq < seq) break;
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Log>> Log::Open(const OpenOptions& options, OpenReport* report) {
  OpenReport scratch_report;
  if (report == nullptr) report = &scratch_report;
  *report = OpenReport{};
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (options.path.empty() || options.key_path.empty()) {
    return Status::InvalidArgument("audit log: path and key_path are required");
  }
  SecretKey sk{};
  PublicKeyBytes pk{};
  if (Status key = LoadOrCreateKey(options.key_path, &sk, &pk); !key.ok()) return key;
  const std::string public_key_hex = Hex(pk.data(), pk.size());
  MacKey mac_key = DeriveMacKey(sk);

  int fd = ::open(options.path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    Status failed = Status::IOError(Errno("cannot open audit log " + options.path));
    sodium_memzero(sk.data(), sk.size());
    sodium_memzero(mac_key.data(), mac_key.size());
    return failed;
  }
  // From here on the writer owns fd and the key (closing and wiping them).
  std::unique_ptr<LogWriter> log = LogWriter::Create(fd, sk, pk, options.checkpoint_every);
  sodium_memzero(sk.data(), sk.size());
  struct WipeMacKey {
    MacKey* key;
    ~WipeMacKey() { sodium_memzero(key->data(), key->size()); }
  } wipe{&mac_key};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return errno == EWOULDBLOCK
               ? Status::Unavailable("audit log " + options.path + " is in use by another process")
               : Status::IOError(Errno("cannot lock audit log " + options.path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Status::IOError(Errno("cannot stat audit log " + options.path));
  }
  std::string error;
  off_t size = CutTornLine(fd, st.st_size, &error);
  if (size < 0) return Status::IOError(error);

  Head head;                                        // our own chain, as far as the file shows it
  CheckpointInfo durable;                           // the last checkpoint in the file we signed
  std::map<std::uint64_t, std::string> own_hashes;  // entries after it
  std::string found_hash_at_expected;
  if (size == 0) {
    OrderedJson header;
    header["dualkey_audit"] = 1;
    header["public_key"] = public_key_hex;
    header["created_ms"] = NowMs();
    if (!WriteAll(fd, header.dump() + "\n", &error) || ::fdatasync(fd) != 0) {
      if (error.empty()) error = Errno("cannot write audit log header");
      return Status::IOError(error);
    }
    SyncParentDirectory(options.path);
  } else {
    if (Status header = CheckHeader(fd, size, public_key_hex, options.path); !header.ok())
      return header;
    TailScan scan;
    if (!ScanTail(fd, size, pk, &scan, &error)) {
      return Status::IOError(options.path + ": " + error);
    }
    // Our macs are required after a checkpoint that names an event (this
    // version opened the log); earlier logs had none.
    bool strict = false;
    if (scan.found_checkpoint) {
      head.seq = scan.checkpoint.seq;
      head.hash = scan.checkpoint.hash;
      head.time_ms = scan.covered_time_ms;
      durable.seq = scan.checkpoint.seq;
      durable.hash = scan.checkpoint.hash;
      durable.sig = scan.checkpoint.sig;
      durable.event = scan.checkpoint.event;
      strict = !scan.checkpoint.event.empty();
    }
    Sha256 sha;
    std::size_t first_foreign_index = 0;
    for (std::size_t i = 0; i < scan.after.size(); ++i) {
      ParsedLine parsed = ParseLine(scan.after[i]);
      bool own = false;
      if (parsed.kind == LineKind::kEntry) {
        const ParsedEntry& entry = parsed.entry;
        const bool mac_ok =
            entry.mac.empty() ? !strict : entry.mac == EntryMac(entry.hash, mac_key);
        own = mac_ok && entry.seq == head.seq + 1 && entry.prev == head.hash &&
              RecomputeHash(entry, &sha) == entry.hash;
        if (own) {
          head.seq = entry.seq;
          head.hash = entry.hash;
          head.time_ms = std::max(head.time_ms, entry.time_ms);
          ++head.since_checkpoint;
          own_hashes[entry.seq] = entry.hash;
        }
      }
      if (own) continue;
      if (report->foreign_records++ == 0) {
        first_foreign_index = i;
        report->first_foreign_seq = parsed.kind == LineKind::kEntry ? parsed.entry.seq : 0;
      }
    }
    if (report->foreign_records > 0) {
      report->first_foreign_line = LinesBefore(fd, scan.after_offset) + 1 + first_foreign_index;
    }
    if (options.expect_seq > 0 && options.expect_seq <= head.seq) {
      if (options.expect_seq == durable.seq) {
        found_hash_at_expected = durable.hash;
      } else if (auto own_hash = own_hashes.find(options.expect_seq);
                 own_hash != own_hashes.end()) {
        found_hash_at_expected = own_hash->second;
      } else {
        found_hash_at_expected = FindEntryHash(fd, size, options.expect_seq, &error);
        if (!error.empty()) return Status::IOError(error);
      }
    }
  }
  log->Resume(head, durable);

  // Records we did not write are never sealed over: our chain goes on from
  // our own last record, and says what it found.
  if (report->foreign_records > 0) {
    Json fields{{"records", report->foreign_records},
                {"first_seq", report->first_foreign_seq},
                {"first_line", report->first_foreign_line},
                {"own_last_seq", head.seq},
                {"why", "records after seq " + std::to_string(head.seq) +
                            " were not written by this log's key (appended or edited while it was "
                            "closed); they are not covered by any checkpoint"}};
    if (Result<std::uint64_t> noted = log->AppendInternal("audit.foreign_records", fields);
        !noted.ok())
      return noted.status();
  }
  // The store remembers how far this log had got: a log that no longer has
  // that entry was deleted, replaced or shortened.
  if (options.expect_seq > 0 && found_hash_at_expected != options.expect_hash) {
    if (size == 0) {
      report->discontinuity = "the audit log was missing or empty";
    } else if (head.seq < options.expect_seq) {
      report->discontinuity = "the audit log ends at seq " + std::to_string(head.seq) +
                              " (records " + std::to_string(head.seq + 1) + ".." +
                              std::to_string(options.expect_seq) + " are gone)";
    } else if (found_hash_at_expected.empty()) {
      report->discontinuity =
          "the audit log has no entry seq " + std::to_string(options.expect_seq);
    } else {
      report->discontinuity = "the audit log's entry seq " + std::to_string(options.expect_seq) +
                              " differs from the one sealed (records replaced)";
    }
    report->discontinuity += ", but the store remembers a checkpoint at seq " +
                             std::to_string(options.expect_seq) + " (hash " + options.expect_hash +
                             ")";
    Json fields{{"expected_seq", options.expect_seq},
                {"expected_hash", options.expect_hash},
                {"file_last_seq", head.seq},
                {"why", report->discontinuity}};
    // After a cut, the chain goes on from what was sealed, so the gap shows.
    if (head.seq < options.expect_seq) log->Rebase(options.expect_seq, options.expect_hash);
    if (Result<std::uint64_t> noted = log->AppendInternal("audit.discontinuity", fields);
        !noted.ok())
      return noted.status();
  }
  if (Status sealed = log->WriteCheckpoint("open", &report->opened); !sealed.ok()) return sealed;
  log->SetReady();
  return std::unique_ptr<Log>(std::move(log));
}

}  // namespace dualkey::audit
