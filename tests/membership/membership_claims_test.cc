// Claims screening over membership's coverage history, through the real
// careops-claims and careops-membership binaries: a claim is judged by the
// coverage period in force on its service date (the lapse between a termination
// and a reinstatement, the plan before a plan change takes effect).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "careops/claims/v1/claims.grpc.pb.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/proto_time.h"
#include "tests/support/harness.h"
#include "tests/support/rpc.h"
#include "tests/support/stack.h"

namespace careops {
namespace {

namespace mv1 = membership::v1;
namespace cv1 = claims::v1;

std::string NewId() {
  static std::atomic<int> n{0};
  return absl::StrCat("cov-", absl::ToUnixNanos(absl::Now()), "-", n++);
}

// Both services run on the wall clock in UTC (the default business time zone).
absl::CivilDay Today() { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()); }

class CoverageScreeningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new testing::MembershipAndClaims();
    ASSERT_TRUE(stack_->Serving());
    membership_ = mv1::MembershipService::NewStub(
                      grpc::CreateChannel(stack_->membership().address(), grpc::InsecureChannelCredentials()))
                      .release();
    claims_ = cv1::ClaimsService::NewStub(
                  grpc::CreateChannel(stack_->claims().address(), grpc::InsecureChannelCredentials()))
                  .release();
  }
  static void TearDownTestSuite() {
    delete claims_;
    delete membership_;
    delete stack_;
  }

  // Requests and applies a movement; the first status that is not OK.
  static grpc::Status Move(const testing::CorporateClient& client, mv1::MovementType type, absl::CivilDay day,
                           const std::string& new_plan_id = "") {
    mv1::RequestMovementRequest req;
    req.set_request_id(NewId());
    req.set_account_id(client.account_id);
    req.set_type(type);
    req.set_member_id(client.member_ids[0]);
    req.set_new_plan_id(new_plan_id);
    *req.mutable_effective_date() = ToProto(day);
    mv1::Movement mv;
    grpc::Status s = membership_->RequestMovement(testing::BearerContext("dev-account-officer").get(), req, &mv);
    if (!s.ok()) return s;
    mv1::ApplyMovementRequest apply;
    apply.set_request_id(NewId());
    apply.set_movement_id(mv.movement_id());
    apply.set_etag(mv.etag());
    return membership_->ApplyMovement(testing::BearerContext("dev-account-officer").get(), apply, &mv);
  }

  static cv1::Claim Submit(const std::string& member_id, absl::CivilDay service_date, int64_t amount_minor) {
    cv1::SubmitClaimRequest req;
    req.set_request_id(NewId());
    req.set_type(cv1::CLAIM_TYPE_CLAIM);
    req.set_member_id(member_id);
    req.set_benefit_code("OUTPATIENT");
    *req.mutable_service_date() = ToProto(service_date);
    req.set_provider_id(absl::StrCat("PROV-", NewId()));
    *req.mutable_amount_claimed() = testing::Php(amount_minor);
    req.set_channel(cv1::CHANNEL_PORTAL);
    cv1::Claim claim;
    grpc::Status s = claims_->SubmitClaim(testing::BearerContext("dev-specialist").get(), req, &claim);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return claim;
  }

  static testing::MembershipAndClaims* stack_;
  static mv1::MembershipService::Stub* membership_;
  static cv1::ClaimsService::Stub* claims_;
};
testing::MembershipAndClaims* CoverageScreeningTest::stack_ = nullptr;
mv1::MembershipService::Stub* CoverageScreeningTest::membership_ = nullptr;
cv1::ClaimsService::Stub* CoverageScreeningTest::claims_ = nullptr;

