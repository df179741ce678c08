// A write's answer is the resource as stored: for every write of membership and
// claims that returns a resource, the answer equals the Get that follows, field by
// field (timestamps included: both are kept and returned at microseconds).
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "careops/claims/v1/claims.grpc.pb.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/proto_time.h"
#include "tests/support/harness.h"
#include "tests/support/stack.h"
#include "tests/support/rpc.h"

namespace careops {
namespace {

namespace cv1 = ::careops::claims::v1;
namespace mv1 = ::careops::membership::v1;
using testing::BearerContext;

int seq = 0;
std::string Id(const std::string& what) { return absl::StrCat(what, "-", ++seq, "-", absl::ToUnixMicros(absl::Now())); }

::testing::AssertionResult SameMessage(const google::protobuf::Message& answer,
                                       const google::protobuf::Message& read) {
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  if (d.Compare(answer, read)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << answer.GetDescriptor()->name() << " answer differs from the read: " << diff;
}

class WriteAnswerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new testing::MembershipAndClaims();
    ASSERT_TRUE(stack_->Serving());
  }
  static void TearDownTestSuite() { delete stack_; }
  void SetUp() override {
    m_ = mv1::MembershipService::NewStub(grpc::CreateChannel(stack_->membership().address(), grpc::InsecureChannelCredentials()));
    c_ = cv1::ClaimsService::NewStub(grpc::CreateChannel(stack_->claims().address(), grpc::InsecureChannelCredentials()));
  }

  mv1::ClientAccount GetAccount(const std::string& id) {
    mv1::GetClientAccountRequest req;
    req.set_account_id(id);
    mv1::ClientAccount out;
    EXPECT_TRUE(m_->GetClientAccount(BearerContext("dev-account-officer").get(), req, &out).ok());
    return out;
  }
  cv1::Claim GetClaim(const std::string& id) {
    cv1::GetClaimRequest req;
    req.set_claim_id(id);
    cv1::Claim out;
    EXPECT_TRUE(c_->GetClaim(BearerContext("dev-specialist").get(), req, &out).ok());
    return out;
  }

