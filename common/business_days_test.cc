#include "common/business_days.h"

#include <gtest/gtest.h>

namespace careops {
namespace {

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), absl::UTCTimeZone());
}

TEST(BusinessDaysTest, SkipWeekendsKeepingTimeOfDay) {
  // 2026-03-02 is a Monday.
  EXPECT_EQ(AddBusinessDays(Utc(2026, 3, 2, 9, 30), 5), Utc(2026, 3, 9, 9, 30));    // Mon -> next Mon
  EXPECT_EQ(AddBusinessDays(Utc(2026, 3, 5, 14), 1), Utc(2026, 3, 6, 14));          // Thu -> Fri
  EXPECT_EQ(AddBusinessDays(Utc(2026, 3, 6, 14), 1), Utc(2026, 3, 9, 14));          // Fri -> Mon
  EXPECT_EQ(AddBusinessDays(Utc(2026, 3, 6, 14), 10), Utc(2026, 3, 20, 14));        // two weeks
  EXPECT_EQ(AddBusinessDays(Utc(2026, 3, 2, 9, 30), 0), Utc(2026, 3, 2, 9, 30));
}

TEST(BusinessDaysTest, WeekendArrivalCountsFromMondayMorning) {
  EXPECT_EQ(AddBusinessDays(Utc(2026, 3, 7, 15), 1), Utc(2026, 3, 10));  // Sat -> Tue 00:00
  EXPECT_EQ(AddBusinessDays(Utc(2026, 3, 8, 23), 5), Utc(2026, 3, 16));  // Sun -> next Mon 00:00
}

TEST(BusinessDaysTest, AcrossYearEnd) {
  EXPECT_EQ(AddBusinessDays(Utc(2025, 12, 31, 8), 3), Utc(2026, 1, 5, 8));  // Wed -> Mon
}

TEST(BusinessDaysTest, HolidaysAreNotBusinessDays) {
  auto calendar = BusinessCalendar::FromHolidayList("2025-12-25, 2026-01-01", "holidays");
  ASSERT_TRUE(calendar.ok());
  EXPECT_FALSE(calendar->IsBusinessDay(absl::CivilDay(2025, 12, 25)));
  // Wed 2025-12-24 + 2: Thu 25th and Thu 1st are holidays -> Fri 26th, Mon 29th.
  EXPECT_EQ(calendar->AddBusinessDays(Utc(2025, 12, 24, 10), 2), Utc(2025, 12, 29, 10));
  // Arriving on a holiday counts from the next business morning.
  EXPECT_EQ(calendar->AddBusinessDays(Utc(2026, 1, 1, 12), 1), Utc(2026, 1, 5));
  auto bad = BusinessCalendar::FromHolidayList("2026-02-30", "holidays");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("holidays: '2026-02-30'"), std::string::npos) << bad.status();
}

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name << ": is tzdata installed?";
  return tz;
}

TEST(BusinessDaysTest, TodayIsTheBusinessTimeZonesDate) {
  const BusinessCalendar manila({}, Zone("Asia/Manila"));
  const BusinessCalendar utc;
  // 23:00 UTC on Monday 2026-06-01 is 07:00 on Tuesday in Manila (UTC+8).
  EXPECT_EQ(manila.DayOf(Utc(2026, 6, 1, 23)), absl::CivilDay(2026, 6, 2));
  EXPECT_EQ(utc.DayOf(Utc(2026, 6, 1, 23)), absl::CivilDay(2026, 6, 1));
  EXPECT_EQ(manila.DayOf(Utc(2026, 6, 1, 15, 59)), absl::CivilDay(2026, 6, 1));
  EXPECT_EQ(manila.DayOf(Utc(2026, 6, 1, 16)), absl::CivilDay(2026, 6, 2));
}

TEST(BusinessDaysTest, WeekendsAndHolidaysAreTheBusinessTimeZones) {
  const absl::TimeZone tz = Zone("Asia/Manila");
  auto manila_time = [&](int y, int mo, int d, int h = 0) {
    return absl::FromCivil(absl::CivilSecond(y, mo, d, h, 0, 0), tz);
  };
  const BusinessCalendar manila({}, tz);
  // Friday 23:00 UTC is Saturday 07:00 in Manila: counts from Monday 00:00 there.
  EXPECT_EQ(manila.AddBusinessDays(Utc(2026, 6, 5, 23), 1), manila_time(2026, 6, 9));
  EXPECT_EQ(manila.AddBusinessDays(Utc(2026, 6, 5, 23), 5), manila_time(2026, 6, 15));
  // In UTC the same instant is a Friday evening: one business day is Monday evening.
  EXPECT_EQ(BusinessCalendar().AddBusinessDays(Utc(2026, 6, 5, 23), 1), Utc(2026, 6, 8, 23));
  // Local time of day is kept: Tuesday 10:00 Manila + 1 = Wednesday 10:00 Manila.
  EXPECT_EQ(manila.AddBusinessDays(manila_time(2026, 6, 9, 10), 1), manila_time(2026, 6, 10, 10));
  // A holiday is a local date: 2026-06-12 (Independence Day, a Friday) in Manila.
  auto with_holiday = BusinessCalendar::FromHolidayList("2026-06-12", "tat_holidays", tz);
  ASSERT_TRUE(with_holiday.ok());
  EXPECT_EQ(with_holiday->AddBusinessDays(manila_time(2026, 6, 11, 9), 1), manila_time(2026, 6, 15, 9));
  EXPECT_EQ(with_holiday->zone(), tz);
}

TEST(BusinessDaysTest, DueTimesKeepTheirLocalTimeAcrossDaylightSaving) {
  const absl::TimeZone ny = Zone("America/New_York");
  auto local = [&](int y, int mo, int d, int h) { return absl::FromCivil(absl::CivilSecond(y, mo, d, h, 0, 0), ny); };
  // Friday 2026-03-06 09:00 EST + 1 business day = Monday 2026-03-09 09:00 EDT
  // (clocks went forward on Sunday the 8th): 71 hours later, not 72.
  const BusinessCalendar calendar({}, ny);
  EXPECT_EQ(calendar.AddBusinessDays(local(2026, 3, 6, 9), 1), local(2026, 3, 9, 9));
  EXPECT_EQ(local(2026, 3, 9, 9) - local(2026, 3, 6, 9), absl::Hours(71));
}

}  // namespace
}  // namespace careops
