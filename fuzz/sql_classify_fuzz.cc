// libFuzzer: the SQL module, through every dialect (libpg_query's grammar and
// the MySQL/SQLite lexer), must never crash or hang on any bytes, and never
// return nothing for non-empty input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sql/sql.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto dialect : {dualkey::sql::Dialect::kPostgres, dualkey::sql::Dialect::kMySql,
                       dualkey::sql::Dialect::kSqlite}) {
    dualkey::sql::Options options;
    options.dialect = dialect;
    auto actions = dualkey::sql::Classify(text, options);
    (void)actions;
  }
  return 0;
}
