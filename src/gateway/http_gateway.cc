// The gateway's sockets: Boost.Beast on both sides, C++20 coroutines, one
// io_context per worker thread. Per request: read it whole (up to the body cap: the
// classifier needs the body), authenticate the agent token, turn it into the
// HTTP channel's input, decide (locally; the daemon for anything not allowed),
// then either answer 403 with the approval, or forward it upstream with the
// real credential and stream the response back without buffering it.
#include <malloc.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "base/admission.h"
#include "base/asio.h"
#include "base/descriptor_limit.h"
#include "base/json_text.h"
#include "client/client.h"
#include "client/reporter.h"
#include "gateway/gateway.h"
#include "gateway/internal/parts.h"
#include "gateway/internal/sigv4.h"
#include "gateway/internal/url.h"
#include "guard/guard.h"
#include "install/layout.h"
#include "policy/policy.h"
#include "token/token.h"

namespace dualkey::gateway {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using internal::Base64;
using internal::BaseUrl;
using internal::CloseHandle;
using internal::Connection;
using internal::Error;
using internal::FramingProblem;
using internal::Held;
using internal::ParseListen;
using internal::Reply;
using internal::UpstreamRuntime;

constexpr std::size_t kMaxIdlePerUpstream = 16;
constexpr auto kTokenCacheTtl = std::chrono::seconds(2);

class Gateway {
 public:
  Gateway(Options options, policy::Policy policy)
      : options_(std::move(options)),
        policy_(std::move(policy)),
        tokens_(options_.state_dir),
        daemon_(client::Client::ForThisProcess(
            client::ClientOptions{options_.socket_path, options_.daemon_timeout_ms})),
        admission_(base::Admission::Limits{options_.max_connections,
                                           options_.max_connections_per_client}) {}

  std::map<std::string, std::unique_ptr<UpstreamRuntime>> upstreams;
  base::Admission& admission() { return admission_; }

  net::awaitable<void> Session(tcp::socket socket, std::size_t worker) {
    beast::tcp_stream client(std::move(socket));
    beast::flat_buffer buffer;
    auto handle = std::make_shared<CloseHandle>();
    handle->stream = &client;
    std::unique_ptr<base::Admission::Slot> slot;
    try {
      beast::error_code peer_error;
      const tcp::endpoint peer = client.socket().remote_endpoint(peer_error);
      const std::string address = peer_error ? "?" : peer.address().to_string();
      auto executor = co_await net::this_coro::executor;
      std::string refusal;
      slot = admission_.Admit(
          address,
          [handle, executor] {
            net::post(executor, [handle] {
              beast::error_code ignored;
              if (handle->stream != nullptr) handle->stream->socket().close(ignored);
            });
          },
          &refusal);
      if (!slot) {
        Log("REFUSE", "-", "-", address, refusal);
        co_await Send(client,
                      Error(http::status::service_unavailable, "too_many_connections",
                            "dualkey gateway: " + refusal + "; try again shortly", true),
                      false);
      }
      for (bool first = true; slot; first = false) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(64 * 1024);
        parser.body_limit(options_.max_body_bytes);
        beast::error_code ec;
        // Waiting for a request: the connection may make room for others.
        slot->SetIdle(true);
        if (buffer.size() == 0) {
          // A new connection has the header timeout for everything; a
          // kept-alive one may wait the idle timeout for the first byte.
          client.expires_after(std::chrono::seconds(first ? options_.header_timeout_seconds
                                                          : options_.idle_timeout_seconds));
          const std::size_t n = co_await client.async_read_some(
              buffer.prepare(16 * 1024), net::redirect_error(net::use_awaitable, ec));
          if (ec) break;
          buffer.commit(n);
        }
        client.expires_after(std::chrono::seconds(options_.header_timeout_seconds));
        co_await http::async_read_header(client, buffer, parser,
                                         net::redirect_error(net::use_awaitable, ec));
        if (ec == http::error::end_of_stream || ec == net::error::eof ||
            ec == net::error::connection_reset || ec == net::error::operation_aborted ||
            ec == net::error::bad_descriptor)
          break;
        // A header that did not arrive in time: Beast's timer has closed the
        // socket already (nothing was forwarded).
        if (ec == beast::error::timeout) break;
        if (ec == http::error::body_limit) {  // a Content-Length over the cap
          co_await Send(client, TooLarge(parser.content_length().value_or(0)), false);
          break;
        }
        if (ec) {
          co_await Send(
              client,
              Held(http::status::bad_request, "bad_request",
                   "malformed HTTP request: " + ec.message() + "; nothing was forwarded", true),
              false);
          break;
        }
        // A request is being served: not a candidate to make room.
        slot->SetIdle(false);
        if (std::string problem = FramingProblem(parser); !problem.empty()) {
          co_await Send(
              client,
              Held(http::status::bad_request, "bad_request",
                   "malformed HTTP request: " + problem + "; nothing was forwarded", true),
              false);
          break;
        }
        const bool keep_alive = parser.get().keep_alive();
        if (parser.content_length() && *parser.content_length() > options_.max_body_bytes) {
          co_await Send(client, TooLarge(*parser.content_length()), false);
          break;
        }
        if (parser.get()[http::field::expect] == "100-continue") {
          http::response<http::empty_body> go_on{http::status::continue_, 11};
          co_await http::async_write(client, go_on, net::redirect_error(net::use_awaitable, ec));
          if (ec) break;
        }
        if (!parser.is_done()) {
          client.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
          co_await http::async_read(client, buffer, parser,
                                    net::redirect_error(net::use_awaitable, ec));
          if (ec == http::error::body_limit) {
            co_await Send(client, TooLarge(0), false);
            break;
          }
          if (ec) {
            co_await Send(
                client,
                Held(http::status::bad_request, "bad_request",
                     "malformed HTTP request body: " + ec.message() + "; nothing was forwarded",
                     true),
                false);
            break;
          }
        }
        http::request<http::string_body> request = parser.release();
        bool client_ok = co_await Handle(request, client, keep_alive, worker);
        if (!client_ok || !keep_alive) break;
      }
    } catch (const std::exception& e) {
      if (!options_.quiet) std::cerr << "dualkey gateway: connection error: " << e.what() << "\n";
    }
    handle->stream = nullptr;
    slot.reset();
    beast::error_code ignored;
    client.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

