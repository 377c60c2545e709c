// Webhook notifications (see internal/notify.h).
#include "daemon/internal/notify.h"

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/json_text.h"
#include "base/redact.h"
#include "client/protocol.h"
#include "client/words.h"

namespace dualkey::daemon::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using nlohmann::json;

namespace {

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;
};

bool ParseUrl(const std::string& text, Url* out) {
  std::string rest;
  if (text.starts_with("https://")) {
    out->tls = true;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    return false;
  }
  const std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out->target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos) return false;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    out->host = authority.substr(1, close - 1);
    out->port = close + 1 < authority.size() && authority[close + 1] == ':'
                    ? authority.substr(close + 2)
                    : "";
  } else {
    const std::size_t colon = authority.rfind(':');
    out->host = authority.substr(0, colon);
    out->port = colon == std::string::npos ? "" : authority.substr(colon + 1);
  }
  if (out->port.empty()) out->port = out->tls ? "443" : "80";
  if (out->host.empty() || out->port.find_first_not_of("0123456789") != std::string::npos)
    return false;
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x21) return false;
  return true;
}

struct Delivery {
  NotifyTarget target;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  json audit;  // approval_id, target
};

template <typename Stream>
asio::awaitable<void> Exchange(Stream& stream, const Url& url, const Delivery& d, int* status) {
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.host);
  request.set(http::field::user_agent, "dualkey");
  request.set(http::field::content_type, d.content_type);
  for (const auto& [name, value] : d.headers) request.set(name, value);
  request.body() = d.body;
  request.prepare_payload();
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  *status = static_cast<int>(parser.get().result_int());
}

// One POST; the receiver's HTTP status, or why it could not be had.
Result<int> Post(const Delivery& d, int timeout_ms) {
  Url url;
  if (!ParseUrl(d.target.url, &url)) return Status::InvalidArgument("not an http(s) URL");
  // The TLS context outlives the io_context (whose end destroys a coroutine
  // cut off by the timeout, and its stream).
  asio::ssl::context tls(asio::ssl::context::tls_client);
  asio::io_context io;
  tls.set_default_verify_paths();
  tls.set_verify_mode(asio::ssl::verify_peer);
  int status = 0;
  std::string failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        tcp::resolver resolver(io);
        auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
        if (url.tls) {
          beast::ssl_stream<beast::tcp_stream> stream(io, tls);
          if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
            throw std::runtime_error("cannot set the TLS server name");
          stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
          co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
          co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
          co_await Exchange(stream, url, d, &status);
        } else {
          beast::tcp_stream stream(io);
          co_await stream.async_connect(endpoints, asio::use_awaitable);
          co_await Exchange(stream, url, d, &status);
        }
      },
      [&](std::exception_ptr error) {
        if (!error) return;
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          failure = e.what();
        }
      });
  io.run_for(std::chrono::milliseconds(timeout_ms));
  if (!io.stopped()) {
    io.stop();
    return Status::Unavailable("no answer within " + std::to_string(timeout_ms) + " ms");
  }
  if (!failure.empty()) return Status::Unavailable(failure);
  if (status == 0) return Status::Unavailable("no answer");
  return status;
}

std::string FormatName(NotifyTarget::Format format) {
  switch (format) {
    case NotifyTarget::Format::kSlack:
      return "slack";
    case NotifyTarget::Format::kNtfy:
      return "ntfy";
    case NotifyTarget::Format::kJson:
      break;
  }
  return "json";
}

// "https://hooks.slack.com/services/T0/B0/XXXX" -> "https://hooks.slack.com/..." for
// the audit log and errors: webhook URLs are themselves secrets.
std::string ShownUrl(const std::string& url) {
  Url parsed;
  if (!ParseUrl(url, &parsed)) return "(not a URL)";
  return std::string(parsed.tls ? "https://" : "http://") + parsed.host + ":" + parsed.port +
         "/...";
}

std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

