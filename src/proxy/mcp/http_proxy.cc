// `dualkey mcp --upstream URL`: the Streamable HTTP transport. The client
// talks to a local endpoint; each POST body goes through the gate (held calls
// are answered here, in JSON or as SSE events before the server's own), the
// rest is forwarded with its headers (Mcp-Session-Id, MCP-Protocol-Version,
// Authorization, Last-Event-ID) and the server's answer relayed as it streams.
// One thread per client connection, each with its own upstream connection.
//
// This file: the listening socket and the accept loop under the connection
// limits; http_connection.cc serves each client.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <iostream>

#include "base/admission.h"
#include "proxy/mcp/internal/http_transport.h"

namespace dualkey::mcpproxy {

using internal::Gate;
using internal::Url;
using internal::Watchdog;

int RunHttpProxy(const ProxyOptions& options) {
  Url url;
  std::string error;
  if (!internal::ParseUrl(options.upstream_url, &url, &error)) {
    std::cerr << "dualkey mcp: " << error << "\n";
    return 2;
  }
  std::string listen_host = options.listen, listen_port = "0";
  std::size_t colon = options.listen.rfind(':');
  if (colon != std::string::npos) {
    listen_host = options.listen.substr(0, colon);
    listen_port = options.listen.substr(colon + 1);
  }
  if (listen_host.size() > 2 && listen_host.front() == '[')
    listen_host = listen_host.substr(1, listen_host.size() - 2);

  internal::GateConfig config;
  policy::Policy policy = internal::LoadProxyPolicy(options, &config);
  config.fallback_server_name = url.host;
  Gate gate(std::move(config), std::move(policy));

  ssl::context tls(ssl::context::tls_client);
  tls.set_default_verify_paths();
  tls.set_verify_mode(ssl::verify_peer);

  signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  tcp::acceptor acceptor(io);
  try {
    tcp::endpoint endpoint(asio::ip::make_address(listen_host),
                           static_cast<unsigned short>(std::stoi(listen_port)));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
  } catch (const std::exception& e) {
    std::cerr << "dualkey mcp: cannot listen on " << options.listen << ": " << e.what() << "\n";
    return 2;
  }
  const tcp::endpoint bound = acceptor.local_endpoint();
  const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                   : bound.address().to_string();
  std::cout << "http://" << host << ":" << bound.port() << url.target << std::endl;
  std::cerr << "dualkey mcp: listening on http://" << host << ":" << bound.port() << url.target
            << " for " << options.upstream_url << "\n";

  if (!options.Valid()) {
    std::cerr << "dualkey mcp: timeouts and connection limits are at least 1\n";
    return 2;
  }
  Watchdog watchdog;
  base::Admission admission(
      base::Admission::Limits{options.max_connections, options.max_connections_per_client});
  asio::steady_timer pause(io);
  std::atomic<std::size_t> peak{0};
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        // Out of descriptors: free the longest-idle connection, and pause
        // rather than spin on the connection still waiting in the backlog.
        if (ec == asio::error::no_descriptors || ec.value() == ENFILE) admission.EvictOldestIdle();
        pause.expires_after(std::chrono::milliseconds(20));
        pause.async_wait([&](beast::error_code) { accept(); });
        return;
      }
      beast::error_code peer_error;
      const tcp::endpoint peer = socket.remote_endpoint(peer_error);
      const std::string address = peer_error ? "?" : peer.address().to_string();
      std::shared_ptr<Watchdog::Watch> watch = watchdog.Add(socket.native_handle());
      std::string refusal;
      std::unique_ptr<base::Admission::Slot> slot = admission.Admit(
          address, [&watchdog, watch] { watchdog.ShutNow(watch); }, &refusal);
      if (!slot) {
        if (options.verbose)
          std::cerr << "dualkey mcp: refused " << address << ": " << refusal << "\n";
        watchdog.Remove(watch);
        http::response<http::string_body> busy(http::status::service_unavailable, 11);
        busy.set(http::field::content_type, "text/plain");
        busy.body() = "dualkey mcp: " + refusal + "; try again shortly\n";
        busy.keep_alive(false);
        busy.prepare_payload();
        socket.non_blocking(true, ec);
        http::write(socket, busy, ec);
        socket.close(ec);
      } else {
        std::thread([&, socket = std::move(socket), watch, slot = std::move(slot)]() mutable {
          internal::ServeConnection(std::move(socket), &gate, options, url, &tls, &watchdog, watch,
                                    slot.get());
          slot.reset();
          // Memory a flood made the allocator keep goes back once it is over.
          const std::size_t open = admission.open();
          if (open == 0 && peak.exchange(0) >= 64) malloc_trim(0);
        }).detach();
        const std::size_t open = admission.open();
        if (open > peak.load()) peak = open;
      }
      accept();
    });
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    acceptor.close();
    io.stop();
  });
  accept();
  io.run();
  gate.FlushReports(3000);
  // Connection threads may still be relaying a stream; they own nothing that
  // needs flushing, so end the process here rather than destroy what they use.
  std::cout.flush();
  std::cerr.flush();
  _exit(0);
}

}  // namespace dualkey::mcpproxy
