// The redactor without its shortcuts, to check them against: every rule's
// pattern run over the text by std::regex_replace, whether or not the text
// contains a word the rule needs, trying a match at every place (slow: a
// long run of letters makes some patterns quadratic). RedactSecrets
// (base/redact.h) must give exactly this; the tests and
// fuzz/redact_fuzz.cc compare the two.
#pragma once

#include <string>
#include <string_view>

namespace dualkey::base::internal {

std::string RedactSecretsEveryRule(std::string_view text, std::size_t max_bytes = 8192);

}  // namespace dualkey::base::internal
