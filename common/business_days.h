// Business-day arithmetic for turn-around-time (TAT) targets.
//
// A BusinessCalendar counts Monday to Friday, minus configured holidays, in UTC.
// AddBusinessDays(start, n) is the instant n business days after `start` at the
// same time of day; work that arrives on a weekend or holiday counts from the
// start (00:00) of the next business day, so "1 business day" from Saturday
// afternoon is Tuesday 00:00 — the end of Monday.
//
//   BusinessCalendar calendar({absl::CivilDay(2026, 12, 25)});
//   absl::Time due = calendar.AddBusinessDays(submitted_at, 5);
#pragma once

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace careops {

class BusinessCalendar {
 public:
  BusinessCalendar() = default;
  explicit BusinessCalendar(std::vector<absl::CivilDay> holidays) : holidays_(holidays.begin(), holidays.end()) {}

  // Parses "2026-12-25,2027-01-01" (empty: no holidays); INVALID_ARGUMENT names
  // `field` and the bad date.
  static absl::StatusOr<BusinessCalendar> FromHolidayList(const std::string& text, const std::string& field);

  bool IsBusinessDay(absl::CivilDay day) const;
  // `days` >= 0; 0 returns `start` unchanged.
  absl::Time AddBusinessDays(absl::Time start, int days) const;

 private:
  std::set<absl::CivilDay> holidays_;
};

// Weekends only, no holidays.
absl::Time AddBusinessDays(absl::Time start, int days);

}  // namespace careops
