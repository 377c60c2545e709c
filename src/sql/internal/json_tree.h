// A small read-only JSON tree over libpg_query's parse output. nlohmann's DOM
// costs ~8 µs per statement (more than the parse itself); this flat,
// single-allocation tree with string_views into the source costs well under
// one. It is only for trusted, well-formed JSON from libpg_query, but it
// still rejects malformed or too-deep input instead of misbehaving.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::sql::internal {

class JsonTree;

// A cheap handle to one value of a JsonTree; an invalid handle behaves like
// an absent value (every accessor answers "nothing").
class JsonNode {
 public:
  JsonNode() = default;
  JsonNode(const JsonTree* tree, std::uint32_t index) : tree_(tree), index_(index) {}

  bool valid() const { return tree_ != nullptr; }
  explicit operator bool() const { return valid(); }
  bool is_object() const;
  bool is_array() const;
  bool is_string() const;
  // The member named `key` of an object, or an invalid node.
  JsonNode operator[](std::string_view key) const;
  // Raw text of a string (still escaped) or a number/literal.
  std::string_view raw() const;
  // Decoded string value (empty when not a string).
  std::string str() const;
  bool boolean() const;  // true only for the JSON literal true
  long long integer() const;
  std::string_view key() const;  // the member name when this is an object member

  // Children of an array or members of an object, in order.
  JsonNode first_child() const;
  JsonNode next_sibling() const;

  // libpg_query wraps every Node as {"TypeName": {...}}: the type and body.
  std::string_view node_type() const;
  JsonNode node_body() const;

  // Structural equality ignoring "location" members (parse positions).
  bool SameAs(const JsonNode& other) const;

  // Range-for over children: `for (JsonNode child : node)`.
  class Iterator;
  Iterator begin() const;
  Iterator end() const;

  bool operator==(const JsonNode& other) const {
    return tree_ == other.tree_ && (tree_ == nullptr || index_ == other.index_);
  }

 private:
  const JsonTree* tree_ = nullptr;
  std::uint32_t index_ = 0;
};

class JsonNode::Iterator {
 public:
  explicit Iterator(JsonNode node) : node_(node) {}
  JsonNode operator*() const { return node_; }
  Iterator& operator++() {
    node_ = node_.next_sibling();
    return *this;
  }
  bool operator!=(const Iterator& other) const { return !(node_ == other.node_); }

 private:
  JsonNode node_;
};

inline JsonNode::Iterator JsonNode::begin() const {
  return Iterator(first_child());
}
inline JsonNode::Iterator JsonNode::end() const {
  return Iterator(JsonNode());
}

class JsonTree {
 public:
  enum class Kind : std::uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };
  static constexpr std::uint32_t kNone = UINT32_MAX;
  static constexpr int kMaxDepth = 2000;

  struct Value {
    Kind kind = Kind::kNull;
    bool escaped = false;   // string contains backslash escapes
    std::string_view key;   // member name inside an object
    std::string_view text;  // string contents / number text
    std::uint32_t first_child = kNone;
    std::uint32_t next_sibling = kNone;
  };

  // Parses `json`, which must outlive the tree. False on malformed input.
  bool Parse(std::string_view json);
  JsonNode root() const { return values_.empty() ? JsonNode() : JsonNode(this, 0); }
  const Value& at(std::uint32_t index) const { return values_[index]; }

 private:
  std::vector<Value> values_;
};

// Decodes a JSON string body (without quotes) into UTF-8.
std::string UnescapeJsonString(std::string_view text);

}  // namespace dualkey::sql::internal
