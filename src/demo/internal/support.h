// What the demo is made of besides its Demo class: the agent's script of
// attempts, and the small tools it measures and talks with (file hashes, a
// loopback HTTP exchange, TOTP codes, the sealed environment).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dualkey::demo::internal {

std::string Hex(const unsigned char* data, std::size_t n);
std::string RandomHex(std::size_t bytes);

// File path (relative to `dir`) -> SHA-256 of its content.
std::map<std::string, std::string> HashTree(const std::filesystem::path& dir);
// Files of `before` missing or changed in `after`.
int LostFiles(const std::map<std::string, std::string>& before,
              const std::map<std::string, std::string>& after);

double Percentile(std::vector<double> v, double p);
// Whether something listens on loopback `port` within `timeout_ms`.
bool WaitForPort(int port, int timeout_ms);

struct HttpReply {
  int status = 0;
  std::string body;
};
// One HTTP/1.1 exchange on loopback, as an agent's HTTP client would do it.
HttpReply HttpCall(int port, const std::string& method, const std::string& path,
                   const std::vector<std::string>& headers, const std::string& body);

// The TOTP code of `secret` now (plus `offset_seconds`).
std::string Totp(const std::string& secret, int offset_seconds = 0);

// The demo's own process: libpq, which it uses in-process, reads PG* from
// the environment, and nothing of the user's may steer the demo. Called
// once, before any thread.
void SealOwnEnvironment();
// The whole environment of every process the demo starts (see support.cc).
std::vector<std::string> SealedEnvironment(const std::filesystem::path& root);

// ---- The agent's session ---------------------------------------------------

enum class Via { kHook, kProxy, kGateway };

struct Attempt {
  Via via;
  bool destructive;
  std::string what;  // shell command, SQL statement, or "METHOD /path"
  std::string body;  // gateway: the JSON body
};

// The incident's order: the database first, then files, cloud storage, and
// finally the backups and the API call that took the volume with its backups.
// Ordinary work (reads, tests, builds) runs in between and must pass.
std::vector<Attempt> Script();

}  // namespace dualkey::demo::internal
