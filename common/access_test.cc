#include "common/access.h"

#include <gtest/gtest.h>

#include "careops/echo/v1/echo.grpc.pb.h"

namespace careops {
namespace {

const google::protobuf::ServiceDescriptor& Echo() { return *FindServiceDescriptor(echo::v1::EchoService::service_full_name()); }

TEST(AuthorizerTest, EveryMethodNeedsARule) {
  auto missing = Authorizer::Create(Echo(), {});
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("no rule for method(s) Echo"), std::string::npos) << missing.status();

  auto unknown = Authorizer::Create(Echo(), {{"Echo", {.roles = {"analyst"}}}, {"Shout", {}}});
  ASSERT_EQ(unknown.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unknown.status().message().find("unknown method(s) Shout"), std::string::npos) << unknown.status();
}

TEST(AuthorizerTest, DeniesByDefaultAndChecksServicesByName) {
  auto a = Authorizer::Create(Echo(), {{"Echo", {.roles = {"analyst"}, .services = {"svc-claims"}}}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->Check("Echo", {"hana.go", "analyst", "reporting"}).ok());
  EXPECT_TRUE(a->Check("Echo", {"svc-claims", "service", "platform"}).ok());

  absl::Status person = a->Check("Echo", {"ana.reyes", "specialist", "claims-a"});
  EXPECT_EQ(person.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(person.message(), "role 'specialist' may not call Echo");
  // A service is admitted by its identity, never by the shared role.
  absl::Status other = a->Check("Echo", {"svc-reporting", "service", "platform"});
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(other.message(), "service identity 'svc-reporting' may not call Echo");
  // A person whose user name looks like a service identity is still a person.
  EXPECT_EQ(a->Check("Echo", {"svc-claims", "specialist", "x"}).code(), absl::StatusCode::kPermissionDenied);
  // A method the table does not know is denied, not allowed.
  EXPECT_EQ(a->Check("Shout", {"hana.go", "analyst", "reporting"}).code(), absl::StatusCode::kPermissionDenied);
}

TEST(AuthorizerTest, RoleOverridesReplacePersonRolesOnly) {
  auto a = Authorizer::Create(Echo(), {{"Echo", {.roles = {"analyst"}, .services = {"svc-claims"}}}},
                              " Echo = finance, manager ");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->Check("Echo", {"hana.go", "analyst", "reporting"}).ok());
  EXPECT_TRUE(a->Check("Echo", {"fin", "finance", "x"}).ok());
  EXPECT_TRUE(a->Check("Echo", {"dan.uy", "manager", "x"}).ok());
  EXPECT_TRUE(a->Check("Echo", {"svc-claims", "service", "platform"}).ok());

  EXPECT_EQ(Authorizer::Create(Echo(), {{"Echo", {}}}, "Shout=analyst").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Authorizer::Create(Echo(), {{"Echo", {}}}, "Echo").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Authorizer::Create(Echo(), {{"Echo", {}}}, "Echo=service").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace careops
