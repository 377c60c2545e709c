// The approver's page, served by `dualkey serve --http` beside POST /v1/<op>:
// plain HTML, CSS and a little JavaScript built into the binary (no build
// step, no CDN), a short session per approver (HttpOnly, SameSite=Strict
// cookie, Secure over TLS; a CSRF token on every state-changing request;
// a strict Content-Security-Policy), a live pending view (server-sent
// events) and approve/deny of one exact action.
//
// The page is a client of the op table like the CLI: it never checks a
// second factor itself. Signing in, approving and resetting go through the
// ops that call approval::Authorize, and approving always needs a fresh
// passkey assertion bound to that request's action hash, or a TOTP code:
// a session cookie alone can read the page, never approve.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "daemon/internal/core.h"
#include "daemon/internal/http_listener.h"

namespace dualkey::daemon::internal {

class WebPage {
 public:
  // `origin`: where people open the page (passkeys are bound to it).
  WebPage(Core& core, const Dispatcher& dispatcher, std::string origin, bool tls);
  ~WebPage();
  WebPage(const WebPage&) = delete;
  WebPage& operator=(const WebPage&) = delete;

  // The listener's WebHandler: the page's routes, or a refusal of a /v1/
  // request a foreign page's script sent; nullopt lets the JSON protocol answer.
  std::optional<WebResponse> Handle(const WebRequest& request);

  // Ends the live streams (before the listener stops).
  void Stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace dualkey::daemon::internal
