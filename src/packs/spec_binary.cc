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

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string Serialize(const Pack& pack) {
  Writer w;
  w.Number(kVersion);
  w.Text(pack.name);
  w.Text(pack.description);
  w.Text(pack.source);
  w.Number(pack.tools.size());
  for (const Tool& tool : pack.tools) {
    w.Texts(tool.names);
    w.Number(static_cast<std::uint64_t>(tool.kind));
    w.Texts(tool.value_options);
    w.Text(tool.destroy_class);
    w.Number(static_cast<std::uint64_t>(tool.destroy_severity));
    w.Number(static_cast<std::uint64_t>(tool.verb_depth));
    w.Number(static_cast<std::uint64_t>(tool.line));
  }
  w.Number(pack.rules.size());
  for (const Rule& rule : pack.rules) {
    w.Text(rule.name);
    w.Text(rule.tool);
    w.Texts(rule.path);
    w.Texts(rule.with);
    w.Texts(rule.without);
    w.Text(rule.option);
    w.Text(rule.value);
    w.Texts(rule.operand);
    w.Text(rule.op_class);
    w.Number(static_cast<std::uint64_t>(rule.severity));
    w.Number(static_cast<std::uint64_t>(rule.reversibility));
    w.Number(rule.reversibility_set ? 1 : 0);
    w.Text(rule.reason);
    w.Src(rule.targets);
    w.Src(rule.run);
    w.Texts(rule.run_prefix);
    w.Src(rule.sql);
    w.Text(rule.dialect);
    w.Number(rule.http.enabled ? 1 : 0);
    w.Src(rule.http.method);
    w.Text(rule.http.default_method);
    w.Text(rule.http.body_method);
    w.Texts(rule.http.body_options);
    w.Src(rule.http.url);
    w.Text(rule.http.base);
    w.Number(static_cast<std::uint64_t>(rule.line));
  }
  w.Number(pack.tests.size());
  for (const Test& test : pack.tests) {
    w.Text(test.command);
    w.Text(test.cwd);
    w.Text(test.expect);
    w.Text(test.op_class);
    w.Number(static_cast<std::uint64_t>(test.line));
  }
  w.Number(pack.classes.size());
  for (const ClassDecl& decl : pack.classes) {
    w.Text(decl.name);
    w.Text(decl.description);
    w.Number(static_cast<std::uint64_t>(decl.line));
  }
  return w.Take();
}

bool Deserialize(std::string_view blob, Pack* out) {
  *out = Pack{};
  Reader r(blob);
  if (r.Number() != kVersion) return false;
  out->name = r.Text();
  out->description = r.Text();
  out->source = r.Text();
  out->tools.resize(r.Count());
  for (Tool& tool : out->tools) {
    tool.names = r.Texts();
    tool.kind = r.As<ToolKind>(static_cast<std::uint64_t>(ToolKind::kPlain));
    tool.value_options = r.Texts();
    tool.destroy_class = r.Text();
    tool.destroy_severity = r.As<Severity>(static_cast<std::uint64_t>(Severity::kCritical));
    tool.verb_depth = static_cast<int>(r.Number() & 0xff);
    tool.line = static_cast<int>(r.Number() & 0xffffff);
  }
  out->rules.resize(r.Count());
  for (Rule& rule : out->rules) {
    rule.name = r.Text();
    rule.tool = r.Text();
    rule.path = r.Texts();
    rule.with = r.Texts();
    rule.without = r.Texts();
    rule.option = r.Text();
    rule.value = r.Text();
    rule.operand = r.Texts();
    rule.op_class = r.Text();
    rule.severity = r.As<Severity>(static_cast<std::uint64_t>(Severity::kCritical));
    rule.reversibility = r.As<Reversibility>(static_cast<std::uint64_t>(Reversibility::kUnknown));
    rule.reversibility_set = r.Number() != 0;
    rule.reason = r.Text();
    rule.targets = r.Src();
    rule.run = r.Src();
    rule.run_prefix = r.Texts();
    rule.sql = r.Src();
    rule.dialect = r.Text();
    rule.http.enabled = r.Number() != 0;
    rule.http.method = r.Src();
    rule.http.default_method = r.Text();
    rule.http.body_method = r.Text();
    rule.http.body_options = r.Texts();
    rule.http.url = r.Src();
    rule.http.base = r.Text();
    rule.line = static_cast<int>(r.Number() & 0xffffff);
  }
  out->tests.resize(r.Count());
  for (Test& test : out->tests) {
    test.command = r.Text();
    test.cwd = r.Text();
    test.expect = r.Text();
    test.op_class = r.Text();
    test.line = static_cast<int>(r.Number() & 0xffffff);
  }
  out->classes.resize(r.Count());
  for (ClassDecl& decl : out->classes) {
    decl.name = r.Text();
    decl.description = r.Text();
    decl.line = static_cast<int>(r.Number() & 0xffffff);
  }
  return r.ok() && r.done();
}

}  // namespace dualkey::packs
