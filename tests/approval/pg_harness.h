// A throwaway PostgreSQL server for tests: initdb in a temp dir (trust auth,
// superuser "dualkey"), started on a free loopback port, stopped and removed
// by the destructor. When the tests run as root (CI does) the server runs as
// an unprivileged user, because initdb and postgres refuse root: the
// commands are exec'd by a child that drops to that user with
// setgid/setuid, so no su/runuser/sudo is needed.
//
//   PgHarness pg;
//   if (!pg.ok()) GTEST_SKIP() << pg.error();   // only when binaries are missing
//   std::string uri = pg.CreateDatabase("t1");  // postgresql://dualkey@127.0.0.1:PORT/t1
//
// Options::tls runs the server with ssl=on and a self-signed certificate
// (CN=localhost, subjectAltName DNS:localhost and IP:127.0.0.1) made with the
// openssl command; cert_path() is it, for clients' sslrootcert.
//
// Environment: DUALKEY_PG_BIN (directory with initdb/pg_ctl) overrides the
// search; DUALKEY_PG_USER picks the unprivileged user (default "nobody").
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/free_port.h"

namespace dualkey::testing {

class PgHarness {
 public:
  struct Options {
    // pg_hba.conf lines put before the harness's own trust lines, e.g.
    // "host all app 127.0.0.1/32 scram-sha-256" for a password-checked role.
    std::vector<std::string> hba_first;
    // Extra "-c name=value" server settings.
    std::vector<std::string> settings;
    // ssl=on with a fresh self-signed certificate (see cert_path()).
    bool tls = false;
  };

  PgHarness() { Start(); }
  explicit PgHarness(Options options) : options_(std::move(options)) { Start(); }
  ~PgHarness() { Stop(); }
  PgHarness(const PgHarness&) = delete;
  PgHarness& operator=(const PgHarness&) = delete;

  // False when the server is not running; `binaries_missing()` tells whether
  // that is because PostgreSQL is not installed (skip) or a real failure.
  bool ok() const { return running_; }
  bool binaries_missing() const { return bin_dir_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  // With Options::tls: the server's certificate (PEM), which is also its own
  // CA for sslmode=verify-full; empty without TLS.
  const std::string& cert_path() const { return cert_path_; }
  // The directory of the server's Unix socket (.s.PGSQL.PORT).
  const std::string& socket_dir() const { return dir_; }
  // A libpq URI for database `dbname` over TCP loopback.
  std::string Uri(const std::string& dbname = "postgres") const {
    return "postgresql://dualkey@127.0.0.1:" + std::to_string(port_) + "/" + dbname;
  }

  // Runs SQL as the superuser; returns false with error() set on failure.
  bool Exec(const std::string& sql, const std::string& dbname = "postgres") {
    PGconn* conn = PQconnectdb(Uri(dbname).c_str());
    bool ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
      PGresult* result = PQexec(conn, sql.c_str());
      ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
      if (!ok) error_ = PQresultErrorMessage(result);
      PQclear(result);
    } else {
      error_ = PQerrorMessage(conn);
    }
    PQfinish(conn);
    return ok;
  }
  const std::string& bin_dir() const { return bin_dir_; }
  // Stops the server (immediate mode), e.g. to test a lost upstream.
  void Kill() {
    if (running_) {
      Run({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "-t", "30",
           "stop"});
      running_ = false;
    }
  }

  // Creates an empty database (name: lower-case letters, digits, '_') and
  // returns its URI; empty with error() set on failure.
  std::string CreateDatabase(const std::string& dbname) {
    PGconn* conn = PQconnectdb(Uri().c_str());
    std::string uri;
    if (PQstatus(conn) == CONNECTION_OK) {
      // Identifiers cannot be parameters; the name is checked by the caller's
      // contract and quoted here.
      char* quoted = PQescapeIdentifier(conn, dbname.c_str(), dbname.size());
      PGresult* result = PQexec(conn, ("CREATE DATABASE " + std::string(quoted)).c_str());
      if (PQresultStatus(result) == PGRES_COMMAND_OK) {
        uri = Uri(dbname);
      } else {
        error_ = PQresultErrorMessage(result);
      }
      PQclear(result);
      PQfreemem(quoted);
    } else {
      error_ = PQerrorMessage(conn);
    }
    PQfinish(conn);
    return uri;
  }

 private:
  static std::string FindBinDir() {
    if (const char* dir = std::getenv("DUALKEY_PG_BIN")) {
      if (access((std::string(dir) + "/initdb").c_str(), X_OK) == 0) return dir;
    }
    // Debian/Ubuntu keep the server binaries out of PATH; newest first.
    for (int version = 20; version >= 10; --version) {
      const std::string dir = "/usr/lib/postgresql/" + std::to_string(version) + "/bin";
      if (access((dir + "/initdb").c_str(), X_OK) == 0 &&
          access((dir + "/pg_ctl").c_str(), X_OK) == 0) {
        return dir;
      }
    }
    for (const char* dir : {"/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin"}) {
      const std::string path(dir);
      if (access((path + "/initdb").c_str(), X_OK) == 0 &&
          access((path + "/pg_ctl").c_str(), X_OK) == 0) {
        return path;
      }
    }
    return {};
  }

