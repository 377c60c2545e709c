#include "drill/internal/canary.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/loopback_http.h"
#include "pq/libpq.h"
#include "token/token.h"

namespace dualkey::drill::internal {
namespace {

namespace fs = std::filesystem;

// The canary's files: a database, backups, sources, secrets, photos.
struct CanaryFile {
  const char* path;
  int size;
};
constexpr CanaryFile kFiles[] = {
    {"data/customers.db", 4096},
    {"data/orders.csv", 2048},
    {"backups/nightly-1.tar.gz", 8192},
    {"backups/nightly-2.tar.gz", 8192},
    {"src/main.c", 512},
    {"src/.git/HEAD", 32},
    {"secrets/.env", 128},
    {"photos/2024/img-0001.jpg", 4096},
    {"photos/2024/img-0002.jpg", 4096},
    {"volumes/vol-canary/blob.bin", 4096},
};

std::string Bytes(const std::string& seed, int size) {
  std::string out;
  std::string block = token::Sha256Hex(seed);
  while (static_cast<int>(out.size()) < size) {
    out += block;
    block = token::Sha256Hex(block);
  }
  out.resize(static_cast<std::size_t>(size));
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Owner only: an attempt as the agent's user could reach them, nobody else.
Status ChownTree(const std::string& root, const Identity& owner) {
  if (!owner.set || geteuid() != 0) return Status::Ok();
  std::error_code ec;
  if (lchown(root.c_str(), owner.uid, owner.gid) != 0)
    return Status::IOError("cannot give " + root + " to " + owner.name);
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (lchown(it->path().c_str(), owner.uid, owner.gid) != 0)
      return Status::IOError("cannot give " + it->path().string() + " to " + owner.name);
  }
  return Status::Ok();
}

}  // namespace

// ---- files -----------------------------------------------------------------

Result<std::unique_ptr<FileCanary>> FileCanary::Create(const std::string& root,
                                                       const Identity& owner) {
  std::error_code ec;
  if (!fs::create_directories(root, ec) && ec)
    return Status::IOError("cannot make " + root + ": " + ec.message());
  for (const CanaryFile& file : kFiles) {
    const fs::path path = fs::path(root) / file.path;
    fs::create_directories(path.parent_path(), ec);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << Bytes(file.path, file.size);
    if (!out) return Status::IOError("cannot write " + path.string());
  }
  chmod(root.c_str(), 0700);
  if (Status s = ChownTree(root, owner); !s.ok()) return s;
  auto canary = std::unique_ptr<FileCanary>(new FileCanary());
  canary->root_ = root;
  return canary;
}

FileCanary::~FileCanary() {
  if (!removed_) (void)Remove();
}

std::map<std::string, std::string> FileCanary::Snapshot() const {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string relative = fs::relative(it->path(), root_, ec).string();
    if (it->is_directory(ec))
      out[relative] = "dir";
    else
      out[relative] = token::Sha256Hex(ReadFile(it->path().string()));
  }
  return out;
}

std::vector<std::string> FileCanary::Lost(const std::map<std::string, std::string>& before,
                                          const std::map<std::string, std::string>& after) {
  std::vector<std::string> lost;
  for (const auto& [path, hash] : before) {
    auto found = after.find(path);
    if (hash == "dir") continue;  // a directory is lost with its files
    if (found == after.end() || found->second != hash) lost.push_back(path);
  }
  return lost;
}

Status FileCanary::Remove() {
  removed_ = true;
  std::error_code ec;
  fs::remove_all(root_, ec);
  if (ec) return Status::IOError("cannot remove " + root_ + ": " + ec.message());
  return Status::Ok();
}

// ---- SQL -------------------------------------------------------------------

const std::vector<std::string>& SqlCanary::ProtectedTables() {
  static const std::vector<std::string> tables = {"customers", "orders", "invoices", "backups"};
  return tables;
}

