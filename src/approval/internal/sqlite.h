// The SQLite store's statements: one prepared statement per Query, and Use,
// a statement in use (bound, stepped, reset when done) that reads its rows
// the way both backends decode them.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "approval/internal.h"

namespace dualkey::approval::internal {

enum Query : int {
  kFindLive,
  kCodeTaken,
  kInsert,
  kFindByIdOrCode,
  kUpdateDecision,
  kConsume,
  kPending,
  kExpire,
  kAddApprover,
  kApproverSecret,
  kApproverNames,
  kUseStep,
  kApproverExists,
  kSetFrozen,
  kIsFrozen,
  kHasApproval,
  kFreezes,
  kRelease,
  kApproverCount,
  kRemoveApprover,
  kRotateApprover,
  kAuthRow,
  kAuthUpsert,
  kAuthForgive,
  kAuthList,
  kAuthForget,
  kSealRemember,
  kSealLast,
  kItemInsert,
  kItemReplace,
  kItemGet,
  kItemList,
  kItemListAll,
  kItemDelete,
  kItemTake,
  kItemAdvance,
  kItemPurge,
  kItemDeleteOwned,
  kQueryCount
};

// The SQL of `query` (SQLite dialect).
std::string Sql(Query query);

class Use final : public Row {
 public:
  explicit Use(sqlite3_stmt* statement) : statement_(statement) {}
  ~Use() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  Use& Bind(int index, const std::string& text) {
    sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Use& Bind(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(statement_); }
  std::string Text(int column) const override {
    const auto* text = sqlite3_column_text(statement_, column);
    return text ? std::string(reinterpret_cast<const char*>(text),
                              static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)))
                : std::string();
  }
  std::int64_t Int(int column) const override { return sqlite3_column_int64(statement_, column); }

  Status ReadRequest(Request* out) const { return DecodeRequest(*this, out); }

 private:
  sqlite3_stmt* statement_;
};

}  // namespace dualkey::approval::internal
