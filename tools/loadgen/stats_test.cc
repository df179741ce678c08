#include "tools/loadgen/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace careops::loadgen {
namespace {

TEST(LatencyRecorderTest, NearestRankPercentilesOverEverySample) {
  LatencyRecorder r;
  for (int i = 100; i >= 1; --i) r.Record(i);  // recorded out of order
  LatencyPercentiles p = r.Summarise();
  EXPECT_EQ(p.count, 100u);
  EXPECT_EQ(p.p50, 50);
  EXPECT_EQ(p.p90, 90);
  EXPECT_EQ(p.p99, 99);
  EXPECT_EQ(p.p999, 100);
  EXPECT_EQ(p.max, 100);
  EXPECT_DOUBLE_EQ(p.mean, 50.5);
}

TEST(LatencyRecorderTest, OneSlowRequestInAThousandShowsAtP999NotP99) {
  LatencyRecorder r;
  for (int i = 0; i < 999; ++i) r.Record(1'000'000);
  r.Record(500'000'000);
  LatencyPercentiles p = r.Summarise();
  EXPECT_EQ(p.p99, 1'000'000);
  EXPECT_EQ(p.p999, 1'000'000);  // rank ceil(0.999*1000) = 999
  EXPECT_EQ(p.max, 500'000'000);
  r.Record(500'000'000);  // two in 1001: now above the 99.9th rank
  EXPECT_EQ(r.Percentile(0.999), 500'000'000);
}

TEST(LatencyRecorderTest, EmptyAndSingleSample) {
  LatencyRecorder empty;
  EXPECT_EQ(empty.Summarise().p99, 0);
  LatencyRecorder one;
  one.Record(7);
  LatencyPercentiles p = one.Summarise();
  EXPECT_EQ(p.p50, 7);
  EXPECT_EQ(p.p999, 7);
  EXPECT_EQ(p.max, 7);
}

TEST(LatencyRecorderTest, MergeMatchesOneRecorderFedEverything) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> dist(1, 1'000'000);
  LatencyRecorder a, b, all;
  for (int i = 0; i < 10000; ++i) {
    int64_t v = dist(rng);
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  LatencyPercentiles merged = a.Summarise(), direct = all.Summarise();
  EXPECT_EQ(merged.count, 10000u);
  EXPECT_EQ(merged.p50, direct.p50);
  EXPECT_EQ(merged.p99, direct.p99);
  EXPECT_EQ(merged.p999, direct.p999);
  EXPECT_EQ(merged.max, direct.max);
}

TEST(ErrorCountsTest, CountsEveryCodeAndDescribesMostFrequentFirst) {
  ErrorCounts c;
  for (int i = 0; i < 5; ++i) c.Add(0);
  c.Add(4);
  for (int i = 0; i < 3; ++i) c.Add(14);
  c.Add(99);
  EXPECT_EQ(c.ok(), 5u);
  EXPECT_EQ(c.errors(), 5u);
  EXPECT_EQ(c.total(), 10u);
  EXPECT_EQ(c.count(14), 3u);
  EXPECT_EQ(c.Describe(), "UNAVAILABLE 3, DEADLINE_EXCEEDED 1, UNKNOWN(out of range) 1");
  ErrorCounts more;
  more.Add(14);
  c.Merge(more);
  EXPECT_EQ(c.count(14), 4u);
  EXPECT_EQ(ErrorCounts().Describe(), "");
}

TEST(ErrorCountsTest, CodeNames) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(9), "FAILED_PRECONDITION");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(17), "CODE_17");
}

