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

}  // namespace
}  // namespace careops::loadgen
