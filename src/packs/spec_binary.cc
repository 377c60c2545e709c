// The binary form of a pack: the build compiles packs/*.toml into it, and the
// binary reads a pack back only when a command of that pack is classified.
// Fields in a fixed order; strings and lists length-prefixed (LEB128). A
// version byte first, so a stale blob is refused rather than misread.
#include <cstdint>

#include "packs/spec.h"

namespace dualkey::packs {
namespace {

constexpr std::uint8_t kVersion = 2;

class Writer {
 public:
  void Number(std::uint64_t value) {
    do {
      std::uint8_t byte = value & 0x7f;
      value >>= 7;
      if (value != 0) byte |= 0x80;
      out_.push_back(static_cast<char>(byte));
    } while (value != 0);
  }
  void Text(std::string_view text) {
    Number(text.size());
    out_.append(text);
  }
  void Texts(const std::vector<std::string>& texts) {
    Number(texts.size());
    for (const std::string& text : texts) Text(text);
  }
  void Src(const Source& source) {
    Number(static_cast<std::uint64_t>(source.kind));
    Texts(source.options);
    Number(static_cast<std::uint64_t>(source.index));
  }
  template <typename Enum>
  void As(Enum value, Enum /*max*/) {
    Number(static_cast<std::uint64_t>(value));
  }
  void Int(int value, std::uint64_t /*mask*/) { Number(static_cast<std::uint64_t>(value)); }
  void Flag(bool value) { Number(value ? 1 : 0); }
  template <typename T, typename Each>
  void List(const std::vector<T>& items, Each each) {
    Number(items.size());
    for (const T& item : items) each(item);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }

  std::uint64_t Number() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) {
        ok_ = false;
        return 0;
      }
      const auto byte = static_cast<std::uint8_t>(in_[pos_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    ok_ = false;
    return 0;
  }
  std::size_t Count() {
    std::uint64_t n = Number();
    if (n > in_.size() - pos_) {  // every element takes at least one byte
      ok_ = false;
      return 0;
    }
    return static_cast<std::size_t>(n);
  }
  std::string Text() {
    std::size_t n = Count();
    if (!ok_) return {};
    std::string text(in_.substr(pos_, n));
    pos_ += n;
    return text;
  }
  std::vector<std::string> Texts() {
    std::vector<std::string> texts(Count());
    for (std::string& text : texts) text = Text();
    return texts;
  }
  template <typename Enum>
  Enum As(std::uint64_t max) {
    std::uint64_t value = Number();
    if (value > max) ok_ = false;
    return static_cast<Enum>(value > max ? 0 : value);
  }
  Source Src() {
    Source source;
    source.kind = As<Source::Kind>(static_cast<std::uint64_t>(Source::Kind::kOperandsFrom));
    source.options = Texts();
    source.index = static_cast<int>(Number() & 0xffff);
    return source;
  }
  // The same calls as Writer's, reading into the field.
  void Text(std::string& out) { out = Text(); }
  void Texts(std::vector<std::string>& out) { out = Texts(); }
  void Src(Source& out) { out = Src(); }
  template <typename Enum>
  void As(Enum& out, Enum max) {
    out = As<Enum>(static_cast<std::uint64_t>(max));
  }
  void Int(int& out, std::uint64_t mask) { out = static_cast<int>(Number() & mask); }
  void Flag(bool& out) { out = Number() != 0; }
  template <typename T, typename Each>
  void List(std::vector<T>& items, Each each) {
    items.resize(Count());
    for (T& item : items) each(item);
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Every field of a pack in its order in the blob, for Writer (a const
// Pack) and Reader alike: one list, so the two cannot disagree.
template <typename Io, typename P>
void Fields(Io& io, P& pack) {
  io.Text(pack.name);
  io.Text(pack.description);
  io.Text(pack.source);
  io.List(pack.tools, [&](auto& tool) {
    io.Texts(tool.names);
    io.As(tool.kind, ToolKind::kPlain);
    io.Texts(tool.value_options);
    io.Text(tool.destroy_class);
    io.As(tool.destroy_severity, Severity::kCritical);
    io.Int(tool.verb_depth, 0xff);
    io.Int(tool.line, 0xffffff);
  });
  io.List(pack.rules, [&](auto& rule) {
    io.Text(rule.name);
    io.Text(rule.tool);
    io.Texts(rule.path);
    io.Texts(rule.with);
    io.Texts(rule.without);
    io.Text(rule.option);
    io.Text(rule.value);
    io.Texts(rule.operand);
    io.Text(rule.op_class);
    io.As(rule.severity, Severity::kCritical);
    io.As(rule.reversibility, Reversibility::kUnknown);
    io.Flag(rule.reversibility_set);
    io.Text(rule.reason);
    io.Src(rule.targets);
    io.Src(rule.run);
    io.Texts(rule.run_prefix);
    io.Src(rule.sql);
    io.Text(rule.dialect);
    io.Flag(rule.http.enabled);
    io.Src(rule.http.method);
    io.Text(rule.http.default_method);
    io.Text(rule.http.body_method);
    io.Texts(rule.http.body_options);
    io.Src(rule.http.url);
    io.Text(rule.http.base);
    io.Int(rule.line, 0xffffff);
  });
  io.List(pack.tests, [&](auto& test) {
    io.Text(test.command);
    io.Text(test.cwd);
    io.Text(test.expect);
    io.Text(test.op_class);
    io.Int(test.line, 0xffffff);
  });
  io.List(pack.classes, [&](auto& decl) {
    io.Text(decl.name);
    io.Text(decl.description);
    io.Int(decl.line, 0xffffff);
  });
}

}  // namespace

std::string Serialize(const Pack& pack) {
  Writer w;
  w.Number(kVersion);
  Fields(w, pack);
  return w.Take();
}

bool Deserialize(std::string_view blob, Pack* out) {
  *out = Pack{};
  Reader r(blob);
  if (r.Number() != kVersion) return false;
  Fields(r, *out);
  return r.ok() && r.done();
}

}  // namespace dualkey::packs
