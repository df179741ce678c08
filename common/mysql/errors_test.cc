#include "common/mysql/errors.h"

#include <cppconn/exception.h>
#include <gtest/gtest.h>

namespace careops::mysql {
namespace {

TEST(MysqlErrorsTest, MapsServerErrorsToCanonicalCodes) {
  EXPECT_EQ(CodeForMysqlError(1062), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeForMysqlError(1213), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeForMysqlError(1205), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeForMysqlError(2006), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForMysqlError(2013), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForMysqlError(2002), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForMysqlError(1142), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeForMysqlError(1064), absl::StatusCode::kInternal);
  EXPECT_TRUE(IsConnectionLost(2013));
  EXPECT_FALSE(IsConnectionLost(1062));
}

TEST(MysqlErrorsTest, ExceptionMessageNamesTheOperation) {
  sql::SQLException dup("Duplicate entry 'x' for key 'PRIMARY'", "23000", 1062);
  absl::Status s = FromSqlException(dup, "insert member");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("insert member"), std::string::npos);
  sql::SQLException lost("Lost connection", "08S01", 0);
  EXPECT_EQ(FromSqlException(lost, "q").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace careops::mysql