Result<NotifyTarget> ParseNotifyTarget(const std::string& spec) {
  const std::size_t eq = spec.find('=');
  NotifyTarget target;
  const std::string kind = eq == std::string::npos ? "" : spec.substr(0, eq);
  if (kind == "slack")
    target.format = NotifyTarget::Format::kSlack;
  else if (kind == "ntfy")
    target.format = NotifyTarget::Format::kNtfy;
  else if (kind == "json")
    target.format = NotifyTarget::Format::kJson;
  else
    return Status::InvalidArgument("--notify wants slack=URL, ntfy=URL or json=URL, not \"" +
                                   base::ToValidUtf8(spec.substr(0, 40)) + "\"");
  target.url = spec.substr(eq + 1);
  Url url;
  if (!ParseUrl(target.url, &url))
    return Status::InvalidArgument("--notify " + kind + "=URL: not an http(s) URL");
  return target;
}

std::string Notifier::Body(NotifyTarget::Format format, const json& fields,
                           const std::string& page_origin) {
  const std::string id = Text(fields, "approval_id");
  const std::string code = Text(fields, "code");
  const std::string agent = base::ToValidUtf8(Text(fields, "agent"));
  const std::string input = base::RedactSecrets(base::ToValidUtf8(Text(fields, "input")), 600);
  const std::string reason = base::RedactSecrets(base::ToValidUtf8(Text(fields, "reason")), 400);
  const std::string link = page_origin.empty() ? "" : page_origin + "/#hold=" + id;
  const int needed = fields.value("approvals_needed", 1);
  const std::int64_t expires_ms = fields.value("expires_ms", std::int64_t{0});
  const std::string title = "dualkey: agent " + agent + " waits for approval " + code;
  std::string summary =
      title + "\n" + input + "\n" + reason + (needed >= 2 ? "\nneeds 2 approvers (hold2)" : "") +
      "\napprove: dualkey approve " + code + (link.empty() ? "" : "\nor on the page: " + link);
  switch (format) {
    case NotifyTarget::Format::kSlack:
      return base::JsonDump(json{{"text", summary}});
    case NotifyTarget::Format::kNtfy:
      return summary;
    case NotifyTarget::Format::kJson:
      break;
  }
  json body{
      {"event", "hold"},          {"approval_id", id}, {"code", code}, {"agent", agent},
      {"input", input},           {"reason", reason},  {"link", link}, {"approvals_needed", needed},
      {"expires_ms", expires_ms}, {"summary", summary}};
  return base::JsonDump(body);
}

struct Notifier::State {
  Core& core;
  std::vector<NotifyTarget> targets;
  NotifyOptions options;
  std::mutex mu;
  std::condition_variable wake;
  std::deque<Delivery> queue;
  bool stopping = false;
  std::thread worker;

  State(Core& c, std::vector<NotifyTarget> t, NotifyOptions o)
      : core(c), targets(std::move(t)), options(o) {}

  Delivery Make(const NotifyTarget& target, const json& fields) {
    Delivery d;
    d.target = target;
    d.body = Body(target.format, fields, core.web_origin());
    d.content_type = target.format == NotifyTarget::Format::kNtfy ? "text/plain; charset=utf-8"
                                                                  : "application/json";
    if (target.format == NotifyTarget::Format::kNtfy) {
      d.headers.emplace_back("Title", "dualkey: approval " + Text(fields, "code") + " waits");
      d.headers.emplace_back("Tags", "warning");
      if (!core.web_origin().empty())
        d.headers.emplace_back("Click",
                               core.web_origin() + "/#hold=" + Text(fields, "approval_id"));
    }
    d.audit = json{{"approval_id", Text(fields, "approval_id")},
                   {"target", FormatName(target.format) + " " + ShownUrl(target.url)}};
    return d;
  }

  void Enqueue(const json& fields) {
    std::vector<Delivery> made;
    for (const NotifyTarget& target : targets) made.push_back(Make(target, fields));
    std::size_t dropped = 0;
    {
      std::lock_guard lock(mu);
      for (Delivery& d : made) {
        if (queue.size() >= options.max_queue) {
          ++dropped;
          continue;
        }
        queue.push_back(std::move(d));
      }
    }
    wake.notify_one();
    if (dropped > 0)
      core.Record("notify_dropped",
                  json{{"approval_id", Text(fields, "approval_id")},
                       {"deliveries", dropped},
                       {"why", "the notification queue is full"}},
                  nullptr, audit::Log::Durability::kWritten);
  }

