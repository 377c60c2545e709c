// KeepUntilExit: an object a long-running command owns until the process
// exits, on purpose (its destructor would race work still parked in an event
// loop, and tearing down at exit buys nothing). The one place such a choice
// is spelled: LeakSanitizer is told the object is kept, so the sanitized
// suite reports only leaks nobody chose.
#ifndef DUALKEY_BASE_KEEP_UNTIL_EXIT_H_
#define DUALKEY_BASE_KEEP_UNTIL_EXIT_H_

#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define DUALKEY_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DUALKEY_HAS_LSAN 1
#endif
#endif
#ifdef DUALKEY_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace dualkey::base {

// Constructs a T that is never destroyed and returns a reference to it.
template <typename T, typename... Args>
T& KeepUntilExit(Args&&... args) {
  T* object = new T(std::forward<Args>(args)...);
#ifdef DUALKEY_HAS_LSAN
  __lsan_ignore_object(object);
#endif
  return *object;
}

}  // namespace dualkey::base

#endif  // DUALKEY_BASE_KEEP_UNTIL_EXIT_H_
