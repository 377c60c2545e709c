// The interim snapshot sink: files in the state directory, fsync'd before
// the snapshot id is handed out (the statement runs only after that).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "proxy/pg/internal/scram.h"
#include "proxy/pg/pg_proxy.h"

namespace dualkey::pgproxy {
namespace {

bool SafePart(const std::string& part) {
  if (part.empty() || part.size() > 200 || part[0] == '.') return false;
  for (char c : part)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void FsyncPath(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

class DirWriter : public SnapshotWriter {
 public:
  DirWriter(std::string root, std::string id, SnapshotRequest request)
      : root_(std::move(root)), id_(std::move(id)), request_(std::move(request)) {
    started_ms_ = Now();
  }
  ~DirWriter() override {
    if (!committed_) Abort();
  }

  bool Append(const std::string& part, std::string_view bytes, std::string* error) override {
    if (!SafePart(part)) {
      *error = "bad snapshot part name " + part;
      return false;
    }
    auto it = files_.find(part);
    if (it == files_.end()) {
      int fd = open((dir() + "/" + part).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) {
        *error = "cannot create " + dir() + "/" + part + ": " + std::strerror(errno);
        return false;
      }
      it = files_.emplace(part, Part{fd, 0}).first;
    }
    if (!WriteAll(it->second.fd, bytes)) {
      *error = "cannot write " + dir() + "/" + part + ": " + std::strerror(errno);
      return false;
    }
    it->second.bytes += bytes.size();
    return true;
  }

  std::optional<std::string> Commit(std::string* error) override {
    nlohmann::json parts = nlohmann::json::object();
    for (auto& [name, part] : files_) {
      if (fsync(part.fd) != 0 || close(part.fd) != 0) {
        *error = "cannot sync " + name + ": " + std::strerror(errno);
        part.fd = -1;
        return std::nullopt;
      }
      part.fd = -1;
      parts[name] = part.bytes;
    }
    nlohmann::json meta{{"id", id_},
                        {"kind", request_.kind},
                        {"database", request_.database},
                        {"objects", request_.objects},
                        {"statement", request_.statement},
                        {"agent", request_.agent},
                        {"approval_id", request_.approval_id},
                        {"created_ms", started_ms_},
                        {"parts", parts}};
    std::string error_text;
    const std::string meta_text =
        meta.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (!Append("meta.json", meta_text, &error_text)) {
      *error = error_text;
      return std::nullopt;
    }
    Part& m = files_["meta.json"];
    if (fsync(m.fd) != 0 || close(m.fd) != 0) {
      *error = std::string("cannot sync meta.json: ") + std::strerror(errno);
      m.fd = -1;
      return std::nullopt;
    }
    m.fd = -1;
    FsyncPath(dir());
    FsyncPath(root_);
    committed_ = true;
    return id_;
  }

  void Abort() override {
    for (auto& [name, part] : files_)
      if (part.fd >= 0) close(part.fd);
    files_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir(), ignored);
    committed_ = true;  // nothing left to abort
  }

 private:
  struct Part {
    int fd = -1;
    std::uint64_t bytes = 0;
  };
  static std::int64_t Now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::string dir() const { return root_ + "/" + id_; }

  std::string root_;
  std::string id_;
  SnapshotRequest request_;
  std::map<std::string, Part> files_;
  std::int64_t started_ms_ = 0;
  bool committed_ = false;
};

class StateDirSink : public SnapshotSink {
 public:
  explicit StateDirSink(std::string state_dir) : root_(std::move(state_dir) + "/snapshots") {}

  std::unique_ptr<SnapshotWriter> Begin(const SnapshotRequest& request,
                                        std::string* error) override {
    std::error_code ec;
    std::filesystem::create_directories(root_, ec);
    chmod(root_.c_str(), 0700);
    // Sortable by time, unique by randomness.
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    char stamp[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    std::string random = scram::RandomBytes(6);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string suffix;
    for (unsigned char c : random) {
      suffix.push_back(kHex[c >> 4]);
      suffix.push_back(kHex[c & 15]);
    }
    const std::string id = std::string("snap-") + stamp + "-" + suffix;
    if (mkdir((root_ + "/" + id).c_str(), 0700) != 0) {
      *error = "cannot create " + root_ + "/" + id + ": " + std::strerror(errno);
      return nullptr;
    }
    return std::make_unique<DirWriter>(root_, id, request);
  }

 private:
  std::string root_;
};

}  // namespace

std::unique_ptr<SnapshotSink> MakeStateDirSink(std::string state_dir) {
  return std::make_unique<StateDirSink>(std::move(state_dir));
}

}  // namespace dualkey::pgproxy
