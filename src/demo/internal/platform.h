// The demo's stand-in for a hosting platform's API: a GraphQL endpoint (and
// a REST one) on loopback that really deletes a volume's files when asked,
// as the real platform did. It accepts only the platform's own secret, which
// dualkey's gateway holds and injects; the agent never sees it.
#pragma once

#include <atomic>
#include <memory>
#include <string>

namespace dualkey::demo::internal {

class Platform {
 public:
  // Serves volumes under `volumes_dir` (one directory per volume).
  static std::unique_ptr<Platform> Start(const std::string& volumes_dir, const std::string& secret,
                                         std::string* error);
  virtual ~Platform() = default;
  virtual int port() const = 0;
  virtual int requests() const = 0;            // every request that reached it
  virtual int destructive_served() const = 0;  // deletes it carried out
};

}  // namespace dualkey::demo::internal