 private:
  Reply TooLarge(std::uint64_t declared) {
    return Held(http::status::payload_too_large, "too_large",
                (declared ? "the request body is " + std::to_string(declared) + " bytes; "
                          : std::string("the request body is ")) +
                    "more than the " + std::to_string(options_.max_body_bytes) +
                    " bytes dualkey reads to classify a request, so it is held unread and "
                    "not forwarded",
                true);
  }

  std::optional<token::Token> Authenticate(const http::request<http::string_body>& request) {
    std::string secret;
    std::string_view authorization = request[http::field::authorization];
    if (authorization.size() > 7 && internal::Lower(authorization.substr(0, 7)) == "bearer " &&
        authorization.substr(7).starts_with("dk_"))
      secret = std::string(authorization.substr(7));
    if (secret.empty()) secret = std::string(request["X-Dualkey-Token"]);
    while (!secret.empty() && secret.back() == ' ') secret.pop_back();
    if (secret.empty()) return std::nullopt;
    std::lock_guard lock(token_mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (auto it = token_cache_.find(secret);
        it != token_cache_.end() && now - it->second.second < kTokenCacheTtl)
      return it->second.first;
    Result<token::Token> found = tokens_.FindBySecret(secret);
    if (token_cache_.size() > 1024) token_cache_.clear();
    if (!found.ok()) return std::nullopt;
    token_cache_[secret] = {*found, now};
    return std::move(found).value();
  }

  // Returns false when the client connection is unusable afterwards.
  net::awaitable<bool> Handle(http::request<http::string_body>& request, beast::tcp_stream& client,
                              bool keep_alive, std::size_t worker) {
    internal::Target target;
    std::string error;
    if (!internal::SplitTarget(request.target(), &target, &error)) {
      co_return co_await Send(client, Held(http::status::bad_request, "bad_request", error, false),
                              keep_alive);
    }
    auto found = upstreams.find(target.upstream);
    if (found == upstreams.end()) {
      std::string names;
      for (const auto& [name, upstream] : upstreams) names += (names.empty() ? "" : ", ") + name;
      co_return co_await Send(
          client,
          Error(http::status::not_found, "unknown_upstream",
                "no upstream named \"" + target.upstream.substr(0, 64) +
                    "\"; this gateway serves: " + names + " (call /<upstream>/<path>)"),
          keep_alive);
    }
    UpstreamRuntime& upstream = *found->second;
    std::optional<token::Token> agent = Authenticate(request);
    if (!agent || !agent->Allows("http")) {
      Reply reply = Error(http::status::unauthorized, "unauthorized",
                          agent ? "token '" + agent->name + "' has no http scope"
                                : "send a dualkey agent token: Authorization: Bearer dk_... "
                                  "(dualkey token add NAME --scope http)");
      co_return co_await Send(client, std::move(reply), keep_alive);
    }

    const std::string path = upstream.base.path_prefix + target.path;
    const std::string url =
        upstream.base.Origin() + path + (target.query.empty() ? "" : "?" + target.query);
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& field : request)
      headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    internal::ClassifiedRequest classified =
        internal::HttpChannelInput(request.method_string(), url, headers, request.body());

    const auto deciding = std::chrono::steady_clock::now();
    guard::Request ask;
    ask.channel = Channel::kHttp;
    ask.input = classified.input;
    ask.cwd = "gateway:" + upstream.config.name;
    ask.agent = agent->name;
    guard::Result local = guard::Check(ask, policy_);
    if (local.verdict.Enforced() != Decision::kAllow || !classified.hold_reason.empty()) {
      std::optional<Reply> refused =
          AskDaemon(ask, local.verdict, classified.hold_reason, request.method_string(), url);
      if (refused) co_return co_await Send(client, std::move(*refused), keep_alive);
    } else if (!ReportLocal(ask, local.verdict, Decision::kAllow, /*forwarded=*/true,
                            std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - deciding)
                                .count())) {
      // Nothing destroys without a record: held until the daemon takes it.
      const std::string reason =
          "the policy allows it, but its decision cannot be recorded in the audit log now (the "
          "daemon at " +
          daemon_.socket_path() +
          " is unreachable or the audit queue is full); reads still pass; send it again later";
      ReportLocal(ask, local.verdict, Decision::kHold, /*forwarded=*/false, -1, reason);
      Log("HOLD", ask.agent, request.method_string(), url, reason);
      co_return co_await Send(client, Held(http::status::forbidden, "held", reason, false),
                              keep_alive);
    }
    co_return co_await Forward(upstream, request, target, path, client, keep_alive, worker);
  }