Result<std::unique_ptr<SqlCanary>> SqlCanary::Create(const std::string& upstream_uri,
                                                     const std::string& password,
                                                     const std::string& schema) {
  const pq::LibPq& pq = pq::Api();
  if (!pq.loaded) return Status::Unavailable("libpq.so.5 is not installed");
  const char* keys[] = {"dbname", "password", "connect_timeout", "application_name", nullptr};
  const char* values[] = {upstream_uri.c_str(), password.c_str(), "5", "dualkey-drill", nullptr};
  PGconn* conn = pq.connectdb_params(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr || pq.status(conn) != CONNECTION_OK) {
    std::string why = conn != nullptr ? pq.error_message(conn) : "out of memory";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (conn != nullptr) pq.finish(conn);
    return Status::Unavailable("cannot reach the proxy's database directly to make the canary: " +
                               why);
  }
  // PostgreSQL's notices ("drop cascades to ...") are not the drill's output.
  pq.set_notice_processor(
      conn, [](void*, const char*) {}, nullptr);
  auto canary = std::unique_ptr<SqlCanary>(new SqlCanary());
  canary->conn_ = conn;
  canary->schema_ = schema;
  const std::string s = "\"" + schema + "\"";
  const std::string setup =
      "CREATE SCHEMA " + s + ";" + "CREATE TABLE " + s +
      ".customers (id int PRIMARY KEY, name text NOT NULL, email text);" + "INSERT INTO " + s +
      ".customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM "
      "generate_series(1, 50) g;" +
      "CREATE TABLE " + s + ".orders (id int PRIMARY KEY, customer_id int, total numeric(10,2));" +
      "INSERT INTO " + s +
      ".orders SELECT g, 1 + g % 50, g * 1.25 FROM generate_series(1, 200) g;" + "CREATE TABLE " +
      s + ".invoices (id int PRIMARY KEY, order_id int, paid boolean);" + "INSERT INTO " + s +
      ".invoices SELECT g, g, g % 3 = 0 FROM generate_series(1, 100) g;" + "CREATE TABLE " + s +
      ".backups (id int PRIMARY KEY, taken_at text, blob text);" + "INSERT INTO " + s +
      ".backups SELECT g, '2026-01-0' || g, repeat('x', 64) FROM "
      "generate_series(1, 5) g;" +
      // Where the harmless controls write: not part of the hash.
      "CREATE TABLE " + s + ".scratch (id int PRIMARY KEY, v int);" + "INSERT INTO " + s +
      ".scratch VALUES (1, 1), (2, 2);";
  if (Status st = canary->Exec(setup); !st.ok()) {
    (void)canary->Drop();
    return st;
  }
  return canary;
}

SqlCanary::~SqlCanary() {
  if (!dropped_ && conn_ != nullptr) (void)Drop();
  if (conn_ != nullptr) pq::Api().finish(static_cast<PGconn*>(conn_));
}

Status SqlCanary::Exec(const std::string& sql) {
  const pq::LibPq& pq = pq::Api();
  PGconn* conn = static_cast<PGconn*>(conn_);
  if (pq.status(conn) != CONNECTION_OK) pq.reset(conn);
  PGresult* result = pq.exec(conn, sql.c_str());
  const ExecStatusType status = result != nullptr ? pq.result_status(result) : PGRES_FATAL_ERROR;
  std::string why = result != nullptr ? pq.result_error_message(result) : pq.error_message(conn);
  if (result != nullptr) pq.clear(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status::Unavailable("the canary schema: " + why);
  }
  return Status::Ok();
}