  // The first executable `name` on PATH (then /usr/bin), or "".
  static std::string FindInPath(const std::string& name) {
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/bin:/bin";
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (dir.empty()) continue;
      const std::string candidate = dir + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
  }

  // Options::tls: a self-signed certificate and its key in the data
  // directory, owned by the server user, the key 0600 (PostgreSQL refuses a
  // key others can read). Returns the "-c" settings that turn TLS on, or
  // empty with error_ set.
  std::string MakeCertificate(const std::string& data) {
    const std::string openssl = FindInPath("openssl");
    if (openssl.empty()) {
      error_ = "Options::tls: no openssl command found";
      return {};
    }
    const std::string cert = data + "/server.crt", key = data + "/server.key";
    // Made as the server user (Run drops to it), in its own directory.
    if (Run({openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout",
             key, "-out", cert}) != 0) {
      error_ = "openssl req failed: " + LogTail();
      return {};
    }
    for (const std::string& file : {cert, key}) {
      if (drop_privileges_ && chown(file.c_str(), uid_, gid_) != 0) {
        error_ = "cannot chown " + file;
        return {};
      }
    }
    if (chmod(key.c_str(), 0600) != 0 || chmod(cert.c_str(), 0644) != 0) {
      error_ = "cannot chmod " + key;
      return {};
    }
    cert_path_ = cert;
    return " -c ssl=on -c ssl_cert_file=" + cert + " -c ssl_key_file=" + key;
  }

  // Runs argv (no shell) as the server user, output appended to the log;
  // returns the exit status, or -1.
  int Run(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const pid_t pid = fork();
    if (pid < 0) {
      if (log >= 0) close(log);
      return -1;
    }
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      const int null = open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, 0);
      if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
      }
      if (drop_privileges_) {
        if (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0) _exit(126);
      }
      execv(args[0], args.data());
      _exit(127);
    }
    if (log >= 0) close(log);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string LogTail() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }

  void Start() {
    bin_dir_ = FindBinDir();
    if (bin_dir_.empty()) {
      error_ = "PostgreSQL server binaries (initdb, pg_ctl) not found";
      return;
    }
    if (geteuid() == 0) {
      const char* name = std::getenv("DUALKEY_PG_USER");
      if (name == nullptr || *name == '\0') name = "nobody";
      const passwd* user = getpwnam(name);
      if (user == nullptr || user->pw_uid == 0) {
        error_ = std::string("running as root and no unprivileged user \"") + name +
                 "\" to run PostgreSQL as (set DUALKEY_PG_USER)";
        return;
      }
      drop_privileges_ = true;
      uid_ = user->pw_uid;
      gid_ = user->pw_gid;
    }
    // Under /tmp, not $TMPDIR: the unprivileged user must be able to reach
    // it, and the socket path must stay short (108 bytes).
    char pattern[] = "/tmp/dualkey-pg-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = pattern;
    log_path_ = dir_ + "/harness.log";
    if (drop_privileges_ && chown(dir_.c_str(), uid_, gid_) != 0) {
      error_ = "cannot chown " + dir_;
      return;
    }
    const std::string data = dir_ + "/data";
    if (Run({bin_dir_ + "/initdb", "-D", data, "-A", "trust", "-U", "dualkey", "-E", "UTF8",
             "--no-sync", "--no-instructions"}) != 0) {
      error_ = "initdb failed: " + LogTail();
      return;
    }
    if (!options_.hba_first.empty()) {
      const std::string hba = data + "/pg_hba.conf";
      std::ifstream in(hba);
      std::stringstream old;
      old << in.rdbuf();
      in.close();
      std::ofstream out(hba, std::ios::trunc);
      for (const std::string& line : options_.hba_first) out << line << "\n";
      out << old.str();
    }
    std::string tls_settings;
    if (options_.tls) {
      tls_settings = MakeCertificate(data);
      if (tls_settings.empty()) return;
    }
    // The port can be taken between probing and binding: try a few.
    for (int attempt = 0; attempt < 5 && !running_; ++attempt) {
      port_ = base::FreeLoopbackPort();
      if (port_ <= 0) continue;
      // fsync off: these clusters are thrown away; durability of the store
      // itself is PostgreSQL's job in production.
      const std::string options = "-k " + dir_ + " -p " + std::to_string(port_) +
                                  " -c listen_addresses=127.0.0.1 -c fsync=off"
                                  " -c full_page_writes=off -c max_connections=50";
      std::string options_text = options + tls_settings;
      for (const std::string& setting : options_.settings) options_text += " -c " + setting;
      running_ = Run({bin_dir_ + "/pg_ctl", "-D", data, "-o", options_text, "-l",
                      dir_ + "/server.log", "-w", "-t", "60", "start"}) == 0;
    }
    if (!running_) {
      std::ifstream server_log(dir_ + "/server.log");
      std::stringstream text;
      text << server_log.rdbuf();
      error_ = "pg_ctl start failed: " + LogTail() + text.str();
    }
  }

  void Stop() {
    if (running_) {
      Run({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w", "-t", "30",
           "stop"});
      running_ = false;
    }
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  Options options_;
  std::string bin_dir_;
  std::string dir_;
  std::string log_path_;
  std::string error_;
  std::string cert_path_;
  int port_ = -1;
  bool running_ = false;
  bool drop_privileges_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace dualkey::testing
