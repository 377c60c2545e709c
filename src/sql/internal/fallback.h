// Token-level recognition of statements PostgreSQL's grammar rejects: MySQL
// and SQLite syntax (DELETE ... LIMIT, multi-table DELETE, REPLACE INTO,
// PRAGMA, ATTACH, ...). It reads leading keywords from the dialect-aware
// token stream, never the raw text; what it does not recognise is opaque.
#pragma once

#include <span>
#include <vector>

#include "sql/internal/lexer.h"
#include "sql/internal/rules.h"

namespace dualkey::sql::internal {

// Appends the Actions of one statement (tokens without the semicolon).
void ClassifyTokens(std::span<const Token> statement, Dialect dialect, Session& session,
                    std::vector<Action>& out);

}  // namespace dualkey::sql::internal
