// `dualkey serve`: the daemon every integration asks for decisions. It owns
// the approval store, the audit log and the breaker; hooks and `check` send
// each request over a Unix socket (one JSON object per line each way), a held
// action becomes a pending approval, and a human approves it with a TOTP code.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

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
};

// Runs until SIGINT or SIGTERM. Returns the exit status.
int Serve(const ServeOptions& options);

// Where things live when not configured: $DUALKEY_STATE_DIR, else
// $XDG_STATE_HOME/dualkey, else ~/.local/state/dualkey. The socket:
// $DUALKEY_SOCKET, else <state dir>/dualkey.sock.
std::string DefaultStateDir();
std::string DefaultSocketPath();

// One request/response round trip on the daemon's socket. Returns nullopt with
// `error` set when the daemon cannot be reached or answers garbage.
std::optional<nlohmann::json> Call(const std::string& socket_path, const nlohmann::json& request,
                                   int timeout_ms, std::string* error);

// Subscribes to the daemon's live events and calls `on_event` for each until
// the daemon stops or SIGINT. Returns 0, or 1 with `error` set.
int Watch(const std::string& socket_path, const std::function<void(const nlohmann::json&)>& on_event,
          std::string* error);

}  // namespace dualkey::daemon
