// The registry of operation classes: every class an adapter (shell and its
// packs, SQL, HTTP, MCP, file) can put in Action::op_class, with one line of
// what it means, its family and what it usually is (destructive or not, how
// reversible). Policy rules match these names with globs (`db.drop*`,
// `backup.*`); `dualkey classes` lists them and docs/operation-classes.md is
// written from them.
//
// The built-in table is data (op_class.cc). Packs extend it: a pack may
// declare its own classes with a line of meaning each ([[class]] in the pack
// file, docs/packs.md); a Registry holds the built-in classes plus those.
//
// A class name is dotted lower-case words ("fs.delete.recursive"); its family
// is the first word ("fs"), so `class = "fs.*"` in a policy matches a family.
// tests/core/op_class_test.cc fails when an adapter emits a class that is not
// in the table, and when this header's table and the document drift apart.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/action.h"

namespace dualkey::op_class {

// Whether an Action of the class is destructive (IsDestructive) as emitted.
enum class Destructive : std::uint8_t {
  kNo,       // never by itself: reads, builds, ordinary writes
  kDepends,  // on its targets (severity): `rm -rf build/` is not, `rm -rf ~` is
  kYes,      // always (opaque.*, backup losses, guard.tamper, drops)
};

struct Info {
  std::string_view name;  // "fs.delete.recursive"
  Destructive destructive = Destructive::kDepends;
  Reversibility reversibility = Reversibility::kIrreversible;  // the usual one
  std::string_view meaning;  // one line, for a person writing policy
};

struct Family {
  std::string_view name;     // "fs"
  std::string_view meaning;  // "files and directories"
};

// The built-in classes, sorted by name, and their families, sorted by name.
std::span<const Info> Builtin();
std::span<const Family> Families();

// The built-in class of that exact name, or nullptr.
const Info* Lookup(std::string_view name);
// The family of a class name: its first dotted word ("db.drop" -> "db").
std::string_view FamilyOf(std::string_view name);
// The built-in family of that name, or nullptr.
const Family* LookupFamily(std::string_view family);
// Dotted lower-case words: [a-z0-9_-]+ separated by single dots.
bool IsWellFormed(std::string_view name);

std::string_view ToString(Destructive destructive);

// The built-in classes plus classes declared elsewhere (packs). A declared
// class with the name of a built-in one changes nothing: the built-in
// meaning stays.
class Registry {
 public:
  struct Entry {
    std::string name;
    std::string meaning;
    Destructive destructive = Destructive::kDepends;
    Reversibility reversibility = Reversibility::kIrreversible;
    std::string origin;  // "" for built-in, else who declared it ("pack acme (path:12)")
  };

  Registry();  // the built-in classes

  // Adds a class declared by `origin`. False, with `error` set, when the
  // name is not well formed, the meaning is empty, or it is already
  // registered (built in, or declared before).
  bool Declare(Entry entry, std::string* error);

  const Entry* Find(std::string_view name) const;
  // Sorted by name; only one family's when `family` is not empty.
  std::vector<const Entry*> List(std::string_view family = {}) const;
  // Family names in use (built-in families and those of declared classes), sorted.
  std::vector<std::string> FamilyNames() const;

 private:
  std::vector<Entry> entries_;  // sorted by name
};

}  // namespace dualkey::op_class
