// `dualkey serve`: the daemon every integration asks for decisions. It owns
// the approval store, the audit log and the breaker; hooks and `check` send
// each request over a Unix socket (protocol.h, through client.h), a held
// action becomes a pending approval, and a human approves it with a TOTP code.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::daemon {

struct ServeOptions {
  std::string state_dir;    // 0700; holds the store, the audit log and its key
  std::string store;        // "" = SQLite file in state_dir; or postgresql://...
  std::string vault_dir;    // "" = $DUALKEY_VAULT, else state_dir/vault
  std::string socket_path;  // "" = state_dir/dualkey.sock
  int approval_ttl_seconds = 15 * 60;
  // Breaker: this many held or denied destructive attempts within the window
  // freeze the agent until a human resets it.
  int breaker_attempts = 3;
  int breaker_window_seconds = 60;
  // Token bucket per agent on destructive requests.
  int rate_burst = 20;
  double rate_per_minute = 20;
  bool quiet = false;
  // Loopback HTTP listener ("127.0.0.1:8790"; empty: none): the socket's
  // requests as POST /v1/<op>. HTTPS with a certificate and key.
  std::string http_listen;
  std::string tls_cert;
  std::string tls_key;
  // Called with every event the daemon records, the same ones its watchers
  // get (`dualkey serve` logs them), from whichever thread recorded it, after
  // the audit append. Must be quick: the allow path calls it too.
  std::function<void(std::string_view kind, const nlohmann::json& fields)> on_event;
  // The approver's page (served on the HTTP listener): the origin people open
  // it at, which passkeys are bound to ("https://dualkey.example.com" behind
  // a reverse proxy). Empty: http(s)://localhost:PORT of the listener.
  std::string web_origin;
  int web_session_minutes = 15;  // a page session lasts at most this long
  // Webhooks told when a hold appears ("slack=URL", "ntfy=URL", "json=URL").
  std::vector<std::string> notify;
};

// Runs until SIGINT or SIGTERM. Returns the exit status.
int Serve(const ServeOptions& options);

}  // namespace dualkey::daemon
