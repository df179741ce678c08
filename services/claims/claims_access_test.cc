// Walks every method of ClaimsService against its rule table (claims_access.cc).
#include "services/claims/claims_access.h"

#include <gtest/gtest.h>

#include "careops/claims/v1/claims.grpc.pb.h"

namespace careops::claims {
namespace {

const google::protobuf::ServiceDescriptor& Service() { return *FindServiceDescriptor(v1::ClaimsService::service_full_name()); }

// A method writes when its request carries a request_id (the contract convention).
bool Mutates(const google::protobuf::MethodDescriptor& m) {
  return m.input_type()->FindFieldByName("request_id") != nullptr;
}

Principal Person(const std::string& role) { return {"someone", role, "team"}; }
Principal ServiceIdentity(const std::string& name) { return {name, "service", "platform"}; }

class ClaimsAccessTest : public ::testing::Test {
 protected:
  AuthorityChain chain_ = *AuthorityChain::Parse(AuthorityChain::DefaultText());
  Authorizer access_ = *Authorizer::Create(Service(), ClaimsAccess(chain_));
};

TEST_F(ClaimsAccessTest, EveryMethodHasARuleAndAnUnknownCallerIsDenied) {
  ASSERT_TRUE(Authorizer::Create(Service(), ClaimsAccess(chain_)).ok());
  for (int i = 0; i < Service().method_count(); ++i) {
    const std::string& method = Service().method(i)->name();
    EXPECT_EQ(access_.Check(method, Person("intern")).code(), absl::StatusCode::kPermissionDenied) << method;
    EXPECT_EQ(access_.Check(method, ServiceIdentity("svc-unknown")).code(), absl::StatusCode::kPermissionDenied)
        << method;
    // The shared role "service" admits nobody by itself.
    EXPECT_EQ(access_.Check(method, Person("service")).code(), absl::StatusCode::kPermissionDenied) << method;
  }
}

TEST_F(ClaimsAccessTest, NoOtherServiceWritesAndAnalystsReadNoClaim) {
  for (int i = 0; i < Service().method_count(); ++i) {
    const auto& m = *Service().method(i);
    for (const char* svc : {"svc-membership", "svc-claims", "svc-collections", "svc-retention", "svc-reporting"}) {
      if (Mutates(m)) {
        EXPECT_FALSE(access_.Check(m.name(), ServiceIdentity(svc)).ok()) << svc << " " << m.name();
      }
    }
    // Claims carry diagnosis codes: analysts and account managers read none of them.
    EXPECT_FALSE(access_.Check(m.name(), Person("analyst")).ok()) << m.name();
    EXPECT_FALSE(access_.Check(m.name(), Person("account_manager")).ok()) << m.name();
  }
  EXPECT_TRUE(access_.Check("StreamBordereau", ServiceIdentity("svc-reporting")).ok());
  EXPECT_FALSE(access_.Check("GetClaim", ServiceIdentity("svc-reporting")).ok());
}

TEST_F(ClaimsAccessTest, TheChainWorksClaimsAndOnlyFinanceSettles) {
  for (int i = 0; i < Service().method_count(); ++i) {
    const auto& m = *Service().method(i);
    if (!Mutates(m) || m.name() == "SettleClaim") continue;
    for (const AuthorityLevel& level : chain_.levels()) {
      EXPECT_TRUE(access_.Check(m.name(), Person(level.role)).ok()) << level.role << " " << m.name();
    }
    EXPECT_FALSE(access_.Check(m.name(), Person("finance")).ok()) << m.name();
  }
  EXPECT_TRUE(access_.Check("SettleClaim", Person("finance")).ok());
  for (const AuthorityLevel& level : chain_.levels()) {
    EXPECT_FALSE(access_.Check("SettleClaim", Person(level.role)).ok()) << level.role;
  }
  EXPECT_TRUE(access_.Check("GetClaim", Person("finance")).ok());
  // The breach scan marks claims: a service identity or operations, no claims worker (issue 10).
  EXPECT_FALSE(access_.Check("RunBreachScan", Person("specialist")).ok());
  EXPECT_FALSE(access_.Check("RunBreachScan", Person("manager")).ok());
  EXPECT_TRUE(access_.Check("RunBreachScan", Person("operations")).ok());
  EXPECT_TRUE(access_.Check("RunBreachScan", ServiceIdentity("svc-claims")).ok());
  EXPECT_FALSE(access_.Check("RunBreachScan", ServiceIdentity("svc-reporting")).ok());
}

TEST_F(ClaimsAccessTest, AConfiguredChainDecidesWhoWorksClaims) {
  auto chain = *AuthorityChain::Parse("clerk:PHP=100;chief:unlimited");
  auto access = *Authorizer::Create(Service(), ClaimsAccess(chain));
  EXPECT_TRUE(access.Check("ApproveClaim", Person("clerk")).ok());
  EXPECT_FALSE(access.Check("ApproveClaim", Person("specialist")).ok());
}

}  // namespace
}  // namespace careops::claims
