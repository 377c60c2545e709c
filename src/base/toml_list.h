// A TOML value that may be one string or a list of strings ("classes",
// "with", "operand" in packs and policies): read the same way everywhere,
// with the same words when it is neither.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

namespace dualkey::base {

// Appends the string, or each string of the list, to `out`. False with
// `error` set ("\"key\" must hold only strings", "\"key\" must be a string
// or a list of strings") otherwise; strings before a bad element stay in
// `out`.
inline bool TomlStrings(const toml::node& node, std::string_view key, std::vector<std::string>* out,
                        std::string* error) {
  if (const auto* value = node.as_string()) {
    out->push_back(value->get());
    return true;
  }
  if (const auto* array = node.as_array()) {
    for (const toml::node& element : *array) {
      const auto* value = element.as_string();
      if (value == nullptr) {
        *error = "\"" + std::string(key) + "\" must hold only strings";
        return false;
      }
      out->push_back(value->get());
    }
    return true;
  }
  *error = "\"" + std::string(key) + "\" must be a string or a list of strings";
  return false;
}

}  // namespace dualkey::base
