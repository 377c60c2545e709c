// Keeping the vault sound: verify (every object checked, what is lost named),
// prune (expired snapshots, with an approval, audited) and gc (unused packs).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "approval/approval.h"
#include "audit/audit.h"
#include "base/json_text.h"
#include "vault/internal/impl.h"

namespace dualkey::vault {

using internal::ChunkId;
using internal::Manifest;
using internal::Space;
using Json = nlohmann::json;

namespace {

// The intact blobs of one pack object, as an index records them; what is
// wrong with the rest goes to `problems`.
void ScanPack(const std::string& name, const std::string& data,
              std::vector<internal::PackEntries::Entry>* entries,
              std::vector<std::string>* problems) {
  std::string raw, problem;
  if (data.compare(0, internal::kPackMagic.size(), internal::kPackMagic) != 0) {
    problems->push_back("pack " + name + ": bad header (damaged)");
    return;
  }
  std::size_t pos = internal::kPackMagic.size();
  while (pos < data.size()) {
    if (data.size() - pos < internal::kBlobHeader) {
      problems->push_back("pack " + name + ": truncated blob header at offset " +
                          std::to_string(pos));
      return;
    }
    ChunkId id;
    std::memcpy(id.data(), data.data() + pos, 32);
    const std::uint8_t flags = static_cast<std::uint8_t>(data[pos + 32]);
    std::uint32_t raw_size = 0, stored = 0;
    for (int b = 0; b < 4; ++b) {
      raw_size |= std::uint32_t(std::uint8_t(data[pos + 33 + b])) << (8 * b);
      stored |= std::uint32_t(std::uint8_t(data[pos + 37 + b])) << (8 * b);
    }
    const std::size_t start = pos + internal::kBlobHeader;
    if (stored > data.size() - start) {
      problems->push_back("pack " + name + ": blob at offset " + std::to_string(pos) +
                          " runs past the end (truncated or damaged)");
      return;
    }
    if (internal::DecodeBlob(id, flags, data.data() + start, stored, raw_size, &raw, &problem))
      entries->push_back({id, start, stored, raw_size, flags});
    else
      problems->push_back("pack " + name + " offset " + std::to_string(pos) + ": " + problem);
    pos = start + stored;
  }
}

std::string ShortId(const std::string& name) {
  return name.size() > 12 ? name.substr(0, 12) + "…" : name;
}

}  // namespace

VerifyReport Vault::Verify(const Progress* progress) const {
  VerifyReport report;
  std::string error;
  const internal::Backend& backend = *impl_->backend;
  // Index objects: each must be intact; together they say where each chunk is.
  std::vector<std::string> index_names, pack_names;
  std::unordered_map<std::string, std::vector<internal::PackEntries::Entry>> indexed;
  std::vector<std::string> damaged_indexes;
  if (!backend.List(Space::kIndex, &index_names, &error) ||
      !backend.List(Space::kPacks, &pack_names, &error)) {
    report.problems.push_back(error);
    return report;
  }
  for (const std::string& name : index_names) {
    std::string data, problem;
    std::vector<internal::PackEntries> packs;
    if (!backend.Read(Space::kIndex, name, &data, &problem) ||
        !internal::DecodeIndex(data, &packs, &problem)) {
      report.problems.push_back("index " + name + ": " + problem);
      damaged_indexes.push_back(name);
      continue;
    }
    for (auto& pack : packs) {
      auto& list = indexed[pack.pack];
      list.insert(list.end(), pack.entries.begin(), pack.entries.end());
    }
  }
  const std::set<std::string> present(pack_names.begin(), pack_names.end());
  for (const auto& [pack, entries] : indexed)
    if (!present.count(pack)) report.problems.push_back("pack " + pack + ": missing (indexed)");

  // Packs, in parallel: every blob re-read, decompressed and re-hashed.
  std::uint64_t total_bytes = 0;
  for (const std::string& name : pack_names) {
    std::uint64_t size = 0;
    if (backend.Size(Space::kPacks, name, &size, &error)) total_bytes += size;
  }
  std::mutex mutex;
  std::unordered_set<ChunkId, internal::ChunkIdHash> good;        // intact in some pack
  std::unordered_set<ChunkId, internal::ChunkIdHash> restorable;  // ... where an index says
  std::map<std::string, std::vector<ChunkId>> unindexed_packs;    // pack -> its intact chunks
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> bytes_done{0};
  auto worker = [&] {
    std::string data, problem;
    for (std::size_t i; (i = next.fetch_add(1)) < pack_names.size();) {
      const std::string& name = pack_names[i];
      std::vector<std::string> problems;
      std::vector<internal::PackEntries::Entry> entries;
      data.clear();
      if (!backend.Read(Space::kPacks, name, &data, &problem))
        problems.push_back("pack " + name + ": " + problem);
      else
        ScanPack(name, data, &entries, &problems);
      bytes_done += data.size();
      std::lock_guard lock(mutex);
      auto it = indexed.find(name);
      if (it == indexed.end()) {
        std::vector<ChunkId>& ids = unindexed_packs[name];
        for (const auto& e : entries) ids.push_back(e.id);
      } else {
        std::set<std::uint64_t> offsets;
        for (const auto& e : entries) offsets.insert(e.offset);
        for (const auto& e : it->second) {
          if (offsets.count(e.offset))
            restorable.insert(e.id);
          else
            problems.push_back("pack " + name + ": indexed chunk " + internal::Hex(e.id) +
                               " not found intact at offset " + std::to_string(e.offset));
        }
      }
      for (const auto& e : entries) good.insert(e.id);
      report.chunks += entries.size();
      report.packs += 1;
      report.bytes += data.size();
      report.problems.insert(report.problems.end(), problems.begin(), problems.end());
      if (progress && progress->report)
        progress->report(
            ProgressState{bytes_done.load(), total_bytes, report.packs, pack_names.size()});
    }
  };
  std::vector<std::thread> threads;
  unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  // Snapshots: signature, and every chunk present, intact and found by an
  // index (restore looks chunks up there).
  std::unordered_set<ChunkId, internal::ChunkIdHash> needed;
  std::vector<std::string> snap_names;
  backend.List(Space::kSnapshots, &snap_names, &error);
  for (const std::string& name : snap_names) {
    if (name.size() < 6 || name.substr(name.size() - 5) != ".snap") continue;
    Manifest m;
    std::string problem;
    const std::string id = name.substr(0, name.size() - 5);
    if (!impl_->ReadManifest(id, false, &m, &problem)) {
      report.problems.push_back(problem);
      report.unrestorable.emplace_back(id, "its snapshot object cannot be read: " + problem);
      continue;
    }
    report.snapshots += 1;
    std::size_t damaged = 0, unindexed = 0;
    std::string first_damaged, first_unindexed;
    for (const internal::Entry& e : m.entries) {
      for (const ChunkId& c : e.chunks) {
        needed.insert(c);
        if (restorable.count(c)) continue;
        if (good.count(c)) {
          if (unindexed++ == 0) first_unindexed = e.path;
        } else if (damaged++ == 0) {
          first_damaged = e.path;
        }
      }
    }
    std::string why;
    if (damaged)
      why = std::to_string(damaged) + " chunk(s) missing or damaged, first in " +
            base::ToValidUtf8(first_damaged);
    if (unindexed) {
      why += (why.empty() ? "" : "; ") + std::to_string(unindexed) +
             " chunk(s) intact in packs that no readable index names, first in " +
             base::ToValidUtf8(first_unindexed) +
             (damaged_indexes.empty()
                  ? std::string()
                  : " (index " + ShortId(damaged_indexes.front()) + " is damaged)") +
             "; `dualkey vault gc` re-indexes them";
    }
    if (!why.empty()) {
      report.problems.push_back("snapshot " + id + " cannot be fully restored: " + why);
      report.unrestorable.emplace_back(id, why);
    }
  }
  for (const auto& [pack, ids] : unindexed_packs) {
    const bool wanted =
        std::any_of(ids.begin(), ids.end(), [&](const ChunkId& c) { return needed.count(c) > 0; });
    if (wanted)
      report.notes.push_back("pack " + pack +
                             ": in no readable index, and snapshots need it (`dualkey vault gc` "
                             "re-indexes it)");
    else
      report.notes.push_back("pack " + pack +
                             ": not in any index and no snapshot needs it (left by an "
                             "interrupted put; `dualkey vault gc` removes it)");
  }
  std::sort(report.notes.begin(), report.notes.end());
  report.ok = report.problems.empty();
  return report;
}

Result<PruneReport> Vault::Prune(const PruneOptions& options) {
  std::string message;
  std::string* const error = &message;
  auto lock = impl_->backend->LockWriter(error);
  if (!lock) return Status::IOError(message);
  // The vault's own audit log records every prune, refused or not.
  audit::OpenOptions audit_options;
  audit_options.path = impl_->dir + "/audit.jsonl";
  audit_options.key_path = impl_->dir + "/audit.key";
  Result<std::unique_ptr<audit::Log>> opened = audit::Log::Open(audit_options);
  if (!opened.ok())
    return Status::Unavailable("cannot open the vault's audit log (prune needs it): " +
                               opened.status().message());
  std::unique_ptr<audit::Log> log = std::move(opened).value();
  std::string audit_error;
  auto record = [&](const std::string& kind, Json fields) {
    fields["vault"] = impl_->dir;
    Result<std::uint64_t> appended = log->Append(audit::Record{kind, base::JsonDump(fields)});
    if (!appended.ok()) audit_error = appended.status().message();
    return appended.ok();
  };
  auto refuse = [&](const Status& why) {
    record("vault_prune_refused", Json{{"approver", options.approver}, {"why", why.message()}});
    return why;
  };

  // A human's TOTP code, checked where the daemon checks its codes (with the
  // same lockouts); spent only once the prune's audit record is durable.
  if (options.approver.empty())
    return refuse(Status::InvalidArgument("prune needs --as NAME and --code CODE"));
  Result<std::unique_ptr<approval::Store>> opened_store = approval::OpenStore(options.store);
  if (!opened_store.ok())
    return refuse(Status::Unavailable("cannot open the approval store " + options.store + ": " +
                                      opened_store.status().message()));
  std::unique_ptr<approval::Store> store = std::move(opened_store).value();
  const approval::AuthResult auth = approval::Authorize(
      *store, options.approver, options.totp, "vault_prune:" + impl_->dir, internal::NowMs());
  if (!auth.status.ok()) return refuse(auth.status);
  auto spend = [&]() {
    const Status used = store->UseTotpStep(auth.spend.approver, auth.spend.step);
    if (!used.ok())
      record("vault_prune_not_applied",
             Json{{"approver", options.approver}, {"why", used.message()}});
    return used;
  };

  // What has expired, by the wall clock; nothing else can be chosen.
  const std::int64_t now = internal::NowMs();
  std::string list_error;
  std::vector<Manifest> summaries = impl_->Summaries(&list_error);
  if (!list_error.empty()) return refuse(Status::IOError(list_error));
  PruneReport report;
  std::vector<std::string> expired;
  std::vector<std::string> keep;
  for (const Manifest& m : summaries) {
    if (m.info.retain_until_ms <= now)
      expired.push_back(m.id);
    else
      keep.push_back(m.id);
  }
  report.kept_unexpired = keep;
  report.snapshots_removed = expired;

  // Chunks still needed; packs holding none of them go.
  if (!impl_->LoadIndex(error)) return refuse(Status::IOError(message));
  std::unordered_set<ChunkId, internal::ChunkIdHash> needed;
  for (const std::string& id : keep) {
    Manifest m;
    if (!impl_->ReadManifest(id, false, &m, error)) return refuse(Status::IOError(message));
    for (const auto& e : m.entries) needed.insert(e.chunks.begin(), e.chunks.end());
  }
  std::vector<internal::PackEntries> surviving(impl_->index.packs.size());
  for (std::size_t i = 0; i < surviving.size(); ++i) surviving[i].pack = impl_->index.packs[i];
  std::vector<bool> pack_needed(impl_->index.packs.size(), false);
  for (const auto& [id, loc] : impl_->index.chunks) {
    surviving[loc.pack].entries.push_back({id, loc.offset, loc.stored, loc.raw, loc.flags});
    if (needed.count(id)) pack_needed[loc.pack] = true;
  }
  std::vector<std::string> pack_names, remove_packs, index_names;
  impl_->backend->List(Space::kPacks, &pack_names, error);
  impl_->backend->List(Space::kIndex, &index_names, error);
  std::vector<internal::PackEntries> kept_packs;
  for (std::size_t i = 0; i < surviving.size(); ++i)
    if (pack_needed[i]) kept_packs.push_back(std::move(surviving[i]));
  std::set<std::string> kept_names;
  for (const auto& p : kept_packs) kept_names.insert(p.pack);
  for (const std::string& name : pack_names) {
    if (kept_names.count(name)) continue;
    // Unindexed packs (a put interrupted between its packs and its index)
    // go too, but only once they are older than the retention.
    struct stat st {};
    bool indexed = impl_->index.pack_numbers.count(name) > 0;
    if (!indexed && ::stat((impl_->dir + "/packs/" + name).c_str(), &st) == 0 &&
        st.st_mtime * 1000LL + impl_->retention_days * kDayMs > now)
      continue;
    // Unindexed is not unused: a damaged index object leaves packs that kept
    // snapshots need without an index naming them. Those stay.
    if (!indexed) {
      std::string data, problem;
      std::vector<internal::PackEntries::Entry> entries;
      std::vector<std::string> problems;
      if (!impl_->backend->Read(Space::kPacks, name, &data, &problem)) continue;
      ScanPack(name, data, &entries, &problems);
      if (!problems.empty() || std::any_of(entries.begin(), entries.end(),
                                           [&](const auto& e) { return needed.count(e.id) > 0; }))
        continue;
    }
    remove_packs.push_back(name);
    std::uint64_t size = 0;
    if (impl_->backend->Size(Space::kPacks, name, &size, error)) report.bytes_freed += size;
  }
  report.packs_removed = remove_packs.size();
  if (options.dry_run) {
    if (!record("vault_prune_dry_run", Json{{"approver", options.approver},
                                            {"would_remove", expired},
                                            {"packs", remove_packs.size()}})) {
      return Status::IOError("cannot record the prune in the audit log (" + audit_error +
                             "); the code is unspent");
    }
    if (Status spent = spend(); !spent.ok()) return spent;
    return report;
  }
  if (expired.empty() && remove_packs.empty()) {
    if (!record("vault_prune", Json{{"approver", options.approver}, {"removed", Json::array()}})) {
      return Status::IOError("cannot record the prune in the audit log (" + audit_error +
                             "); the code is unspent");
    }
    if (Status spent = spend(); !spent.ok()) return spent;
    return report;
  }
  if (!record("vault_prune", Json{{"approver", options.approver},
                                  {"removed", expired},
                                  {"packs", remove_packs.size()},
                                  {"bytes", report.bytes_freed}})) {
    return Status::IOError("cannot record the prune in the audit log (" + audit_error +
                           "); nothing deleted and the code is unspent");
  }
  if (Status spent = spend(); !spent.ok()) return spent;
  // Order keeps the vault consistent at every step: the new index (only
  // surviving packs) is durable first; then snapshots go, then old index
  // objects, then packs nothing references any more.
  const std::string index_name = internal::RandomHex(16) + ".idx";
  if (!impl_->backend->Create(Space::kIndex, index_name, internal::EncodeIndex(kept_packs),
                              error) ||
      !impl_->backend->Sync(Space::kIndex, error))
    return Status::IOError(message);
  for (const std::string& id : expired)
    if (!impl_->backend->Remove(Space::kSnapshots, id + ".snap", error))
      return Status::IOError(message);
  impl_->backend->Sync(Space::kSnapshots, error);
  for (const std::string& name : index_names)
    if (!impl_->backend->Remove(Space::kIndex, name, error)) return Status::IOError(message);
  impl_->backend->Sync(Space::kIndex, error);
  for (const std::string& name : remove_packs)
    if (!impl_->backend->Remove(Space::kPacks, name, error)) return Status::IOError(message);
  impl_->backend->Sync(Space::kPacks, error);
  return report;
}

Result<GcReport> Vault::Gc(const GcOptions& options) {
  std::string message;
  std::string* const error = &message;
  auto lock = impl_->backend->LockWriter(error);
  if (!lock) return Status::IOError(message);
  internal::Backend& backend = *impl_->backend;
  // Everything every snapshot needs; while one cannot be read, its needs
  // are unknown and nothing is removed.
  std::unordered_set<ChunkId, internal::ChunkIdHash> needed;
  std::vector<std::string> snap_names;
  if (!backend.List(Space::kSnapshots, &snap_names, error)) return Status::IOError(message);
  for (const std::string& name : snap_names) {
    if (name.size() < 6 || name.substr(name.size() - 5) != ".snap") continue;
    Manifest m;
    std::string problem;
    if (!impl_->ReadManifest(name.substr(0, name.size() - 5), false, &m, &problem)) {
      return Status::FailedPrecondition(
          problem +
          "; gc changes nothing while a snapshot's needs are unknown (see "
          "`dualkey vault verify`)");
    }
    for (const auto& e : m.entries) needed.insert(e.chunks.begin(), e.chunks.end());
  }
  // What the readable index objects say; damaged ones are replaced.
  std::vector<std::string> index_names, pack_names;
  if (!backend.List(Space::kIndex, &index_names, error) ||
      !backend.List(Space::kPacks, &pack_names, error))
    return Status::IOError(message);
  std::map<std::string, std::vector<internal::PackEntries::Entry>> indexed;
  GcReport report;
  for (const std::string& name : index_names) {
    std::string data, problem;
    std::vector<internal::PackEntries> packs;
    if (!backend.Read(Space::kIndex, name, &data, &problem) ||
        !internal::DecodeIndex(data, &packs, &problem)) {
      report.index_replaced.push_back(name);
      continue;
    }
    for (auto& pack : packs) {
      auto& list = indexed[pack.pack];
      list.insert(list.end(), pack.entries.begin(), pack.entries.end());
    }
  }
  std::vector<internal::PackEntries> kept;
  for (const std::string& name : pack_names) {
    std::vector<internal::PackEntries::Entry> entries;
    auto it = indexed.find(name);
    const bool in_index = it != indexed.end();
    if (in_index) {
      entries = it->second;
    } else {
      // Named by no readable index: what it holds is read from the pack.
      std::string data, problem;
      std::vector<std::string> problems;
      if (!backend.Read(Space::kPacks, name, &data, &problem)) {
        return Status::IOError("pack " + name + ": " + problem);
      }
      ScanPack(name, data, &entries, &problems);
    }
    const bool wanted = std::any_of(entries.begin(), entries.end(),
                                    [&](const auto& e) { return needed.count(e.id) > 0; });
    if (wanted) {
      if (!in_index) report.packs_reindexed.push_back(name);
      kept.push_back(internal::PackEntries{name, std::move(entries)});
    } else {
      report.packs_removed.push_back(name);
      std::uint64_t size = 0;
      if (backend.Size(Space::kPacks, name, &size, error)) report.bytes_freed += size;
    }
  }
  const bool changes = !report.packs_removed.empty() || !report.packs_reindexed.empty() ||
                       !report.index_replaced.empty();
  if (!changes) return report;
  // All index objects are folded into one that names exactly the kept packs.
  report.index_replaced = index_names;

  audit::OpenOptions audit_options;
  audit_options.path = impl_->dir + "/audit.jsonl";
  audit_options.key_path = impl_->dir + "/audit.key";
  Result<std::unique_ptr<audit::Log>> log = audit::Log::Open(audit_options);
  if (!log.ok())
    return Status::Unavailable("cannot open the vault's audit log (gc needs it): " +
                               log.status().message());
  Json fields{{"vault", impl_->dir},
              {"dry_run", options.dry_run},
              {"packs_removed", report.packs_removed},
              {"bytes_freed", report.bytes_freed},
              {"packs_reindexed", report.packs_reindexed},
              {"index_replaced", report.index_replaced}};
  if (Result<std::uint64_t> appended = (*log)->Append(
          audit::Record{options.dry_run ? "vault_gc_dry_run" : "vault_gc", base::JsonDump(fields)});
      !appended.ok()) {
    return Status::IOError("cannot record the gc in the audit log (" + appended.status().message() +
                           "); nothing changed");
  }
  if (options.dry_run) return report;
  // The new index is durable before anything it replaces goes, and packs go
  // last: at every step each snapshot's chunks are found.
  const std::string index_name = internal::RandomHex(16) + ".idx";
  if (!backend.Create(Space::kIndex, index_name, internal::EncodeIndex(kept), error) ||
      !backend.Sync(Space::kIndex, error))
    return Status::IOError(message);
  for (const std::string& name : index_names)
    if (!backend.Remove(Space::kIndex, name, error)) return Status::IOError(message);
  backend.Sync(Space::kIndex, error);
  for (const std::string& name : report.packs_removed)
    if (!backend.Remove(Space::kPacks, name, error)) return Status::IOError(message);
  backend.Sync(Space::kPacks, error);
  return report;
}

}  // namespace dualkey::vault
