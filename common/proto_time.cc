#include "common/proto_time.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/text.h"

namespace careops {

Money FromProto(const common::v1::Money& m) { return Money(m.currency_code(), m.amount_minor()); }

common::v1::Money ToProto(const Money& m) {
  common::v1::Money out;
  out.set_currency_code(m.currency());
  out.set_amount_minor(m.minor());
  return out;
}

absl::StatusOr<absl::CivilDay> FromProto(const common::v1::Date& d, std::string_view field) {
  if (d.year() < 1 || d.year() > 9999 || d.month() < 1 || d.month() > 12 || d.day() < 1 || d.day() > 31) {
    return InvalidArgument(field, absl::StrFormat("%04d-%02d-%02d is not a calendar date (year 1..9999, month 1..12, day 1..31)",
                                                  d.year(), d.month(), d.day()));
  }
  absl::CivilDay day(d.year(), d.month(), d.day());
  if (day.year() != d.year() || day.month() != d.month() || day.day() != d.day()) {
    return InvalidArgument(field, absl::StrFormat("%04d-%02d-%02d does not exist", d.year(), d.month(), d.day()));
  }
  return day;
}

absl::StatusOr<absl::CivilDay> RequireDate(bool present, const common::v1::Date& d, std::string_view field) {
  if (!present) return InvalidArgument(field, "is required");
  return FromProto(d, field);
}

common::v1::Date ToProto(absl::CivilDay day) {
  common::v1::Date out;
  out.set_year(static_cast<int32_t>(day.year()));
  out.set_month(day.month());
  out.set_day(day.day());
  return out;
}

common::v1::Date TodayUtc(absl::Time now) { return ToProto(absl::ToCivilDay(now, absl::UTCTimeZone())); }

absl::StatusOr<absl::Time> FromProto(const google::protobuf::Timestamp& t, std::string_view field) {
  constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (t.nanos() < 0 || t.nanos() > 999999999) {
    return InvalidArgument(field, "nanos must be between 0 and 999999999");
  }
  if (t.seconds() < kMinSeconds || t.seconds() > kMaxSeconds) {
    return InvalidArgument(field, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
  }
  return FromProto(t);
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  int64_t nanos = absl::ToUnixNanos(t);
  int64_t secs = nanos / 1000000000;
  int64_t rem = nanos % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    --secs;
  }
  out.set_seconds(secs);
  out.set_nanos(static_cast<int32_t>(rem));
  return out;
}

std::string ToSqlDate(absl::CivilDay day) { return absl::FormatCivilTime(day); }

std::string ToSqlDatetime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::CivilDay> ParseSqlDate(std::string_view text) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(Abs(text), &day)) return absl::InternalError(absl::StrCat("bad SQL date '", Abs(text), "'"));
  return day;
}

absl::StatusOr<absl::Time> ParseSqlDatetime(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S", std::string(text), absl::UTCTimeZone(), &t, &err)) {
    return absl::InternalError(absl::StrCat("bad SQL datetime '", Abs(text), "': ", err));
  }
  return t;
}

}  // namespace careops
