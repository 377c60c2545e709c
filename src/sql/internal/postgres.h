// PostgreSQL statements, understood through libpg_query's parse tree: one or
// more Actions per statement, with WHERE clauses folded, data-modifying CTEs,
// EXPLAIN ANALYZE, PREPARE/EXECUTE, DO blocks and PL/pgSQL bodies followed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sql/internal/rules.h"

namespace dualkey::sql::internal {

// Parses `sql` with PostgreSQL's grammar and appends the Actions of every
// statement. Returns false, appending nothing, when the grammar rejects the
// text; `error` then holds the parser's message and position.
bool ClassifyPostgres(std::string_view sql, Session& session, std::vector<Action>& out,
                      std::string* error);

enum class ConditionVerdict { kBounded, kAllRows, kUnparseable };

// For the token-level fallback: judges a WHERE condition (PostgreSQL syntax)
// of a DELETE/UPDATE on `table`. `why` says how it reaches every row.
ConditionVerdict JudgeCondition(std::string_view condition, std::string_view table,
                                std::string* why);

}  // namespace dualkey::sql::internal
