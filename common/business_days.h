// Business days and "today", in the business's own time zone.
//
// A BusinessCalendar counts Monday to Friday, minus configured holidays, in its
// time zone (--business_tz, an IANA name such as Asia/Manila; UTC by default).
// Dates that depend on the wall clock ("today", "a service date in the future",
// TAT due times) are the business's local dates, not UTC's: at 07:00 in Manila it
// is already tomorrow there while UTC still shows yesterday's date.
//
// DayOf(t) is the one way to ask which calendar day an instant falls on.
// AddBusinessDays(start, n) is the instant n business days after `start` at the
// same local time of day; work that arrives on a weekend or holiday counts from
// the start (00:00 local) of the next business day, so "1 business day" from
// Saturday afternoon is Tuesday 00:00 — the end of Monday.
//
//   BusinessCalendar calendar({absl::CivilDay(2026, 12, 25)}, manila);
//   absl::CivilDay today = calendar.DayOf(clock.Now());
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
  explicit BusinessCalendar(std::vector<absl::CivilDay> holidays, absl::TimeZone zone = absl::UTCTimeZone())
      : holidays_(holidays.begin(), holidays.end()), zone_(zone) {}

  // Parses "2026-12-25,2027-01-01" (empty: no holidays), dates local to `zone`;
  // INVALID_ARGUMENT names `field` and the bad date.
  static absl::StatusOr<BusinessCalendar> FromHolidayList(const std::string& text, const std::string& field,
                                                          absl::TimeZone zone = absl::UTCTimeZone());

  absl::TimeZone zone() const { return zone_; }
  // The business's calendar date at instant `t` (its "today" when t is now).
  absl::CivilDay DayOf(absl::Time t) const { return absl::ToCivilDay(t, zone_); }

  bool IsBusinessDay(absl::CivilDay day) const;
  // `days` >= 0; 0 returns `start` unchanged.
  absl::Time AddBusinessDays(absl::Time start, int days) const;

 private:
  std::set<absl::CivilDay> holidays_;
  absl::TimeZone zone_ = absl::UTCTimeZone();
};

// Weekends only, no holidays, UTC.
absl::Time AddBusinessDays(absl::Time start, int days);

}  // namespace careops
