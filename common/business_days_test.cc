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

}  // namespace
}  // namespace careops
