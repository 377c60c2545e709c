#include "daemon/internal/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dualkey::daemon::internal {
namespace {

using nlohmann::json;

std::string Text(const json& fields, const char* key, std::string_view fallback) {
  auto found = fields.find(key);
  if (found == fields.end() || !found->is_string() || found->get_ref<const std::string&>().empty())
    return std::string(fallback);
  return found->get<std::string>();
}

std::string Number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void Sample(std::string* out, std::string_view name, std::string_view labels, double value) {
  *out += name;
  if (!labels.empty()) {
    *out += '{';
    *out += labels;
    *out += '}';
  }
  *out += ' ';
  *out += Number(value);
  *out += '\n';
}

// Seconds: 100 us to 10 s for writes and added latency.
std::vector<double> FastBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10};
}
// Seconds: 1 s to a day for a human's answer.
std::vector<double> HumanBounds() {
  return {1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 86400};
}

bool IsDecisionKind(std::string_view kind) {
  return kind == "verdict" || kind == "hold" || kind == "consumed" || kind == "decision";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::Render(std::string_view name, std::string_view labels, std::string* out) const {
  const std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const double bound = i < bounds_.size() ? bounds_[i] : INFINITY;
    Sample(out, std::string(name) + "_bucket", prefix + "le=\"" + Number(bound) + "\"",
           static_cast<double>(cumulative));
  }
  Sample(out, std::string(name) + "_sum", labels, sum_);
  Sample(out, std::string(name) + "_count", labels, static_cast<double>(count_));
}

Metrics::Metrics() : audit_write_(FastBounds()), store_(FastBounds()) {}

std::string Metrics::Label(std::string_view value) {
  std::string out;
  AppendLabel(&out, value);
  return out;
}

void Metrics::AppendLabel(std::string* out, std::string_view value) {
  out->reserve(out->size() + value.size());
  for (char c : value) {
    if (c == '\\')
      *out += "\\\\";
    else if (c == '"')
      *out += "\\\"";
    else if (c == '\n')
      *out += "\\n";
    else
      *out += c;
  }
}

void Metrics::CountDecisions(std::string_view kind, std::string_view source,
                             std::string_view channel, std::string_view op_class,
                             std::string_view verdict, std::string_view reason, bool forwarded,
                             std::span<const std::int64_t> added_us) {
  const std::uint64_t count = added_us.size();
  // Built in buffers kept from call to call (under mutex_): a map copies
  // its key only when it adds one, so decisions of a kind seen before
  // allocate nothing here (a proxy reports some 20,000 a second).
  std::string& labels = labels_scratch_;
  labels.clear();
  labels += "source=\"";
  AppendLabel(&labels, source);
  const std::size_t source_end = labels.size();
  labels += "\",channel=\"";
  AppendLabel(&labels, channel);
  labels += "\",class=\"";
  AppendLabel(&labels, op_class);
  labels += "\",verdict=\"";
  AppendLabel(&labels, verdict);
  labels += '"';
  decisions_[labels] += count;
  if (reason.starts_with("rate limit:")) rate_limited_ += count;
  if (kind == "decision") {
    labels.resize(source_end);
    labels += '"';  // source="..."
    if (forwarded) forwarded_[labels] += count;
    Histogram* latency = nullptr;
    for (const std::int64_t us : added_us) {
      if (us < 0) continue;
      if (latency == nullptr) {
        auto it = added_latency_.find(labels);
        if (it == added_latency_.end()) it = added_latency_.emplace(labels, FastBounds()).first;
        latency = &it->second;
      }
      latency->Observe(static_cast<double>(us) / 1e6);
    }
  }
}

void Metrics::OnDecisions(std::string_view source, std::string_view channel,
                          std::string_view op_class, std::string_view verdict,
                          std::string_view reason, bool forwarded,
                          std::span<const std::int64_t> added_us) {
  if (added_us.empty()) return;
  std::lock_guard lock(mutex_);
  CountDecisions("decision", source.empty() ? "daemon" : source,
                 channel.empty() ? "unknown" : channel, op_class.empty() ? "none" : op_class,
                 verdict.empty() ? "unknown" : verdict, reason, forwarded, added_us);
}