  // nullopt: the daemon allowed it (an approval, used once). Otherwise the 403.
  std::optional<Reply> AskDaemon(const guard::Request& ask, const Verdict& local,
                                 const std::string& hold_reason, std::string_view method,
                                 const std::string& url) {
    client::CheckRequest call;
    call.action.channel = Channel::kHttp;
    call.action.input = ask.input;
    call.action.cwd = ask.cwd;
    call.action.agent = ask.agent;
    if (!hold_reason.empty()) {
      call.min_decision = Decision::kHold;
      call.detail = hold_reason;
    }
    Result<client::CheckReply> answer = daemon_.Check(call);
    if (!answer.ok()) {
      std::string reason = (hold_reason.empty() ? local.reason : hold_reason) +
                           " (the dualkey daemon at " + daemon_.socket_path() +
                           " is not reachable: " + answer.status().message() +
                           "; nothing can be approved until it runs: dualkey serve)";
      Log("HOLD", ask.agent, method, url, reason);
      ReportLocal(ask, local, Decision::kHold, /*forwarded=*/false, -1, reason);
      Reply reply = Held(http::status::forbidden, "held", reason, false);
      return reply;
    }
    const Decision decision = answer->decision;
    if (decision == Decision::kAllow) {
      if (answer->approved) Log("PASS", ask.agent, method, url, answer->reason);
      return std::nullopt;
    }
    Reply reply;
    reply.status = http::status::forbidden;
    const std::string reason = answer->reason.empty() ? local.reason : answer->reason;
    if (decision == Decision::kDeny) {
      reply.body = json{{"error", "denied"}, {"decision", "deny"}, {"reason", reason}};
      Log("DENY", ask.agent, method, url, reason);
      return reply;
    }
    const std::string& id = answer->approval_id;
    reply.body = json{{"error", "held"},
                      {"decision", ToString(decision)},
                      {"approval_id", id},
                      {"code", answer->code},
                      {"reason", reason}};
    if (!id.empty()) {
      reply.body["approve"] = "dualkey approve " + id;
      reply.body["approvals_needed"] = std::max(1, answer->approvals_needed);
      reply.body["then"] = "send the identical request again; it passes once";
    } else if (answer->frozen) {
      reply.body["reset"] = "dualkey breaker reset " + ask.agent;
      reply.body["then"] = "after the reset, send the request again";
    }
    Log("HOLD", ask.agent, method, url, reason + (id.empty() ? "" : " [approval " + id + "]"));
    return reply;
  }

