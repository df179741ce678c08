#include "tools/loadgen/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace careops::loadgen {
namespace {

constexpr std::array<const char*, kStatusCodes> kNames = {
    "OK",        "CANCELLED",          "UNKNOWN",   "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

double Millis(int64_t nanos) { return static_cast<double>(nanos) / 1e6; }

}  // namespace

std::string StatusCodeName(int code) {
  if (code < 0 || code >= kStatusCodes) return absl::StrCat("CODE_", code);
  return kNames[code];
}

void ErrorCounts::Add(int code) {
  if (code < 0 || code >= kStatusCodes) {
    ++out_of_range_;
  } else {
    ++counts_[code];
  }
}

void ErrorCounts::Merge(const ErrorCounts& other) {
  for (int i = 0; i < kStatusCodes; ++i) counts_[i] += other.counts_[i];
  out_of_range_ += other.out_of_range_;
}

uint64_t ErrorCounts::errors() const {
  return std::accumulate(counts_.begin() + 1, counts_.end(), uint64_t{0}) + out_of_range_;
}

uint64_t ErrorCounts::count(int code) const {
  if (code < 0 || code >= kStatusCodes) return 0;
  return counts_[code];
}

std::string ErrorCounts::Describe() const {
  std::vector<std::pair<uint64_t, int>> seen;
  for (int i = 1; i < kStatusCodes; ++i) {
    if (counts_[i] > 0) seen.push_back({counts_[i], i});
  }
  std::stable_sort(seen.begin(), seen.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string out;
  for (const auto& [n, code] : seen) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", kNames[code], " ", n);
  }
  if (out_of_range_ > 0) absl::StrAppend(&out, out.empty() ? "" : ", ", "UNKNOWN(out of range) ", out_of_range_);
  return out;
}

void LatencyRecorder::Merge(const LatencyRecorder& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  sorted_ = false;
}

void LatencyRecorder::Sort() {
  if (!sorted_) std::sort(samples_.begin(), samples_.end());
  sorted_ = true;
}

int64_t LatencyRecorder::Percentile(double q) {
  if (samples_.empty()) return 0;
  Sort();
  double rank = std::ceil(q * static_cast<double>(samples_.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return samples_[std::min(index, samples_.size() - 1)];
}

LatencyPercentiles LatencyRecorder::Summarise() {
  LatencyPercentiles p;
  p.count = samples_.size();
  if (samples_.empty()) return p;
  p.p50 = Percentile(0.50);
  p.p90 = Percentile(0.90);
  p.p99 = Percentile(0.99);
  p.p999 = Percentile(0.999);
  p.max = samples_.back();
  long double sum = 0;
  for (int64_t s : samples_) sum += s;
  p.mean = static_cast<double>(sum / static_cast<long double>(samples_.size()));
  return p;
}

ArrivalSchedule::ArrivalSchedule(int64_t start_nanos, double per_second)
    : start_(start_nanos), per_second_(per_second), period_nanos_(1e9 / per_second) {}

int64_t ArrivalSchedule::Due(uint64_t i) const {
  return start_ + static_cast<int64_t>(std::llround(static_cast<double>(i) * period_nanos_));
}

uint64_t ArrivalSchedule::DueBy(int64_t now_nanos) const {
  if (now_nanos < start_) return 0;
  auto n = static_cast<uint64_t>(static_cast<double>(now_nanos - start_) / period_nanos_) + 1;
  // Correct the floating-point estimate against Due() so the two always agree.
  while (n > 0 && Due(n - 1) > now_nanos) --n;
  while (Due(n) <= now_nanos) ++n;
  return n;
}

double RunSummary::requests_per_second() const {
  return seconds > 0 ? static_cast<double>(outcomes.total()) / seconds : 0;
}

double RunSummary::achieved_per_second() const {
  return seconds > 0 ? static_cast<double>(ok_received_in_window) / seconds : 0;
}

OpenLoopVerdict JudgeOpenLoop(const RunSummary& run, const OpenLoopRule& rule) {
  OpenLoopVerdict v;
  v.offered_per_second = run.target_rate;
  v.achieved_per_second = run.achieved_per_second();
  if (v.offered_per_second > 0) {
    v.achieved_fraction = v.achieved_per_second / v.offered_per_second;
    // The relative slack keeps a run exactly at the tolerance on the met side of it.
    v.rate_met = v.achieved_per_second >= v.offered_per_second * (1 - rule.rate_tolerance) * (1 - 1e-12);
  }
  if (rule.reference_p50_nanos > 0) {
    auto reference = static_cast<double>(rule.reference_p50_nanos);
    v.p50_vs_reference = static_cast<double>(run.latency.p50) / reference;
    v.p99_vs_reference = static_cast<double>(run.latency.p99) / reference;
    v.latency_met = static_cast<double>(run.latency.p99) <= rule.p99_factor * reference;
  }
  return v;
}

std::string OpenLoopVerdict::Describe(const OpenLoopRule& rule) const {
  if (met()) return "met";
  std::string out;
  if (!rate_met) {
    absl::StrAppendFormat(&out, "achieved %.2f%% of offered, needs %g%%", achieved_fraction * 100,
                          (1 - rule.rate_tolerance) * 100);
  }
  if (!latency_met) {
    if (!out.empty()) out += "; ";
    if (rule.reference_p50_nanos <= 0) {
      out += "no closed-loop p50 to compare with";
    } else {
      absl::StrAppendFormat(&out, "p99 %.1fx closed p50, limit %gx", p99_vs_reference, rule.p99_factor);
    }
  }
  return out;
}

double RunSummary::cpu_micros_per_request() const {
  return outcomes.total() > 0 ? cpu_seconds * 1e6 / static_cast<double>(outcomes.total()) : 0;
}

std::string RunSummary::Json() const {
  std::string out = "{\"scenario\":";
  log::AppendJsonString(out, scenario);
  absl::StrAppend(&out, ",\"mode\":\"", mode, "\"");
  absl::StrAppend(&out, ",\"target\":");
  log::AppendJsonString(out, target);
  absl::StrAppendFormat(&out,
                        ",\"concurrency\":%d,\"channels\":%d,\"target_rate\":%.1f,\"warmup_s\":%.3f,"
                        "\"duration_s\":%.3f,\"requests\":%u,\"ok\":%u,\"errors\":%u,\"rps\":%.1f,"
                        "\"achieved_rps\":%.1f",
                        concurrency, channels, target_rate, warmup_seconds, seconds, outcomes.total(),
                        outcomes.ok(), outcomes.errors(), requests_per_second(), achieved_per_second());
  absl::StrAppend(&out, ",\"errors_by_code\":{");
  bool first = true;
  for (int code = 1; code < kStatusCodes; ++code) {
    if (outcomes.count(code) == 0) continue;
    absl::StrAppend(&out, first ? "" : ",", "\"", StatusCodeName(code), "\":", outcomes.count(code));
    first = false;
  }
  absl::StrAppend(&out, "}");
  absl::StrAppendFormat(&out,
                        ",\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"p999_ms\":%.4f,\"max_ms\":%.4f,"
                        "\"mean_ms\":%.4f,\"cpu_s\":%.3f,\"cpu_us_per_req\":%.2f",
                        Millis(latency.p50), Millis(latency.p90), Millis(latency.p99), Millis(latency.p999),
                        Millis(latency.max), latency.mean / 1e6, cpu_seconds, cpu_micros_per_request());
  if (rule) {
    OpenLoopVerdict v = JudgeOpenLoop(*this, *rule);
    absl::StrAppendFormat(&out,
                          ",\"verdict\":{\"met\":%s,\"rate_met\":%s,\"latency_met\":%s,\"offered_rps\":%.1f,"
                          "\"achieved_rps\":%.1f,\"achieved_fraction\":%.4f,\"reference_p50_ms\":%.4f,"
                          "\"p50_vs_reference\":%.2f,\"p99_vs_reference\":%.2f,\"rate_tolerance\":%.4f,"
                          "\"p99_factor\":%g,\"why\":",
                          v.met() ? "true" : "false", v.rate_met ? "true" : "false", v.latency_met ? "true" : "false",
                          v.offered_per_second, v.achieved_per_second, v.achieved_fraction,
                          Millis(rule->reference_p50_nanos), v.p50_vs_reference, v.p99_vs_reference,
                          rule->rate_tolerance, rule->p99_factor);
    log::AppendJsonString(out, v.Describe(*rule));
    out += "}";
  }
  out += "}";
  return out;
}

std::string RunSummary::Table() const {
  std::string out;
  if (outcomes.errors() > 0) {
    absl::StrAppendFormat(&out, "ERRORS: %u of %u requests failed: %s\n", outcomes.errors(), outcomes.total(),
                          outcomes.Describe());
  }
  std::string shape = mode == "open" ? absl::StrFormat("open loop at %.0f req/s, up to %d in flight", target_rate,
                                                       concurrency)
                                     : absl::StrFormat("closed loop, %d in flight", concurrency);
  std::string over = channels > 0 ? absl::StrFormat("over %d channel(s)", channels)
                                  : absl::StrFormat("over %d pooled connection(s)", concurrency);
  absl::StrAppendFormat(&out, "%s  %s %s, %.0fs after %.0fs warm-up, target %s\n", scenario, shape, over, seconds,
                        warmup_seconds, target);
  absl::StrAppendFormat(&out, "  requests %u  (%.1f/s)  errors %u  ok answers in the window %.1f/s\n",
                        outcomes.total(), requests_per_second(), outcomes.errors(), achieved_per_second());
  absl::StrAppendFormat(&out, "  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
                        Millis(latency.p50), Millis(latency.p90), Millis(latency.p99), Millis(latency.p999),
                        Millis(latency.max));
  absl::StrAppendFormat(&out, "  loadgen cpu %.1f us/request\n", cpu_micros_per_request());
  if (rule) absl::StrAppendFormat(&out, "  open-loop rule: %s\n", JudgeOpenLoop(*this, *rule).Describe(*rule));
  return out;
}

}  // namespace careops::loadgen
