// `dualkey gateway http`: a loopback reverse gateway that owns the API
// credentials. Agents call http://127.0.0.1:PORT/<upstream>/... with a dualkey
// agent token; each request is classified by the HTTP channel, held ones wait
// for a human (403 naming the approval), allowed ones go upstream over TLS
// with the real credential injected (bearer, basic, or AWS SigV4 re-signing).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/relay_limits.h"
#include "base/status.h"

namespace dualkey::gateway {

// One [[gateway.http.upstream]] of the config file.
struct Upstream {
  std::string name;        // the first path segment agents use: /railway/...
  std::string base_url;    // https://backboard.railway.app (an optional path prefix is kept)
  std::string credential;  // name of a stored credential
  std::string ca_file;     // extra CA bundle to trust (self-signed upstreams)
};

struct Config {
  std::vector<Upstream> upstreams;
};

// Reads the TOML config. Unknown keys, duplicate names and bad URLs are
// errors ("path:line: message"), never silently ignored.
// kNotFound / kIOError: the file cannot be read; kInvalidArgument: what is wrong.
Result<Config> LoadConfig(const std::string& path);

enum class CredentialType { kBearer, kBasic, kAwsSigV4 };

struct Credential {
  std::string name;
  CredentialType type = CredentialType::kBearer;
  std::string secret;  // bearer: the token; basic: "user:password"
  // aws-sigv4:
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string region;
  std::string service;
};

std::string_view ToString(CredentialType type);
bool ParseCredentialType(std::string_view text, CredentialType* out);

// The real credentials, one 0600 file each in <state dir>/credentials (0700),
// readable by the dualkey user alone.
class CredentialStore {
 public:
  explicit CredentialStore(std::string state_dir);
  // `secret_text` as read from stdin: the token; "user:password"; for AWS
  // "ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN]" (spaces, newlines or ':').
  // kInvalidArgument (nothing stored) or kIOError.
  Status Set(const std::string& name, CredentialType type, std::string_view secret_text,
             const std::string& region, const std::string& service);
  // kNotFound: no such credential; kPermissionDenied: others can read its
  // file; kCorruption: the file is not one dualkey wrote.
  Result<Credential> Get(const std::string& name) const;
  Result<std::vector<Credential>> List() const;
  Status Remove(const std::string& name);  // kNotFound
  std::string directory() const;

 private:
  std::string state_dir_;
};

// The limits (base::RelayLimits) as they are: the upstream timeout also
// bounds each pause in a response body; at a connection limit with none
// idle, 503.
struct Options : base::RelayLimits {
  std::string listen = "127.0.0.1:8787";  // port 0 picks a free one
  std::string config_path;                // default: <state dir>/gateway.toml
  std::string state_dir;                  // default: install::DefaultStateDir()
  std::string socket_path;                // the daemon; default: install::DefaultSocketPath()
  int threads = 4;
  std::size_t max_body_bytes = 8u << 20;  // larger request bodies: 413, held unread
  int daemon_timeout_ms = 5000;
  bool quiet = false;
};

// Serves until SIGINT or SIGTERM (exit 0). Prints
// "dualkey gateway: listening on HOST:PORT (N upstreams)" once ready.
int RunHttp(const Options& options);

}  // namespace dualkey::gateway
