// Conversions between careops' wire types (careops.common.v1.Money/Date,
// google.protobuf.Timestamp) and the C++ types the domain code uses.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "careops/common/v1/types.pb.h"
#include "common/money.h"

namespace careops {

Money FromProto(const common::v1::Money& m);
common::v1::Money ToProto(const Money& m);

// INVALID_ARGUMENT naming `field` when the date is not a real calendar date.
absl::StatusOr<absl::CivilDay> FromProto(const common::v1::Date& d, std::string_view field);
common::v1::Date ToProto(absl::CivilDay day);
// The UTC calendar date of `now`.
common::v1::Date TodayUtc(absl::Time now);

absl::Time FromProto(const google::protobuf::Timestamp& t);
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);

// MySQL DATE / DATETIME(6) text, UTC.
std::string ToSqlDate(absl::CivilDay day);
std::string ToSqlDatetime(absl::Time t);
absl::StatusOr<absl::CivilDay> ParseSqlDate(std::string_view text);
absl::StatusOr<absl::Time> ParseSqlDatetime(std::string_view text);

}  // namespace careops