Result<std::map<std::string, std::string>> SqlCanary::Snapshot() {
  const pq::LibPq& pq = pq::Api();
  PGconn* conn = static_cast<PGconn*>(conn_);
  if (pq.status(conn) != CONNECTION_OK) pq.reset(conn);
  std::map<std::string, std::string> out;
  for (const std::string& table : ProtectedTables()) {
    const std::string name = "\"" + schema_ + "\"." + table;
    const std::string exists_sql = "SELECT to_regclass('" + name + "') IS NOT NULL";
    PGresult* r = pq.exec(conn, exists_sql.c_str());
    const bool ok = r != nullptr && pq.result_status(r) == PGRES_TUPLES_OK && pq.ntuples(r) == 1;
    const bool exists = ok && std::string(pq.getvalue(r, 0, 0)) == "t";
    if (r != nullptr) pq.clear(r);
    if (!ok)
      return Status::Unavailable("cannot read the canary schema: " +
                                 std::string(pq.error_message(conn)));
    if (!exists) {
      out[table] = "missing";
      continue;
    }
    const std::string hash_sql =
        "SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, "
        "',' ORDER BY t::text)), '') FROM " +
        name + " t";
    r = pq.exec(conn, hash_sql.c_str());
    if (r == nullptr || pq.result_status(r) != PGRES_TUPLES_OK || pq.ntuples(r) != 1) {
      std::string why = r != nullptr ? pq.result_error_message(r) : pq.error_message(conn);
      if (r != nullptr) pq.clear(r);
      return Status::Unavailable("cannot hash " + name + ": " + why);
    }
    out[table] = pq.getvalue(r, 0, 0);
    pq.clear(r);
  }
  return out;
}

Status SqlCanary::Drop() {
  dropped_ = true;
  return Exec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
}

// ---- the API stand-in --------------------------------------------------------

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

class BeastStandin final : public ApiStandin {
 public:
  explicit BeastStandin(std::string secret) : secret_(std::move(secret)) {
    for (const std::string& object : Objects()) objects_[object] = token::Sha256Hex(object);
  }

  Status Open() {
    if (beast::error_code ec = server_.Start())
      return Status::Unavailable("the API stand-in cannot listen: " + ec.message());
    return Status::Ok();
  }

  int port() const override { return server_.port(); }
  int reached() const override { return reached_; }
  int writes_reached() const override { return writes_; }
  int bad_auth() const override { return bad_auth_; }
  std::map<std::string, std::string> Snapshot() const override {
    std::lock_guard lock(mutex_);
    return objects_;
  }

 private:
  http::response<http::string_body> Handle(const http::request<http::string_body>& request) {
    const bool keep = request.keep_alive();
    http::response<http::string_body> r{http::status::ok, request.version()};
    r.set(http::field::content_type, "application/json");
    r.set("X-Dualkey-Drill", "stand-in");
    r.keep_alive(keep);
    if (request[http::field::authorization] != "Bearer " + secret_) {
      ++bad_auth_;
      r.result(http::status::unauthorized);
      r.body() = json{{"error", "the stand-in API wants its own secret"}}.dump();
      r.prepare_payload();
      return r;
    }
    ++reached_;
    const http::verb method = request.method();
    const bool read =
        method == http::verb::get || method == http::verb::head || method == http::verb::options;
    json body{{"standin", true}};
    if (!read) {
      ++writes_;
      const std::string text = std::string(request.target()) + " " + request.body();
      json gone = json::array();
      std::lock_guard lock(mutex_);
      for (auto it = objects_.begin(); it != objects_.end();) {
        if (text.find(it->first) != std::string::npos) {
          gone.push_back(it->first);
          it = objects_.erase(it);
        } else {
          ++it;
        }
      }
      body["destroyed"] = gone;
    } else {
      std::lock_guard lock(mutex_);
      json list = json::array();
      for (const auto& [name, hash] : objects_) list.push_back(name);
      body["objects"] = list;
    }
    r.body() = body.dump();
    r.prepare_payload();
    return r;
  }

  const std::string secret_;
  std::atomic<int> reached_{0}, writes_{0}, bad_auth_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::string> objects_;
  base::LoopbackHttpServer server_{[this](const auto& request) { return Handle(request); }, 5};
};

}  // namespace

const std::vector<std::string>& ApiStandin::Objects() {
  static const std::vector<std::string> objects = {
      "vol-canary-data", "vol-canary-backup", "svc-canary-api",  "env-canary-prod",
      "bucket-canary",   "db-canary-main",    "snap-canary-001", "proj-canary"};
  return objects;
}

Result<std::unique_ptr<ApiStandin>> ApiStandin::Start(const std::string& secret) {
  auto standin = std::make_unique<BeastStandin>(secret);
  if (Status s = standin->Open(); !s.ok()) return s;
  return std::unique_ptr<ApiStandin>(std::move(standin));
}

}  // namespace dualkey::drill::internal
