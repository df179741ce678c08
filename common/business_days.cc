#include "common/business_days.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/text.h"

namespace careops {

absl::StatusOr<BusinessCalendar> BusinessCalendar::FromHolidayList(const std::string& text,
                                                                   const std::string& field,
                                                                   absl::TimeZone zone) {
  std::vector<absl::CivilDay> days;
  for (std::string_view part : SplitAny(text, ",", true)) {
    absl::CivilDay day;
    std::string_view trimmed = StripSpace(part);
    if (!absl::ParseCivilTime(Abs(trimmed), &day)) {
      return InvalidArgument(field, absl::StrCat("'", Abs(trimmed), "' is not a date (YYYY-MM-DD)"));
    }
    days.push_back(day);
  }
  return BusinessCalendar(std::move(days), zone);
}

bool BusinessCalendar::IsBusinessDay(absl::CivilDay day) const {
  absl::Weekday w = absl::GetWeekday(day);
  if (w == absl::Weekday::saturday || w == absl::Weekday::sunday) return false;
  return holidays_.count(day) == 0;
}

absl::Time BusinessCalendar::AddBusinessDays(absl::Time start, int days) const {
  if (days <= 0) return start;
  // The local time of day is kept as a civil time, so a due time keeps its wall
  // clock reading across a daylight-saving change.
  const absl::CivilSecond local = absl::ToCivilSecond(start, zone_);
  absl::CivilDay day(local);
  int64_t seconds_into_day = local - absl::CivilSecond(day);
  const absl::Duration since_epoch = start - absl::UnixEpoch();
  absl::Duration subsecond = since_epoch - absl::Floor(since_epoch, absl::Seconds(1));
  if (!IsBusinessDay(day)) {
    while (!IsBusinessDay(day)) ++day;
    seconds_into_day = 0;
    subsecond = absl::ZeroDuration();
  }
  for (int added = 0; added < days;) {
    ++day;
    if (IsBusinessDay(day)) ++added;
  }
  return absl::FromCivil(absl::CivilSecond(day) + seconds_into_day, zone_) + subsecond;
}

absl::Time AddBusinessDays(absl::Time start, int days) {
  static const BusinessCalendar kWeekdays;
  return kWeekdays.AddBusinessDays(start, days);
}

}  // namespace careops
