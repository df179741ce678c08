// The load generator's arithmetic, kept free of gRPC and threads so it can be
// tested on its own:
//
//   LatencyRecorder  every latency sample of a run (no sampling, no buckets),
//                    merged across threads, summarised by nearest-rank percentiles;
//   ErrorCounts      outcomes by canonical status code (gRPC and absl share them);
//   ArrivalSchedule  when the i-th request of an open-loop run is due, so latency
//                    is measured from the intended send time and a stalled server
//                    cannot hide its queue ("coordinated omission");
//   RunSummary       the figures of one run, as one JSON line and a short table;
//   OpenLoopRule     when an open-loop run counts as met: the offered rate was
//                    achieved and its p99 stays near what an unloaded service answers
//                    (JudgeOpenLoop).
//
// Times are int64 nanoseconds of a monotonic clock.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace careops::loadgen {

inline constexpr int kStatusCodes = 17;  // OK .. UNAUTHENTICATED

// "DEADLINE_EXCEEDED" for 4; "CODE_<n>" outside 0..16.
std::string StatusCodeName(int code);

class ErrorCounts {
 public:
  void Add(int code);
  void Merge(const ErrorCounts& other);
  uint64_t ok() const { return counts_[0]; }
  uint64_t errors() const;  // every non-OK outcome
  uint64_t total() const { return ok() + errors(); }
  uint64_t count(int code) const;
  // "UNAVAILABLE 3, DEADLINE_EXCEEDED 1", most frequent first; "" without errors.
  std::string Describe() const;

 private:
  std::array<uint64_t, kStatusCodes> counts_{};
  uint64_t out_of_range_ = 0;  // codes no canonical name covers, reported as UNKNOWN
};

struct LatencyPercentiles {
  uint64_t count = 0;
  int64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double mean = 0;
};

class LatencyRecorder {
 public:
  void Record(int64_t nanos) { samples_.push_back(nanos); }
  void Merge(const LatencyRecorder& other);
  uint64_t count() const { return samples_.size(); }
  // Sorts the samples (once) and returns the percentiles; all zero when empty.
  LatencyPercentiles Summarise();
  // The nearest-rank q-quantile (0 < q <= 1) of the samples: the smallest sample
  // at or above which a fraction q of all samples lie. Sorts when needed.
  int64_t Percentile(double q);

 private:
  void Sort();
  std::vector<int64_t> samples_;
  bool sorted_ = false;
};

// Arrivals at a fixed rate starting at `start`: request i is due at
// start + i / rate. Integer arithmetic, so rounding never drifts over long runs.
class ArrivalSchedule {
 public:
  ArrivalSchedule(int64_t start_nanos, double per_second);
  int64_t Due(uint64_t i) const;
  // How many requests are due at or before `now` (the index of the next one not yet due).
  uint64_t DueBy(int64_t now_nanos) const;
  double per_second() const { return per_second_; }

 private:
  int64_t start_;
  double per_second_;
  double period_nanos_;
};

// An open-loop run offers a fixed rate. It is met only if the server kept up with
// that rate (OK answers received in the window, within a tolerance) and its p99
// stayed within a factor of what a lightly queued request costs: the closed-loop
// p50 of the same scenario, measured at the bench's concurrency in the same run.
// (The run's own p99/p50 is no test: a saturated server whose p50 and p99 are both
// seconds keeps it small.)
struct OpenLoopRule {
  int64_t reference_p50_nanos = 0;  // closed-loop p50 of the same scenario; <= 0: unknown
  double rate_tolerance = 0.02;     // achieved may fall short of offered by this fraction
  double p99_factor = 10;           // p99 at most this many reference p50s
};

struct OpenLoopVerdict {
  double offered_per_second = 0;
  double achieved_per_second = 0;
  double achieved_fraction = 0;  // achieved / offered; 0 when nothing was offered
  double p50_vs_reference = 0;   // open-loop p50 / reference p50; 0 without a reference
  double p99_vs_reference = 0;
  bool rate_met = false;     // achieved >= offered * (1 - rate_tolerance)
  bool latency_met = false;  // p99 <= p99_factor * reference p50 (false without a reference)
  bool met() const { return rate_met && latency_met; }
  // "met", or what missed: "achieved 91.20% of offered, needs 98%; p99 14.1x closed p50, limit 10x".
  std::string Describe(const OpenLoopRule& rule) const;
};

struct RunSummary {
  std::string scenario;
  std::string mode;  // "closed" or "open"
  int concurrency = 0;
  int channels = 0;
  double target_rate = 0;  // open loop only
  double warmup_seconds = 0;
  double seconds = 0;  // measured window
  ErrorCounts outcomes;
  LatencyPercentiles latency;  // every request of the window, failed ones too
  // OK answers received inside the window, whenever they were due: what the server
  // delivered. In an open loop `outcomes` counts every request due in the window
  // (so its rate is the offered one, however late the answers came); this is not.
  uint64_t ok_received_in_window = 0;
  double cpu_seconds = 0;      // the load generator's own user+system time in the window
  std::string target;          // address or database
  std::optional<OpenLoopRule> rule;  // open loop with a reference: judged in Json()

  // Requests due (open) or started (closed) in the window, per second.
  double requests_per_second() const;
  // OK answers received in the window, per second.
  double achieved_per_second() const;
  double cpu_micros_per_request() const;
  // One line: {"scenario":"echo","mode":"closed",...,"errors_by_code":{...}}; with a
  // rule, also "verdict":{"met":...,"achieved_fraction":...,...}.
  std::string Json() const;
  // A few lines for people; a run with errors says so on its first line.
  std::string Table() const;
};

// Judges an open-loop run: offered = target_rate, achieved = achieved_per_second(),
// latency from `latency`.
OpenLoopVerdict JudgeOpenLoop(const RunSummary& run, const OpenLoopRule& rule);

}  // namespace careops::loadgen
