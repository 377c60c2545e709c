// The words people read about a hold, made in one place so that the page and
// the CLI (`dualkey pending`) say the same thing: who asks, what would run,
// what it reaches, what can be undone, what is still needed.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "client/protocol.h"

namespace dualkey::client {

// {"who", "where", "approvals", "expires", "blast_radius", "vault",
//  "actions": ["fs.delete.recursive: /srv/data (irreversible, high severity)", ...],
//  "commands": ["rm -rf /srv/data", ...], "restore"?}
// from a pending request and its details (Approval::details; may be null).
nlohmann::json HoldWords(const Approval& request, std::int64_t now_ms);

// "1,204 files in 3 directories, 12.3 MB" and friends.
std::string HumanBytes(std::int64_t bytes);
std::string HumanCount(std::int64_t n);
std::string HumanDuration(std::int64_t ms);

// The same words as text lines for a terminal, indented by `indent`.
std::string HoldWordsText(const nlohmann::json& words, const std::string& indent);

}  // namespace dualkey::client
