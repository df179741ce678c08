// Conversions between careops' wire types (careops.common.v1.Money/Date,
// google.protobuf.Timestamp) and the C++ types the domain code uses.
//
// Whatever a caller sends goes through the validating forms (the ones taking a
// `field`): they answer INVALID_ARGUMENT naming the field, so a bad date or time
// never reaches a query. The others convert what the service itself produced.
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
// The same for a required date: "is required" when `present` is false.
absl::StatusOr<absl::CivilDay> RequireDate(bool present, const common::v1::Date& d, std::string_view field);
common::v1::Date ToProto(absl::CivilDay day);
// The UTC calendar date of `now`.
common::v1::Date TodayUtc(absl::Time now);

// A request's timestamp: INVALID_ARGUMENT naming `field` unless it lies in
// 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z with nanos 0..999,999,999
// (the range google.protobuf.Timestamp defines and DATETIME(6) can hold).
absl::StatusOr<absl::Time> FromProto(const google::protobuf::Timestamp& t, std::string_view field);
// A timestamp the service produced itself (already in range).
absl::Time FromProto(const google::protobuf::Timestamp& t);
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);

// MySQL DATE / DATETIME(6) text, UTC.
std::string ToSqlDate(absl::CivilDay day);
std::string ToSqlDatetime(absl::Time t);
absl::StatusOr<absl::CivilDay> ParseSqlDate(std::string_view text);
absl::StatusOr<absl::Time> ParseSqlDatetime(std::string_view text);

}  // namespace careops
