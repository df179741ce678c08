#include "common/business_days.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/text.h"

namespace careops {

absl::StatusOr<BusinessCalendar> BusinessCalendar::FromHolidayList(const std::string& text,
                                                                   const std::string& field) {
  std::vector<absl::CivilDay> days;
  for (std::string_view part : SplitAny(text, ",", true)) {
    absl::CivilDay day;
    std::string_view trimmed = StripSpace(part);
    if (!absl::ParseCivilTime(Abs(trimmed), &day)) {
      return InvalidArgument(field, absl::StrCat("'", Abs(trimmed), "' is not a date (YYYY-MM-DD)"));
    }
    days.push_back(day);
  }
  return BusinessCalendar(std::move(days));
}

bool BusinessCalendar::IsBusinessDay(absl::CivilDay day) const {
  absl::Weekday w = absl::GetWeekday(day);
  if (w == absl::Weekday::saturday || w == absl::Weekday::sunday) return false;
  return holidays_.count(day) == 0;
}

absl::Time BusinessCalendar::AddBusinessDays(absl::Time start, int days) const {
  if (days <= 0) return start;
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::CivilDay day(absl::ToCivilSecond(start, utc));
  absl::Duration time_of_day = start - absl::FromCivil(day, utc);
  if (!IsBusinessDay(day)) {
    while (!IsBusinessDay(day)) ++day;
    time_of_day = absl::ZeroDuration();
  }
  for (int added = 0; added < days;) {
    ++day;
    if (IsBusinessDay(day)) ++added;
  }
  return absl::FromCivil(day, utc) + time_of_day;
}

absl::Time AddBusinessDays(absl::Time start, int days) {
  static const BusinessCalendar kWeekdays;
  return kWeekdays.AddBusinessDays(start, days);
}

}  // namespace careops
