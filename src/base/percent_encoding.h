// URL text: RFC 3986 percent-encoding.
#pragma once

#include <string>
#include <string_view>

namespace dualkey::base {

// The unreserved characters (letters, digits, - _ . ~) stay; every other
// byte is %XX, upper case.
std::string PercentEncode(std::string_view text);

}  // namespace dualkey::base
