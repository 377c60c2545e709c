// The HTTP transport's plumbing, shared by the accept loop (http_proxy.cc)
// and each client connection (http_connection.cc): deadlines, URLs, SSE.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <variant>

#include "base/admission.h"
#include "proxy/mcp/internal/gate.h"
#include "proxy/mcp/mcp_proxy.h"

namespace dualkey::mcpproxy {

// For the proxy's HTTP files alike.
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace internal {

using nlohmann::json;

using Clock = std::chrono::steady_clock;

// Deadlines for blocking sockets: a thread that shuts a socket down once its
// deadline passes, which ends the read or write blocked on it. (Asio's
// blocking operations ignore SO_RCVTIMEO: they poll again after EAGAIN.)
class Watchdog {
 public:
  struct Watch {
    int fd = -1;  // -1 once removed: never shut down after the owner closed it
    Clock::time_point deadline = Clock::time_point::max();
    bool fired = false;
  };

  Watchdog() {
    // Lives as long as the process (RunHttpProxy ends with _exit).
    std::thread([this] { Loop(); }).detach();
  }

  std::shared_ptr<Watch> Add(int fd) {
    auto watch = std::make_shared<Watch>();
    watch->fd = fd;
    std::lock_guard lock(mutex_);
    watches_.insert(watch);
    return watch;
  }
  // Arms the deadline `seconds` from now; 0 disarms it.
  void Arm(const std::shared_ptr<Watch>& watch, int seconds) {
    std::lock_guard lock(mutex_);
    watch->deadline =
        seconds > 0 ? Clock::now() + std::chrono::seconds(seconds) : Clock::time_point::max();
  }
  bool Fired(const std::shared_ptr<Watch>& watch) {
    std::lock_guard lock(mutex_);
    return watch->fired;
  }
  // Before the socket is closed.
  void Remove(const std::shared_ptr<Watch>& watch) {
    if (!watch) return;
    std::lock_guard lock(mutex_);
    watch->fd = -1;
    watches_.erase(watch);
  }
  // Ends the socket's blocked operation now (it must make room).
  void ShutNow(const std::shared_ptr<Watch>& watch) {
    std::lock_guard lock(mutex_);
    if (watch->fd >= 0) ::shutdown(watch->fd, SHUT_RDWR);
  }

 private:
  void Loop() {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const Clock::time_point now = Clock::now();
      std::lock_guard lock(mutex_);
      for (const auto& watch : watches_) {
        if (watch->fd < 0 || watch->fired || now < watch->deadline) continue;
        watch->fired = true;
        ::shutdown(watch->fd, SHUT_RDWR);
      }
    }
  }

  std::mutex mutex_;
  std::set<std::shared_ptr<Watch>> watches_;
};

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path and query
};

bool ParseUrl(const std::string& text, Url* url, std::string* error);

// Headers that are not passed on (hop-by-hop, or set by dualkey).
bool IsHopByHop(beast::string_view name);

// Only a local client may use the proxy: a web page's script would carry its
// own Origin (DNS rebinding).
bool LocalOrigin(beast::string_view origin);

// Splits a text/event-stream into events; `on_data` gets each event's data,
// `on_unread` is told of an event too large to read (it still passes).
class SseParser {
 public:
  explicit SseParser(std::size_t max) : max_(max) {}
  template <typename OnData, typename OnUnread>
  void Feed(std::string_view bytes, OnData&& on_data, OnUnread&& on_unread) {
    for (char c : bytes) {
      if (c == '\n') {
        Line(on_data, on_unread);
        line_.clear();
      } else if (line_.size() < max_) {
        line_.push_back(c);
      } else {
        overflow_ = true;
      }
    }
  }

 private:
  template <typename OnData, typename OnUnread>
  void Line(OnData&& on_data, OnUnread&& on_unread) {
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {
      if (overflow_)
        on_unread();
      else if (!data_.empty())
        on_data(data_);
      data_.clear();
      overflow_ = false;
      return;
    }
    if (line_.rfind("data:", 0) == 0) {
      std::string_view value(line_);
      value.remove_prefix(5);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (!data_.empty()) data_.push_back('\n');
      if (data_.size() + value.size() > max_)
        overflow_ = true;
      else
        data_.append(value);
    }
  }

  std::size_t max_;
  std::string line_;
  std::string data_;
  bool overflow_ = false;
};

// One JSON-RPC message as an SSE event.
std::string SseEvent(const json& message);

// The upstream connection: plain TCP or TLS.
class Upstream {
 public:
  Upstream(const Url& url, ssl::context* tls, Watchdog* watchdog, int connect_timeout_seconds)
      : url_(url),
        tls_(tls),
        watchdog_(watchdog),
        connect_timeout_(std::chrono::seconds(connect_timeout_seconds)) {}
  ~Upstream() { Drop(); }

  // Connecting and the TLS handshake run asynchronously on this object's own
  // io_context, so Beast's timer bounds them; reads and writes after that
  // are blocking, bounded by the watchdog (Arm).
  bool Connect(std::string* error, bool* timed_out);
  bool connected() const { return !std::holds_alternative<std::monostate>(stream_); }
  void Drop() {
    watchdog_->Remove(watch_);
    watch_.reset();
    stream_ = std::monostate{};
  }
  // The next blocking operations must finish within `seconds` (0: no limit).
  void Arm(int seconds) {
    if (watch_) watchdog_->Arm(watch_, seconds);
  }
  bool TimedOut() { return watch_ && watchdog_->Fired(watch_); }

  template <typename Function>
  void Visit(Function&& function) {
    std::visit(
        [&](auto& stream) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, std::monostate>)
            function(*stream);
        },
        stream_);
  }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  Url url_;
  ssl::context* tls_;
  Watchdog* watchdog_;
  std::chrono::seconds connect_timeout_;
  std::shared_ptr<Watchdog::Watch> watch_;
  asio::io_context io_;
  std::variant<std::monostate, std::unique_ptr<beast::tcp_stream>,
               std::unique_ptr<beast::ssl_stream<beast::tcp_stream>>>
      stream_;
  beast::flat_buffer buffer_;
};

// Serves one client connection on the calling thread until it closes
// (http_connection.cc).
void ServeConnection(tcp::socket socket, Gate* gate, const ProxyOptions& options, const Url& url,
                     ssl::context* tls, Watchdog* watchdog,
                     std::shared_ptr<Watchdog::Watch> client_watch, base::Admission::Slot* slot);

}  // namespace internal
}  // namespace dualkey::mcpproxy
