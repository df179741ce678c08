#include "common/rpc.h"

#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

#include "careops/echo/v1/echo.grpc.pb.h"

namespace careops {
namespace {

class RpcKitTest : public ::testing::Test {
 protected:
  struct Ctx {
    grpc::ServerContext ctx;
    grpc::testing::ServerContextTestSpouse spouse{&ctx};
    explicit Ctx(const std::string& token) {
      if (!token.empty()) spouse.AddClientMetadata("authorization", "Bearer " + token);
    }
  };

  Authenticator authn_ = *Authenticator::FromText("t-analyst hana analyst reporting\nt-specialist ana specialist claims\n");
  Authorizer authz_ = *Authorizer::Create(echo::v1::EchoService::service_full_name(),
                                          {{"Echo", {.roles = {"analyst"}, .services = {}}}});
  // Nanoseconds on purpose: stores keep microseconds.
  FakeClock clock_{absl::FromUnixNanos(1'790'000'000'123'456'789)};
  RpcKit rpc_{authn_, authz_, clock_};
  echo::v1::EchoRequest request_;
  echo::v1::EchoResponse response_;
};

TEST_F(RpcKitTest, BodyRunsOnlyForAnAuthorizedCaller) {
  int runs = 0;
  auto body = [&](const careops::Call&) {
    ++runs;
    return absl::OkStatus();
  };
  Ctx none("");
  EXPECT_EQ(rpc_.Read(&none.ctx, "Echo", body).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Ctx denied("t-specialist");
  grpc::Status s = rpc_.Read(&denied.ctx, "Echo", body);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "role 'specialist' may not call Echo");
  Ctx unknown_method("t-analyst");
  EXPECT_EQ(rpc_.Read(&unknown_method.ctx, "Shout", body).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(runs, 0);
  Ctx ok("t-analyst");
  EXPECT_TRUE(rpc_.Read(&ok.ctx, "Echo", body).ok());
  EXPECT_EQ(runs, 1);
}

TEST_F(RpcKitTest, WriteChecksRequestIdBeforeTheBodyAndHandsAMutationContext) {
  int runs = 0;
  MutationContext seen;
  auto body = [&](const MutationContext& m) {
    ++runs;
    seen = m;
    return absl::OkStatus();
  };
  Ctx bad("t-analyst");
  grpc::Status s = rpc_.Write(&bad.ctx, "Echo", "has space", request_, &response_, body);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("request_id:", 0), 0u) << s.error_message();
  Ctx empty("t-analyst");
  EXPECT_EQ(rpc_.Write(&empty.ctx, "Echo", "", request_, &response_, body).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(runs, 0);
  Ctx optional("t-analyst");
  EXPECT_TRUE(
      rpc_.Write(&optional.ctx, "Echo", "", request_, &response_, RpcKit::RequestIdPolicy::kOptional, body).ok());
  Ctx ok("t-analyst");
  EXPECT_TRUE(rpc_.Write(&ok.ctx, "Echo", "r-1", request_, &response_, body).ok());
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(seen.caller.user, "hana");
  EXPECT_EQ(seen.method, "Echo");
  EXPECT_EQ(seen.request_id, "r-1");
  EXPECT_EQ(seen.request, &request_);
  EXPECT_EQ(seen.response, &response_);
  // `now` at the stores' precision, so a write's answer equals what is read back.
  EXPECT_EQ(absl::ToUnixNanos(seen.now), 1'790'000'000'123'456'000);
}

TEST_F(RpcKitTest, InternalDetailsNeverReachTheClient) {
  Ctx call("t-analyst");
  grpc::Status s = rpc_.Read(&call.ctx, "Echo", [](const careops::Call&) {
    return absl::InternalError("insert claim: Duplicate entry 'x' for key 'PRIMARY' (mysql error 1062)");
  });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message().find("mysql"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find("PRIMARY"), std::string::npos) << s.error_message();
  Ctx other("t-analyst");
  grpc::Status kept = rpc_.Read(&other.ctx, "Echo", [](const careops::Call&) {
    return absl::FailedPreconditionError("status: claim is CLOSED");
  });
  EXPECT_EQ(kept.error_message(), "status: claim is CLOSED");
}

}  // namespace
}  // namespace careops
