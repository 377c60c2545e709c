// The vault with real files, real processes and a real approval store: round
// trips of odd trees, deduplication, streams, damage found by verify, the
// retention lock on every path to deletion, kill -9 mid-put, and bad input
// (unreadable files, files changing while read, a full disk).
#include "vault/vault.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "../approval/pg_harness.h"
#include "../approval/store_testing.h"
#include "approval/approval.h"
#include "audit/audit.h"
#include "vault/internal/backend.h"

namespace {

using dualkey::testing::Ok;
using dualkey::testing::OpenOrNull;

namespace fs = std::filesystem;
using dualkey::vault::SnapshotMeta;
using dualkey::vault::Vault;
using nlohmann::json;

// A vault call's value, or nullopt with the reason in *error (for
// EXPECT_... << error).
template <typename T>
std::optional<T> Value(dualkey::Result<T> result, std::string* error) {
  if (!result.ok()) {
    *error = result.status().message();
    return std::nullopt;
  }
  return std::move(result).value();
}

// The vault's snapshots; none, with the reason in *error, when it cannot list them.
std::vector<dualkey::vault::SnapshotInfo> ListOf(const Vault& vault, std::string* error) {
  return Value(vault.List(), error).value_or(std::vector<dualkey::vault::SnapshotInfo>{});
}

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Spit(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Incompressible, reproducible bytes.
std::string RandomBytes(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (std::size_t i = 0; i < size; i += 8) {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(out.data() + i, &z, std::min<std::size_t>(8, size - i));
  }
  return out;
}

std::int64_t MtimeNs(const fs::path& p) {
  struct stat st {};
  lstat(p.c_str(), &st);
  return std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

unsigned Mode(const fs::path& p) {
  struct stat st {};
  lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

// Every entry under `a` matches `b`: type, mode, content, link target, file mtime.
void ExpectSameTree(const fs::path& a, const fs::path& b) {
  std::set<std::string> names_a, names_b;
  for (auto it = fs::recursive_directory_iterator(a); it != fs::recursive_directory_iterator();
       ++it)
    names_a.insert(fs::relative(it->path(), a).string());
  for (auto it = fs::recursive_directory_iterator(b); it != fs::recursive_directory_iterator();
       ++it)
    names_b.insert(fs::relative(it->path(), b).string());
  ASSERT_EQ(names_a, names_b);
  for (const std::string& name : names_a) {
    fs::path pa = a / name, pb = b / name;
    auto sa = fs::symlink_status(pa), sb = fs::symlink_status(pb);
    ASSERT_EQ(sa.type(), sb.type()) << name;
    EXPECT_EQ(Mode(pa), Mode(pb)) << name;
    if (fs::is_symlink(sa)) {
      EXPECT_EQ(fs::read_symlink(pa), fs::read_symlink(pb)) << name;
    } else if (fs::is_regular_file(sa)) {
      EXPECT_EQ(Slurp(pa), Slurp(pb)) << name;
      EXPECT_EQ(MtimeNs(pa), MtimeNs(pb)) << name;
    }
  }
}

struct Output {
  int status = -1;
  std::string out;
};

// Runs a shell command line, capturing stdout (stderr appended).
Output Sh(const std::string& command) {
  Output result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof(buffer), pipe)) result.out.append(buffer, n);
  int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path("/tmp") / ("dualkey-vault-test-" + std::to_string(getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "data");
    vault_dir_ = (root_ / "vault").string();
  }
  void TearDown() override {
    std::error_code ec;
    // Vault objects are read-only; the directory is ours to clean up.
    fs::remove_all(root_, ec);
  }

  Vault MakeVault(int retention_days = 30, std::uint32_t chunk = 64 << 10) {
    dualkey::vault::InitOptions init;
    init.retention_days = retention_days;
    init.average_chunk = chunk;
    std::string error;
    EXPECT_TRUE(Ok(Vault::Init(vault_dir_, init), &error)) << error;
    std::optional<Vault> v = Value(Vault::Open(vault_dir_), &error);
    EXPECT_TRUE(v) << error;
    return std::move(*v);
  }

  std::string Cli(const std::string& args) {
    return std::string(DUALKEY_BINARY) + " vault " + args + " --vault " + Quote(vault_dir_);
  }

  fs::path root_;
  std::string vault_dir_;
};

SnapshotMeta Meta(const std::string& action = "rm -rf data") {
  SnapshotMeta meta;
  meta.who = "alice";
  meta.action = action;
  meta.approval_id = "ap_test";
  meta.tags = {"t"};
  return meta;
}

// No vault at all is exit status 2 for every command that needs one, as
// docs/vault.md says; the message says how to make one.
TEST_F(VaultTest, NoVaultIsExitStatusTwo) {
  for (const char* command : {"ls", "ls --json", "show latest", "restore latest", "verify",
                              "put /etc/hostname", "prune --totp 000000"}) {
    Output run = Sh(Cli(command));
    EXPECT_EQ(run.status, 2) << command << ": " << run.out;
    EXPECT_NE(run.out.find("dualkey vault init"), std::string::npos) << command << ": " << run.out;
  }
}

TEST_F(VaultTest, RoundTripOfAnOddTree) {
  fs::path d = root_ / "data";
  fs::create_directories(d / "sub dir" / "deeper");
  fs::create_directories(d / "empty dir");
  Spit(d / "plain.txt", "hello\n");
  Spit(d / "sub dir" / "with space and 'quote\".txt", "q");
  Spit(d / "sub dir" / "new\nline", "n");
  Spit(d / "-starts-with-dash", "d");
  Spit(d / "ünïcødé ✓", "u");
  Spit(d / "back\\slash", "b");
  Spit(d / "empty", "");
  Spit(d / "sub dir" / "deeper" / "big.bin", RandomBytes(3 << 20, 1));  // many chunks
  Spit(d / "text.sql", std::string(1 << 20, 'x') + "tail");
  fs::create_symlink("plain.txt", d / "relative link");
  fs::create_symlink("/nonexistent/target", d / "dangling");
  fs::create_symlink("sub dir", d / "dir link");
  mkfifo((d / "fifo").c_str(), 0640);
  chmod((d / "plain.txt").c_str(), 0600);
  chmod((d / "empty").c_str(), 0444);
  chmod((d / "-starts-with-dash").c_str(), 0755);
  chmod((d / "sub dir" / "deeper").c_str(), 0700);
  chmod((d / "empty dir").c_str(), 0555);

  Vault v = MakeVault();
  std::string error;
  auto info = Value(v.PutPaths({d.string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->files, 9u);
  EXPECT_EQ(info->meta.who, "alice");
  EXPECT_EQ(info->roots, std::vector<std::string>{d.string()});
  EXPECT_GE(info->retain_until_ms, info->created_ms + 30LL * 86400000);

  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out").string();
  auto report = Value(v.Restore(info->id.substr(0, 6), options), &error);
  ASSERT_TRUE(report) << error;
  EXPECT_TRUE(report->problems.empty()) << report->problems[0];
  EXPECT_EQ(report->files, 9u);
  ExpectSameTree(d, root_ / "out" / fs::relative(d, "/"));

  // Listed and shown with who/what/approval; the CLI agrees, as JSON.
  auto list = ListOf(v, &error);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].meta.approval_id, "ap_test");
  std::vector<dualkey::vault::EntryInfo> entries;
  ASSERT_TRUE(Value(v.Show("latest", &entries), &error));
  EXPECT_EQ(entries.size(), 17u);
  Output ls = Sh(Cli("ls --json"));
  ASSERT_EQ(ls.status, 0) << ls.out;
  json parsed = json::parse(ls.out);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0]["id"], info->id);
  EXPECT_EQ(parsed[0]["action"], "rm -rf data");
}

