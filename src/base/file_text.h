// Whole small files as text, and the local-time stamp that names backups.
#pragma once

#include <string>

namespace dualkey::base {

// Reads a whole file (bytes as they are); false when it cannot be read.
bool ReadFile(const std::string& path, std::string* text);

// The local time as 20240501-093000, for backup file names.
std::string LocalStamp();

}  // namespace dualkey::base
