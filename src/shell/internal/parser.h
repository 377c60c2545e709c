// Parser for the bash command language (the subset agents send: everything
// in POSIX plus bash's $'..', <<<, [[ ]], (( )), process substitution,
// arrays, `function` and |&). Never throws; bounded in depth and size.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "shell/internal/ast.h"

namespace dualkey::shell {

struct ParseLimits {
  std::size_t max_input_bytes = 256 * 1024;
  int max_depth = 64;  // nesting of substitutions, groups, compound commands
};

struct ParseError {
  std::size_t offset = 0;  // byte offset into the input
  std::string message;     // e.g. "unterminated single quote"
};

struct ParseResult {
  std::shared_ptr<List> list;  // null when `error` is set
  bool ok = false;
  ParseError error;
};

ParseResult Parse(std::string_view source, const ParseLimits& limits = {});

// Parses text in which only expansions are active ($NAME, ${...}, $(...),
// `...`, $((...))), quotes staying literal: a here-document body, an
// arithmetic expression or an array subscript. The parts come out quoted
// (no field splitting). False, with `error`, when the text does not parse.
bool ParseExpansions(std::string_view text, Word* out, ParseError* error = nullptr,
                     const ParseLimits& limits = {});

}  // namespace dualkey::shell
