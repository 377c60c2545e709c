#include "daemon/internal/core.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>

#include "base/json_text.h"
#include "base/line_io.h"
#include "client/protocol.h"
#include "policy/policy.h"

namespace dualkey::daemon::internal {

using nlohmann::json;

json Peer::ToJson() const {
  switch (via) {
    case Via::kUnix:
      return json{{"via", "unix"}, {"uid", uid}, {"pid", pid}};
    case Via::kHttp:
      return json{{"via", "http"}};
    case Via::kDaemon:
      break;
  }
  return json{{"via", "daemon"}};
}

Core::Core(ServeOptions options, install::Layout layout, std::unique_ptr<approval::Store> store,
           std::unique_ptr<audit::Log> log)
    : options_(std::move(options)),
      layout_(std::move(layout)),
      store_(std::move(store)),
      log_(std::move(log)),
      own_uid_(geteuid()),
      system_policy_(layout_.protected_install ? layout_.config_dir + "/policy.toml"
                                               : policy::SingleUserSources("", "").system_path) {}

Peer Core::UnixPeer(pid_t pid, uid_t uid, gid_t gid) const {
  Peer peer;
  peer.via = Peer::Via::kUnix;
  peer.known = true;
  peer.pid = pid;
  peer.uid = uid;
  peer.gid = gid;
  peer.admin = uid == 0 || uid == own_uid_;
  return peer;
}

std::int64_t Core::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Core::Record(std::string_view kind, json fields, const Peer* peer,
                  audit::Log::Durability durability, std::string* failure) {
  fields["time_ms"] = NowMs();
  if (peer != nullptr) fields["peer"] = peer->ToJson();
  const auto started = std::chrono::steady_clock::now();
  // base::JsonDump of an object is canonical: the log need not parse it again.
  const Result<std::uint64_t> appended = log_->Append(
      audit::Record{std::string(kind), base::JsonDump(fields), /*canonical=*/true}, durability);
  const bool durable = appended.ok();
  const std::string error = durable ? std::string() : appended.status().message();
  metrics_.ObserveAuditWrite(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), durable);
  AfterRecord(kind, fields, durable, error, failure);
  return durable;
}

void Core::AfterRecord(std::string_view kind, json& fields, bool durable, const std::string& error,
                       std::string* failure) {
  if (durable) metrics_.OnRecord(kind, fields);
  if (!durable) ReportAppendFailure(kind, error);
  if (!durable && failure != nullptr) *failure = error;
  Announce(kind, fields);
}

void Core::ReportAppendFailure(std::string_view kind, const std::string& error) {
  if (options_.on_event)
    options_.on_event("audit_append_failed",
                      json{{"event_kind", std::string(kind)}, {"why", error}});
  else if (!options_.quiet)
    std::cerr << "dualkey serve: audit append failed: " << error << "\n";
}

void Core::Announce(std::string_view kind, json& fields) {
  if (options_.on_event) options_.on_event(kind, fields);
  for (const Observing& o : observers_)
    for (const std::string& k : o.kinds)
      if (k == kind) o.observer(kind, fields);
  // Most of the time nobody watches: do not encode the event twice for no one.
  if (watching_.load(std::memory_order_relaxed) > 0) {
    fields["event"] = std::string(kind);
    Broadcast(client::EncodeLine(fields));
  }
}

bool Core::Heard(std::string_view kind) const {
  if (options_.on_event || watching_.load(std::memory_order_relaxed) > 0) return true;
  for (const Observing& o : observers_)
    for (const std::string& k : o.kinds)
      if (k == kind) return true;
  return false;
}

void Core::Observe(std::vector<std::string> kinds, Observer observer) {
  observers_.push_back(Observing{std::move(kinds), std::move(observer)});
}

void Core::SetWebOrigin(std::string origin) {
  std::lock_guard lock(web_mutex_);
  web_origin_ = std::move(origin);
}

std::string Core::web_origin() const {
  std::lock_guard lock(web_mutex_);
  return web_origin_;
}

void Core::Subscribe(int fd) {
  std::lock_guard lock(watch_mutex_);
  watchers_.push_back(fd);
  watching_ = static_cast<int>(watchers_.size());
}

void Core::Unsubscribe(int fd) {
  std::lock_guard lock(watch_mutex_);
  std::erase(watchers_, fd);
  watching_ = static_cast<int>(watchers_.size());
}

void Core::Broadcast(const std::string& line) {
  std::lock_guard lock(watch_mutex_);
  for (int fd : watchers_) base::WriteAll(fd, line, MSG_DONTWAIT);
}

void Dispatcher::Add(std::string_view op, Handler handler, bool decides) {
  handlers_[std::string(op)] = Entry{std::move(handler), decides};
}

json Dispatcher::Handle(const Peer& peer, const json& request) const {
  if (!request.is_object() || !request.contains("op") || !request["op"].is_string())
    return client::ErrorJson(Status::InvalidArgument("a request is a JSON object with an \"op\""));
  const std::string& op = request["op"].get_ref<const std::string&>();
  auto found = handlers_.find(op);
  if (found == handlers_.end())
    return client::ErrorJson(
        Status::InvalidArgument("unknown op \"" + base::ToValidUtf8(op) + "\""));
  const Entry& entry = found->second;
  Status failed;
  try {
    Result<json> reply = entry.handler(peer, request);
    if (reply.ok()) return std::move(reply).value();
    failed = reply.status();
  } catch (const std::exception& e) {
    failed = Status::Internal(std::string("internal error: ") + e.what());
  } catch (...) {
    failed = Status::Internal("internal error");
  }
  // Fail closed: a deciding op that fails answers hold, never allow.
  json error = client::ErrorJson(failed);
  if (entry.decides) error["decision"] = "hold";
  return error;
}

}  // namespace dualkey::daemon::internal
