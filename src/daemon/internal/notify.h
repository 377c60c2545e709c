// Webhook notifications: when a hold appears, the team is told at once.
// Targets are "slack=URL" (Slack-compatible incoming-webhook JSON),
// "ntfy=URL" (a plain-text POST with ntfy's Title/Click/Tags headers) and
// "json=URL" (a generic JSON body). Each says who asks, what (redacted with
// base/redact.h: never a secret from the input), the short code and a link
// to the page. Deliveries run on their own thread with retries and backoff;
// each outcome is audited; a slow or failing receiver never delays a
// decision (the queue is bounded: beyond it, notices are dropped and audited).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "daemon/internal/core.h"

namespace dualkey::daemon::internal {

struct NotifyTarget {
  enum class Format { kSlack, kNtfy, kJson };
  Format format = Format::kJson;
  std::string url;
};

// "slack=https://hooks.slack.com/...": a target, or why not.
Result<NotifyTarget> ParseNotifyTarget(const std::string& spec);

struct NotifyOptions {
  int attempts = 5;             // per delivery
  int first_backoff_ms = 1000;  // doubling
  int timeout_ms = 5000;        // per attempt (connect, send, answer)
  std::size_t max_queue = 256;
};

class Notifier {
 public:
  Notifier(Core& core, std::vector<NotifyTarget> targets, NotifyOptions options = {});
  ~Notifier();  // stops the worker; undelivered notices are audited as dropped
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Ends the deliveries (before the daemon's last audit record): what is
  // still queued is audited as dropped.
  void Stop();

  // Registers the observer of new holds (before the daemon serves) and the
  // notify_test op.
  void Attach(Dispatcher& dispatcher);

  // The bodies sent for a hold record (`fields` as audited), per format.
  static std::string Body(NotifyTarget::Format format, const nlohmann::json& fields,
                          const std::string& page_origin);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace dualkey::daemon::internal
