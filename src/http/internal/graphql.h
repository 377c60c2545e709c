// A small GraphQL executable-document parser (the October 2021 spec's
// lexical and executable grammar): enough to know which operation runs and
// which root fields it selects, with their arguments, through fragments.
// Type-system definitions (schema, type ...) are rejected: a request never
// carries them. Bounded: nesting deeper than kMaxDepth is a syntax error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dualkey::http::graphql {

constexpr int kMaxDepth = 64;

struct Value {
  enum class Kind { kVariable, kInt, kFloat, kString, kBoolean, kNull, kEnum, kList, kObject };
  Kind kind = Kind::kNull;
  std::string text;          // variable name (no $), literal text, decoded string
  std::string name;          // the key, when this value is an object field
  std::vector<Value> items;  // list items, or object fields (each with `name`)
};

struct Argument {
  std::string name;
  Value value;
};

struct Selection;

struct Field {
  std::string alias;  // empty when none
  std::string name;
  std::vector<Argument> arguments;
  std::vector<Selection> selections;
};

struct Selection {
  enum class Kind { kField, kFragmentSpread, kInlineFragment };
  Kind kind = Kind::kField;
  Field field;                        // kField
  std::string fragment;               // kFragmentSpread: the fragment's name
  std::string type_condition;         // kInlineFragment, may be empty
  std::vector<Selection> selections;  // kInlineFragment
};

struct VariableDefinition {
  std::string name;  // without $
  std::string type;  // as written, e.g. "String!" or "[ID!]"
  bool has_default = false;
  Value default_value;
};

enum class OperationType { kQuery, kMutation, kSubscription };

struct Operation {
  OperationType type = OperationType::kQuery;
  std::string name;  // empty when anonymous
  std::vector<VariableDefinition> variables;
  std::vector<Selection> selections;
};

struct Fragment {
  std::string name;
  std::string type_condition;
  std::vector<Selection> selections;
};

struct Document {
  std::vector<Operation> operations;
  std::vector<Fragment> fragments;
};

// Parses an executable document. On failure returns false with a message
// naming the offset. Never throws.
bool Parse(std::string_view text, Document* out, std::string* error);

// The fields an operation selects at its root, with fragment spreads and
// inline fragments flattened (a spread cycle or an unknown fragment is an
// error, as a server would reject it).
bool RootFields(const Document& document, const Operation& operation,
                std::vector<const Field*>* out, std::string* error);

std::string_view ToString(OperationType type);

}  // namespace dualkey::http::graphql