TEST_F(VaultTest, RestoresInPlaceAfterDeletionAndRefusesToClobber) {
  fs::path d = root_ / "data" / "uploads";
  fs::create_directories(d / "a");
  Spit(d / "a" / "one.jpg", RandomBytes(200000, 2));
  Spit(d / "two.txt", "two");
  Vault v = MakeVault();
  std::string error;
  auto info = Value(v.PutPaths({d.string()}, Meta("rm -rf " + d.string()), nullptr), &error);
  ASSERT_TRUE(info) << error;
  fs::remove_all(d);  // the approved destructive action

  Output restored = Sh(Cli("restore --json " + info->id));
  ASSERT_EQ(restored.status, 0) << restored.out;
  EXPECT_EQ(Slurp(d / "a" / "one.jpg"), RandomBytes(200000, 2));
  EXPECT_EQ(Slurp(d / "two.txt"), "two");

  // Again, with the files back in place: refused, nothing touched.
  Spit(d / "two.txt", "changed since");
  Output again = Sh(Cli("restore " + info->id));
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.out.find("exist already"), std::string::npos) << again.out;
  EXPECT_EQ(Slurp(d / "two.txt"), "changed since");
  Output overwrite =
      Sh(Cli("restore --overwrite --only " + Quote((d / "two.txt").string()) + " " + info->id));
  EXPECT_EQ(overwrite.status, 0) << overwrite.out;
  EXPECT_EQ(Slurp(d / "two.txt"), "two");
}

