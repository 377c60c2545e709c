// The daemon's Prometheus metrics, served as text at GET /metrics on its
// HTTP listener. They are derived from the audit records (Core::Record
// passes every one here), so a number on the dashboard is always a count of
// something the log holds: decisions of the daemon and those the proxies,
// the gateway and the MCP proxy report (label `source`), breaker trips,
// rate-limit denials, approval latency, audit write latency, gaps. Gauges
// that are state, not events (pending holds, their age), are read at scrape.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dualkey::daemon::internal {

// Cumulative buckets, as Prometheus wants them.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Lines "NAME_bucket{LABELS,le=...} n", _sum and _count.
  void Render(std::string_view name, std::string_view labels, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // one per bound, plus +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // An audit record and its fields, as written.
  void OnRecord(std::string_view kind, const nlohmann::json& fields);
  // "decision" records the report op wrote without a JSON tree, alike but
  // for the time each added (`added_us`, one per record; < 0: not known):
  // what OnRecord would count of them. A batch of a proxy's decisions is a
  // few runs of such (the labels are built once a run, not per decision).
  void OnDecisions(std::string_view source, std::string_view channel, std::string_view op_class,
                   std::string_view verdict, std::string_view reason, bool forwarded,
                   std::span<const std::int64_t> added_us);
  // How long the audit append took, and whether it was made durable.
  void ObserveAuditWrite(double seconds, bool ok);
  // How long a store operation on the decision path took.
  void ObserveStore(double seconds);

  struct Gauge {
    std::string name;
    std::string help;
    double value = 0;
  };
  // The exposition text (text/plain; version=0.0.4), with the caller's gauges.
  std::string Render(const std::vector<Gauge>& gauges) const;

  // One Prometheus label value, escaped.
  static std::string Label(std::string_view value);
  static void AppendLabel(std::string* out, std::string_view value);

 private:
  // Under mutex_: OnRecord's and OnDecisions' count of decisions.
  // `added_us`: one per decision counted (< 0: not known).
  void CountDecisions(std::string_view kind, std::string_view source, std::string_view channel,
                      std::string_view op_class, std::string_view verdict, std::string_view reason,
                      bool forwarded, std::span<const std::int64_t> added_us);

  mutable std::mutex mutex_;
  std::string labels_scratch_;  // CountDecisions', under mutex_
  // "source,channel,class,verdict" label text -> count
  std::map<std::string, std::uint64_t> decisions_;
  std::map<std::string, std::uint64_t> forwarded_;     // source label -> requests forwarded
  std::map<std::string, std::uint64_t> gaps_;          // source -> gaps recorded
  std::map<std::string, std::uint64_t> gap_records_;   // source -> decisions lost in gaps
  std::map<std::string, Histogram> added_latency_;     // source -> seconds
  std::map<std::string, Histogram> approval_latency_;  // outcome -> seconds
  std::uint64_t breaker_trips_ = 0;
  std::uint64_t rate_limited_ = 0;
  std::uint64_t audit_failures_ = 0;
  std::uint64_t policy_reloads_ok_ = 0, policy_reloads_refused_ = 0;
  Histogram audit_write_;
  Histogram store_;
};

}  // namespace dualkey::daemon::internal
