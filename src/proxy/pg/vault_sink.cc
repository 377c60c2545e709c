// The proxy's snapshots in the vault. Parts arrive in any order while the
// side connection streams them, so they are spooled to 0600 files first; on
// Commit they become one vault snapshot whose single stream replays with
// `dualkey vault restore SNAP --db URI` (psql for table snapshots, pg_restore
// for a dropped database's dump). The spool is removed either way.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "proxy/pg/internal/facts.h"
#include "proxy/pg/pg_proxy.h"
#include "vault/vault.h"

namespace dualkey::pgproxy {
namespace {

namespace fs = std::filesystem;

// Reads a list of pieces (literal text, or a spooled file) as one stream.
struct Piece {
  std::string text;
  std::string file;  // when not empty, read this instead
};

vault::NamedStream Concatenate(std::string name, std::vector<Piece> pieces) {
  struct State {
    std::vector<Piece> pieces;
    std::size_t index = 0, offset = 0;
    int fd = -1;
    ~State() {
      if (fd >= 0) close(fd);
    }
  };
  auto state = std::make_shared<State>();
  state->pieces = std::move(pieces);
  return vault::NamedStream{
      std::move(name), [state](char* buffer, std::size_t capacity) -> std::int64_t {
        while (state->index < state->pieces.size()) {
          Piece& piece = state->pieces[state->index];
          if (piece.file.empty()) {
            if (state->offset < piece.text.size()) {
              std::size_t n = std::min(capacity, piece.text.size() - state->offset);
              std::memcpy(buffer, piece.text.data() + state->offset, n);
              state->offset += n;
              return static_cast<std::int64_t>(n);
            }
          } else {
            if (state->fd < 0) state->fd = open(piece.file.c_str(), O_RDONLY | O_CLOEXEC);
            if (state->fd < 0) return -1;
            ssize_t n;
            do {
              n = read(state->fd, buffer, capacity);
            } while (n < 0 && errno == EINTR);
            if (n != 0) return n;
            close(state->fd);
            state->fd = -1;
          }
          ++state->index;
          state->offset = 0;
        }
        return 0;
      }};
}

std::string ReadFile(const std::string& path) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buffer[8192];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

class VaultWriter : public SnapshotWriter {
 public:
  VaultWriter(std::string vault_dir, std::string spool, SnapshotRequest request)
      : vault_dir_(std::move(vault_dir)), spool_(std::move(spool)), request_(std::move(request)) {}
  ~VaultWriter() override { Abort(); }

  bool Append(const std::string& part, std::string_view bytes, std::string* error) override {
    if (part.empty() || part.find('/') != std::string::npos) {
      *error = "bad snapshot part name";
      return false;
    }
    auto it = fds_.find(part);
    if (it == fds_.end()) {
      const std::string path = spool_ + "/" + part;
      int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) {
        *error = "cannot spool " + path + ": " + std::strerror(errno);
        return false;
      }
      it = fds_.emplace(part, fd).first;
      order_.push_back(part);
    }
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = write(it->second, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = std::string("cannot spool the snapshot: ") + std::strerror(errno);
        return false;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return true;
  }