  // Delivers with retries; the outcome audited. Returns the last error ("" = sent).
  std::string Deliver(Delivery& d) {
    std::string why;
    int backoff = options.first_backoff_ms;
    for (int attempt = 1; attempt <= options.attempts; ++attempt) {
      Result<int> status = Post(d, options.timeout_ms);
      if (status.ok() && *status >= 200 && *status < 300) {
        json fields = d.audit;
        fields["attempts"] = attempt;
        fields["http_status"] = *status;
        core.Record("notify_sent", std::move(fields), nullptr, audit::Log::Durability::kWritten);
        return "";
      }
      why =
          status.ok() ? "HTTP " + std::to_string(*status) : std::string(status.status().message());
      std::unique_lock lock(mu);
      if (attempt == options.attempts ||
          wake.wait_for(lock, std::chrono::milliseconds(backoff), [this] { return stopping; }))
        break;
      backoff *= 2;
    }
    json fields = d.audit;
    fields["why"] = base::ToValidUtf8(why);
    core.Record("notify_failed", std::move(fields), nullptr, audit::Log::Durability::kWritten);
    return why;
  }

  void Run() {
    std::unique_lock lock(mu);
    while (true) {
      wake.wait(lock, [this] { return stopping || !queue.empty(); });
      if (stopping) break;
      Delivery d = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      Deliver(d);
      lock.lock();
    }
    for (const Delivery& d : queue) {
      json fields = d.audit;
      fields["why"] = "the daemon stopped";
      core.Record("notify_dropped", std::move(fields), nullptr, audit::Log::Durability::kWritten);
    }
    queue.clear();
  }
};

Notifier::Notifier(Core& core, std::vector<NotifyTarget> targets, NotifyOptions options)
    : state_(std::make_shared<State>(core, std::move(targets), options)) {
  state_->worker = std::thread([state = state_] { state->Run(); });
}

Notifier::~Notifier() {
  Stop();
}

void Notifier::Stop() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  if (state_->worker.joinable()) state_->worker.join();
}

void Notifier::Attach(Dispatcher& dispatcher) {
  std::weak_ptr<State> weak = state_;
  state_->core.Observe({"hold"}, [weak](std::string_view, const json& fields) {
    auto state = weak.lock();
    // A new hold only: an agent asking again about the same one is not news.
    if (!state || state->targets.empty() || fields.value("reasked", false) ||
        Text(fields, "approval_id").empty())
      return;
    state->Enqueue(fields);
  });
  // `dualkey notify test`: a sample to every target, now, with the outcome.
  dispatcher.Add("notify_test", [weak](const Peer&, const json&) -> Result<json> {
    auto state = weak.lock();
    if (!state) return Status::Unavailable("the daemon is stopping");
    if (state->targets.empty())
      return Status::FailedPrecondition(
          "no notification targets: start the daemon with --notify slack=URL, ntfy=URL or "
          "json=URL");
    json sample{{"approval_id", "ap_sample"},
                {"code", "TST-123"},
                {"agent", "claude"},
                {"input", "rm -rf /srv/uploads --password=[redacted]"},
                {"reason", "a sample notification from `dualkey notify test`"},
                {"approvals_needed", 1},
                {"expires_ms", Core::NowMs() + 15 * 60'000}};
    json results = json::array();
    bool all = true;
    for (const NotifyTarget& target : state->targets) {
      Delivery d = state->Make(target, sample);
      d.audit["test"] = true;
      NotifyOptions once = state->options;
      Result<int> status = Post(d, once.timeout_ms);
      const bool sent = status.ok() && *status >= 200 && *status < 300;
      all = all && sent;
      json result{{"target", d.audit["target"]}, {"sent", sent}};
      if (status.ok()) result["http_status"] = *status;
      if (!sent)
        result["why"] = status.ok() ? "HTTP " + std::to_string(*status)
                                    : std::string(status.status().message());
      state->core.Record(sent ? "notify_sent" : "notify_failed", result, nullptr,
                         audit::Log::Durability::kWritten);
      results.push_back(std::move(result));
    }
    return json{{"ok", true}, {"all_sent", all}, {"results", results}};
  });
}

}  // namespace dualkey::daemon::internal
