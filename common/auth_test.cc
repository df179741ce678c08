#include "common/auth.h"

#include <grpcpp/server_context.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

namespace careops {
namespace {

TEST(AuthTest, ParsesTokenFileAndLooksUpPrincipals) {
  auto a = Authenticator::FromText(
      "# token user role team\n"
      "tok-1  ana.reyes  specialist  claims-a\n"
      "\n"
      "tok-2\tsvc-claims\tservice\tplatform\n");
  ASSERT_TRUE(a.ok()) << a.status();
  auto p = a->Lookup("tok-1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->user, "ana.reyes");
  EXPECT_EQ(p->role, "specialist");
  EXPECT_EQ(p->team, "claims-a");
  EXPECT_EQ(a->Lookup("tok-2")->role, "service");
  EXPECT_EQ(a->Lookup("nope").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthTest, RejectsMalformedLines) {
  auto bad = Authenticator::FromText("tok user role\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("line 1"), std::string::npos);
  auto dup = Authenticator::FromText("t u r x\nt v r x\n");
  EXPECT_NE(dup.status().message().find("line 2: duplicate token"), std::string::npos);
  EXPECT_EQ(Authenticator::FromFile("/nonexistent/tokens").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace careops

namespace careops {
namespace {

TEST(AuthTest, BearerSchemeIsCaseInsensitive) {
  auto a = *Authenticator::FromText("tok-1 ana.reyes specialist claims-a\n");
  for (const char* header : {"Bearer tok-1", "bearer tok-1", "BEARER  tok-1", " Bearer\ttok-1 "}) {
    grpc::ServerContext ctx;
    grpc::testing::ServerContextTestSpouse spouse(&ctx);
    spouse.AddClientMetadata("authorization", header);
    auto p = a.Authenticate(ctx);
    ASSERT_TRUE(p.ok()) << header << ": " << p.status();
    EXPECT_EQ(p->user, "ana.reyes");
  }
  for (const char* header : {"Basic tok-1", "Bearertok-1", "Bearer", "tok-1"}) {
    grpc::ServerContext ctx;
    grpc::testing::ServerContextTestSpouse spouse(&ctx);
    spouse.AddClientMetadata("authorization", header);
    EXPECT_EQ(a.Authenticate(ctx).status().code(), absl::StatusCode::kUnauthenticated) << header;
  }
}

}  // namespace
}  // namespace careops
