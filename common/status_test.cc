#include "common/status.h"

#include <gtest/gtest.h>

namespace careops {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("x", "must be even");
  return x / 2;
}

absl::Status Quarter(int x, int* out) {
  CAREOPS_ASSIGN_OR_RETURN(int h, Half(x));
  CAREOPS_ASSIGN_OR_RETURN(*out, Half(h));
  return absl::OkStatus();
}

TEST(StatusTest, GrpcRoundTripKeepsCodeAndMessage) {
  for (auto code : {absl::StatusCode::kNotFound, absl::StatusCode::kAborted, absl::StatusCode::kUnavailable,
                    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kUnauthenticated}) {
    absl::Status s(code, "why");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "why");
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(StatusTest, InvalidArgumentNamesFieldAndRule) {
  absl::Status s = InvalidArgument("page_size", "must be between 1 and 500");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "page_size: must be between 1 and 500");
}

TEST(StatusTest, MacrosPropagateFirstError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(Quarter(6, &out).code(), absl::StatusCode::kInvalidArgument);  // 3 is odd
  EXPECT_EQ(Annotate(absl::NotFoundError("x"), "load").message(), "load: x");
}

}  // namespace
}  // namespace careops