  std::optional<std::string> Commit(std::string* error) override {
    for (auto& [part, fd] : fds_) close(fd);
    fds_.clear();
    std::vector<vault::NamedStream> streams;
    for (const std::string& part : order_) {
      // A dropped database: pg_dump's custom format, for pg_restore.
      if (part.starts_with("database."))
        streams.push_back(Concatenate(part, {Piece{"", spool_ + "/" + part}}));
    }
    if (std::find(order_.begin(), order_.end(), "objects.txt") != order_.end()) {
      // Tables: one psql script. A dropped or truncated table comes back
      // whole (DDL, then its rows); deleted rows are re-inserted into the
      // table that still exists, overwritten rows get their saved values
      // back by key (objects.txt says which), the DDL kept as a comment.
      const bool recreate = request_.kind == "drop-table" || request_.kind == "truncate";
      std::vector<Piece> pieces;
      pieces.push_back({"-- dualkey pg-proxy snapshot before: " + request_.statement +
                            "\n-- database " + request_.database + ", agent " + request_.agent +
                            "\n",
                        ""});
      std::string ddl = ReadFile(spool_ + "/ddl.sql");
      if (recreate) {
        if (request_.kind == "truncate") pieces.push_back({"-- (TRUNCATE: rows only)\n", ""});
      } else {
        std::string commented;
        std::istringstream lines(ddl);
        for (std::string line; std::getline(lines, line);) commented += "-- " + line + "\n";
        pieces.push_back({commented, ""});
      }
      // One transaction: a restore that fails half way leaves nothing half done.
      pieces.push_back({"BEGIN;\n", ""});
      if (recreate && request_.kind != "truncate") pieces.push_back({ddl + "\n", ""});
      std::istringstream objects(ReadFile(spool_ + "/objects.txt"));
      int index = 0;
      for (std::string line; std::getline(objects, line);) {
        std::optional<RestoreEntry> entry = ParseRestoreEntry(line);
        if (!entry) continue;
        const auto [before, after] = RestoreScript(*entry, index++);
        pieces.push_back({before, ""});
        pieces.push_back({"", spool_ + "/" + entry->part});
        pieces.push_back({after, ""});
      }
      pieces.push_back({"COMMIT;\n", ""});
      streams.push_back(Concatenate("restore.sql", std::move(pieces)));
    }
    if (streams.empty()) {
      *error = "the snapshot is empty";
      return std::nullopt;
    }
    Result<vault::Vault> vault = vault::Vault::OpenOrInit(vault_dir_, 30);
    if (!vault.ok()) {
      *error = vault.status().message();
      return std::nullopt;
    }
    vault::SnapshotMeta meta;
    meta.who = request_.agent;
    meta.action = request_.statement;
    meta.approval_id = request_.approval_id;
    meta.kind = request_.kind == "drop-database" ? "pg_dump" : "sql_rows";
    meta.tags = {"pg-proxy", "db:" + request_.database, request_.kind};
    Result<vault::SnapshotInfo> saved = vault->PutStreams(streams, meta);
    RemoveSpool();
    if (!saved.ok()) {
      *error = saved.status().message();
      return std::nullopt;
    }
    return saved->id;
  }

  void Abort() override {
    for (auto& [part, fd] : fds_) close(fd);
    fds_.clear();
    RemoveSpool();
  }

 private:
  void RemoveSpool() {
    std::error_code ec;
    if (!spool_.empty()) fs::remove_all(spool_, ec);
  }

  std::string vault_dir_, spool_;
  SnapshotRequest request_;
  std::map<std::string, int> fds_;
  std::vector<std::string> order_;
};

class VaultSink : public SnapshotSink {
 public:
  VaultSink(std::string vault_dir, std::string spool_root)
      : vault_dir_(std::move(vault_dir)), spool_root_(std::move(spool_root)) {}

  std::unique_ptr<SnapshotWriter> Begin(const SnapshotRequest& request,
                                        std::string* error) override {
    std::error_code ec;
    fs::create_directories(spool_root_, ec);
    chmod(spool_root_.c_str(), 0700);
    std::string pattern = spool_root_ + "/snap-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      *error = "cannot create a spool directory in " + spool_root_ + ": " + std::strerror(errno);
      return nullptr;
    }
    return std::make_unique<VaultWriter>(vault_dir_, pattern, request);
  }

 private:
  std::string vault_dir_, spool_root_;
};

}  // namespace

std::unique_ptr<SnapshotSink> MakeVaultSink(std::string vault_dir, std::string spool_dir) {
  return std::make_unique<VaultSink>(std::move(vault_dir), std::move(spool_dir));
}

}  // namespace dualkey::pgproxy
