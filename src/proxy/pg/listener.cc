// `dualkey pg-proxy`'s process: TLS and policy set up, the listening socket,
// the accept loop under the connection limits, and memory trimmed after floods.
#include <malloc.h>
#include <signal.h>

#include <filesystem>

#include "base/admission.h"
#include "base/descriptor_limit.h"
#include "base/keep_until_exit.h"
#include "proxy/pg/internal/session.h"

namespace dualkey::pgproxy {
namespace {

Task<void> Accept(Shared& shared, tcp::acceptor& acceptor) {
  asio::steady_timer pause(acceptor.get_executor());
  while (true) {
    boost::system::error_code ec;
    // Each session on its own strand when several threads run the loop; with
    // one thread everything is serialised already and a strand only costs.
    tcp::socket socket(shared.options.threads > 1
                           ? asio::any_io_executor(asio::make_strand(acceptor.get_executor()))
                           : acceptor.get_executor());
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor.is_open()) co_return;
      // Out of descriptors (EMFILE): free one held by a client that has not
      // logged in, and wait a moment either way: retrying at once would spin
      // (the pending connection stays in the backlog until then).
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory || ec.value() == ENFILE)
        shared.admission->EvictOldestIdle();
      pause.expires_after(std::chrono::milliseconds(20));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    const tcp::endpoint peer = socket.remote_endpoint(ec);
    std::string address = ec ? std::string("?") : peer.address().to_string();
    auto session = std::make_shared<Session>(shared, std::move(socket), std::move(address));
    std::weak_ptr<Session> weak = session;
    session->slot = shared.admission->Admit(
        session->address(),
        [weak] {
          if (std::shared_ptr<Session> victim = weak.lock())
            asio::post(victim->executor(), [victim] { victim->Evict("a connection limit"); });
        },
        &session->refusal);
    const bool admitted = session->slot != nullptr;
    {
      std::lock_guard lock(shared.sessions_mutex);
      shared.sessions.insert(session);
    }
    if (!admitted) {
      shared.Say("refused a connection from " + session->address() + ": " + session->refusal);
      asio::co_spawn(session->executor(), session->Refuse(), asio::detached);
      continue;
    }
    asio::co_spawn(session->executor(), session->Run(), asio::detached);
  }
}

// Gives memory a flood made the allocator keep back to the system once the
// sessions are gone (glibc keeps freed heap for reuse otherwise).
Task<void> TrimMemory(Shared& shared, asio::io_context& io) {
  asio::steady_timer timer(io);
  while (true) {
    timer.expires_after(std::chrono::seconds(1));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const std::size_t peak = shared.admission->TakePeak();
    if (peak >= 64 && shared.admission->open() < peak / 2) malloc_trim(0);
  }
}

}  // namespace