void Metrics::OnRecord(std::string_view kind, const json& fields) {
  if (!fields.is_object()) return;
  std::lock_guard lock(mutex_);
  if (IsDecisionKind(kind)) {
    std::int64_t added_us = -1;
    if (auto found = fields.find("added_us"); found != fields.end() && found->is_number())
      added_us = std::max<std::int64_t>(0, static_cast<std::int64_t>(found->get<double>()));
    CountDecisions(kind, Text(fields, "source", "daemon"), Text(fields, "channel", "unknown"),
                   Text(fields, "class", "none"), Text(fields, "decision", "unknown"),
                   Text(fields, "reason", ""),
                   kind == "decision" && fields.value("forwarded", false),
                   std::span<const std::int64_t>(&added_us, 1));
  } else if (kind == "breaker") {
    ++breaker_trips_;
  } else if (kind == "audit_gap") {
    const std::string source_label = "source=\"" + Label(Text(fields, "source", "unknown")) + "\"";
    ++gaps_[source_label];
    if (auto lost = fields.find("lost"); lost != fields.end() && lost->is_number_unsigned())
      gap_records_[source_label] += lost->get<std::uint64_t>();
  } else if (kind == "approval" || kind == "denial") {
    auto held = fields.find("held_ms");
    if (held != fields.end() && held->is_number() &&
        (kind == "denial" || Text(fields, "state", "") == "approved"))
      approval_latency_
          .try_emplace("outcome=\"" + std::string(kind == "denial" ? "denied" : "approved") + "\"",
                       HumanBounds())
          .first->second.Observe(held->get<double>() / 1000.0);
  } else if (kind == "policy_reload") {
    ++(fields.value("applied", false) ? policy_reloads_ok_ : policy_reloads_refused_);
  }
}

void Metrics::ObserveAuditWrite(double seconds, bool ok) {
  std::lock_guard lock(mutex_);
  audit_write_.Observe(seconds);
  if (!ok) ++audit_failures_;
}

void Metrics::ObserveStore(double seconds) {
  std::lock_guard lock(mutex_);
  store_.Observe(seconds);
}

std::string Metrics::Render(const std::vector<Gauge>& gauges) const {
  std::string out;
  std::lock_guard lock(mutex_);
  Header(&out, "dualkey_decisions_total", "counter",
         "Decisions, by where they were made (daemon, pg_proxy, gateway, mcp_proxy), channel, "
         "action class and verdict.");
  for (const auto& [labels, n] : decisions_)
    Sample(&out, "dualkey_decisions_total", labels, static_cast<double>(n));
  Header(&out, "dualkey_forwarded_total", "counter",
         "Statements and requests the proxies and the gateway forwarded after a decision.");
  for (const auto& [labels, n] : forwarded_)
    Sample(&out, "dualkey_forwarded_total", labels, static_cast<double>(n));
  Header(&out, "dualkey_added_latency_seconds", "histogram",
         "Time the proxies and the gateway spent deciding before forwarding.");
  for (const auto& [labels, h] : added_latency_)
    h.Render("dualkey_added_latency_seconds", labels, &out);
  Header(&out, "dualkey_approval_latency_seconds", "histogram",
         "From a hold to a human's decision on it.");
  for (const auto& [labels, h] : approval_latency_)
    h.Render("dualkey_approval_latency_seconds", labels, &out);
  Header(&out, "dualkey_breaker_trips_total", "counter",
         "Agents frozen by the breaker after a burst of destructive attempts.");
  Sample(&out, "dualkey_breaker_trips_total", "", static_cast<double>(breaker_trips_));
  Header(&out, "dualkey_rate_limited_total", "counter",
         "Destructive requests held by the per-agent rate limit.");
  Sample(&out, "dualkey_rate_limited_total", "", static_cast<double>(rate_limited_));
  Header(&out, "dualkey_audit_write_seconds", "histogram",
         "Time to append to the audit log: one record, or a proxy's batch of them in one "
         "write.");
  audit_write_.Render("dualkey_audit_write_seconds", "", &out);
  Header(&out, "dualkey_audit_write_failures_total", "counter",
         "Audit records that could not be made durable.");
  Sample(&out, "dualkey_audit_write_failures_total", "", static_cast<double>(audit_failures_));
  Header(&out, "dualkey_audit_gaps_total", "counter",
         "Gaps the proxies recorded: decisions they could not deliver to the audit log.");
  for (const auto& [labels, n] : gaps_)
    Sample(&out, "dualkey_audit_gaps_total", labels, static_cast<double>(n));
  Header(&out, "dualkey_audit_gap_decisions_total", "counter",
         "Decisions lost in recorded gaps (counted by the proxy, not logged one by one).");
  for (const auto& [labels, n] : gap_records_)
    Sample(&out, "dualkey_audit_gap_decisions_total", labels, static_cast<double>(n));
  Header(&out, "dualkey_store_seconds", "histogram",
         "Time of approval-store operations on the decision path.");
  store_.Render("dualkey_store_seconds", "", &out);
  Header(&out, "dualkey_policy_reloads_total", "counter",
         "Policy reloads (SIGHUP), applied or refused (the previous policy stayed).");
  Sample(&out, "dualkey_policy_reloads_total", "result=\"applied\"",
         static_cast<double>(policy_reloads_ok_));
  Sample(&out, "dualkey_policy_reloads_total", "result=\"refused\"",
         static_cast<double>(policy_reloads_refused_));
  for (const Gauge& gauge : gauges) {
    Header(&out, gauge.name, "gauge", gauge.help);
    Sample(&out, gauge.name, "", gauge.value);
  }
  return out;
}

}  // namespace dualkey::daemon::internal
