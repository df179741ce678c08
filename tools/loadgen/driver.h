// Runs a scenario for warm-up + duration and returns what was measured.
//
// Closed loop (rate == 0): `concurrency` requests are always in flight; each one
// that completes is replaced at once. This finds the maximum throughput.
// Open loop (rate > 0): requests start on the ArrivalSchedule whether or not
// earlier ones finished (up to `concurrency` in flight, beyond which the schedule
// slips and the slip counts as latency). Latency is measured from each request's
// intended start, so it includes any queueing in front of the server.
//
// gRPC calls are spread round-robin over `channels` channels, each its own TCP
// connection (a local subchannel pool per channel), and completed on `threads`
// completion-queue threads. Blocking scenarios run on `concurrency` threads.
//
// A request belongs to the measurement when it was (due to be) started inside the
// measured window; requests still in flight at its end are awaited, up to their
// deadline. A progress line goes to stderr every second.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "tools/loadgen/scenario.h"
#include "tools/loadgen/stats.h"

namespace careops::loadgen {

struct RunOptions {
  std::string scenario_name;
  std::string target;  // host:port for gRPC scenarios, a label for blocking ones
  std::string token;   // sent as "authorization: Bearer <token>" when not empty
  int concurrency = 16;
  int channels = 4;
  int threads = 1;
  double rate = 0;  // requests per second; 0 = closed loop
  absl::Duration warmup = absl::Seconds(5);
  absl::Duration duration = absl::Seconds(10);
  absl::Duration deadline = absl::Seconds(10);  // per request
  bool progress = true;
};

RunSummary RunGrpc(GrpcScenario& scenario, const RunOptions& options);
RunSummary RunBlocking(BlockingScenario& scenario, const RunOptions& options);

}  // namespace careops::loadgen
