// The approver's page (see internal/web.h): routes, sessions, the live
// stream. Assets come from src/daemon/web/ (built into the binary by CMake).
#include "daemon/internal/web.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "audit/search.h"
#include "base/json_text.h"
#include "client/protocol.h"
#include "daemon/internal/history.h"
#include "daemon/web_assets.h"
#include "webauthn/webauthn.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxSessions = 256;
constexpr const char* kCookie = "dualkey_session";
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return "";
  return webauthn::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

bool SameSecret(const std::string& a, const std::string& b) {
  return !a.empty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Header(const WebRequest& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? "" : it->second;
}

std::string CookieValue(const WebRequest& request, const std::string& name) {
  const std::string cookies = Header(request, "cookie");
  std::size_t at = 0;
  while (at < cookies.size()) {
    std::size_t end = cookies.find(';', at);
    if (end == std::string::npos) end = cookies.size();
    std::string pair = cookies.substr(at, end - at);
    while (!pair.empty() && pair.front() == ' ') pair.erase(0, 1);
    if (pair.starts_with(name + "=")) return pair.substr(name.size() + 1);
    at = end + 1;
  }
  return "";
}

void SecurityHeaders(WebResponse& response) {
  response.headers.emplace_back("Content-Security-Policy", kCsp);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
}

WebResponse Json(int status, const json& body) {
  WebResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  SecurityHeaders(response);
  response.body = base::JsonDump(body) + "\n";
  return response;
}

WebResponse Error(int status, const std::string& message) {
  return Json(status, json{{"ok", false}, {"error", base::ToValidUtf8(message)}});
}

// The HTTP status for an op's error reply.
int StatusOf(const json& reply) {
  if (reply.value("ok", false)) return 200;
  const std::string status = reply.value("status", "");
  if (status == "permission_denied") return 403;
  if (status == "not_found") return 404;
  if (status == "invalid_argument") return 400;
  if (status == "failed_precondition") return 409;
  if (status == "resource_exhausted") return 429;
  if (status == "unavailable" || status == "io_error") return 503;
  return 500;
}

// The query string of a GET as name -> value (percent-decoded, '+' a
// space). False with `error` for a malformed escape or a name given twice.
bool ParseQuery(const std::string& target, std::map<std::string, std::string>* out,
                std::string* error) {
  const std::size_t mark = target.find('?');
  if (mark == std::string::npos) return true;
  auto decode = [&](std::string_view text, std::string* decoded) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '+') {
        *decoded += ' ';
      } else if (c == '%') {
        auto hex = [](char h) {
          return h >= '0' && h <= '9'   ? h - '0'
                 : h >= 'a' && h <= 'f' ? h - 'a' + 10
                 : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                        : -1;
        };
        if (i + 2 >= text.size()) return false;
        const int high = hex(text[i + 1]), low = hex(text[i + 2]);
        if (high < 0 || low < 0) return false;
        *decoded += static_cast<char>(high * 16 + low);
        i += 2;
      } else {
        *decoded += c;
      }
    }
    return true;
  };
  std::string_view query(target);
  query.remove_prefix(mark + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string name, value;
    if (!decode(pair.substr(0, eq), &name) ||
        (eq != std::string_view::npos && !decode(pair.substr(eq + 1), &value))) {
      *error = "a malformed %-escape in the query string";
      return false;
    }
    if (!out->emplace(name, value).second) {
      *error = "the parameter '" + base::ToValidUtf8(name.substr(0, 40)) + "' is given twice";
      return false;
    }
  }
  return true;
}

// GET /api/history's parameters as a search; empty `error` when they are good.
audit::SearchQuery HistoryQuery(const std::map<std::string, std::string>& params,
                                std::string* error) {
  audit::SearchQuery query;
  for (const auto& [name, value] : params) {
    if (name == "agent") {
      query.agent = value;
    } else if (name == "class") {
      query.op_class = value;
    } else if (name == "decision") {
      query.decision = value;
    } else if (name == "q") {
      query.text = value;
    } else if (name == "limit") {
      const bool digits = !value.empty() && value.size() <= 4 &&
                          value.find_first_not_of("0123456789") == std::string::npos;
      query.limit = digits ? std::stoi(value) : 0;  // 0: CheckQuery says
    } else if (name == "cursor") {
      if (!audit::ParseCursor(value, &query)) {
        *error = "cursor must be a next_cursor a previous history reply gave";
        return query;
      }
    } else {
      *error = "unknown parameter '" + base::ToValidUtf8(name.substr(0, 40)) +
               "' (history takes agent, class, decision, q, limit and cursor)";
      return query;
    }
  }
  *error = audit::CheckQuery(query);
  return query;
}

