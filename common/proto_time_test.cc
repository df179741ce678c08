#include "common/proto_time.h"

#include <gtest/gtest.h>

namespace careops {
namespace {

google::protobuf::Timestamp Ts(int64_t seconds, int32_t nanos) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

TEST(ProtoTimeTest, RequestTimestampsInRangeConvert) {
  auto t = FromProto(Ts(1700000000, 123456789), "as_of");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(123456789));
  EXPECT_TRUE(FromProto(Ts(-62135596800, 0), "as_of").ok());         // 0001-01-01T00:00:00Z
  EXPECT_TRUE(FromProto(Ts(253402300799, 999999999), "as_of").ok());  // 9999-12-31T23:59:59.999999999Z
}

TEST(ProtoTimeTest, RequestTimestampsOutOfRangeNameTheField) {
  for (auto bad : {Ts(-62135596801, 0), Ts(253402300800, 0), Ts(INT64_MAX, 0), Ts(INT64_MIN, 0)}) {
    auto t = FromProto(bad, "submitted_from");
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(),
              "submitted_from: must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
  }
  for (int32_t nanos : {-1, 1000000000, INT32_MAX}) {
    auto t = FromProto(Ts(0, nanos), "as_of");
    EXPECT_EQ(t.status().message(), "as_of: nanos must be between 0 and 999999999");
  }
}

TEST(ProtoTimeTest, RequiredDates) {
  common::v1::Date d;
  EXPECT_EQ(RequireDate(false, d, "effective_date").status().message(), "effective_date: is required");
  d.set_year(2026);
  d.set_month(2);
  d.set_day(29);
  EXPECT_EQ(RequireDate(true, d, "effective_date").status().code(), absl::StatusCode::kInvalidArgument);
  d.set_day(28);
  EXPECT_EQ(*RequireDate(true, d, "effective_date"), absl::CivilDay(2026, 2, 28));
}

TEST(ProtoTimeTest, TimestampRoundTrip) {
  absl::Time t = absl::FromUnixMicros(-1);
  EXPECT_EQ(FromProto(ToProtoTimestamp(t)), t);
  EXPECT_EQ(ToProtoTimestamp(t).nanos(), 999999000);
}

}  // namespace
}  // namespace careops
