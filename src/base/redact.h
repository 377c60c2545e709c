// Secrets out of text that leaves dualkey: a held command, SQL statement or
// HTTP call is shown in notifications (and may be in other messages) without
// the credentials it carries. One rule for what looks secret, not a list of
// known tokens only: values of secret-named fields, flags and headers; the
// password part of URLs; SQL passwords; private keys; known token shapes;
// and any long random-looking string. Over-redacting is the safe error.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dualkey::base {

inline constexpr std::string_view kRedacted = "[redacted]";

// `text` with every secret-looking value replaced by "[redacted]". Input
// longer than `max_bytes` is cut (and marked) first. Never throws.
std::string RedactSecrets(std::string_view text, std::size_t max_bytes = 8192,
                          int* redactions = nullptr);
// The same, or nullopt when that would be `text` itself (most text: then
// nothing is copied).
std::optional<std::string> RedactSecretsIfAny(std::string_view text, std::size_t max_bytes = 8192,
                                              int* redactions = nullptr);

}  // namespace dualkey::base