  static testing::MembershipAndClaims* stack_;
  std::unique_ptr<mv1::MembershipService::Stub> m_;
  std::unique_ptr<cv1::ClaimsService::Stub> c_;
};

testing::MembershipAndClaims* WriteAnswerTest::stack_ = nullptr;

TEST_F(WriteAnswerTest, EveryMembershipAndClaimsWriteAnswersWhatAGetReads) {
  const std::string officer = "dev-account-officer";
  // Account: create, update, suspend, reinstate.
  mv1::CreateClientAccountRequest create;
  create.set_request_id(Id("acct"));
  create.mutable_account()->set_name("Answer Corp");
  create.mutable_account()->set_type(mv1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  create.mutable_account()->set_account_officer("eva.tan");
  *create.mutable_account()->mutable_start_date() = testing::DateOf(2024, 1, 1);
  mv1::ClientAccount account;
  ASSERT_TRUE(m_->CreateClientAccount(BearerContext(officer).get(), create, &account).ok());
  EXPECT_TRUE(SameMessage(account, GetAccount(account.account_id())));

  mv1::UpdateClientAccountRequest update;
  update.set_request_id(Id("upd"));
  update.mutable_account()->set_account_id(account.account_id());
  update.mutable_account()->set_etag(account.etag());
  update.mutable_account()->set_contact_email("billing@answer.example");
  update.mutable_update_mask()->add_paths("contact_email");
  ASSERT_TRUE(m_->UpdateClientAccount(BearerContext(officer).get(), update, &account).ok());
  EXPECT_TRUE(SameMessage(account, GetAccount(account.account_id())));

  mv1::SuspendClientAccountRequest suspend;
  suspend.set_request_id(Id("susp"));
  suspend.set_account_id(account.account_id());
  suspend.set_etag(account.etag());
  suspend.set_reason("audit");
  *suspend.mutable_effective_date() = testing::DateOf(2024, 6, 1);
  ASSERT_TRUE(m_->SuspendClientAccount(BearerContext(officer).get(), suspend, &account).ok());
  EXPECT_TRUE(SameMessage(account, GetAccount(account.account_id())));

  mv1::ReinstateClientAccountRequest reinstate;
  reinstate.set_request_id(Id("rein"));
  reinstate.set_account_id(account.account_id());
  reinstate.set_etag(account.etag());
  reinstate.set_reason("audit done");
  *reinstate.mutable_effective_date() = testing::DateOf(2024, 6, 2);
  ASSERT_TRUE(m_->ReinstateClientAccount(BearerContext(officer).get(), reinstate, &account).ok());
  EXPECT_TRUE(SameMessage(account, GetAccount(account.account_id())));

  // Plan: create, revise.
  mv1::CreatePlanRequest plan_req;
  plan_req.set_request_id(Id("plan"));
  plan_req.mutable_plan()->set_account_id(account.account_id());
  plan_req.mutable_plan()->set_name("Gold");
  plan_req.mutable_plan()->set_currency_code("PHP");
  mv1::Benefit* b = plan_req.mutable_plan()->add_benefits();
  b->set_code("OUTPATIENT");
  b->set_category("outpatient");
  *b->mutable_annual_limit() = testing::Php(100000000);
  mv1::Plan plan, read_plan;
  ASSERT_TRUE(m_->CreatePlan(BearerContext(officer).get(), plan_req, &plan).ok());
  mv1::GetPlanRequest get_plan;
  get_plan.set_plan_id(plan.plan_id());
  ASSERT_TRUE(m_->GetPlan(BearerContext(officer).get(), get_plan, &read_plan).ok());
  EXPECT_TRUE(SameMessage(plan, read_plan));

  // Member: enroll.
  mv1::EnrollMemberRequest enroll;
  enroll.set_request_id(Id("enr"));
  enroll.set_account_id(account.account_id());
  enroll.set_plan_id(plan.plan_id());
  enroll.set_external_ref("EMP-ANSWER-1");
  enroll.mutable_person()->set_given_name("Rosa");
  enroll.mutable_person()->set_family_name("Santos");
  *enroll.mutable_person()->mutable_birth_date() = testing::DateOf(1990, 5, 17);
  *enroll.mutable_effective_date() = testing::DateOf(2024, 1, 1);
  mv1::Member member, read_member;
  ASSERT_TRUE(m_->EnrollMember(BearerContext(officer).get(), enroll, &member).ok());
  mv1::GetMemberRequest get_member;
  get_member.set_member_id(member.member_id());
  ASSERT_TRUE(m_->GetMember(BearerContext(officer).get(), get_member, &read_member).ok());
  EXPECT_TRUE(SameMessage(member, read_member));

  // Movement: request, apply.
  mv1::RequestMovementRequest move;
  move.set_request_id(Id("mov"));
  move.set_account_id(account.account_id());
  move.set_member_id(member.member_id());
  move.set_type(mv1::MOVEMENT_TYPE_TERMINATION);
  *move.mutable_effective_date() = testing::DateOf(2030, 1, 31);
  mv1::Movement movement, read_movement;
  ASSERT_TRUE(m_->RequestMovement(BearerContext(officer).get(), move, &movement).ok());
  mv1::GetMovementRequest get_movement;
  get_movement.set_movement_id(movement.movement_id());
  ASSERT_TRUE(m_->GetMovement(BearerContext(officer).get(), get_movement, &read_movement).ok());
  EXPECT_TRUE(SameMessage(movement, read_movement));

  // Claims: submit, assign, review, approve, settle.
  cv1::SubmitClaimRequest submit;
  submit.set_request_id(Id("sub"));
  submit.set_type(cv1::CLAIM_TYPE_CLAIM);
  submit.set_member_id(member.member_id());
  submit.set_benefit_code("OUTPATIENT");
  *submit.mutable_service_date() = ToProto(absl::ToCivilDay(absl::Now() - absl::Hours(48), absl::UTCTimeZone()));
  submit.set_provider_id("PROV-ANSWER");
  *submit.mutable_amount_claimed() = testing::Php(150000);
  submit.set_channel(cv1::CHANNEL_HOTLINE);
  cv1::Claim claim;
  grpc::Status s = c_->SubmitClaim(BearerContext("dev-specialist").get(), submit, &claim);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(SameMessage(claim, GetClaim(claim.claim_id())));

  cv1::AssignClaimRequest assign;
  assign.set_request_id(Id("asg"));
  assign.set_claim_id(claim.claim_id());
  assign.set_etag(claim.etag());
  assign.set_assignee("ana.reyes");
  ASSERT_TRUE(c_->AssignClaim(BearerContext("dev-specialist").get(), assign, &claim).ok());
  EXPECT_TRUE(SameMessage(claim, GetClaim(claim.claim_id())));

  cv1::TransitionRequest review;
  review.set_request_id(Id("rev"));
  review.set_claim_id(claim.claim_id());
  review.set_etag(claim.etag());
  ASSERT_TRUE(c_->StartReview(BearerContext("dev-specialist").get(), review, &claim).ok());
  EXPECT_TRUE(SameMessage(claim, GetClaim(claim.claim_id())));

  cv1::ApproveClaimRequest approve;
  approve.set_request_id(Id("apr"));
  approve.set_claim_id(claim.claim_id());
  approve.set_etag(claim.etag());
  s = c_->ApproveClaim(BearerContext("dev-officer").get(), approve, &claim);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(SameMessage(claim, GetClaim(claim.claim_id())));

  cv1::SettleClaimRequest settle;
  settle.set_request_id(Id("stl"));
  settle.set_claim_id(claim.claim_id());
  settle.set_etag(claim.etag());
  settle.set_payment_reference("PAY-ANSWER-1");
  s = c_->SettleClaim(BearerContext("dev-finance").get(), settle, &claim);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(SameMessage(claim, GetClaim(claim.claim_id())));
}

}  // namespace
}  // namespace careops
