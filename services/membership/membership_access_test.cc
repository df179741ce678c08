// Walks every method of MembershipService against its rule table (membership_access.cc).
#include "services/membership/membership_access.h"

#include <gtest/gtest.h>

#include <set>

#include "careops/membership/v1/membership.grpc.pb.h"

namespace careops::membership {
namespace {

const google::protobuf::ServiceDescriptor& Service() { return *FindServiceDescriptor(v1::MembershipService::service_full_name()); }

bool Mutates(const google::protobuf::MethodDescriptor& m) {
  return m.input_type()->FindFieldByName("request_id") != nullptr;
}

Principal Person(const std::string& role) { return {"someone", role, "team"}; }
Principal ServiceIdentity(const std::string& name) { return {name, "service", "platform"}; }

// Methods that answer with member personal data.
const std::set<std::string> kPersonal = {"GetMember", "ListMembers", "BatchEnrollMembers", "EnrollMember",
                                         "GetMovement", "ListMovements", "RequestMovement", "ApplyMovement",
                                         "RejectMovement", "CheckEligibility"};

class MembershipAccessTest : public ::testing::Test {
 protected:
  Authorizer access_ = *Authorizer::Create(Service(), MembershipAccess());
};

TEST_F(MembershipAccessTest, EveryMethodHasARuleAndAnUnknownCallerIsDenied) {
  for (int i = 0; i < Service().method_count(); ++i) {
    const std::string& method = Service().method(i)->name();
    EXPECT_FALSE(access_.Check(method, Person("intern")).ok()) << method;
    EXPECT_FALSE(access_.Check(method, Person("service")).ok()) << method;
    EXPECT_FALSE(access_.Check(method, ServiceIdentity("svc-unknown")).ok()) << method;
  }
}

TEST_F(MembershipAccessTest, EachServiceWritesOnlyOnItsOwnPath) {
  const std::map<std::string, std::set<std::string>> writes = {
      {"svc-claims", {"RecordUtilization", "ReverseUtilization"}},
      {"svc-collections",
       {"SuspendClientAccount", "ReinstateClientAccount", "CancelClientAccount", "WithdrawScheduledStatusChange"}},
      {"svc-retention", {}},
      {"svc-reporting", {}},
      {"svc-membership", {}},
  };
  for (int i = 0; i < Service().method_count(); ++i) {
    const auto& m = *Service().method(i);
    if (!Mutates(m)) continue;
    for (const auto& [svc, allowed] : writes) {
      EXPECT_EQ(access_.Check(m.name(), ServiceIdentity(svc)).ok(), allowed.count(m.name()) > 0)
          << svc << " " << m.name();
    }
  }
}

TEST_F(MembershipAccessTest, OnlyClaimsRecordsUtilisationAndNoPersonDoes) {
  for (const char* method : {"RecordUtilization", "ReverseUtilization"}) {
    for (const char* role : {"specialist", "officer", "assistant_manager", "manager", "account_officer", "finance"}) {
      EXPECT_FALSE(access_.Check(method, Person(role)).ok()) << role << " " << method;
    }
    EXPECT_TRUE(access_.Check(method, ServiceIdentity("svc-claims")).ok());
  }
}

TEST_F(MembershipAccessTest, AnalystsReadSummariesNotPersonalData) {
  for (int i = 0; i < Service().method_count(); ++i) {
    const auto& m = *Service().method(i);
    if (Mutates(m) || kPersonal.count(m.name())) {
      EXPECT_FALSE(access_.Check(m.name(), Person("analyst")).ok()) << m.name();
      EXPECT_FALSE(access_.Check(m.name(), ServiceIdentity("svc-reporting")).ok()) << m.name();
      EXPECT_FALSE(access_.Check(m.name(), ServiceIdentity("svc-retention")).ok()) << m.name();
    }
  }
  EXPECT_TRUE(access_.Check("GetAccountSummary", Person("analyst")).ok());
  EXPECT_TRUE(access_.Check("GetAccountSummary", ServiceIdentity("svc-reporting")).ok());
  EXPECT_TRUE(access_.Check("GetAccountSummary", ServiceIdentity("svc-retention")).ok());
}

TEST_F(MembershipAccessTest, EditorsKeepMembershipAndRolesAreConfigurable) {
  for (int i = 0; i < Service().method_count(); ++i) {
    const auto& m = *Service().method(i);
    if (!Mutates(m) || m.name() == "RecordUtilization" || m.name() == "ReverseUtilization") continue;
    EXPECT_TRUE(access_.Check(m.name(), Person("account_officer")).ok()) << m.name();
    EXPECT_FALSE(access_.Check(m.name(), Person("specialist")).ok()) << m.name();
  }
  auto custom = *Authorizer::Create(Service(), MembershipAccess(), "EnrollMember=hr_clerk");
  EXPECT_TRUE(custom.Check("EnrollMember", Person("hr_clerk")).ok());
  EXPECT_FALSE(custom.Check("EnrollMember", Person("account_officer")).ok());
}

}  // namespace
}  // namespace careops::membership