int Run(const Options& options) {
  signal(SIGPIPE, SIG_IGN);
  // Shared state and the io_context live until the process exits: sessions'
  // coroutines may still hold sockets when the loop stops, and tearing them
  // down buys nothing at exit.
  Shared& shared = base::KeepUntilExit<Shared>(options);
  const char* home = std::getenv("HOME");
  shared.policy = policy::Load(policy::DefaultSources("", home ? home : ""));
  for (const std::string& e : shared.policy.errors)
    std::cerr << "dualkey pg-proxy: policy: " << e << " (destructive statements stay held)\n";
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  if (options.snapshots_in_state_dir) {
    shared.sink = MakeStateDirSink(options.state_dir);
  } else {
    const char* env_vault = std::getenv("DUALKEY_VAULT");
    const std::string vault_dir = !options.vault_dir.empty() ? options.vault_dir
                                  : env_vault != nullptr && *env_vault != '\0'
                                      ? std::string(env_vault)
                                      : options.state_dir + "/vault";
    shared.sink = MakeVaultSink(vault_dir, options.state_dir + "/snapshot-spool");
  }
  shared.log_path = options.state_dir + "/pg-proxy.log";
  // Each session holds two descriptors (client, database) and briefly a
  // third (row estimates, snapshots): the limit on clients must fit under
  // the process's descriptor limit, raised to its hard maximum first.
  std::size_t max_clients = options.max_clients;
  if (const auto room = base::RaiseDescriptorLimit(); room && room->connections < max_clients) {
    std::cerr << "dualkey pg-proxy: at most " << room->connections
              << " clients (the descriptor limit is " << room->limit << "; --max-clients "
              << options.max_clients << " lowered)\n";
    max_clients = room->connections;
  }
  shared.admission = std::make_unique<base::Admission>(
      base::Admission::Limits{max_clients, options.max_clients_per_address});
  shared.reporter = std::make_unique<client::DecisionReporter>(
      shared.daemon, client::ReporterOptions{.source = "pg_proxy"});

  try {
    if (!options.tls_cert.empty()) {
      shared.client_tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      shared.client_tls->set_options(asio::ssl::context::default_workarounds |
                                     asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                                     asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      shared.client_tls->use_certificate_chain_file(options.tls_cert);
      shared.client_tls->use_private_key_file(options.tls_key, asio::ssl::context::pem);
    }
    if (options.upstream.sslmode == "verify-full") {
      shared.upstream_tls.set_verify_mode(asio::ssl::verify_peer);
      if (options.upstream.sslrootcert.empty())
        shared.upstream_tls.set_default_verify_paths();
      else
        shared.upstream_tls.load_verify_file(options.upstream.sslrootcert);
    } else {
      shared.upstream_tls.set_verify_mode(asio::ssl::verify_none);
    }
  } catch (const std::exception& e) {
    std::cerr << "dualkey pg-proxy: TLS setup failed: " << e.what() << "\n";
    return 2;
  }

  std::string listen_host;
  int listen_port = 0;
  if (!SplitHostPort(options.listen, &listen_host, &listen_port)) {
    std::cerr << "dualkey pg-proxy: --listen is HOST:PORT\n";
    return 2;
  }
  const int threads = std::max(1, options.threads);
  asio::io_context& io = base::KeepUntilExit<asio::io_context>(threads);
  tcp::acceptor& acceptor = base::KeepUntilExit<tcp::acceptor>(io);
  try {
    tcp::endpoint endpoint(asio::ip::make_address(listen_host),
                           static_cast<unsigned short>(listen_port));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::cerr << "dualkey pg-proxy: cannot listen on " << options.listen << ": " << e.what()
              << "\n";
    return 1;
  }
  asio::signal_set& signals = base::KeepUntilExit<asio::signal_set>(io, SIGINT, SIGTERM);
  asio::steady_timer& grace = base::KeepUntilExit<asio::steady_timer>(io);
  signals.async_wait([&](boost::system::error_code, int) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    std::vector<std::shared_ptr<Session>> open;
    {
      std::lock_guard lock(shared.sessions_mutex);
      open.assign(shared.sessions.begin(), shared.sessions.end());
    }
    for (auto& s : open) asio::post(s->executor(), [s] { s->Close(); });
    // Let the closes run, then stop.
    grace.expires_after(std::chrono::milliseconds(200));
    grace.async_wait([&](boost::system::error_code) { io.stop(); });
  });
  asio::co_spawn(io, Accept(shared, acceptor), asio::detached);
  asio::co_spawn(io, TrimMemory(shared, io), asio::detached);
  if (!options.no_fast_path) {
    std::string pump_error;
    shared.pump = Pump::Start(
        options.max_statement_bytes,
        options.fast_path_threads > 0 ? options.fast_path_threads : Pump::DefaultThreads(),
        &pump_error);
    if (shared.pump == nullptr)
      std::cerr << "dualkey pg-proxy: fast path off (" << pump_error << ")\n";
  }
  const auto bound = acceptor.local_endpoint();
  std::cout << "dualkey pg-proxy: listening on " << bound.address().to_string() << ":"
            << bound.port() << " -> " << options.upstream.host << ":" << options.upstream.port
            << std::endl;
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : workers) t.join();
  // What is still queued for the audit log goes out before the exit.
  if (shared.reporter && !shared.reporter->Flush(3000))
    std::cerr << "dualkey pg-proxy: " << shared.reporter->stats().queued
              << " decisions could not be sent to the daemon's audit log before exiting\n";
  return 0;
}

}  // namespace dualkey::pgproxy
