#include "sql/internal/json_tree.h"

#include "base/text.h"

namespace dualkey::sql::internal {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

void AppendUtf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

using base::HexValue;

bool ReadHex4(std::string_view text, std::size_t at, std::uint32_t* out) {
  if (at + 4 > text.size()) return false;
  std::uint32_t value = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    int digit = HexValue(text[at + k]);
    if (digit < 0) return false;
    value = value * 16 + static_cast<std::uint32_t>(digit);
  }
  *out = value;
  return true;
}

}  // namespace

std::string UnescapeJsonString(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\' || i + 1 >= text.size()) {
      out.push_back(c);
      continue;
    }
    char e = text[++i];
    if (char control = base::ControlEscape(e)) {
      out.push_back(control);
      continue;
    }
    switch (e) {
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        std::uint32_t code = 0;
        if (!ReadHex4(text, i + 1, &code)) {
          out.push_back('?');
          break;
        }
        i += 4;
        if (code >= 0xD800 && code < 0xDC00 && i + 2 < text.size() && text[i + 1] == '\\' &&
            text[i + 2] == 'u') {
          std::uint32_t low = 0;
          if (ReadHex4(text, i + 3, &low) && low >= 0xDC00 && low < 0xE000) {
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(out, code);
        break;
      }
      default:
        out.push_back(e);
        break;  // \" \\ \/
    }
  }
  return out;
}

bool JsonTree::Parse(std::string_view s) {
  values_.clear();
  values_.reserve(s.size() / 16 + 8);
  struct Frame {
    std::uint32_t index;
    std::uint32_t last;
    bool object;
  };
  std::vector<Frame> stack;
  stack.reserve(64);
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < n && IsSpace(s[i])) ++i;
  };
  auto read_string = [&](std::string_view* out, bool* escaped) {
    std::size_t start = ++i;
    bool saw_escape = false;
    while (i < n) {
      char c = s[i];
      if (c == '"') {
        *out = s.substr(start, i - start);
        *escaped = saw_escape;
        ++i;
        return true;
      }
      if (c == '\\') {
        saw_escape = true;
        i += 2;
        continue;
      }
      ++i;
    }
    return false;
  };

  while (true) {
    skip_space();
    std::string_view key;
    if (!stack.empty() && stack.back().object) {
      if (i >= n || s[i] != '"') return false;
      bool escaped = false;
      if (!read_string(&key, &escaped)) return false;
      skip_space();
      if (i >= n || s[i] != ':') return false;
      ++i;
      skip_space();
    }
    if (i >= n) return false;
    Value value;
    value.key = key;
    char c = s[i];
    bool opens = false;
    if (c == '{' || c == '[') {
      value.kind = c == '{' ? Kind::kObject : Kind::kArray;
      opens = true;
      ++i;
    } else if (c == '"') {
      value.kind = Kind::kString;
      if (!read_string(&value.text, &value.escaped)) return false;
    } else if (s.substr(i, 4) == "true") {
      value.kind = Kind::kTrue;
      i += 4;
    } else if (s.substr(i, 5) == "false") {
      value.kind = Kind::kFalse;
      i += 5;
    } else if (s.substr(i, 4) == "null") {
      value.kind = Kind::kNull;
      i += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t start = i++;
      while (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-' ||
                       (s[i] >= '0' && s[i] <= '9')))
        ++i;
      value.kind = Kind::kNumber;
      value.text = s.substr(start, i - start);
    } else {
      return false;
    }
    const auto index = static_cast<std::uint32_t>(values_.size());
    values_.push_back(value);
    if (!stack.empty()) {
      Frame& parent = stack.back();
      if (parent.last == kNone) {
        values_[parent.index].first_child = index;
      } else {
        values_[parent.last].next_sibling = index;
      }
      parent.last = index;
    }
    if (opens) {
      if (stack.size() >= static_cast<std::size_t>(kMaxDepth)) return false;
      stack.push_back({index, kNone, value.kind == Kind::kObject});
      skip_space();
      char close = value.kind == Kind::kObject ? '}' : ']';
      if (i < n && s[i] == close) {
        ++i;
        stack.pop_back();
      } else {
        continue;  // read the first member
      }
    }
    // After a complete value: a comma continues the container, a bracket
    // closes it (possibly several in a row).
    while (true) {
      skip_space();
      if (stack.empty()) {
        return i == n || (i + 1 == n && s[i] == '\n');
      }
      if (i >= n) return false;
      if (s[i] == ',') {
        ++i;
        break;
      }
      char close = stack.back().object ? '}' : ']';
      if (s[i] != close) return false;
      ++i;
      stack.pop_back();
    }
  }
}

