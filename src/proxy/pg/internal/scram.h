// SCRAM-SHA-256 (RFC 5802/7677) both ways, and PostgreSQL's md5: the proxy
// is the SCRAM server for agents (checking their token against the stored
// verifier, never the token itself) and a SCRAM or md5 client upstream with
// the real password.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "token/token.h"

namespace dualkey::pgproxy::scram {

// Server side, one exchange.
class ServerExchange {
 public:
  // `verifier`: the token's; for an unknown user pass a random one so the
  // exchange looks the same and fails at the proof.
  explicit ServerExchange(token::ScramVerifier verifier) : verifier_(std::move(verifier)) {}

  // client-first-message -> server-first-message; nullopt with error when malformed.
  std::optional<std::string> First(std::string_view client_first, std::string* error);
  // client-final-message -> server-final-message ("v=..."); nullopt when the
  // proof is wrong (error says so) or the message is malformed.
  std::optional<std::string> Final(std::string_view client_final, std::string* error);

 private:
  token::ScramVerifier verifier_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
  std::string gs2_header_;
};

// Client side.
class ClientExchange {
 public:
  ClientExchange(std::string password);
  std::string First();  // client-first-message
  // server-first -> client-final; nullopt when malformed.
  std::optional<std::string> Final(std::string_view server_first, std::string* error);
  // Checks the server's signature.
  bool Verify(std::string_view server_final) const;

 private:
  std::string password_;
  std::string nonce_;
  std::string client_first_bare_;
  std::string expected_server_signature_;
};

// "md5" + md5hex(md5hex(password + user) + salt).
std::string Md5Password(std::string_view user, std::string_view password, std::string_view salt);

std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);
std::string RandomBytes(std::size_t n);

}  // namespace dualkey::pgproxy::scram