TEST_F(CoverageScreeningTest, AClaimForAServiceInTheLapseIsRejectedMemberNotActive) {
  testing::CorporateClient client =
      testing::NewCorporateClient(*membership_, {{"OUTPATIENT", "outpatient", 0, 0}}, 10000000);
  const absl::CivilDay today = Today();
  ASSERT_TRUE(Move(client, mv1::MOVEMENT_TYPE_TERMINATION, today - 40).ok());
  ASSERT_TRUE(Move(client, mv1::MOVEMENT_TYPE_REINSTATEMENT, today - 20).ok());

  cv1::Claim in_lapse = Submit(client.member_ids[0], today - 30, 10000);
  EXPECT_EQ(in_lapse.status(), cv1::CLAIM_STATUS_REJECTED);
  ASSERT_EQ(in_lapse.rejection_reasons_size(), 1);
  EXPECT_EQ(in_lapse.rejection_reasons(0).code(), "MEMBER_NOT_ACTIVE");
  EXPECT_EQ(Submit(client.member_ids[0], today - 41, 10000).status(), cv1::CLAIM_STATUS_SUBMITTED);
  EXPECT_EQ(Submit(client.member_ids[0], today - 20, 10000).status(), cv1::CLAIM_STATUS_SUBMITTED);
}

TEST_F(CoverageScreeningTest, AClaimIsScreenedOnThePlanInForceOnItsServiceDate) {
  testing::CorporateClient client =
      testing::NewCorporateClient(*membership_, {{"OUTPATIENT", "outpatient", 0, 30000}}, 10000000);
  mv1::CreatePlanRequest plan;
  plan.set_request_id(NewId());
  plan.mutable_plan()->set_account_id(client.account_id);
  plan.mutable_plan()->set_name("Platinum");
  plan.mutable_plan()->set_currency_code("PHP");
  mv1::Benefit* b = plan.mutable_plan()->add_benefits();
  b->set_code("OUTPATIENT");
  b->set_category("outpatient");
  *b->mutable_annual_limit() = testing::Php(10000000);
  *b->mutable_per_visit_cap() = testing::Php(80000);
  mv1::Plan platinum;
  ASSERT_TRUE(membership_->CreatePlan(testing::BearerContext("dev-account-officer").get(), plan, &platinum).ok());
  const absl::CivilDay today = Today();
  ASSERT_TRUE(Move(client, mv1::MOVEMENT_TYPE_PLAN_CHANGE, today - 5, platinum.plan_id()).ok());

  cv1::Claim before = Submit(client.member_ids[0], today - 8, 100000);
  EXPECT_EQ(before.status(), cv1::CLAIM_STATUS_SUBMITTED);
  EXPECT_EQ(before.plan_id(), client.plan_id);
  EXPECT_EQ(before.per_visit_cap().amount_minor(), 30000);
  EXPECT_EQ(before.payable_amount().amount_minor(), 30000);
  cv1::Claim after = Submit(client.member_ids[0], today - 2, 100000);
  EXPECT_EQ(after.plan_id(), platinum.plan_id());
  EXPECT_EQ(after.per_visit_cap().amount_minor(), 80000);
  EXPECT_EQ(after.payable_amount().amount_minor(), 80000);

  // A change effective in ten days leaves today's cap in force.
  testing::CorporateClient next = testing::NewCorporateClient(*membership_, {{"OUTPATIENT", "outpatient", 0, 30000}},
                                                              10000000);
  plan.set_request_id(NewId());
  plan.mutable_plan()->set_account_id(next.account_id);
  mv1::Plan next_platinum;
  ASSERT_TRUE(membership_->CreatePlan(testing::BearerContext("dev-account-officer").get(), plan, &next_platinum).ok());
  ASSERT_TRUE(Move(next, mv1::MOVEMENT_TYPE_PLAN_CHANGE, today + 10, next_platinum.plan_id()).ok());
  cv1::Claim now = Submit(next.member_ids[0], today, 100000);
  EXPECT_EQ(now.plan_id(), next.plan_id);
  EXPECT_EQ(now.per_visit_cap().amount_minor(), 30000);
}

}  // namespace
}  // namespace careops
