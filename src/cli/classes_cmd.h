// `dualkey classes [--json] [FAMILY]` (classes_cmd.cc): the operation
// classes policy rules match on, each with its line of meaning: the built-in
// ones (core/op_class.h) and those the packs in force declare.
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace dualkey::cli {

class ClassesCommand {
 public:
  ClassesCommand();
  ~ClassesCommand();
  void Add(CLI::App& app);
  bool Parsed() const;
  int Run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dualkey::cli