// A symbolic link already inside the restore target (planted by an agent, or
// left there) is never written through: the restore refuses before writing
// anything, and nothing appears outside the target.
TEST_F(VaultTest, RestoreNeverWritesThroughALinkInsideItsTarget) {
  fs::path d = root_ / "data" / "site";
  fs::create_directories(d / "conf");
  Spit(d / "conf" / "app.ini", "saved");
  Spit(d / "index.html", "home");
  Vault v = MakeVault();
  std::string error;
  auto info = Value(v.PutPaths({d.string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(info) << error;
  const fs::path outside = root_ / "outside";
  fs::create_directories(outside);

  // --to DIR with DIR/<first component of the saved path> pointing outside.
  const fs::path to = root_ / "out";
  fs::create_directories(to);
  const std::string first = *fs::path(d).relative_path().begin();  // "tmp"
  fs::create_symlink(outside, to / first);
  Output refused = Sh(Cli("restore " + info->id + " --to " + Quote(to.string())));
  EXPECT_EQ(refused.status, 1) << refused.out;
  EXPECT_NE(refused.out.find("is a symbolic link"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find((to / first).string()), std::string::npos) << refused.out;
  EXPECT_TRUE(fs::is_empty(outside));

  // In place, with the saved directory's subdirectory now a link elsewhere.
  fs::remove_all(d);
  fs::create_directories(d);
  fs::create_symlink(outside, d / "conf");
  Output in_place = Sh(Cli("restore " + info->id));
  EXPECT_EQ(in_place.status, 1) << in_place.out;
  EXPECT_NE(in_place.out.find("is a symbolic link"), std::string::npos) << in_place.out;
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_FALSE(fs::exists(d / "index.html")) << "refused before writing anything";

  // Without the link, the same restore works.
  fs::remove(d / "conf");
  Output restored = Sh(Cli("restore " + info->id));
  EXPECT_EQ(restored.status, 0) << restored.out;
  EXPECT_EQ(Slurp(d / "conf" / "app.ini"), "saved");
  EXPECT_TRUE(fs::is_empty(outside));
}

// File names are bytes: two names that are not UTF-8 stay two names, restored
// exactly; metadata that is not UTF-8 never crashes a put.
TEST_F(VaultTest, NamesThatAreNotUtf8RoundTripExactly) {
  fs::path d = root_ / "data" / "latin1";
  fs::create_directories(d / "caf\xe9");
  Spit(d / "caf\xe9" / "a\xff", "ff");
  Spit(d / "caf\xe9" / "a\xfe", "fe");
  fs::create_symlink("target-\xfd", d / "link\xfc");
  MakeVault();
  Output put =
      Sh(Cli("put --quiet --json --reason " + Quote("rm -rf caf\xe9") + " " + Quote(d.string())));
  ASSERT_EQ(put.status, 0) << put.out;
  json saved = json::parse(put.out, nullptr, false);
  ASSERT_TRUE(saved.is_object()) << put.out;
  const fs::path to = root_ / "out";
  Output restored =
      Sh(Cli("restore --json " + saved["id"].get<std::string>() + " --to " + Quote(to.string())));
  ASSERT_EQ(restored.status, 0) << restored.out;
  const fs::path back = to / d.relative_path();
  EXPECT_EQ(Slurp(back / "caf\xe9" / "a\xff"), "ff");
  EXPECT_EQ(Slurp(back / "caf\xe9" / "a\xfe"), "fe");
  EXPECT_EQ(fs::read_symlink(back / "link\xfc").string(), "target-\xfd");
  Output shown = Sh(Cli("show --json " + saved["id"].get<std::string>()));
  EXPECT_EQ(shown.status, 0) << shown.out;
  EXPECT_TRUE(json::accept(shown.out)) << shown.out;
}

TEST_F(VaultTest, DeduplicatesAndReusesUnchangedFiles) {
  fs::path d = root_ / "data";
  std::string big = RandomBytes(4 << 20, 3);
  Spit(d / "big.bin", big);
  Spit(d / "copy.bin", big);  // same content: stored once
  Vault v = MakeVault();
  std::string error;
  auto first = Value(v.PutPaths({d.string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(first) << error;
  EXPECT_LT(first->added_bytes, (4u << 20) + (256u << 10));
  EXPECT_GE(first->added_bytes, 4u << 20);

  auto second = Value(v.PutPaths({d.string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(second) << error;
  EXPECT_LT(second->added_bytes, 16u << 10);  // only the manifest

  // Change 64 KiB in the middle: a few chunks are new, not the file.
  std::string changed = big;
  std::string patch = RandomBytes(64 << 10, 4);
  changed.replace(2 << 20, patch.size(), patch);
  Spit(d / "big.bin", changed);
  auto third = Value(v.PutPaths({d.string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(third) << error;
  EXPECT_LT(third->added_bytes, 1u << 20);
  EXPECT_GT(third->added_bytes, 64u << 10);

  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out").string();
  ASSERT_TRUE(Value(v.Restore(third->id, options), &error)) << error;
  EXPECT_EQ(Slurp(root_ / "out" / fs::relative(d / "big.bin", "/")), changed);
  EXPECT_TRUE(v.Verify(nullptr).ok);
}

TEST_F(VaultTest, StreamsAreSnapshotsOfTheirOwn) {
  Vault v = MakeVault();
  std::string error;
  const std::string ddl = "CREATE TABLE t (id int);\n";
  const std::string rows = RandomBytes(300000, 5);
  SnapshotMeta meta = Meta("DELETE FROM t");
  meta.kind = "sql_rows";
  auto info = Value(v.PutStreams({dualkey::vault::StreamFromString("t.ddl.sql", ddl),
                                  dualkey::vault::StreamFromString("t.rows.copy", rows)},
                                 meta),
                    &error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->files, 2u);
  EXPECT_EQ(info->bytes, ddl.size() + rows.size());
  EXPECT_EQ(info->meta.kind, "sql_rows");

  fs::path out = root_ / "rows";
  int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_TRUE(Ok(v.RestoreStream(info->id, "t.rows.copy", fd), &error)) << error;
  close(fd);
  EXPECT_EQ(Slurp(out), rows);
  // Without a target directory a stream has no original place.
  EXPECT_FALSE(Value(v.Restore(info->id, {}), &error));
  EXPECT_NE(error.find("--to DIR"), std::string::npos) << error;
}

// Flipping one byte of a pack, a snapshot, or removing a pack: verify says
// where; a restore never produces a damaged file.
TEST_F(VaultTest, VerifyFindsTamperingAndRestoreNeverWritesDamage) {
  fs::path d = root_ / "data";
  Spit(d / "a.bin", RandomBytes(1 << 20, 6));
  Spit(d / "b.txt", "bbb");
  Vault v = MakeVault();
  std::string error;
  auto info = Value(v.PutPaths({d.string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(info) << error;
  ASSERT_TRUE(v.Verify(nullptr).ok);

  std::vector<fs::path> packs;
  for (const auto& e : fs::directory_iterator(vault_dir_ + "/packs")) packs.push_back(e.path());
  ASSERT_EQ(packs.size(), 1u);
  // Objects are read-only on disk.
  EXPECT_EQ(Mode(packs[0]), 0444u);
  std::string pack = Slurp(packs[0]);
  std::string tampered = pack;
  tampered[tampered.size() / 2] ^= 0x55;
  chmod(packs[0].c_str(), 0644);
  Spit(packs[0], tampered);

  dualkey::vault::VerifyReport report = v.Verify(nullptr);
  EXPECT_FALSE(report.ok);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems[0].find(packs[0].filename().string()), std::string::npos)
      << report.problems[0];
  Output cli = Sh(Cli("verify --json"));
  EXPECT_EQ(cli.status, 1);
  EXPECT_FALSE(json::parse(cli.out)["ok"].get<bool>());

  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out").string();
  auto restored = Value(v.Restore(info->id, options), &error);
  ASSERT_TRUE(restored) << error;
  EXPECT_FALSE(restored->problems.empty());
  fs::path out_a = root_ / "out" / fs::relative(d / "a.bin", "/");
  EXPECT_FALSE(fs::exists(out_a)) << "a damaged file was restored";
  EXPECT_EQ(Slurp(root_ / "out" / fs::relative(d / "b.txt", "/")), "bbb");
  for (const auto& e : fs::directory_iterator(out_a.parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".dkv-restore"), std::string::npos);

  // The pack removed entirely.
  fs::remove(packs[0]);
  report = v.Verify(nullptr);
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.problems[0].find("missing"), std::string::npos) << report.problems[0];

  // A snapshot edited: its signature no longer verifies.
  fs::path snap = fs::path(vault_dir_) / "snapshots" / (info->id + ".snap");
  std::string text = Slurp(snap);
  text[text.size() - 3] ^= 1;
  chmod(snap.c_str(), 0644);
  Spit(snap, text);
  report = v.Verify(nullptr);
  bool signature_reported = false;
  for (const auto& p : report.problems)
    signature_reported |= p.find("signature") != std::string::npos;
  EXPECT_TRUE(signature_reported);
  EXPECT_FALSE(Value(v.Show(info->id, nullptr), &error));
}

// A damaged index object: verify names the snapshot that can no longer be
// restored and why (not "unused packs"), prune keeps its pack, and gc
// re-indexes it so the restore works again.
TEST_F(VaultTest, DamagedIndexNamesTheSnapshotAndGcReindexesIt) {
  fs::path d = root_ / "data";
  Spit(d / "first.bin", RandomBytes(300000, 21));
  Vault v = MakeVault();
  std::string error;
  auto first = Value(v.PutPaths({(d / "first.bin").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(first) << error;
  std::set<fs::path> first_index;
  for (const auto& e : fs::directory_iterator(vault_dir_ + "/index")) first_index.insert(e.path());
  ASSERT_EQ(first_index.size(), 1u);
  Spit(d / "second.bin", RandomBytes(300000, 900001));
  auto second = Value(v.PutPaths({(d / "second.bin").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(second) << error;
  // Damage the first put's index object.
  const fs::path index = *first_index.begin();
  std::string bytes = Slurp(index);
  bytes[bytes.size() / 2] ^= 0x20;
  chmod(index.c_str(), 0644);
  Spit(index, bytes);

  std::optional<Vault> fresh = Value(Vault::Open(vault_dir_), &error);
  ASSERT_TRUE(fresh) << error;
  dualkey::vault::VerifyReport report = fresh->Verify(nullptr);
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.unrestorable.size(), 1u);
  EXPECT_EQ(report.unrestorable[0].first, first->id);
  EXPECT_NE(report.unrestorable[0].second.find("no readable index"), std::string::npos)
      << report.unrestorable[0].second;
  for (const std::string& note : report.notes)
    EXPECT_EQ(note.find("no snapshot needs it"), std::string::npos) << note;
  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out1").string();
  auto broken = Value(fresh->Restore(first->id, options), &error);
  EXPECT_TRUE(!broken || !broken->problems.empty());

  Output gc = Sh(Cli("gc --json"));
  ASSERT_EQ(gc.status, 0) << gc.out;
  json result = json::parse(gc.out);
  EXPECT_EQ(result["packs_reindexed"].size(), 1u) << gc.out;
  EXPECT_TRUE(result["packs_removed"].empty()) << gc.out;
  std::optional<Vault> repaired = Value(Vault::Open(vault_dir_), &error);
  ASSERT_TRUE(repaired) << error;
  EXPECT_TRUE(repaired->Verify(nullptr).ok);
  options.to_dir = (root_ / "out2").string();
  auto restored = Value(repaired->Restore(first->id, options), &error);
  ASSERT_TRUE(restored) << error;
  EXPECT_TRUE(restored->problems.empty());
  EXPECT_EQ(Slurp(fs::path(options.to_dir) / fs::relative(d / "first.bin", "/")),
            RandomBytes(300000, 21));
  EXPECT_NE(Slurp(fs::path(vault_dir_) / "audit.jsonl").find("vault_gc"), std::string::npos);
}

// A pack no snapshot needs (an interrupted put's) is reported as such and
// collected by gc, audited; snapshots are untouched.
TEST_F(VaultTest, GcCollectsWhatNoSnapshotNeeds) {
  fs::path d = root_ / "data";
  Spit(d / "kept.bin", RandomBytes(200000, 31));
  Vault v = MakeVault();
  std::string error;
  auto kept = Value(v.PutPaths({(d / "kept.bin").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(kept) << error;
  // An orphan: a valid pack from another vault, as a put killed between its
  // packs and its index leaves one.
  const std::string other = (root_ / "other").string();
  dualkey::vault::InitOptions init;
  init.average_chunk = 64 << 10;
  ASSERT_TRUE(Ok(Vault::Init(other, init), &error)) << error;
  Spit(d / "orphan.bin", RandomBytes(200000, 800001));
  ASSERT_TRUE(Value(
      Value(Vault::Open(other), &error)->PutPaths({(d / "orphan.bin").string()}, Meta(), nullptr),
      &error))
      << error;
  for (const auto& e : fs::directory_iterator(other + "/packs"))
    fs::copy_file(e.path(), fs::path(vault_dir_) / "packs" / e.path().filename());
  dualkey::vault::VerifyReport before = v.Verify(nullptr);
  EXPECT_TRUE(before.ok);
  ASSERT_EQ(before.notes.size(), 1u);
  EXPECT_NE(before.notes[0].find("no snapshot needs it"), std::string::npos) << before.notes[0];

  Output dry = Sh(Cli("gc --dry-run --json"));
  ASSERT_EQ(dry.status, 0) << dry.out;
  EXPECT_EQ(json::parse(dry.out)["packs_removed"].size(), 1u);
  EXPECT_EQ(v.Verify(nullptr).notes.size(), 1u) << "a dry run changes nothing";
  Output gc = Sh(Cli("gc"));
  ASSERT_EQ(gc.status, 0) << gc.out;
  EXPECT_NE(gc.out.find("removed 1 pack(s)"), std::string::npos) << gc.out;
  dualkey::vault::VerifyReport after = v.Verify(nullptr);
  EXPECT_TRUE(after.ok);
  EXPECT_TRUE(after.notes.empty());
  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out").string();
  auto restored = Value(v.Restore(kept->id, options), &error);
  ASSERT_TRUE(restored && restored->problems.empty()) << error;
  Output again = Sh(Cli("gc"));
  EXPECT_NE(again.out.find("nothing to collect"), std::string::npos) << again.out;
}

TEST_F(VaultTest, RetentionIsNeverShortenedAndObjectsNeverReplaced) {
  MakeVault(30);
  std::string error;
  EXPECT_FALSE(Ok(Vault::Init(vault_dir_, 7), &error));
  EXPECT_NE(error.find("never shortened"), std::string::npos) << error;
  EXPECT_TRUE(Ok(Vault::Init(vault_dir_, 60), &error)) << error;
  EXPECT_FALSE(Ok(Vault::Init(vault_dir_, 30), &error));
  EXPECT_EQ(Value(Vault::Open(vault_dir_), &error)->retention_days(), 60);
  Output init = Sh(Cli("init --retention-days 1"));
  EXPECT_EQ(init.status, 1);

  // The backend refuses to replace any object; there is no delete command.
  auto backend = dualkey::vault::internal::OpenLocalBackend(vault_dir_, false, &error);
  ASSERT_TRUE(backend) << error;
  EXPECT_FALSE(
      backend->Create(dualkey::vault::internal::Space::kConfig, "vault.json", "{}", &error));
  EXPECT_NE(error.find("never replaced"), std::string::npos) << error;
  EXPECT_TRUE(Value(Vault::Open(vault_dir_), &error)) << error;
  for (const char* verb : {"delete", "rm", "forget", "remove"})
    EXPECT_EQ(Sh(Cli(verb)).status, 2) << verb;
}

class PruneTest : public VaultTest {
 protected:
  void SetUp() override {
    VaultTest::SetUp();
    store_path_ = (root_ / "state.sqlite3").string();
    std::string error;
    store_ = OpenOrNull(store_path_, &error);
    ASSERT_TRUE(store_) << error;
    secret_ = dualkey::approval::NewTotpSecret();
    ASSERT_TRUE(Ok(store_->AddApprover("alice", secret_), &error)) << error;
  }
  std::string Code(int step_offset) {
    std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    return dualkey::approval::TotpCode(secret_, now + 30 * step_offset);
  }
  dualkey::vault::PruneOptions Options(const std::string& code) {
    dualkey::vault::PruneOptions options;
    options.approver = "alice";
    options.totp = code;
    options.store = store_path_;
    return options;
  }
  std::vector<std::string> AuditKinds() {
    std::vector<std::string> kinds;
    auto entries = dualkey::audit::Read(vault_dir_ + "/audit.jsonl", 0);
    if (!entries.ok()) return kinds;
    for (const auto& e : *entries) kinds.push_back(e.kind);
    return kinds;
  }

  std::string store_path_, secret_;
  std::unique_ptr<dualkey::approval::Store> store_;
};

TEST_F(PruneTest, NothingUnderRetentionCanBeDeletedByAnyone) {
  Spit(root_ / "data" / "f", RandomBytes(100000, 7));
  Vault v = MakeVault(30);
  std::string error;
  auto info = Value(v.PutPaths({(root_ / "data").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(info) << error;

  // No approver, an unknown one, a wrong code: refused and audited.
  dualkey::vault::PruneOptions none = Options("");
  none.approver.clear();
  EXPECT_FALSE(Value(v.Prune(none), &error));
  dualkey::vault::PruneOptions stranger = Options(Code(0));
  stranger.approver = "mallory";
  EXPECT_FALSE(Value(v.Prune(stranger), &error));
  EXPECT_NE(error.find("unknown approver"), std::string::npos) << error;
  EXPECT_FALSE(Value(v.Prune(Options("000000") /* wrong, almost surely */), &error) &&
               Code(0) != "000000");

  // A valid code: the prune runs, but the snapshot is under retention.
  auto report = Value(v.Prune(Options(Code(0))), &error);
  ASSERT_TRUE(report) << error;
  EXPECT_TRUE(report->snapshots_removed.empty());
  EXPECT_EQ(report->kept_unexpired, std::vector<std::string>{info->id});
  // The same code again: replay refused.
  EXPECT_FALSE(Value(v.Prune(Options(Code(0))), &error));
  EXPECT_NE(error.find("already used"), std::string::npos) << error;

  // The CLI too (its code is the next step).
  Output cli =
      Sh(Cli("prune --json --approver alice --store " + Quote(store_path_) + " --totp " + Code(1)));
  ASSERT_EQ(cli.status, 0) << cli.out;
  EXPECT_TRUE(json::parse(cli.out)["snapshots_removed"].empty());

  std::vector<std::string> kinds = AuditKinds();
  EXPECT_GE(std::count(kinds.begin(), kinds.end(), "vault_prune_refused"), 4);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "vault_prune"), 2);
  EXPECT_TRUE(dualkey::audit::Verify(vault_dir_ + "/audit.jsonl").ok);
  // Everything is still there and intact.
  EXPECT_TRUE(v.Verify(nullptr).ok);
  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out").string();
  EXPECT_TRUE(Value(v.Restore(info->id, options), &error)) << error;
}

// Prune checks codes where the daemon does (approval::Authorize): wrong
// codes count toward the same lockout, and the daemon's vocabulary works.
TEST_F(PruneTest, WrongCodesLockTheApproverOutOfPruneToo) {
  Vault v = MakeVault(30);
  std::string error;
  for (int i = 0; i < 5; ++i) {
    char wrong[8];
    std::snprintf(wrong, sizeof wrong, "%06d", (std::stoi(Code(0)) + 1 + i) % 1000000);
    EXPECT_FALSE(Value(v.Prune(Options(wrong)), &error));
  }
  EXPECT_FALSE(Value(v.Prune(Options(Code(0))), &error)) << "locked: even the right code waits";
  EXPECT_NE(error.find("too many wrong codes"), std::string::npos) << error;
  // The lockout is the store's: the daemon (sharing it) refuses alice too.
  std::vector<dualkey::approval::Lockout> rows;
  ASSERT_TRUE(Ok(store_->Lockouts(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count(),
                                  dualkey::approval::LockoutPolicy{}, &rows),
                 &error));
  bool alice_locked = false;
  for (const auto& row : rows) alice_locked = alice_locked || row.scope == "approver:alice";
  EXPECT_TRUE(alice_locked);
  Output cli = Sh(Cli("prune --as alice --code " + Code(0) + " --store " + Quote(store_path_)));
  EXPECT_NE(cli.status, 0);
  EXPECT_NE(cli.out.find("too many wrong codes"), std::string::npos) << cli.out;
}

// One authorization for both paths (approval::Authorize): a code the
// daemon's path used (checked, then its step spent with the effect) is
// refused by prune, a code prune used is refused by the daemon's path, and a
// wrong code is refused by both and counted in the same place.
TEST_F(PruneTest, ACodeUsedOnOnePathIsRefusedOnTheOther) {
  Vault v = MakeVault(30);
  std::string error;
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  // The daemon approves with alice's current code and spends its step.
  const std::string used_by_daemon = Code(0);
  dualkey::approval::AuthResult approved =
      dualkey::approval::Authorize(*store_, "alice", used_by_daemon, "request:ap_test", now_ms());
  ASSERT_TRUE(approved.status.ok()) << approved.status.ToString();
  ASSERT_TRUE(store_->UseTotpStep(approved.spend.approver, approved.spend.step).ok());
  EXPECT_FALSE(Value(v.Prune(Options(used_by_daemon)), &error));
  EXPECT_NE(error.find("already used"), std::string::npos) << error;

  // Prune uses the next code; the daemon's path refuses it as used.
  const std::string used_by_prune = Code(1);
  ASSERT_TRUE(Value(v.Prune(Options(used_by_prune)), &error)) << error;
  dualkey::approval::AuthResult replay =
      dualkey::approval::Authorize(*store_, "alice", used_by_prune, "request:ap_test", now_ms());
  EXPECT_TRUE(replay.status.Is(dualkey::Status::Code::kFailedPrecondition))
      << replay.status.ToString();

  // A wrong code: refused on both paths.
  char wrong[8];
  std::snprintf(wrong, sizeof wrong, "%06d", (std::stoi(Code(0)) + 500000) % 1000000);
  dualkey::approval::AuthResult guessed =
      dualkey::approval::Authorize(*store_, "alice", wrong, "request:ap_test", now_ms());
  EXPECT_TRUE(guessed.status.Is(dualkey::Status::Code::kPermissionDenied))
      << guessed.status.ToString();
  EXPECT_FALSE(Value(v.Prune(Options(wrong)), &error));
  EXPECT_NE(error.find("wrong or expired"), std::string::npos) << error;

  // Every refusal above counted against alice, in the store both paths share:
  // two replays and two guesses (the successes were forgiven).
  std::vector<dualkey::approval::Lockout> rows;
  ASSERT_TRUE(store_->Lockouts(now_ms(), dualkey::approval::LockoutPolicy{}, &rows).ok());
  int alice_failures = 0;
  for (const auto& row : rows)
    if (row.scope == "approver:alice") alice_failures = row.failures;
  EXPECT_EQ(alice_failures, 4);
}

TEST_F(PruneTest, ExpiredSnapshotsGoWithAnApprovalAndTheRestStays) {
  // Retention 0: snapshots expire at once (the only way to test expiry now).
  Vault v = MakeVault(0);
  std::string error;
  Spit(root_ / "data" / "old", RandomBytes(300000, 8));
  auto old_snap = Value(v.PutPaths({(root_ / "data" / "old").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(old_snap) << error;
  auto dry = Value(v.Prune([&] {
    auto o = Options(Code(-1));
    o.dry_run = true;
    return o;
  }()),
                   &error);
  ASSERT_TRUE(dry) << error;
  EXPECT_EQ(dry->snapshots_removed.size(), 1u);
  EXPECT_EQ(ListOf(v, &error).size(), 1u);

  auto report = Value(v.Prune(Options(Code(0))), &error);
  ASSERT_TRUE(report) << error;
  EXPECT_EQ(report->snapshots_removed, std::vector<std::string>{old_snap->id});
  EXPECT_EQ(report->packs_removed, 1u);
  EXPECT_TRUE(ListOf(v, &error).empty());
  EXPECT_TRUE(v.Verify(nullptr).ok);
  std::vector<std::string> kinds = AuditKinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "vault_prune"), 1);

  // Extending retention protects what comes next, and the vault still works.
  ASSERT_TRUE(Ok(Vault::Init(vault_dir_, 30), &error)) << error;
  std::optional<Vault> reopened = Value(Vault::Open(vault_dir_), &error);
  ASSERT_TRUE(reopened);
  auto kept =
      Value(reopened->PutPaths({(root_ / "data" / "old").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(kept) << error;
  auto second = Value(reopened->Prune(Options(Code(1))), &error);
  ASSERT_TRUE(second) << error;
  EXPECT_TRUE(second->snapshots_removed.empty());
  EXPECT_TRUE(reopened->Verify(nullptr).ok);
}

// Two handles on one vault (the daemon's and a CLI's): each sees what the
// other saved, and a prune by one never lets the other deduplicate against
// chunks that are gone.
TEST_F(PruneTest, HandlesSeeEachOthersPutsAndPrunes) {
  Spit(root_ / "data" / "f", RandomBytes(500000, 12));
  Vault a = MakeVault(0);
  std::string error;
  auto first = Value(a.PutPaths({(root_ / "data").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(first) << error;
  std::optional<Vault> b = Value(Vault::Open(vault_dir_), &error);
  ASSERT_TRUE(b) << error;
  auto report = Value(b->Prune(Options(Code(0))), &error);
  ASSERT_TRUE(report) << error;
  ASSERT_EQ(report->snapshots_removed.size(), 1u);

  auto again = Value(a.PutPaths({(root_ / "data").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(again) << error;
  EXPECT_GE(again->added_bytes, 500000u) << "deduplicated against a pruned pack";
  EXPECT_TRUE(a.Verify(nullptr).ok);
  // A snapshot saved by another process restores through the older handle.
  Output put = Sh(Cli("put --json --quiet " + Quote((root_ / "data" / "f").string())));
  ASSERT_EQ(put.status, 0) << put.out;
  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out").string();
  auto restored = Value(b->Restore(json::parse(put.out)["id"].get<std::string>(), options), &error);
  ASSERT_TRUE(restored) << error;
  EXPECT_TRUE(restored->problems.empty());
}

// kill -9 a real `dualkey vault put` at several points: earlier snapshots
// stay restorable, the vault verifies, and the next put works.
TEST_F(VaultTest, KillDuringPutLeavesEarlierSnapshotsIntact) {
  fs::path d = root_ / "data";
  Spit(d / "small.txt", "saved before the crash");
  Vault v = MakeVault(30, 256 << 10);
  std::string error;
  auto before = Value(v.PutPaths({(d / "small.txt").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(before) << error;
  int killed_mid_put = 0;
  fs::path big;
  // A 64 MiB put takes ~100 ms on a quiet machine: every kill point must fall
  // inside it, or the put finishes first and the round proves nothing.
  for (int delay_ms : {0, 3, 8, 15}) {
    // New data each time: a put of data already saved writes nothing to kill.
    big = d / ("big" + std::to_string(delay_ms));
    fs::create_directories(big);
    for (int i = 0; i < 4; ++i)
      Spit(big / ("f" + std::to_string(i)), RandomBytes(16 << 20, 100 * delay_ms + i));
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execl(DUALKEY_BINARY, DUALKEY_BINARY, "vault", "put", "--quiet", "--vault",
            vault_dir_.c_str(), big.c_str(), nullptr);
      _exit(127);
    }
    // Kill once it is writing (a temp object or a new pack exists), a little later each time.
    auto count = [](const std::string& dir) {
      return std::distance(fs::directory_iterator(dir), fs::directory_iterator());
    };
    const auto packs_before = count(vault_dir_ + "/packs");
    auto exited = [pid] {
      siginfo_t info{};
      return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    };
    bool writing = false;
    for (int i = 0; i < 5000 && !exited(); ++i) {
      writing = count(vault_dir_ + "/tmp") > 0 || count(vault_dir_ + "/packs") > packs_before;
      if (writing) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (writing && WIFSIGNALED(status)) ++killed_mid_put;

    std::optional<Vault> after = Value(Vault::Open(vault_dir_), &error);
    ASSERT_TRUE(after) << error;
    dualkey::vault::VerifyReport report = after->Verify(nullptr);
    EXPECT_TRUE(report.ok) << (report.problems.empty() ? "" : report.problems[0]);
    dualkey::vault::RestoreOptions options;
    options.to_dir = (root_ / ("out" + std::to_string(delay_ms))).string();
    auto restored = Value(after->Restore(before->id, options), &error);
    ASSERT_TRUE(restored) << error;
    EXPECT_TRUE(restored->problems.empty());
    EXPECT_EQ(Slurp(fs::path(options.to_dir) / fs::relative(d / "small.txt", "/")),
              "saved before the crash");
    // Any snapshot that exists is whole.
    for (const auto& s : ListOf(*after, &error)) {
      std::vector<dualkey::vault::EntryInfo> entries;
      EXPECT_TRUE(Value(after->Show(s.id, &entries), &error)) << error;
    }
  }
  EXPECT_GE(killed_mid_put, 3) << "the puts finished before the kill: the test proved nothing";
  // The next writer clears the dead one's temp files and works.
  auto next = Value(v.PutPaths({big.string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(next) << error;
  EXPECT_TRUE(fs::is_empty(vault_dir_ + "/tmp"));
  EXPECT_TRUE(v.Verify(nullptr).ok);
  // What the killed puts left, gc collects; every snapshot still restores.
  auto collected = Value(v.Gc({}), &error);
  ASSERT_TRUE(collected) << error;
  dualkey::vault::VerifyReport clean = v.Verify(nullptr);
  EXPECT_TRUE(clean.ok);
  EXPECT_TRUE(clean.notes.empty()) << clean.notes[0];
  dualkey::vault::RestoreOptions last;
  last.to_dir = (root_ / "after-gc").string();
  auto restored_after = Value(v.Restore(next->id, last), &error);
  ASSERT_TRUE(restored_after && restored_after->problems.empty()) << error;
}

TEST_F(VaultTest, UnreadableFileFailsThePutAndSavesNothing) {
  fs::path d = root_ / "data";
  Spit(d / "ok.txt", "fine");
  Spit(d / "secret.txt", "no");
  chmod((d / "secret.txt").c_str(), 0000);
  MakeVault();
  std::string runner;
  if (geteuid() == 0) {
    // Root reads everything: run the put as nobody, who owns the vault.
    ASSERT_EQ(Sh("chown -R 65534:65534 " + Quote(vault_dir_) + " " + Quote(root_.string())).status,
              0);
    chmod(root_.c_str(), 0755);
    runner = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  }
  Output put = Sh(runner + Cli("put --quiet " + Quote(d.string())));
  EXPECT_EQ(put.status, 1) << put.out;
  EXPECT_NE(put.out.find("cannot read " + (d / "secret.txt").string()), std::string::npos)
      << put.out;
  EXPECT_NE(put.out.find("nothing was saved"), std::string::npos) << put.out;
  std::string error;
  std::optional<Vault> v = Value(Vault::Open(vault_dir_), &error);
  ASSERT_TRUE(v) << error;
  EXPECT_TRUE(ListOf(*v, &error).empty());
  EXPECT_TRUE(v->Verify(nullptr).ok);
}

TEST_F(VaultTest, FileChangingWhileReadIsNotReportedSaved) {
  fs::path f = root_ / "data" / "growing.log";
  Spit(f, RandomBytes(8 << 20, 9));
  Vault v = MakeVault();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int fd = open(f.c_str(), O_WRONLY | O_APPEND);
    while (!stop) {
      (void)!write(fd, "x", 1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    close(fd);
  });
  std::string error;
  auto info = Value(v.PutPaths({f.string()}, Meta(), nullptr), &error);
  stop = true;
  writer.join();
  EXPECT_FALSE(info);
  EXPECT_NE(error.find("kept changing"), std::string::npos) << error;
  EXPECT_TRUE(ListOf(v, &error).empty());
  EXPECT_TRUE(v.Verify(nullptr).ok);
}

TEST_F(VaultTest, FullDiskFailsCleanly) {
  fs::path d = root_ / "data";
  Spit(d / "first", "before");
  Vault v = MakeVault();
  std::string error;
  auto first = Value(v.PutPaths({(d / "first").string()}, Meta(), nullptr), &error);
  ASSERT_TRUE(first) << error;
  Spit(d / "big.bin", RandomBytes(4 << 20, 11));
  // A 1 MiB file size limit: writing the pack fails as on a full disk.
  Output put =
      Sh("trap '' XFSZ; ulimit -f 1024; " + Cli("put --quiet " + Quote((d / "big.bin").string())));
  EXPECT_EQ(put.status, 1) << put.out;
  EXPECT_NE(put.out.find("cannot write to the vault"), std::string::npos) << put.out;
  // Nothing of the failed put is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(vault_dir_ + "/packs"), fs::directory_iterator()),
            1);
  EXPECT_EQ(std::distance(fs::directory_iterator(vault_dir_ + "/index"), fs::directory_iterator()),
            1);
  std::optional<Vault> after = Value(Vault::Open(vault_dir_), &error);
  ASSERT_TRUE(after);
  EXPECT_EQ(ListOf(*after, &error).size(), 1u);
  EXPECT_TRUE(after->Verify(nullptr).ok);
  EXPECT_TRUE(fs::is_empty(vault_dir_ + "/tmp"));
  dualkey::vault::RestoreOptions options;
  options.to_dir = (root_ / "out").string();
  EXPECT_TRUE(Value(after->Restore(first->id, options), &error)) << error;
}

// `vault put --pg` runs pg_dump; `vault restore --db` puts it into another
// database with pg_restore.
TEST_F(VaultTest, DatabaseSnapshotRestoresIntoANamedDatabase) {
  dualkey::testing::PgHarness pg;
  if (!pg.ok()) {
    if (pg.binaries_missing()) GTEST_SKIP() << pg.error();
    FAIL() << pg.error();
  }
  std::string source = pg.CreateDatabase("shop");
  std::string target = pg.CreateDatabase("shop_restored");
  ASSERT_FALSE(source.empty() || target.empty()) << pg.error();
  ASSERT_EQ(Sh("psql -q -v ON_ERROR_STOP=1 " + Quote(source) +
               " -c 'CREATE TABLE orders (id int primary key, note text);"
               " INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g;'")
                .status,
            0);
  MakeVault();
  Output put = Sh(Cli("put --json --reason 'DROP TABLE orders' --pg " + Quote(source)));
  ASSERT_EQ(put.status, 0) << put.out;
  json saved = json::parse(put.out);
  EXPECT_EQ(saved["kind"], "pg_dump");
  const std::string kChecksum =
      "SELECT count(*), md5(string_agg(id || note, ',' ORDER BY id)) FROM orders";
  Output checksum = Sh("psql -At " + Quote(source) + " -c " + Quote(kChecksum));
  ASSERT_EQ(checksum.status, 0) << checksum.out;
  ASSERT_EQ(Sh("psql -q " + Quote(source) + " -c 'DROP TABLE orders'").status, 0);

  Output restore = Sh(Cli("restore --db " + Quote(target) + " " + saved["id"].get<std::string>()));
  ASSERT_EQ(restore.status, 0) << restore.out;
  Output restored = Sh("psql -At " + Quote(target) + " -c " + Quote(kChecksum));
  EXPECT_EQ(restored.out, checksum.out);
  EXPECT_NE(checksum.out.find("5000|"), std::string::npos) << checksum.out;
}

}  // namespace

namespace {

TEST(FileTargets, ExistingPathsOfDestructiveFileActionsOnly) {
  namespace fs = std::filesystem;
  fs::path d = fs::path("/tmp") / ("dualkey-vault-targets-" + std::to_string(getpid()));
  fs::create_directories(d / "uploads" / "a");
  std::ofstream(d / "uploads" / "a" / "x.jpg") << "x";
  std::ofstream(d / "notes.txt") << "n";
  auto action = [](std::string op, std::vector<std::string> targets) {
    dualkey::Action a;
    a.op_class = std::move(op);
    a.targets = std::move(targets);
    a.severity = dualkey::Severity::kHigh;
    a.reversibility = dualkey::Reversibility::kIrreversible;
    return a;
  };
  dualkey::Action read = action("read.only", {(d / "notes.txt").string()});
  read.severity = dualkey::Severity::kNone;
  std::vector<std::string> got = dualkey::vault::FileTargets({
      action("fs.delete.recursive", {(d / "uploads").string()}),
      action("fs.delete", {(d / "uploads" / "a" / "x.jpg").string()}),  // folded into its parent
      action("fs.overwrite", {(d / "*.txt").string()}),                 // glob expanded
      action("fs.delete", {(d / "missing").string(), "relative/path"}),
      action("fs.delete.device", {"/dev/null"}),
      action("db.drop", {"public.orders"}),
      read,
  });
  EXPECT_EQ(got, (std::vector<std::string>{(d / "notes.txt").string(), (d / "uploads").string()}));
  fs::remove_all(d);
}

}  // namespace
