// Agent tokens: what an agent presents to dualkey's PostgreSQL proxy and HTTP
// gateway instead of the real credentials, which never leave dualkey. Only
// hashes are kept (SHA-256 for bearer lookups, a SCRAM-SHA-256 verifier for
// the proxy's client authentication), in a 0600 file in the state directory.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dualkey::token {

// What PostgreSQL keeps in pg_authid for SCRAM-SHA-256 (RFC 5802/7677).
struct ScramVerifier {
  std::string salt;  // raw bytes
  int iterations = 4096;
  std::array<std::uint8_t, 32> stored_key{};
  std::array<std::uint8_t, 32> server_key{};
};

struct Token {
  std::string name;                 // the agent identity approvals and the breaker use
  std::vector<std::string> scopes;  // "pg", "http", "mcp" or "*"
  std::int64_t created_ms = 0;
  std::string sha256_hex;  // of the secret
  ScramVerifier scram;

  bool Allows(std::string_view scope) const;
};

ScramVerifier MakeScramVerifier(std::string_view secret, std::string salt, int iterations);
std::string Sha256Hex(std::string_view data);

// The token file of one state directory. Each call re-reads the file when it
// changed on disk, so a daemon or proxy sees tokens added or revoked by the CLI.
class Store {
 public:
  explicit Store(std::string state_dir);

  // Creates a token named `name` (letters, digits, '-', '_', '.', ':', '@')
  // and returns its secret, shown once: "dk_" followed by 43 base64url chars.
  // kInvalidArgument (name, scope), kFailedPrecondition (the name is taken),
  // kIOError / kCorruption (the file).
  Result<std::string> Add(const std::string& name, const std::vector<std::string>& scopes);
  // kNotFound when there is no such token.
  Status Revoke(const std::string& name);
  // kNotFound when no token matches; kIOError / kCorruption when the file
  // cannot be read.
  Result<Token> FindBySecret(std::string_view secret);
  Result<Token> FindByName(std::string_view name);
  Result<std::vector<Token>> List();

  const std::string& path() const { return path_; }

 private:
  Status Refresh();
  std::string state_dir_;
  std::string path_;
  std::vector<Token> tokens_;
  std::int64_t loaded_mtime_ns_ = -1;
  std::int64_t loaded_size_ = -1;
};

}  // namespace dualkey::token