  // A decision made here, not by the daemon, for its audit log. False when
  // a destructive one cannot be recorded (the caller holds it).
  bool ReportLocal(const guard::Request& ask, const Verdict& verdict, Decision decision,
                   bool forwarded, std::int64_t added_us, const std::string& reason = "") {
    return reporter_.ReportLocal({Channel::kHttp, ask.input, ask.cwd, ask.agent}, verdict, decision,
                                 forwarded, added_us, reason);
  }

  void Log(std::string_view what, std::string_view agent, std::string_view method,
           std::string_view url, std::string_view reason) {
    if (options_.quiet) return;
    std::lock_guard lock(log_mutex_);
    std::cerr << "dualkey gateway: " << what << " " << agent << " " << method << " " << url << " — "
              << reason << "\n";
  }

  net::awaitable<bool> Send(beast::tcp_stream& client, Reply reply, bool keep_alive) {
    http::response<http::string_body> response{reply.status, 11};
    response.set(http::field::content_type, "application/json");
    response.set(http::field::server, "dualkey-gateway");
    if (reply.body.contains("decision"))
      response.set("X-Dualkey-Decision", reply.body["decision"].get<std::string>());
    if (reply.status == http::status::unauthorized)
      response.set(http::field::www_authenticate, "Bearer realm=\"dualkey\"");
    response.body() = base::JsonDump(reply.body) + "\n";
    response.keep_alive(keep_alive && !reply.close);
    response.prepare_payload();
    beast::error_code ec;
    client.expires_after(std::chrono::seconds(options_.idle_timeout_seconds));
    co_await http::async_write(client, response, net::redirect_error(net::use_awaitable, ec));
    co_return !ec && keep_alive && !reply.close;
  }

  static void Inject(const UpstreamRuntime& upstream, http::request<http::string_body>& out,
                     const std::string& path, const std::string& query) {
    const Credential& credential = upstream.credential;
    switch (credential.type) {
      case CredentialType::kBearer:
        out.set(http::field::authorization, "Bearer " + credential.secret);
        break;
      case CredentialType::kBasic:
        out.set(http::field::authorization, "Basic " + Base64(credential.secret));
        break;
      case CredentialType::kAwsSigV4: {
        internal::SigV4Request sign;
        sign.method = std::string(out.method_string());
        sign.path = path;
        sign.query = query;
        sign.payload_sha256_hex = internal::Sha256Hex(out.body());
        out.set("x-amz-date", internal::AmzDateNow());
        out.set("x-amz-content-sha256", sign.payload_sha256_hex);
        if (!credential.session_token.empty())
          out.set("x-amz-security-token", credential.session_token);
        for (const auto& field : out) {
          const std::string name = internal::Lower(field.name_string());
          if (name == "host" || name == "content-type" || name.starts_with("x-amz-"))
            sign.headers.emplace_back(name, std::string(field.value()));
        }
        internal::AwsKeys keys{credential.access_key_id, credential.secret_access_key,
                               credential.session_token};
        out.set(http::field::authorization,
                internal::SignV4(sign, keys, credential.region, credential.service,
                                 std::string(out["x-amz-date"]))
                    .authorization);
        break;
      }
    }
  }

