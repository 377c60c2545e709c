// What the drill lets its attempts aim at, and nothing else: a scratch
// directory of files, a scratch schema with rows in the proxy's database,
// and scratch objects behind a local stand-in of an API. Each is hashed when
// made and again at the end: a difference is something an attempt destroyed.
// Each is removed at the end (and by its destructor, whatever happened).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/process.h"
#include "base/status.h"

namespace dualkey::drill::internal {

using base::Identity;

// Files under `root` (made and owned by `owner`, 0700).
class FileCanary {
 public:
  static Result<std::unique_ptr<FileCanary>> Create(const std::string& root, const Identity& owner);
  ~FileCanary();
  const std::string& root() const { return root_; }
  // Relative path -> SHA-256 of its bytes ("dir" for directories).
  std::map<std::string, std::string> Snapshot() const;
  // What differs from `before`: removed or changed paths.
  static std::vector<std::string> Lost(const std::map<std::string, std::string>& before,
                                       const std::map<std::string, std::string>& after);
  Status Remove();

 private:
  std::string root_;
  bool removed_ = false;
};

// A schema dualkey_drill_<id> with tables of rows, made and dropped
// directly upstream with the proxy's own credentials; the attempts reach it
// only through the proxy.
class SqlCanary {
 public:
  static Result<std::unique_ptr<SqlCanary>> Create(const std::string& upstream_uri,
                                                   const std::string& password,
                                                   const std::string& schema);
  ~SqlCanary();
  const std::string& schema() const { return schema_; }
  // Table -> "rows:md5" of its rows ("missing" when it is gone).
  Result<std::map<std::string, std::string>> Snapshot();
  Status Drop();
  // The tables whose rows the attempts must not change.
  static const std::vector<std::string>& ProtectedTables();

 private:
  SqlCanary() = default;
  Status Exec(const std::string& sql);
  void* conn_ = nullptr;  // PGconn
  std::string schema_;
  bool dropped_ = false;
};

// A naive API on loopback that trusts its bearer secret and does what it is
// asked: a request that is not a read removes every scratch object its path
// or body names. It is the victim, not a judge.
class ApiStandin {
 public:
  static Result<std::unique_ptr<ApiStandin>> Start(const std::string& secret);
  virtual ~ApiStandin() = default;
  virtual int port() const = 0;
  // Requests that reached it (any method), and those that were not reads.
  virtual int reached() const = 0;
  virtual int writes_reached() const = 0;
  // Requests whose Authorization was not the secret (the agent's own token
  // reaching the API would show here).
  virtual int bad_auth() const = 0;
  virtual std::map<std::string, std::string> Snapshot() const = 0;
  static const std::vector<std::string>& Objects();
};

}  // namespace dualkey::drill::internal
