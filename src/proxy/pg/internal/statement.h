// The proxy reads statements' shapes with the SQL module (sql/shape.h); its
// names are used unqualified here.
#pragma once

#include "sql/shape.h"

namespace dualkey::pgproxy {
using sql::AnalyseStatements;
using sql::DecodedName;
using sql::SqlIdentifier;
using sql::SqlLiteral;
using sql::StatementShape;
}  // namespace dualkey::pgproxy
