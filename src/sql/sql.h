// Turns SQL text into Actions, understood as the database would understand
// it: PostgreSQL's own grammar through libpg_query (PL/pgSQL included), and
// fail-closed handling of MySQL and SQLite text the grammar rejects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/action.h"

namespace dualkey::sql {

enum class Dialect { kPostgres, kMySql, kSqlite };

struct Options {
  Dialect dialect = Dialect::kPostgres;
  // Added to each Action's targets as "database:<name>" when not empty.
  std::string_view database;
  // Larger inputs are held unread (opaque.sql) rather than parsed.
  std::size_t max_bytes = 1 << 20;
};

// One Action per statement (or more, for a statement with several effects).
// Unparseable or unknown input yields an "opaque.sql" Action that the policy
// holds. Never throws.
std::vector<Action> Classify(std::string_view sql, const Options& options = {});

// True when PostgreSQL's grammar accepts the text: for callers that must tell
// SQL from prose that merely starts with a keyword ("drop table in:title").
bool ParsesAsPostgres(std::string_view text);

// Verdicts of statements seen before, for the proxy's hot path: a hit costs
// one hash lookup on the exact bytes and the policy version. Bounded (LRU).
// Verdicts that rest on something opaque are never cached, so an unknown
// statement is always looked at again. Not thread-safe: one per connection
// or guarded by the caller.
// A key under which plain SELECTs that differ only in numeric constants can
// share one verdict: "SELECT abalance FROM pgbench_accounts WHERE aid = 48211"
// and "... aid = 7" both give "SELECT abalance FROM pgbench_accounts WHERE aid
// = ?". Empty unless the statement is one SELECT with no string, no
// parenthesis (so no function call or subquery) and no INTO: numbers cannot
// change what such a statement does, only which rows it reads. A proxy caches
// allowed, effect-free verdicts under it, so each new constant does not cost
// a parse.
std::string ReadShapeKey(std::string_view statement);

class DecisionCache {
 public:
  explicit DecisionCache(std::size_t capacity = 4096, std::size_t max_statement_bytes = 16 * 1024);

  // The cached verdict, or nullptr. A hit makes the entry most recent.
  const Verdict* Find(std::string_view statement, std::uint64_t policy_version);
  // Returns false when the verdict is not cacheable (opaque, or too long).
  bool Insert(std::string_view statement, std::uint64_t policy_version, Verdict verdict);

  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    std::uint64_t version;
    std::string statement;
    Verdict verdict;
  };
  struct Key {
    std::uint64_t version;
    std::string_view statement;  // points into an Entry (or the caller, for lookups)
    bool operator==(const Key& other) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept;
  };

  std::size_t capacity_;
  std::size_t max_statement_bytes_;
  std::list<Entry> entries_;  // most recent first
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
};

}  // namespace dualkey::sql
