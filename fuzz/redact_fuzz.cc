// libFuzzer: the redactor's shortcuts (a rule's pattern runs only when the
// text holds a word the rule needs, and is tried only where a run of its
// opening characters begins) give exactly what std::regex_replace gives
// running every pattern, on any text. A difference is a secret a shortcut
// would leave in the audit log: abort. RedactSecretsIfAny (no copy when
// nothing is redacted) must say "unchanged" exactly then. (Texts past 1 KiB are skipped: the
// reference is quadratic on some, and the fuzzer would only wait.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "base/internal/redact.h"
#include "base/redact.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string redacted = dualkey::base::RedactSecrets(text);
  if (redacted != dualkey::base::internal::RedactSecretsEveryRule(text)) std::abort();
  // The copy-free form says "unchanged" exactly when nothing was redacted.
  const std::optional<std::string> changed = dualkey::base::RedactSecretsIfAny(text);
  if (changed.has_value() != (redacted != text) || (changed && *changed != redacted)) std::abort();
  return 0;
}