// scheme://host[:port] -> host[:port]
std::string HostOfOrigin(const std::string& origin) {
  const std::size_t scheme = origin.find("://");
  return scheme == std::string::npos ? "" : origin.substr(scheme + 3);
}

}  // namespace

struct WebPage::State {
  Core& core;
  const Dispatcher& dispatcher;
  bool tls = false;

  struct Session {
    std::string approver;
    std::string csrf;
    std::int64_t expires_ms = 0;
  };
  std::mutex mu;
  std::map<std::string, Session> sessions;  // by cookie token
  std::condition_variable changed;
  std::uint64_t version = 0;
  bool stopping = false;

  State(Core& c, const Dispatcher& d, bool t)
      : core(c),
        dispatcher(d),
        tls(t),
        history(c.options().state_dir + "/audit.jsonl", c.log().PublicKey()) {}

  AuditHistory history;

  std::string Origin() const { return core.web_origin(); }

  json Call(json request) const {
    Peer peer;
    peer.via = Peer::Via::kHttp;
    return dispatcher.Handle(peer, request);
  }

  std::optional<Session> SessionOf(const WebRequest& request) {
    const std::string token = CookieValue(request, kCookie);
    if (token.empty()) return std::nullopt;
    std::lock_guard lock(mu);
    auto it = sessions.find(token);
    if (it == sessions.end()) return std::nullopt;
    if (it->second.expires_ms <= Core::NowMs()) {
      sessions.erase(it);
      return std::nullopt;
    }
    return it->second;
  }

  std::string NewSession(const std::string& approver, Session* out) {
    const std::string token = RandomToken();
    Session session{approver, RandomToken(),
                    Core::NowMs() + std::int64_t{core.options().web_session_minutes} * 60'000};
    if (token.empty() || session.csrf.empty()) return "";
    std::lock_guard lock(mu);
    const std::int64_t now = Core::NowMs();
    std::erase_if(sessions, [now](const auto& s) { return s.second.expires_ms <= now; });
    while (sessions.size() >= kMaxSessions) {
      auto oldest = sessions.begin();
      for (auto it = sessions.begin(); it != sessions.end(); ++it)
        if (it->second.expires_ms < oldest->second.expires_ms) oldest = it;
      sessions.erase(oldest);
    }
    sessions[token] = session;
    *out = session;
    return token;
  }

  std::string CookieHeader(const std::string& token, std::int64_t max_age_s) const {
    const bool secure = tls || Origin().starts_with("https://");
    return std::string(kCookie) + "=" + token +
           "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s) +
           (secure ? "; Secure" : "");
  }

  void Changed() {
    {
      std::lock_guard lock(mu);
      ++version;
    }
    changed.notify_all();
  }
};

WebPage::WebPage(Core& core, const Dispatcher& dispatcher, std::string origin, bool tls)
    : state_(std::make_shared<State>(core, dispatcher, tls)) {
  core.SetWebOrigin(std::move(origin));
  std::weak_ptr<State> weak = state_;
  core.Observe({"hold", "approval", "denial", "expiry", "consumed", "breaker", "breaker_reset"},
               [weak](std::string_view, const json&) {
                 if (auto state = weak.lock()) state->Changed();
               });
}

WebPage::~WebPage() {
  Stop();
}

void WebPage::Stop() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->changed.notify_all();
}

