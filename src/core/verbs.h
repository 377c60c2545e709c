// The one verb vocabulary every channel reads names with: a command line's
// subcommand words ("delete-db-instance", "pg:backups:delete"), an MCP tool's
// name ("drop_database", "deleteMany"), the last segment of an API path
// ("doDelete", "delete_series"), a GraphQL field. A name is split into words
// (at - _ : . / and camelCase humps) and the words are looked up in one set of
// tables: destroying verbs, read verbs, write verbs, objects whose removal
// loses no data (tags, labels), and words that name backups.
//
// Pure, allocation-free and table-driven: the shell classifier calls it for
// every word of an unknown command.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace dualkey::verbs {

enum class Kind : std::uint8_t {
  kNone,     // not a verb: a noun, a name, a value
  kRead,     // list, get, describe, show, status, logs, diff, plan ...
  kWrite,    // create, update, deploy, run, stop ... (changes, nothing lost)
  kDestroy,  // delete, destroy, remove, rm, purge, drop, truncate, wipe ...
};

std::string_view ToString(Kind kind);

// A name split into lower-case words: "deleteDBInstance" -> delete db
// instance; "pg:backups:delete" -> pg backups delete; "FLUSHALL" -> flushall.
// Bounded: at most kMaxWords words of at most kMaxWordLength characters; the
// rest of a longer name is ignored (names that long are not verbs).
class Words {
 public:
  static constexpr std::size_t kMaxWords = 12;
  static constexpr std::size_t kMaxWordLength = 40;

  explicit Words(std::string_view name);

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::string_view operator[](std::size_t i) const;

 private:
  std::array<char, kMaxWords * kMaxWordLength> buffer_;  // only lengths_ bytes are read
  std::array<std::uint8_t, kMaxWords> length_{};
  std::size_t count_ = 0;
};

// The kind of one lower-case word ("delete" -> kDestroy).
Kind WordKind(std::string_view word);

// Objects whose removal loses no data: tags, labels, members, bindings,
// caches, sessions, passwords (a reset sets a new one).
bool IsSoftObject(std::string_view word);

// Words that name backups: backup(s), snapshot(s), recovery points.
bool IsBackupWord(std::string_view word);

// What a name says it does.
struct Reading {
  Kind kind = Kind::kNone;
  std::string_view verb;  // the deciding verb, from the tables (static storage)
  bool soft = false;      // kDestroy of a soft object only ("remove-tag")
  bool backup = false;    // one of the words names backups
};

// Reads a name as a verb: a read verb first ("get-delete-marker",
// "list_deleted") reads; otherwise any destroying word destroys ("delete-*",
// "*-delete", "*_delete", "doDelete", "force-delete", "remove-all"); then a
// leading write verb, then any read or write word anywhere.
Reading ReadName(std::string_view name);

// True for a long option whose shape destroys: --delete, --delete-*,
// --purge*, --remove*, --destroy*, --wipe*, --drop*, --erase*, --nuke,
// --shred, --force-delete. `verb` gets the option's verb.
bool IsDestroyingOption(std::string_view option, std::string_view* verb = nullptr);

// True for options that make a command only say what it would do:
// --dry-run (not =false), --dryrun, --what-if, --noop, --simulate, --plan,
// --preview, --check, --help (not -h: many tools spell --host that way).
bool IsDryRunOption(std::string_view option);

}  // namespace dualkey::verbs
