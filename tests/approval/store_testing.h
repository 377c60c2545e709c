// How the tests read the approval store's Status results: Ok() is the
// Status as a bool with its message in *error, for EXPECT_... << error;
// OpenOrNull() opens a store, or gives null with the reason in *error.
#pragma once

#include <memory>
#include <string>

#include "approval/approval.h"
#include "base/status.h"

namespace dualkey::testing {

inline bool Ok(const Status& status, std::string* error) {
  if (!status.ok()) *error = status.message();
  return status.ok();
}

inline std::unique_ptr<approval::Store> OpenOrNull(const std::string& location,
                                                   std::string* error) {
  Result<std::unique_ptr<approval::Store>> store = approval::OpenStore(location);
  if (!store.ok()) *error = store.status().message();
  return store.ok() ? std::move(store).value() : nullptr;
}

}  // namespace dualkey::testing