bool JsonNode::is_object() const {
  return valid() && tree_->at(index_).kind == JsonTree::Kind::kObject;
}
bool JsonNode::is_array() const {
  return valid() && tree_->at(index_).kind == JsonTree::Kind::kArray;
}
bool JsonNode::is_string() const {
  return valid() && tree_->at(index_).kind == JsonTree::Kind::kString;
}

JsonNode JsonNode::operator[](std::string_view key) const {
  if (!is_object()) return {};
  for (JsonNode child = first_child(); child.valid(); child = child.next_sibling()) {
    if (child.key() == key) return child;
  }
  return {};
}

std::string_view JsonNode::raw() const {
  return valid() ? tree_->at(index_).text : std::string_view();
}

std::string JsonNode::str() const {
  if (!is_string()) return {};
  const auto& value = tree_->at(index_);
  return value.escaped ? UnescapeJsonString(value.text) : std::string(value.text);
}

bool JsonNode::boolean() const {
  return valid() && tree_->at(index_).kind == JsonTree::Kind::kTrue;
}

long long JsonNode::integer() const {
  if (!valid() || tree_->at(index_).kind != JsonTree::Kind::kNumber) return 0;
  long long value = 0;
  bool negative = false;
  for (char c : tree_->at(index_).text) {
    if (c == '-') {
      negative = true;
    } else if (c >= '0' && c <= '9') {
      if (value > 1'000'000'000'000'000LL) break;  // saturate, never overflow
      value = value * 10 + (c - '0');
    } else {
      break;
    }
  }
  return negative ? -value : value;
}

std::string_view JsonNode::key() const {
  return valid() ? tree_->at(index_).key : std::string_view();
}

JsonNode JsonNode::first_child() const {
  if (!valid()) return {};
  auto child = tree_->at(index_).first_child;
  return child == JsonTree::kNone ? JsonNode() : JsonNode(tree_, child);
}

JsonNode JsonNode::next_sibling() const {
  if (!valid()) return {};
  auto next = tree_->at(index_).next_sibling;
  return next == JsonTree::kNone ? JsonNode() : JsonNode(tree_, next);
}

std::string_view JsonNode::node_type() const {
  JsonNode child = first_child();
  return is_object() && child.valid() ? child.key() : std::string_view();
}

JsonNode JsonNode::node_body() const {
  return is_object() ? first_child() : JsonNode();
}

bool JsonNode::SameAs(const JsonNode& other) const {
  if (!valid() || !other.valid()) return valid() == other.valid();
  const auto& a = tree_->at(index_);
  const auto& b = other.tree_->at(other.index_);
  if (a.kind != b.kind || a.text != b.text) return false;
  JsonNode x = first_child();
  JsonNode y = other.first_child();
  auto skip_location = [](JsonNode node) {
    while (node.valid() && node.key() == "location") node = node.next_sibling();
    return node;
  };
  while (true) {
    x = skip_location(x);
    y = skip_location(y);
    if (!x.valid() || !y.valid()) return x.valid() == y.valid();
    if (x.key() != y.key() || !x.SameAs(y)) return false;
    x = x.next_sibling();
    y = y.next_sibling();
  }
}

}  // namespace dualkey::sql::internal