std::optional<WebResponse> WebPage::Handle(const WebRequest& request) {
  State& s = *state_;
  const std::string origin = s.Origin();
  std::string path = request.target.substr(0, request.target.find('?'));
  const std::string sent_origin = Header(request, "origin");
  // A page elsewhere must not drive this daemon with its visitor's browser:
  // a request that names a foreign origin is refused, on every route.
  if (!sent_origin.empty() && sent_origin != origin)
    return Error(403, "requests from another origin are refused (this page is " + origin + ")");
  if (path.starts_with("/v1/")) return std::nullopt;
  // Only the page's own routes are answered here; the rest (/metrics, and
  // the 404 of anything unknown) is the listener's.
  bool ours = path == "/" || path == "/favicon.ico" || path.starts_with("/api/");
  for (const WebAsset& asset : kWebAssets)
    if (path == std::string("/") + asset.name) ours = true;
  if (!ours) return std::nullopt;
  // DNS rebinding: a foreign name resolving to this listener. The page's own
  // host, or a loopback address (a reverse proxy that sends its upstream's).
  const std::string host = Header(request, "host");
  const bool loopback_host = host.starts_with("127.0.0.1:") || host.starts_with("[::1]:") ||
                             host.starts_with("localhost:");
  if (!host.empty() && host != HostOfOrigin(origin) && !loopback_host)
    return Error(421, "this page is served as " + origin + " (Host: " + host +
                          "); open it there, or set serve --web-origin");

  if (request.method == "GET" || request.method == "HEAD") {
    if (path == "/" || path == "/index.html") path = "/index.html";
    for (const WebAsset& asset : kWebAssets) {
      if (path != std::string("/") + asset.name) continue;
      WebResponse response;
      response.headers.emplace_back("Content-Type", asset.type);
      SecurityHeaders(response);
      response.body = asset.text;
      return response;
    }
  }

  if (path == "/favicon.ico") {
    WebResponse none;
    none.status = 204;
    SecurityHeaders(none);
    return none;
  }
  if (!path.starts_with("/api/")) {
    if (request.method != "GET" && request.method != "HEAD")
      return Error(405, "the page answers GET; the protocol is POST /v1/<op>");
    return Error(404, "no such page: " + path);
  }
  const std::string route = path.substr(5);

  // Live view and session state: GET with a session.
  if (request.method == "GET") {
    std::optional<State::Session> session = s.SessionOf(request);
    if (route == "session") {
      if (!session) return Json(200, json{{"ok", true}, {"signed_in", false}, {"origin", origin}});
      return Json(200, json{{"ok", true},
                            {"signed_in", true},
                            {"approver", session->approver},
                            {"csrf", session->csrf},
                            {"expires_ms", session->expires_ms},
                            {"origin", origin}});
    }
    if (route == "pending" || route == "events" || route == "breaker" || route == "history") {
      if (!session) return Error(401, "not signed in (or the session expired): sign in again");
    }
    if (route == "history") {
      std::map<std::string, std::string> params;
      std::string error;
      if (!ParseQuery(request.target, &params, &error)) return Error(400, error);
      audit::SearchQuery query = HistoryQuery(params, &error);
      if (!error.empty()) return Error(400, error);
      Result<json> reply = s.history.Search(query);
      if (!reply.ok()) {
        const dualkey::Status& failed = reply.status();
        const int status = failed.Is(dualkey::Status::Code::kResourceExhausted) ? 429
                           : failed.Is(dualkey::Status::Code::kInvalidArgument) ? 400
                                                                                : 503;
        return Error(status, failed.message());
      }
      return Json(200, *reply);
    }
    if (route == "pending") {
      json reply = s.Call(json{{"op", client::kOpPending}});
      return Json(StatusOf(reply), reply);
    }
    if (route == "breaker") {
      json reply = s.Call(json{{"op", client::kOpBreakerStatus}});
      return Json(StatusOf(reply), reply);
    }
    if (route == "events") {
      WebResponse response;
      response.headers.emplace_back("Content-Type", "text/event-stream");
      SecurityHeaders(response);
      const std::int64_t expires = session->expires_ms;
      std::shared_ptr<State> state = state_;
      response.stream = [state, expires](const std::function<bool(std::string_view)>& write) {
        std::unique_lock lock(state->mu);
        std::uint64_t seen = state->version;
        lock.unlock();
        if (!write("retry: 1000\n\nevent: changed\ndata: 0\n\n")) return;
        auto last_write = std::chrono::steady_clock::now();
        lock.lock();
        while (!state->stopping) {
          state->changed.wait_for(lock, std::chrono::milliseconds(500));
          if (state->stopping) break;
          std::string event;
          if (state->version != seen) {
            seen = state->version;
            event = "event: changed\ndata: " + std::to_string(seen) + "\n\n";
          } else if (Core::NowMs() >= expires) {
            event = "event: expired\ndata: sign in again\n\n";
          } else if (std::chrono::steady_clock::now() - last_write > std::chrono::seconds(15)) {
            event = ": ping\n\n";
          }
          if (event.empty()) continue;
          lock.unlock();
          const bool written = write(event);
          last_write = std::chrono::steady_clock::now();
          if (!written || event.starts_with("event: expired")) return;
          lock.lock();
        }
      };
      return response;
    }
    return Error(404, "no such route: " + path);
  }
  if (request.method != "POST") return Error(405, "state changes are POST");
  if (request.body.size() > kMaxBody) return Error(413, "the request is too large");
  std::optional<json> body = base::JsonParse(request.body);
  if (!body || !body->is_object()) return Error(400, "the body must be a JSON object");
  auto text = [&](const char* key) {
    std::string out;
    client::GetText(*body, key, &out);
    return out;
  };
  auto passthrough = [&](json call, const char* key) {
    if (auto it = body->find(key); it != body->end()) call[key] = *it;
    return call;
  };

  // Without a session: signing in, and enrolment by its one-time token.
  if (route == "signin/challenge") {
    json reply = s.Call(
        json{{"op", "passkey_challenge"}, {"approver", text("approver")}, {"purpose", "signin"}});
    return Json(StatusOf(reply), reply);
  }
  if (route == "signin") {
    const std::string approver = text("approver");
    json call{{"op", "signin"}, {"approver", approver}, {"totp", text("totp")}};
    json reply = s.Call(passthrough(std::move(call), "passkey"));
    if (!reply.value("ok", false)) return Json(StatusOf(reply), reply);
    State::Session session;
    const std::string token = s.NewSession(approver, &session);
    if (token.empty()) return Error(500, "the random number generator failed");
    WebResponse response = Json(200, json{{"ok", true},
                                          {"approver", approver},
                                          {"csrf", session.csrf},
                                          {"expires_ms", session.expires_ms}});
    response.headers.emplace_back(
        "Set-Cookie",
        s.CookieHeader(token, std::int64_t{s.core.options().web_session_minutes} * 60));
    return response;
  }
  if (route == "enrol/options" || route == "enrol/finish") {
    json call{{"op", route == "enrol/options" ? "passkey_enrol_options" : "passkey_enrol_finish"}};
    for (const char* key : {"token", "client_data_json", "attestation_object", "label"})
      call = passthrough(std::move(call), key);
    json reply = s.Call(std::move(call));
    return Json(StatusOf(reply), reply);
  }

  // Everything else: a session and its CSRF token.
  std::optional<State::Session> session = s.SessionOf(request);
  if (!session) return Error(401, "not signed in (or the session expired): sign in again");
  if (!SameSecret(Header(request, "x-csrf-token"), session->csrf))
    return Error(403, "missing or wrong CSRF token: reload the page");
  if (route == "signout") {
    {
      std::lock_guard lock(s.mu);
      s.sessions.erase(CookieValue(request, kCookie));
    }
    WebResponse response = Json(200, json{{"ok", true}});
    response.headers.emplace_back("Set-Cookie", s.CookieHeader("", 0));
    return response;
  }
  if (route == "challenge") {
    json reply = s.Call(json{{"op", "passkey_challenge"},
                             {"approver", session->approver},
                             {"purpose", text("purpose")},
                             {"target", text("target")}});
    return Json(StatusOf(reply), reply);
  }
  if (route == "approve") {
    // The session names the approver; the factor is fresh and bound to this
    // request (approval::Authorize checks it, as for the CLI).
    json call{{"op", client::kOpApprove},      {"id", text("id")},
              {"approver", session->approver}, {"totp", text("totp")},
              {"reason", text("reason")},      {"via", "page"}};
    json reply = s.Call(passthrough(std::move(call), "passkey"));
    return Json(StatusOf(reply), reply);
  }
  if (route == "deny") {
    json reply = s.Call(json{{"op", client::kOpDeny},
                             {"id", text("id")},
                             {"approver", session->approver},
                             {"reason", text("reason")}});
    return Json(StatusOf(reply), reply);
  }
  if (route == "breaker_reset") {
    json call{{"op", client::kOpBreakerReset},
              {"agent", text("agent")},
              {"approver", session->approver},
              {"totp", text("totp")}};
    json reply = s.Call(passthrough(std::move(call), "passkey"));
    return Json(StatusOf(reply), reply);
  }
  return Error(404, "no such route: " + path);
}

}  // namespace dualkey::daemon::internal
