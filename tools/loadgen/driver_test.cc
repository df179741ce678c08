// The driver's loops over a fake blocking scenario (no network): outcomes are
// counted by code, the open loop keeps its schedule, and its latency includes
// the time a request waited behind slower ones.
#include "tools/loadgen/driver.h"

#include <gtest/gtest.h>

#include <thread>

namespace careops::loadgen {
namespace {

class FakeScenario final : public BlockingScenario {
 public:
  // Every `fail_every`-th call (by sequence number) fails; 0: none does.
  explicit FakeScenario(absl::Duration service_time, uint64_t fail_every = 5)
      : service_time_(service_time), fail_every_(fail_every) {}
  absl::Status Call(uint64_t seq) override {
    std::this_thread::sleep_for(absl::ToChronoMicroseconds(service_time_));
    if (fail_every_ > 0 && seq % fail_every_ == 0) return absl::UnavailableError("a planned failure");
    return absl::OkStatus();
  }

 private:
  absl::Duration service_time_;
  uint64_t fail_every_;
};

RunOptions Options() {
  RunOptions o;
  o.scenario_name = "fake";
  o.progress = false;
  o.warmup = absl::Milliseconds(100);
  o.duration = absl::Milliseconds(500);
  return o;
}

TEST(DriverTest, ClosedLoopCountsEveryOutcomeByCode) {
  FakeScenario scenario(absl::Milliseconds(1));
  RunOptions o = Options();
  o.concurrency = 4;
  RunSummary s = RunBlocking(scenario, o);
  ASSERT_GT(s.outcomes.total(), 100u);
  EXPECT_EQ(s.outcomes.errors(), s.outcomes.count(14));  // only UNAVAILABLE
  // Every fifth sequence number fails; the window cuts the sequence anywhere.
  double failed = static_cast<double>(s.outcomes.errors()) / static_cast<double>(s.outcomes.total());
  EXPECT_NEAR(failed, 0.2, 0.05);
  EXPECT_EQ(s.latency.count, s.outcomes.total());
  EXPECT_GE(s.latency.p50, 1'000'000);
  EXPECT_EQ(s.mode, "closed");
}

TEST(DriverTest, OpenLoopSendsExactlyTheScheduledRequests) {
  FakeScenario scenario(absl::Microseconds(100));
  RunOptions o = Options();
  o.concurrency = 4;
  o.rate = 400;
  RunSummary s = RunBlocking(scenario, o);
  EXPECT_EQ(s.outcomes.total(), 200u);  // 400/s for 0.5s, counted by intended start
  EXPECT_DOUBLE_EQ(s.requests_per_second(), 400.0);
  EXPECT_EQ(s.mode, "open");
}

TEST(DriverTest, OpenLoopLatencyIncludesTheQueueBehindASlowServer) {
  // One worker at 10ms a request cannot keep up with 200/s: requests queue, and
  // the latency from their intended start shows it (a closed loop would report ~10ms).
  FakeScenario scenario(absl::Milliseconds(10));
  RunOptions o = Options();
  o.concurrency = 1;
  o.rate = 200;
  o.warmup = absl::ZeroDuration();
  o.duration = absl::Milliseconds(300);
  RunSummary s = RunBlocking(scenario, o);
  EXPECT_EQ(s.outcomes.total(), 60u);
  EXPECT_GT(s.latency.max, 200'000'000);  // the last one waited behind ~30 others
  EXPECT_GT(s.latency.p50, 50'000'000);
  // Every due request is counted, so the request rate is the offered one; what the
  // server delivered in the window is at most its 100/s.
  EXPECT_DOUBLE_EQ(s.requests_per_second(), 200.0);
  EXPECT_LE(s.achieved_per_second(), 110.0);
  OpenLoopRule rule;
  rule.reference_p50_nanos = 10'000'000;
  EXPECT_FALSE(JudgeOpenLoop(s, rule).rate_met);
}

TEST(DriverTest, OpenLoopAServerThatKeepsUpDeliversTheOfferedRate) {
  FakeScenario scenario(absl::Microseconds(100), /*fail_every=*/0);
  RunOptions o = Options();
  o.concurrency = 4;
  o.rate = 400;
  RunSummary s = RunBlocking(scenario, o);
  // Within a few answers of the 200 due: those in flight at either edge of the window.
  EXPECT_NEAR(s.achieved_per_second(), 400.0, 20.0);
  OpenLoopRule rule;
  rule.reference_p50_nanos = 100'000'000;  // generous: a loaded test machine must not flake
  rule.rate_tolerance = 0.05;
  EXPECT_TRUE(JudgeOpenLoop(s, rule).met()) << JudgeOpenLoop(s, rule).Describe(rule);
}

TEST(DriverTest, ClosedLoopAchievedRateCountsOnlyOkAnswers) {
  FakeScenario scenario(absl::Milliseconds(1));
  RunOptions o = Options();
  o.concurrency = 2;
  RunSummary s = RunBlocking(scenario, o);
  ASSERT_GT(s.outcomes.total(), 100u);
  // One in five fails; the rest were answered inside the window.
  EXPECT_NEAR(s.achieved_per_second() / s.requests_per_second(), 0.8, 0.05);
}

TEST(DriverTest, OpenLoopBacklogPastTheDeadlineIsCountedNotDropped) {
  FakeScenario scenario(absl::Milliseconds(10));
  RunOptions o = Options();
  o.concurrency = 1;
  o.rate = 200;
  o.warmup = absl::ZeroDuration();
  o.duration = absl::Milliseconds(300);
  o.deadline = absl::Milliseconds(50);
  RunSummary s = RunBlocking(scenario, o);
  EXPECT_EQ(s.outcomes.total(), 60u);
  EXPECT_GT(s.outcomes.count(4), 10u);  // DEADLINE_EXCEEDED: never started
}

}  // namespace
}  // namespace careops::loadgen
