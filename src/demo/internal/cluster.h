// A throwaway PostgreSQL cluster for the demo: initdb in a directory,
// password (SCRAM) authentication, started on a free loopback port. When the
// demo runs as root, PostgreSQL runs as "nobody", since it refuses root.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "demo/internal/process.h"

namespace dualkey::demo::internal {

class Cluster {
 public:
  // Creates and starts the cluster in `dir` with superuser `postgres` whose
  // password is `password`. Null with `error` set when it cannot.
  static std::unique_ptr<Cluster> Start(const std::string& dir, const std::string& password,
                                        std::string* error);
  ~Cluster();  // stops the server (fast shutdown)

  int port() const { return port_; }
  const std::string& bin_dir() const { return bin_dir_; }
  // A libpq connection string for `dbname` as the superuser, with password.
  std::string Conninfo(const std::string& dbname) const;
  // Runs a PostgreSQL client program (pg_dump, pg_restore, psql) from the
  // cluster's bin dir with the superuser's credentials in its environment.
  RunResult Tool(const std::string& program, const std::vector<std::string>& args,
                 const std::string& input = "", int timeout_ms = 60000) const;

 private:
  Cluster() = default;
  std::string dir_, bin_dir_, password_;
  int port_ = 0;
  int uid_ = -1, gid_ = -1;
  bool running_ = false;
};

// Finds the directory holding initdb and pg_ctl ($DUALKEY_PG_BIN, then the
// newest /usr/lib/postgresql/*/bin, then PATH). Empty when there is none.
std::string FindPostgresBin();

// A loopback TCP port nobody listens on right now.
int FreePort();

}  // namespace dualkey::demo::internal
