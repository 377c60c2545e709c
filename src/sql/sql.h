// Turns SQL text into Actions, understood as the database would understand
// it: PostgreSQL's own grammar through libpg_query (PL/pgSQL included), and
// fail-closed handling of MySQL and SQLite text the grammar rejects.
#pragma once

#include <cstddef>
#include <string_view>
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

}  // namespace dualkey::sql