TEST(ArrivalScheduleTest, EvenlySpacedFromTheStart) {
  ArrivalSchedule s(1'000, 1000.0);  // one per millisecond
  EXPECT_EQ(s.Due(0), 1'000);
  EXPECT_EQ(s.Due(1), 1'001'000);
  EXPECT_EQ(s.Due(1000), 1'000'001'000);
}

TEST(ArrivalScheduleTest, NoDriftOverLongRunsAtAwkwardRates) {
  ArrivalSchedule s(0, 3.0);  // period 333,333,333.33ns
  EXPECT_EQ(s.Due(3), 1'000'000'000);
  EXPECT_EQ(s.Due(3'000'000), 1'000'000'000'000'000);
}

TEST(ArrivalScheduleTest, DueByAgreesWithDue) {
  ArrivalSchedule s(500, 7.0);
  EXPECT_EQ(s.DueBy(499), 0u);
  EXPECT_EQ(s.DueBy(500), 1u);  // request 0 is due at the start
  for (uint64_t i = 1; i < 2000; ++i) {
    EXPECT_EQ(s.DueBy(s.Due(i)), i + 1) << i;
    EXPECT_EQ(s.DueBy(s.Due(i) - 1), i) << i;
  }
}

TEST(RunSummaryTest, JsonCarriesEveryFigureAndErrorsByCode) {
  RunSummary r;
  r.scenario = "echo";
  r.mode = "closed";
  r.target = "127.0.0.1:1";
  r.concurrency = 8;
  r.channels = 2;
  r.seconds = 2;
  for (int i = 0; i < 98; ++i) r.outcomes.Add(0);
  r.outcomes.Add(14);
  r.outcomes.Add(14);
  LatencyRecorder l;
  l.Record(2'000'000);
  r.latency = l.Summarise();
  r.cpu_seconds = 0.001;
  std::string json = r.Json();
  EXPECT_NE(json.find("\"scenario\":\"echo\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"requests\":100,\"ok\":98,\"errors\":2,\"rps\":50.0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"errors_by_code\":{\"UNAVAILABLE\":2}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p99_ms\":2.0000"), std::string::npos) << json;
  EXPECT_NE(json.find("\"cpu_us_per_req\":10.00"), std::string::npos) << json;
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

TEST(RunSummaryTest, TableSaysErrorsFirst) {
  RunSummary r;
  r.scenario = "claims.GetClaim";
  r.mode = "open";
  r.target_rate = 100;
  r.seconds = 1;
  r.outcomes.Add(0);
  r.outcomes.Add(5);
  std::string table = r.Table();
  EXPECT_EQ(table.rfind("ERRORS: 1 of 2 requests failed: NOT_FOUND 1\n", 0), 0u) << table;
  RunSummary clean;
  clean.scenario = "echo";
  clean.outcomes.Add(0);
  EXPECT_EQ(clean.Table().find("ERRORS"), std::string::npos);
}

// An open-loop run of `seconds` at `offered`/s whose server answered `ok_received`
// requests OK inside the window, with the given p50 and p99.
RunSummary OpenRun(double offered, uint64_t ok_received, int64_t p50, int64_t p99, double seconds = 10) {
  RunSummary r;
  r.scenario = "membership.GetMember";
  r.mode = "open";
  r.target_rate = offered;
  r.seconds = seconds;
  for (int i = 0; i < static_cast<int>(offered * seconds); ++i) r.outcomes.Add(0);
  r.ok_received_in_window = ok_received;
  r.latency.p50 = p50;
  r.latency.p99 = p99;
  return r;
}

OpenLoopRule Rule(int64_t reference_p50) {
  OpenLoopRule rule;
  rule.reference_p50_nanos = reference_p50;
  return rule;
}

TEST(OpenLoopRuleTest, KeptUpWithAShortTailIsMet) {
  OpenLoopVerdict v = JudgeOpenLoop(OpenRun(1000, 10000, 500'000, 5'000'000), Rule(1'000'000));
  EXPECT_DOUBLE_EQ(v.offered_per_second, 1000);
  EXPECT_DOUBLE_EQ(v.achieved_per_second, 1000);
  EXPECT_DOUBLE_EQ(v.achieved_fraction, 1);
  EXPECT_DOUBLE_EQ(v.p50_vs_reference, 0.5);
  EXPECT_DOUBLE_EQ(v.p99_vs_reference, 5);
  EXPECT_TRUE(v.rate_met);
  EXPECT_TRUE(v.latency_met);
  EXPECT_TRUE(v.met());
  EXPECT_EQ(v.Describe(Rule(1'000'000)), "met");
}

TEST(OpenLoopRuleTest, ASaturatedServiceMissesThoughItsP99OverP50IsSmall) {
  // Issue 8's GetMember at 75%: p50 1,559 ms and p99 2,562 ms (p99/p50 1.6, which the
  // old rule passed), against a closed-loop p50 of 1.3 ms; it delivered 80% of the rate.
  OpenLoopRule rule = Rule(1'301'000);
  OpenLoopVerdict v = JudgeOpenLoop(OpenRun(8819, 70552, 1'559'000'000, 2'562'000'000), rule);
  EXPECT_FALSE(v.rate_met);
  EXPECT_FALSE(v.latency_met);
  EXPECT_FALSE(v.met());
  EXPECT_NEAR(v.achieved_fraction, 0.8, 1e-3);
  EXPECT_NEAR(v.p99_vs_reference, 1969.3, 0.1);
  EXPECT_EQ(v.Describe(rule), "achieved 80.00% of offered, needs 98%; p99 1969.3x closed p50, limit 10x");
}

TEST(OpenLoopRuleTest, OfferedRateMustBeAchievedWithinTheTolerance) {
  OpenLoopRule rule = Rule(1'000'000);
  EXPECT_TRUE(JudgeOpenLoop(OpenRun(1000, 9800, 1, 1), rule).rate_met);  // exactly 2% short
  OpenLoopVerdict short_by_more = JudgeOpenLoop(OpenRun(1000, 9799, 1, 1), rule);
  EXPECT_FALSE(short_by_more.rate_met);
  EXPECT_TRUE(short_by_more.latency_met);
  EXPECT_EQ(short_by_more.Describe(rule), "achieved 97.99% of offered, needs 98%");
  rule.rate_tolerance = 0.05;
  EXPECT_TRUE(JudgeOpenLoop(OpenRun(1000, 9500, 1, 1), rule).rate_met);
  // Answers left over from the warm-up can take the delivered rate just above the offered one.
  EXPECT_TRUE(JudgeOpenLoop(OpenRun(1000, 10010, 1, 1), rule).rate_met);
}

TEST(OpenLoopRuleTest, P99MayBeAtMostTheFactorTimesTheClosedLoopP50) {
  OpenLoopRule rule = Rule(2'000'000);
  EXPECT_TRUE(JudgeOpenLoop(OpenRun(100, 1000, 1'000'000, 20'000'000), rule).latency_met);  // exactly 10x
  OpenLoopVerdict over = JudgeOpenLoop(OpenRun(100, 1000, 1'000'000, 20'000'001), rule);
  EXPECT_FALSE(over.latency_met);
  EXPECT_TRUE(over.rate_met);
  EXPECT_EQ(over.Describe(rule), "p99 10.0x closed p50, limit 10x");
  rule.p99_factor = 20;
  EXPECT_TRUE(JudgeOpenLoop(OpenRun(100, 1000, 1'000'000, 40'000'000), rule).latency_met);
}

TEST(OpenLoopRuleTest, WithoutAReferenceOrAnOfferedRateNothingIsMet) {
  OpenLoopRule none = Rule(0);
  OpenLoopVerdict v = JudgeOpenLoop(OpenRun(100, 1000, 1, 1), none);
  EXPECT_TRUE(v.rate_met);
  EXPECT_FALSE(v.latency_met);
  EXPECT_DOUBLE_EQ(v.p99_vs_reference, 0);
  EXPECT_EQ(v.Describe(none), "no closed-loop p50 to compare with");
  OpenLoopVerdict nothing_offered = JudgeOpenLoop(OpenRun(0, 0, 1, 1), Rule(1));
  EXPECT_FALSE(nothing_offered.rate_met);
  EXPECT_DOUBLE_EQ(nothing_offered.achieved_fraction, 0);
}

TEST(RunSummaryTest, AchievedRateCountsOkAnswersInTheWindow) {
  RunSummary r = OpenRun(1000, 4321, 1, 1, 2);
  EXPECT_DOUBLE_EQ(r.requests_per_second(), 1000);  // due in the window: the offered rate
  EXPECT_DOUBLE_EQ(r.achieved_per_second(), 2160.5);
  r.seconds = 0;
  EXPECT_DOUBLE_EQ(r.achieved_per_second(), 0);
}

TEST(RunSummaryTest, JsonCarriesTheVerdictOnlyWithARule) {
  RunSummary r = OpenRun(1000, 9000, 1'000'000, 30'000'000);
  std::string plain = r.Json();
  EXPECT_NE(plain.find("\"achieved_rps\":900.0"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("verdict"), std::string::npos) << plain;
  EXPECT_EQ(r.Table().find("open-loop rule"), std::string::npos);
  r.rule = Rule(2'000'000);
  std::string judged = r.Json();
  EXPECT_NE(judged.find("\"verdict\":{\"met\":false,\"rate_met\":false,\"latency_met\":false,"
                        "\"offered_rps\":1000.0,\"achieved_rps\":900.0,\"achieved_fraction\":0.9000,"
                        "\"reference_p50_ms\":2.0000,\"p50_vs_reference\":0.50,\"p99_vs_reference\":15.00,"
                        "\"rate_tolerance\":0.0200,\"p99_factor\":10,"
                        "\"why\":\"achieved 90.00% of offered, needs 98%; p99 15.0x closed p50, limit 10x\"}}"),
            std::string::npos)
      << judged;
  EXPECT_EQ(judged.back(), '}');
  EXPECT_EQ(judged.find('\n'), std::string::npos);
  EXPECT_NE(r.Table().find("open-loop rule: achieved 90.00% of offered"), std::string::npos) << r.Table();
}

}  // namespace
}  // namespace careops::loadgen
