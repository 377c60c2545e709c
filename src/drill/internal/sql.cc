// The battery's SQL through the configured PostgreSQL proxy, logged in as
// the drill's own token: what the proxy held never reached PostgreSQL; what
// it forwarded could only touch the drill's canary schema.
#include "drill/internal/attempt.h"
#include "pq/libpq.h"

namespace dualkey::drill::internal {
namespace {

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
    text.pop_back();
  return text;
}

std::string PercentDecode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

std::string UpstreamDatabase(const std::string& uri) {
  std::string rest = uri;
  const std::size_t scheme = rest.find("://");
  if (scheme != std::string::npos) rest = rest.substr(scheme + 3);
  const std::size_t query = rest.find('?');
  const std::string query_text = query == std::string::npos ? "" : rest.substr(query + 1);
  if (query != std::string::npos) rest = rest.substr(0, query);
  std::string user;
  const std::size_t at = rest.find('@');
  if (at != std::string::npos) {
    user = rest.substr(0, at);
    user = user.substr(0, user.find(':'));
    rest = rest.substr(at + 1);
  }
  // ?dbname= wins, then the path, then the user's name.
  std::size_t start = 0;
  while (start < query_text.size()) {
    std::size_t end = query_text.find('&', start);
    if (end == std::string::npos) end = query_text.size();
    const std::string pair = query_text.substr(start, end - start);
    if (pair.starts_with("dbname=")) return PercentDecode(pair.substr(7));
    start = end + 1;
  }
  const std::size_t slash = rest.find('/');
  if (slash != std::string::npos && slash + 1 < rest.size())
    return PercentDecode(rest.substr(slash + 1));
  for (std::size_t s = 0; s < query_text.size();) {
    std::size_t end = query_text.find('&', s);
    if (end == std::string::npos) end = query_text.size();
    const std::string pair = query_text.substr(s, end - s);
    if (pair.starts_with("user=")) return PercentDecode(pair.substr(5));
    s = end + 1;
  }
  return PercentDecode(user);
}

std::vector<Attempt> RunSql(const std::string& integration, const SqlTarget& target,
                            const std::vector<Case>& cases, const Context& context,
                            std::string* error) {
  std::vector<Attempt> attempts;
  const pq::LibPq& pq = pq::Api();
  if (!pq.loaded) {
    *error = "libpq.so.5 is not installed, so the drill cannot speak PostgreSQL";
    return attempts;
  }
  const std::size_t colon = target.listen.rfind(':');
  const std::string host =
      colon == std::string::npos ? target.listen : target.listen.substr(0, colon);
  const std::string port = colon == std::string::npos ? "6432" : target.listen.substr(colon + 1);
  const char* keys[] = {
      "host",    "port", "dbname", "user", "password", "connect_timeout", "application_name",
      "sslmode", nullptr};
  const char* values[] = {host.c_str(),
                          port.c_str(),
                          target.database.c_str(),
                          target.user.c_str(),
                          target.password.c_str(),
                          "5",
                          "dualkey-drill",
                          "prefer",
                          nullptr};
  auto connect = [&]() -> PGconn* {
    PGconn* conn = pq.connectdb_params(keys, values, 0);
    if (conn != nullptr && pq.status(conn) == CONNECTION_OK) {
      pq.set_notice_processor(
          conn, [](void*, const char*) {}, nullptr);
      return conn;
    }
    *error = conn != nullptr ? Trim(pq.error_message(conn)) : "out of memory";
    if (conn != nullptr) pq.finish(conn);
    return nullptr;
  };
  PGconn* conn = connect();
  if (conn == nullptr) {
    if (error->find("password authentication failed") != std::string::npos)
      *error = "the proxy refused the drill's token (" + *error +
               "): it does not read the tokens of the state directory the drill wrote to";
    return attempts;
  }
  for (const Case& c : cases) {
    if (context.stop != nullptr && *context.stop) break;
    if (std::find(c.via.begin(), c.via.end(), kViaPgProxy) == c.via.end()) continue;
    Attempt a;
    a.case_id = c.id;
    a.integration = integration;
    a.kind = "pg-proxy";
    a.channel = "sql";
    a.section = c.section;
    a.destructive = c.destructive();
    const std::string sql = c.input.get<std::string>();
    a.input = OneLine(sql);
    a.explain = sql;
    if (conn == nullptr) conn = connect();
    if (conn == nullptr) {
      a.outcome = Outcome::kError;
      a.decision = "no session";
      a.detail = *error;
      attempts.push_back(std::move(a));
      continue;
    }
    PGresult* result = pq.exec(conn, sql.c_str());
    const ExecStatusType status = result != nullptr ? pq.result_status(result) : PGRES_FATAL_ERROR;
    std::string sqlstate;
    if (result != nullptr) {
      const char* field = pq.result_error_field(result, PG_DIAG_SQLSTATE);
      if (field != nullptr) sqlstate = field;
    }
    const std::string message =
        Trim(result != nullptr ? pq.result_error_message(result) : pq.error_message(conn));
    if (result != nullptr) pq.clear(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY ||
        status == PGRES_COPY_OUT || status == PGRES_COPY_IN) {
      a.outcome = Outcome::kAllowed;
      a.decision = "forwarded, it ran";
    } else if (sqlstate == "DKH01" || sqlstate == "DKH02") {
      a.outcome = Outcome::kHeld;
      a.decision = sqlstate == "DKH01" ? "held (DKH01)" : "denied (DKH02)";
      a.detail = OneLine(message, 240);
    } else if (sqlstate.starts_with("08") || sqlstate.starts_with("28") ||
               pq.status(conn) != CONNECTION_OK) {
      a.outcome = Outcome::kError;
      a.decision = "the session failed" + (sqlstate.empty() ? "" : " (" + sqlstate + ")");
      a.detail = OneLine(message, 240);
      pq.finish(conn);
      conn = nullptr;
    } else {
      // PostgreSQL refused it, so the proxy had forwarded it.
      a.outcome = Outcome::kAllowed;
      a.decision = "forwarded, PostgreSQL answered " + sqlstate;
      a.detail = OneLine(message, 240);
    }
    if (conn != nullptr && pq.transaction_status(conn) != PQTRANS_IDLE) {
      if (PGresult* r = pq.exec(conn, "ROLLBACK")) pq.clear(r);
    }
    // A COPY left open: the session cannot go on.
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
      pq.finish(conn);
      conn = nullptr;
    }
    attempts.push_back(std::move(a));
  }
  if (conn != nullptr) pq.finish(conn);
  if (!attempts.empty()) error->clear();
  return attempts;
}

}  // namespace dualkey::drill::internal
