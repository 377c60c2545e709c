#include "demo/internal/cluster.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/free_port.h"

namespace dualkey::demo::internal {

namespace fs = std::filesystem;

std::string FindPostgresBin() {
  if (const char* env = std::getenv("DUALKEY_PG_BIN"); env != nullptr && *env != '\0')
    return fs::exists(fs::path(env) / "initdb") ? env : "";
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(entry.path() / "bin" / "initdb")) candidates.push_back(entry.path() / "bin");
  if (!candidates.empty()) {
    std::sort(candidates.begin(), candidates.end(), [](const fs::path& a, const fs::path& b) {
      return std::atoi(a.parent_path().filename().c_str()) <
             std::atoi(b.parent_path().filename().c_str());
    });
    return candidates.back().string();
  }
  const char* path = std::getenv("PATH");
  std::string rest = path != nullptr ? path : "";
  while (!rest.empty()) {
    std::size_t colon = rest.find(':');
    std::string dir = rest.substr(0, colon);
    if (!dir.empty() && fs::exists(fs::path(dir) / "initdb") &&
        fs::exists(fs::path(dir) / "pg_ctl"))
      return dir;
    if (colon == std::string::npos) break;
    rest.erase(0, colon + 1);
  }
  return "";
}

bool TraversableByOthers(const std::string& path) {
  for (fs::path p = fs::path(path); !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return false;
    if (p == p.root_path()) break;
  }
  return true;
}

std::unique_ptr<Cluster> Cluster::Start(const std::string& given_dir, const std::string& password,
                                        const std::vector<std::string>& env, std::string* error) {
  std::unique_ptr<Cluster> cluster(new Cluster());
  std::string dir = given_dir;
  cluster->password_ = password;
  cluster->env_ = env;
  cluster->bin_dir_ = FindPostgresBin();
  if (cluster->bin_dir_.empty()) {
    *error = "PostgreSQL is not installed (no initdb found; apt-get install postgresql)";
    return nullptr;
  }
  std::error_code ec;
  if (geteuid() == 0) {
    // initdb and postgres refuse to run as root.
    passwd* nobody = getpwnam("nobody");
    if (nobody == nullptr) {
      *error = "running as root, and there is no 'nobody' user to run PostgreSQL as";
      return nullptr;
    }
    cluster->uid_ = static_cast<int>(nobody->pw_uid);
    cluster->gid_ = static_cast<int>(nobody->pw_gid);
    if (!TraversableByOthers(fs::path(dir).parent_path().string())) {
      // Opening the user's directories to everyone would outlive the demo:
      // a private directory of the demo's own where nobody can reach it.
      std::string made;
      for (const char* base : {"/tmp", "/var/tmp", "/dev/shm"}) {
        if (!TraversableByOthers(base)) continue;
        std::string pattern = std::string(base) + "/dualkey-demo-pg-XXXXXX";
        if (mkdtemp(pattern.data()) != nullptr) {
          made = pattern;
          break;
        }
      }
      if (made.empty()) {
        *error = "running as root, PostgreSQL must run as user nobody, who cannot reach " + dir +
                 " (a directory above it is not o+x) and there is no /tmp to use instead; run "
                 "the demo as an ordinary user, or with --dir where others may pass";
        return nullptr;
      }
      cluster->private_dir_ = made;
      dir = made;
    }
    fs::create_directories(dir, ec);
    if (chown(dir.c_str(), nobody->pw_uid, nobody->pw_gid) != 0 || chmod(dir.c_str(), 0700) != 0) {
      *error = "cannot hand " + dir + " to user nobody";
      return nullptr;
    }
  } else {
    fs::create_directories(dir, ec);
  }
  cluster->dir_ = dir;
  const std::string pwfile = dir + "/pwfile";
  {
    std::ofstream(pwfile) << password << "\n";
    if (cluster->uid_ >= 0 && chown(pwfile.c_str(), cluster->uid_, cluster->gid_) != 0) {
      *error = "cannot hand the password file to nobody";
      return nullptr;
    }
    chmod(pwfile.c_str(), 0600);
  }
  base::ProcessResult initdb =
      cluster->RunServerTool("initdb",
                             {"-D", dir + "/data", "-U", "postgres", "--pwfile", pwfile, "-A",
                              "scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"},
                             120000);
  fs::remove(pwfile, ec);
  if (initdb.exit_code != 0) {
    *error = "initdb failed: " + initdb.err + initdb.out;
    return nullptr;
  }
  for (int attempt = 0; attempt < 5 && !cluster->running_; ++attempt) {
    cluster->port_ = base::FreeLoopbackPort();
    base::ProcessResult started = cluster->RunServerTool(
        "pg_ctl",
        {"-D", dir + "/data", "-l", dir + "/postgres.log", "-w", "-t", "60", "-o",
         "-c listen_addresses=127.0.0.1 -p " + std::to_string(cluster->port_) + " -k " + dir +
             " -c fsync=off -c full_page_writes=off"
             " -c synchronous_commit=off",
         "start"},
        90000);
    cluster->running_ = started.exit_code == 0;
    if (!cluster->running_) *error = "pg_ctl start failed: " + started.err + started.out;
  }
  if (!cluster->running_) return nullptr;
  return cluster;
}

Cluster::~Cluster() {
  if (running_) {
    RunServerTool("pg_ctl", {"-D", dir_ + "/data", "-m", "fast", "-w", "stop"}, 30000);
  }
  if (!private_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(private_dir_, ec);
  }
}

base::Identity Cluster::RunAs() const {
  base::Identity who;
  if (uid_ < 0) return who;
  who.set = true;
  who.name = "nobody";
  who.uid = static_cast<uid_t>(uid_);
  who.gid = static_cast<gid_t>(gid_);
  return who;
}

base::ProcessResult Cluster::RunServerTool(const std::string& program,
                                           std::vector<std::string> args, int timeout_ms) const {
  base::Spawn spawn;
  spawn.argv = {bin_dir_ + "/" + program};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.env = env_;
  spawn.as = RunAs();
  spawn.own_process_group = true;
  spawn.cwd = dir_;
  return base::Run(spawn, "", timeout_ms);
}

std::string Cluster::Conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname +
         " password=" + password_ + " connect_timeout=10";
}

base::ProcessResult Cluster::Tool(const std::string& program, const std::vector<std::string>& args,
                                  const std::string& input, int timeout_ms) const {
  base::Spawn options;
  options.argv = {bin_dir_ + "/" + program, "-h", "127.0.0.1", "-p",
                  std::to_string(port_),    "-U", "postgres"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = env_;
  options.env.push_back("PGPASSWORD=" + password_);
  options.env.push_back("PGCONNECT_TIMEOUT=10");
  options.own_process_group = true;
  return base::Run(options, input, timeout_ms);
}

}  // namespace dualkey::demo::internal
