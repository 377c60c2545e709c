// A throwaway PostgreSQL cluster for the demo: initdb in a directory,
// password (SCRAM) authentication, started on a free loopback port. When the
// demo runs as root, PostgreSQL runs as "nobody", since it refuses root; if
// nobody cannot reach the directory (a parent without o+x, like /root), the
// cluster goes into a private directory the demo makes under /tmp (0700,
// nobody's) instead: the demo never changes the modes of directories it did
// not create.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/process.h"

namespace dualkey::demo::internal {

class Cluster {
 public:
  // Creates and starts the cluster in `dir` with superuser `postgres` whose
  // password is `password`; its programs run with exactly the environment
  // `env`. Null with `error` set when it cannot.
  static std::unique_ptr<Cluster> Start(const std::string& dir, const std::string& password,
                                        const std::vector<std::string>& env, std::string* error);
  ~Cluster();  // stops the server (fast shutdown), removes a private directory

  // Where the cluster's files are (`dir`, or the private directory).
  const std::string& dir() const { return dir_; }

  int port() const { return port_; }
  const std::string& bin_dir() const { return bin_dir_; }
  // A libpq connection string for `dbname` as the superuser, with password.
  std::string Conninfo(const std::string& dbname) const;
  // Runs a PostgreSQL client program (pg_dump, pg_restore, psql) from the
  // cluster's bin dir with the superuser's credentials in its environment.
  base::ProcessResult Tool(const std::string& program, const std::vector<std::string>& args,
                           const std::string& input = "", int timeout_ms = 60000) const;

 private:
  Cluster() = default;
  std::string dir_, bin_dir_, password_;
  std::vector<std::string> env_;
  // Who PostgreSQL runs as: nobody when the demo is root, else the demo's user.
  base::Identity RunAs() const;
  // Runs initdb or pg_ctl from the bin dir as RunAs(), in dir().
  base::ProcessResult RunServerTool(const std::string& program, std::vector<std::string> args,
                                    int timeout_ms) const;
  std::string private_dir_;  // made by Start, removed by the destructor
  int port_ = 0;
  int uid_ = -1, gid_ = -1;
  bool running_ = false;
};

// Finds the directory holding initdb and pg_ctl ($DUALKEY_PG_BIN, then the
// newest /usr/lib/postgresql/*/bin, then PATH). Empty when there is none.
std::string FindPostgresBin();

// Whether a user other than the owner may pass through every directory from
// / down to `path` (all of them o+x).
bool TraversableByOthers(const std::string& path);

}  // namespace dualkey::demo::internal