  net::awaitable<bool> Forward(UpstreamRuntime& upstream, http::request<http::string_body>& in,
                               const internal::Target& target, const std::string& path,
                               beast::tcp_stream& client, bool keep_alive, std::size_t worker) {
    http::request<http::string_body> out;
    out.method_string(in.method_string());
    out.target(path + (target.query.empty() ? "" : "?" + target.query));
    out.version(11);
    const bool sigv4 = upstream.credential.type == CredentialType::kAwsSigV4;
    for (const auto& field : in) {
      const std::string name = internal::Lower(field.name_string());
      if (internal::IsHopByHopOrAgentAuth(name) || name == "content-length") continue;
      if (sigv4 && (name == "x-amz-date" || name == "x-amz-content-sha256" ||
                    name == "x-amz-security-token"))
        continue;
      out.insert(field.name_string(), field.value());
    }
    out.set(http::field::host, upstream.base.HostHeader());
    out.body() = std::move(in.body());
    out.prepare_payload();
    out.keep_alive(true);
    Inject(upstream, out, path, target.query);
    const bool head = in.method() == http::verb::head;

    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Connection> connection;
      bool reused = false;
      std::vector<std::unique_ptr<Connection>>& idle = upstream.idle[worker];
      if (!idle.empty()) {
        connection = std::move(idle.back());
        idle.pop_back();
        reused = true;
      }
      if (!connection) {
        std::string error;
        bool timed_out = false;
        connection = co_await Connect(upstream, &error, &timed_out);
        if (!connection && timed_out) {
          co_return co_await Send(
              client,
              Error(http::status::gateway_timeout, "upstream_timeout",
                    "upstream \"" + upstream.config.name + "\" at " + upstream.base.Origin() +
                        " did not accept a connection within " +
                        std::to_string(options_.upstream_connect_timeout_seconds) +
                        " s; nothing was sent"),
              keep_alive);
        }
        if (!connection) {
          co_return co_await Send(client,
                                  Error(http::status::bad_gateway, "upstream_unreachable",
                                        "cannot reach upstream \"" + upstream.config.name +
                                            "\" at " + upstream.base.Origin() + ": " + error),
                                  keep_alive);
        }
      }
      // (Two statements: GCC 12 miscompiles co_await inside ?:.)
      RelayResult result;
      if (connection->tls)
        result = co_await Relay(*connection->tls, *connection, out, client, keep_alive, head);
      else
        result = co_await Relay(*connection->plain, *connection, out, client, keep_alive, head);
      if (result.upstream_reusable && idle.size() < kMaxIdlePerUpstream)
        idle.push_back(std::move(connection));
      if (result.before_response && result.timed_out) {
        // Sent, unanswered: it may have been carried out, so it is not sent again.
        Log("TIMEOUT", "-", in.method_string(), upstream.config.name + path, result.error);
        co_return co_await Send(
            client,
            Error(http::status::gateway_timeout, "upstream_timeout",
                  "upstream \"" + upstream.config.name + "\" did not answer within " +
                      std::to_string(options_.upstream_timeout_seconds) +
                      " s; the request was sent and may or may not have been carried out, so "
                      "dualkey did not send it again"),
            keep_alive);
      }
      if (result.before_response) {
        // A kept-alive connection the upstream had closed: try a fresh one once.
        if (reused && attempt == 0) continue;
        co_return co_await Send(client,
                                Error(http::status::bad_gateway, "upstream_failed",
                                      "upstream \"" + upstream.config.name +
                                          "\" failed before answering: " + result.error),
                                keep_alive);
      }
      co_return result.client_ok&& keep_alive;
    }
    co_return false;
  }

  net::awaitable<std::unique_ptr<Connection>> Connect(UpstreamRuntime& upstream, std::string* error,
                                                      bool* timed_out) {
    auto executor = co_await net::this_coro::executor;
    auto connection = std::make_unique<Connection>();
    beast::error_code ec;
    tcp::resolver resolver(executor);
    auto endpoints = co_await resolver.async_resolve(upstream.base.host, upstream.base.port,
                                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      *error = "cannot resolve " + upstream.base.host + ": " + ec.message();
      co_return nullptr;
    }
    if (upstream.base.tls) {
      connection->tls =
          std::make_unique<beast::ssl_stream<beast::tcp_stream>>(executor, *upstream.tls);
    } else {
      connection->plain = std::make_unique<beast::tcp_stream>(executor);
    }
    beast::tcp_stream& lowest = connection->Lowest();
    lowest.expires_after(std::chrono::seconds(options_.upstream_connect_timeout_seconds));
    co_await lowest.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      *timed_out = ec == beast::error::timeout;
      *error = ec.message();
      co_return nullptr;
    }
    lowest.socket().set_option(tcp::no_delay(true), ec);
    if (connection->tls) {
      if (!SSL_set_tlsext_host_name(connection->tls->native_handle(), upstream.base.host.c_str())) {
        *error = "cannot set TLS server name";
        co_return nullptr;
      }
      connection->tls->set_verify_callback(ssl::host_name_verification(upstream.base.host));
      co_await connection->tls->async_handshake(ssl::stream_base::client,
                                                net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        *timed_out = ec == beast::error::timeout;
        *error =
            "TLS handshake failed: " + ec.message() +
            (upstream.config.ca_file.empty() ? "" : " (trusting " + upstream.config.ca_file + ")");
        co_return nullptr;
      }
    }
    co_return connection;
  }

  struct RelayResult {
    bool before_response = false;  // failed before any byte went to the client
    bool timed_out = false;        // ... because the upstream did not answer in time
    bool client_ok = true;
    bool upstream_reusable = false;
    std::string error;
  };

  template <class Stream>
  net::awaitable<RelayResult> Relay(Stream& stream, Connection& connection,
                                    http::request<http::string_body>& out,
                                    beast::tcp_stream& client, bool keep_alive, bool head) {
    RelayResult result;
    beast::error_code ec;
    const auto upstream_timeout = std::chrono::seconds(options_.upstream_timeout_seconds);
    connection.Lowest().expires_after(upstream_timeout);
    co_await http::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      result.before_response = true;
      result.error = ec.message();
      co_return result;
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.skip(head);
    connection.Lowest().expires_after(upstream_timeout);
    co_await http::async_read_header(stream, connection.buffer, parser,
                                     net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      result.before_response = true;
      result.timed_out = ec == beast::error::timeout;
      result.error = ec.message();
      co_return result;
    }
    auto& response = parser.get();
    const bool upstream_keep_alive = response.keep_alive();
    const unsigned status = response.result_int();
    const bool bodiless = head || status / 100 == 1 || status == 204 || status == 304;
    response.erase(http::field::connection);
    response.erase(http::field::keep_alive);
    response.erase("Proxy-Connection");
    response.version(11);
    if (!bodiless && !response.has_content_length() && !response.chunked())
      response.chunked(true);  // the upstream ends it by closing; we chunk it instead
    response.keep_alive(keep_alive);
    http::serializer<false, http::buffer_body> serializer{response};
    const auto client_timeout = std::chrono::seconds(options_.idle_timeout_seconds);
    client.expires_after(client_timeout);
    co_await http::async_write_header(client, serializer,
                                      net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      result.client_ok = false;
      co_return result;
    }
    char chunk[16 * 1024];
    do {
      if (!parser.is_done()) {
        response.body().data = chunk;
        response.body().size = sizeof(chunk);
        connection.Lowest().expires_after(upstream_timeout);
        co_await http::async_read(stream, connection.buffer, parser,
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
          // The upstream broke off mid-body: the client sees a cut response.
          result.client_ok = false;
          result.error = ec.message();
          co_return result;
        }
        response.body().size = sizeof(chunk) - response.body().size;
        response.body().data = chunk;
        response.body().more = !parser.is_done();
      } else {
        response.body().data = nullptr;
        response.body().size = 0;
        response.body().more = false;
      }
      client.expires_after(client_timeout);
      co_await http::async_write(client, serializer, net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        result.client_ok = false;
        co_return result;
      }
    } while (!parser.is_done() || !serializer.is_done());
    result.upstream_reusable = upstream_keep_alive && !response.need_eof() && parser.is_done();
    co_return result;
  }

  Options options_;
  policy::Policy policy_;
  std::mutex token_mutex_;
  token::Store tokens_;
  const client::Client daemon_;
  client::DecisionReporter reporter_{daemon_, client::ReporterOptions{.source = "gateway"}};
  std::unordered_map<std::string, std::pair<token::Token, std::chrono::steady_clock::time_point>>
      token_cache_;
  std::mutex log_mutex_;
  base::Admission admission_;
};

}  // namespace

