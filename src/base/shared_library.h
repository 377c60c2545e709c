// A shared library opened at run time (dlopen) and its functions bound by
// name, for libraries dualkey works without (libpq, libcbor).
#pragma once

#include <initializer_list>

namespace dualkey::base {

class SharedLibrary {
 public:
  // Opens the first of `names` that opens (RTLD_NOW | RTLD_LOCAL). It stays
  // open for the life of the process.
  explicit SharedLibrary(std::initializer_list<const char*> names);

  bool opened() const { return handle_ != nullptr; }
  // Binds `fn` to the function `name`; null when the library has none.
  template <typename F>
  void Bind(F*& fn, const char* name) {
    fn = reinterpret_cast<F*>(Symbol(name));
    all_bound_ = all_bound_ && fn != nullptr;
  }
  // Opened, and every Bind() found its function.
  bool all_bound() const { return opened() && all_bound_; }

 private:
  void* Symbol(const char* name) const;

  void* handle_ = nullptr;
  bool all_bound_ = true;
};

}  // namespace dualkey::base