int RunHttp(const Options& given) {
  Options options = given;
  if (options.state_dir.empty()) options.state_dir = install::DefaultStateDir();
  if (options.config_path.empty()) options.config_path = options.state_dir + "/gateway.toml";
  if (options.socket_path.empty()) options.socket_path = install::DefaultSocketPath();
  if (options.threads < 1) options.threads = 1;
  Result<Config> config = LoadConfig(options.config_path);
  if (!config.ok()) {
    std::cerr << "dualkey gateway: " << config.status().message() << "\n";
    return 2;
  }
  const char* home = std::getenv("HOME");
  policy::Policy policy = policy::Load(policy::DefaultSources("", home ? home : ""));
  for (const std::string& policy_error : policy.errors)
    std::cerr << "dualkey gateway: policy error (destructive requests stay held): " << policy_error
              << "\n";

  // Each connection holds a descriptor, and one to its upstream while a
  // request is relayed: the limit must fit under the descriptor limit,
  // raised to its hard maximum first.
  if (const auto room = base::RaiseDescriptorLimit();
      room && room->connections < options.max_connections) {
    std::cerr << "dualkey gateway: at most " << room->connections
              << " connections (the descriptor limit is " << room->limit << ")\n";
    options.max_connections = room->connections;
  }
  if (!options.Valid()) {
    std::cerr << "dualkey gateway: timeouts and connection limits are at least 1\n";
    return 2;
  }
  Gateway gateway(options, std::move(policy));
  if (Status loaded = internal::LoadUpstreams(*config, options, &gateway.upstreams); !loaded.ok()) {
    std::cerr << "dualkey gateway: " << loaded.message() << "\n";
    return 2;
  }

  std::string host;
  unsigned short port = 0;
  if (!ParseListen(options.listen, &host, &port)) {
    std::cerr << "dualkey gateway: --listen is HOST:PORT, e.g. 127.0.0.1:8787\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  // One io_context per thread, each connection pinned to one of them: a
  // request never hops threads (a hop costs more than the classification).
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int i = 0; i < options.threads; ++i)
    contexts.push_back(std::make_unique<net::io_context>(1));
  net::io_context& io = *contexts[0];
  tcp::acceptor acceptor(io);
  try {
    tcp::endpoint endpoint(net::ip::make_address(host), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    if (!endpoint.address().is_loopback())
      std::cerr << "dualkey gateway: warning: listening on " << host
                << ", not loopback; anyone who can reach it and holds a token can use it\n";
  } catch (const std::exception& e) {
    std::cerr << "dualkey gateway: cannot listen on " << options.listen << ": " << e.what() << "\n";
    return 2;
  }
  const tcp::endpoint bound = acceptor.local_endpoint();
  std::cout << "dualkey gateway: listening on "
            << (bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                        : bound.address().to_string())
            << ":" << bound.port() << " (" << gateway.upstreams.size()
            << (gateway.upstreams.size() == 1 ? " upstream)" : " upstreams)") << std::endl;

  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        net::steady_timer pause(io);
        for (std::size_t next = 0;; next = (next + 1) % contexts.size()) {
          beast::error_code ec;
          net::io_context& home = *contexts[next];
          tcp::socket socket =
              co_await acceptor.async_accept(home, net::redirect_error(net::use_awaitable, ec));
          if (ec == net::error::operation_aborted) co_return;
          if (ec) {
            // Out of descriptors: free the one idle the longest, and wait a
            // moment either way rather than spin on the pending connection.
            if (ec == net::error::no_descriptors || ec.value() == ENFILE)
              gateway.admission().EvictOldestIdle();
            pause.expires_after(std::chrono::milliseconds(20));
            co_await pause.async_wait(net::redirect_error(net::use_awaitable, ec));
            continue;
          }
          socket.set_option(tcp::no_delay(true), ec);
          net::co_spawn(home, gateway.Session(std::move(socket), next), net::detached);
        }
      },
      net::detached);
  // Memory a flood made the allocator keep is given back once it is over.
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        net::steady_timer timer(io);
        for (;;) {
          timer.expires_after(std::chrono::seconds(1));
          beast::error_code ec;
          co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
          if (ec) co_return;
          const std::size_t peak = gateway.admission().TakePeak();
          if (peak >= 64 && gateway.admission().open() < peak / 2) malloc_trim(0);
        }
      },
      net::detached);
  net::signal_set signals(io, SIGINT, SIGTERM);
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  for (auto& context : contexts) keep_running.push_back(net::make_work_guard(*context));
  signals.async_wait([&](const beast::error_code&, int) {
    for (auto& context : contexts) context->stop();
  });
  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < contexts.size(); ++i)
    workers.emplace_back([&, i] { contexts[i]->run(); });
  io.run();
  for (std::thread& worker : workers) worker.join();
  // Kept-alive upstream connections use their io_context's timer and socket
  // services, so they go now, while the contexts live. The contexts (and the
  // sessions still suspended in them, which refer to the gateway) go at the
  // end of this scope, before the gateway declared above them.
  for (auto& [name, upstream] : gateway.upstreams)
    for (auto& pool : upstream->idle) pool.clear();
  if (!options.quiet) std::cerr << "dualkey gateway: stopped\n";
  return 0;
}

}  // namespace dualkey::gateway
