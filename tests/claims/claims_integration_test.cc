// The claims service end to end: the real careops-claims and careops-membership
// binaries, each on its own schema of the real MariaDB, driven through their
// generated stubs with the development tokens (tools/dev-tokens).
//
// Every test makes its own client account, plan and member in membership, so the
// tests share the two processes without sharing data.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "careops/claims/v1/claims.grpc.pb.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "tests/support/harness.h"
#include "tests/support/rpc.h"

namespace careops {
namespace {

namespace cv1 = ::careops::claims::v1;
namespace mv1 = ::careops::membership::v1;

constexpr char kSpecialist[] = "dev-specialist";
constexpr char kOfficer[] = "dev-officer";
constexpr char kManager[] = "dev-manager";
constexpr char kAccountOfficer[] = "dev-account-officer";
constexpr char kFinance[] = "dev-finance";

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) { return testing::BearerContext(token); }

using testing::Php;

common::v1::Date Today() { return ToProto(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone())); }

class ClaimsIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    membership_schema_ = new testing::TestSchema("membership");
    claims_schema_ = new testing::TestSchema("claims");
    membership_ = new testing::ServiceProcess("membership", membership_schema_->dsn());
    ASSERT_TRUE(Serving(*membership_));
    claims_ = StartClaims(*claims_schema_).release();
    ASSERT_TRUE(Serving(*claims_));
  }

  // Waits until `p` answers its health check; prints its output otherwise.
  static ::testing::AssertionResult Serving(testing::ServiceProcess& p) {
    if (testing::Eventually([&] { return testing::Health(p.address()) == "SERVING"; })) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << p.process().output();
  }

  // A careops-claims on `schema`, talking to the suite's membership.
  static std::unique_ptr<testing::ServiceProcess> StartClaims(const testing::TestSchema& schema,
                                                              const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> args{"--membership_addr=" + membership_->address(), "--gauge_refresh=200ms"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return std::make_unique<testing::ServiceProcess>("claims", schema.dsn(), args);
  }

  static void TearDownTestSuite() {
    delete claims_;
    delete membership_;
    delete claims_schema_;
    delete membership_schema_;
  }

  void SetUp() override {
    claims_stub_ = cv1::ClaimsService::NewStub(grpc::CreateChannel(claims_->address(), grpc::InsecureChannelCredentials()));
    membership_stub_ =
        mv1::MembershipService::NewStub(grpc::CreateChannel(membership_->address(), grpc::InsecureChannelCredentials()));
  }

  struct Member {
    std::string member_id, account_id, plan_id;
  };

  // A corporate account with a plan of OUTPATIENT (outpatient) and DENTAL
  // (dental) benefits, each with `annual_limit_minor` PHP a year, and one member.
  Member NewMember(int64_t annual_limit_minor) {
    Member out;
    {
      mv1::CreateClientAccountRequest req;
      req.set_request_id(NewId());
      req.mutable_account()->set_name("Claims Test Corp " + req.request_id());
      req.mutable_account()->set_type(mv1::CLIENT_ACCOUNT_TYPE_CORPORATE);
      *req.mutable_account()->mutable_start_date() = ToProto(absl::CivilDay(2024, 1, 1));
      mv1::ClientAccount account;
      grpc::Status s = membership_stub_->CreateClientAccount(Ctx(kAccountOfficer).get(), req, &account);
      EXPECT_TRUE(s.ok()) << s.error_message();
      out.account_id = account.account_id();
    }
    {
      mv1::CreatePlanRequest req;
      req.set_request_id(NewId());
      mv1::Plan* plan = req.mutable_plan();
      plan->set_account_id(out.account_id);
      plan->set_name("Gold");
      plan->set_currency_code("PHP");
      for (auto [code, category] : {std::pair{"OUTPATIENT", "outpatient"}, std::pair{"DENTAL", "dental"}}) {
        mv1::Benefit* b = plan->add_benefits();
        b->set_code(code);
        b->set_category(category);
        *b->mutable_annual_limit() = Php(annual_limit_minor);
      }
      mv1::Plan created;
      grpc::Status s = membership_stub_->CreatePlan(Ctx(kAccountOfficer).get(), req, &created);
      EXPECT_TRUE(s.ok()) << s.error_message();
      out.plan_id = created.plan_id();
    }
    {
      mv1::EnrollMemberRequest req;
      req.set_request_id(NewId());
      req.set_account_id(out.account_id);
      req.set_plan_id(out.plan_id);
      req.set_external_ref("EMP-" + req.request_id());
      req.mutable_person()->set_given_name("Rosa");
      req.mutable_person()->set_family_name("Santos");
      *req.mutable_person()->mutable_birth_date() = ToProto(absl::CivilDay(1990, 5, 17));
      *req.mutable_effective_date() = ToProto(absl::CivilDay(2024, 1, 1));
      mv1::Member member;
      grpc::Status s = membership_stub_->EnrollMember(Ctx(kAccountOfficer).get(), req, &member);
      EXPECT_TRUE(s.ok()) << s.error_message();
      out.member_id = member.member_id();
    }
    return out;
  }

  static cv1::SubmitClaimRequest SubmitRequest(const std::string& member_id, int64_t amount_minor,
                                               const std::string& benefit = "OUTPATIENT",
                                               const std::string& provider = "PROV-1") {
    cv1::SubmitClaimRequest req;
    req.set_request_id(NewId());
    req.set_type(cv1::CLAIM_TYPE_CLAIM);
    req.set_member_id(member_id);
    req.set_benefit_code(benefit);
    *req.mutable_service_date() = Today();
    req.set_provider_id(provider);
    *req.mutable_amount_claimed() = Php(amount_minor);
    req.set_channel(cv1::CHANNEL_PORTAL);
    req.add_diagnosis_codes("J06.9");
    req.add_attachment_refs("doc://receipt-1");
    return req;
  }

  grpc::Status Submit(const std::string& member_id, int64_t amount_minor, cv1::Claim* out,
                      const std::string& benefit = "OUTPATIENT", const std::string& token = kSpecialist,
                      const std::string& provider = "PROV-1") {
    return claims_stub_->SubmitClaim(Ctx(token).get(), SubmitRequest(member_id, amount_minor, benefit, provider), out);
  }

  cv1::TransitionRequest Tr(const cv1::Claim& c, const std::string& reason = "") {
    cv1::TransitionRequest req;
    req.set_request_id(NewId());
    req.set_claim_id(c.claim_id());
    req.set_etag(c.etag());
    req.set_reason(reason);
    return req;
  }

  // SUBMITTED -> ASSIGNED -> IN_REVIEW by the specialist.
  cv1::Claim ToReview(const cv1::Claim& submitted) {
    cv1::AssignClaimRequest assign;
    assign.set_request_id(NewId());
    assign.set_claim_id(submitted.claim_id());
    assign.set_etag(submitted.etag());
    assign.set_assignee("ana.reyes");
    cv1::Claim assigned, reviewing;
    grpc::Status s = claims_stub_->AssignClaim(Ctx(kSpecialist).get(), assign, &assigned);
    EXPECT_TRUE(s.ok()) << s.error_message();
    s = claims_stub_->StartReview(Ctx(kSpecialist).get(), Tr(assigned), &reviewing);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(reviewing.status(), cv1::CLAIM_STATUS_IN_REVIEW);
    return reviewing;
  }

  // Approves the amount claimed, or `amount_minor` PHP when it is not zero.
  grpc::Status Approve(const cv1::Claim& c, const std::string& token, cv1::Claim* out,
                       const std::string& request_id = NewId(), int64_t amount_minor = 0) {
    cv1::ApproveClaimRequest req;
    req.set_request_id(request_id);
    req.set_claim_id(c.claim_id());
    req.set_etag(c.etag());
    req.set_reason("documents complete");
    if (amount_minor != 0) *req.mutable_approved_amount() = Php(amount_minor);
    return claims_stub_->ApproveClaim(Ctx(token).get(), req, out);
  }

  grpc::Status Settle(const cv1::Claim& c, const std::string& payment_reference, cv1::Claim* out) {
    cv1::SettleClaimRequest req;
    req.set_request_id(NewId());
    req.set_claim_id(c.claim_id());
    req.set_etag(c.etag());
    req.set_payment_reference(payment_reference);
    return claims_stub_->SettleClaim(Ctx(kFinance).get(), req, out);
  }

  cv1::Claim Get(const std::string& claim_id) {
    cv1::GetClaimRequest req;
    req.set_claim_id(claim_id);
    cv1::Claim out;
    grpc::Status s = claims_stub_->GetClaim(Ctx(kSpecialist).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::vector<cv1::ClaimEvent> History(const std::string& claim_id) {
    cv1::GetClaimHistoryRequest req;
    req.set_claim_id(claim_id);
    cv1::GetClaimHistoryResponse out;
    grpc::Status s = claims_stub_->GetClaimHistory(Ctx(kSpecialist).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {out.events().begin(), out.events().end()};
  }

  // What membership says is left of the member's OUTPATIENT limit this year.
  int64_t Remaining(const Member& m, const std::string& benefit = "OUTPATIENT") {
    mv1::CheckEligibilityRequest req;
    req.set_member_id(m.member_id);
    req.set_benefit_code(benefit);
    *req.mutable_service_date() = Today();
    mv1::CheckEligibilityResponse out;
    grpc::Status s = membership_stub_->CheckEligibility(Ctx(kAccountOfficer).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.remaining_limit().amount_minor();
  }

  static testing::TestSchema* membership_schema_;
  static testing::TestSchema* claims_schema_;
  static testing::ServiceProcess* membership_;
  static testing::ServiceProcess* claims_;
  std::unique_ptr<cv1::ClaimsService::Stub> claims_stub_;
  std::unique_ptr<mv1::MembershipService::Stub> membership_stub_;
};

testing::TestSchema* ClaimsIntegrationTest::membership_schema_ = nullptr;
testing::TestSchema* ClaimsIntegrationTest::claims_schema_ = nullptr;
testing::ServiceProcess* ClaimsIntegrationTest::membership_ = nullptr;
testing::ServiceProcess* ClaimsIntegrationTest::claims_ = nullptr;

std::vector<std::string> Actions(const std::vector<cv1::ClaimEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.action());
  return out;
}

TEST_F(ClaimsIntegrationTest, ClaimWithinSpecialistLimitIsApprovedSettledAndClosed) {
  Member m = NewMember(100000000);  // PHP 1,000,000.00
  cv1::Claim submitted;
  ASSERT_TRUE(Submit(m.member_id, 2000000, &submitted).ok());  // PHP 20,000.00
  EXPECT_EQ(submitted.status(), cv1::CLAIM_STATUS_SUBMITTED);
  EXPECT_EQ(submitted.account_id(), m.account_id);
  EXPECT_EQ(submitted.benefit_category(), "outpatient");
  EXPECT_EQ(submitted.routed_role(), "specialist");
  EXPECT_FALSE(submitted.possible_duplicate());
  EXPECT_TRUE(submitted.has_decision_due_time());

  cv1::Claim reviewing = ToReview(submitted);

  // Illegal: settling a claim under review names the current status.
  cv1::Claim ignored;
  grpc::Status s = Settle(reviewing, "PAY-1", &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("IN_REVIEW"), std::string::npos) << s.error_message();
  // A stale etag is ABORTED.
  EXPECT_EQ(Approve(submitted, kSpecialist, &ignored).error_code(), grpc::StatusCode::ABORTED);
  // No role in the chain, no change.
  EXPECT_EQ(Approve(reviewing, "dev-analyst", &ignored).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  cv1::Claim approved;
  std::string approve_id = NewId();
  s = Approve(reviewing, kSpecialist, &approved, approve_id);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(approved.status(), cv1::CLAIM_STATUS_APPROVED);
  EXPECT_EQ(approved.amount_approved().amount_minor(), 2000000);
  EXPECT_TRUE(approved.has_settlement_due_time());
  EXPECT_EQ(Remaining(m), 100000000 - 2000000);
  // The same request_id again: the first answer, nothing counted twice.
  cv1::Claim replay;
  ASSERT_TRUE(Approve(reviewing, kSpecialist, &replay, approve_id).ok());
  EXPECT_EQ(replay.etag(), approved.etag());
  EXPECT_EQ(Remaining(m), 100000000 - 2000000);

  cv1::Claim settled;
  s = Settle(approved, "PAY-2026-0001", &settled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(settled.status(), cv1::CLAIM_STATUS_SETTLED);
  EXPECT_EQ(settled.payment_reference(), "PAY-2026-0001");

  cv1::Claim closed;
  ASSERT_TRUE(claims_stub_->CloseClaim(Ctx(kSpecialist).get(), Tr(settled, "paid"), &closed).ok());
  EXPECT_EQ(closed.status(), cv1::CLAIM_STATUS_CLOSED);
  // Paid claims stay closed.
  s = claims_stub_->ReopenClaim(Ctx(kSpecialist).get(), Tr(closed, "second look"), &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  auto history = History(closed.claim_id());
  EXPECT_EQ(Actions(history),
            (std::vector<std::string>{"submit", "assign", "start_review", "approve", "settle", "close"}));
  EXPECT_EQ(history[3].actor(), "ana.reyes");
  EXPECT_EQ(history[3].from_status(), cv1::CLAIM_STATUS_IN_REVIEW);
  EXPECT_EQ(history[3].to_status(), cv1::CLAIM_STATUS_APPROVED);
  EXPECT_EQ(history[5].reason(), "paid");

  // The same claim again is flagged as a likely duplicate, not silently accepted.
  cv1::Claim again;
  ASSERT_TRUE(Submit(m.member_id, 2000000, &again).ok());
  EXPECT_TRUE(again.possible_duplicate());
  EXPECT_EQ(again.duplicate_of_claim_id(), submitted.claim_id());
}

TEST_F(ClaimsIntegrationTest, ClaimAboveTheLimitIsEscalatedTwiceAndApprovedByAManager) {
  Member m = NewMember(500000000);  // PHP 5,000,000.00
  cv1::Claim submitted;
  ASSERT_TRUE(Submit(m.member_id, 30000000, &submitted).ok());  // PHP 300,000.00
  EXPECT_EQ(submitted.routed_role(), "specialist");
  cv1::Claim c = ToReview(submitted);

  cv1::Claim ignored;
  grpc::Status s = Approve(c, kSpecialist, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("PHP 50000.00"), std::string::npos) << s.error_message();
  EXPECT_EQ(Get(c.claim_id()).etag(), c.etag());  // unchanged

  cv1::Claim escalated;
  ASSERT_TRUE(claims_stub_->EscalateClaim(Ctx(kSpecialist).get(), Tr(c, "above my limit"), &escalated).ok());
  EXPECT_EQ(escalated.routed_role(), "officer");
  EXPECT_EQ(Approve(escalated, kOfficer, &ignored).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  cv1::Claim escalated2;
  ASSERT_TRUE(claims_stub_->EscalateClaim(Ctx(kOfficer).get(), Tr(escalated, "above officer limit"), &escalated2).ok());
  EXPECT_EQ(escalated2.routed_role(), "assistant_manager");
  // Below the role the claim is routed to: refused even within the limit.
  EXPECT_EQ(Approve(escalated2, kSpecialist, &ignored).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  cv1::Claim approved;
  s = Approve(escalated2, kManager, &approved);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(approved.status(), cv1::CLAIM_STATUS_APPROVED);
  EXPECT_EQ(Remaining(m), 500000000 - 30000000);
  auto history = History(c.claim_id());
  EXPECT_EQ(Actions(history), (std::vector<std::string>{"submit", "assign", "start_review", "escalate", "escalate",
                                                        "approve"}));
  EXPECT_EQ(history[5].actor(), "dan.uy");
  EXPECT_EQ(history[5].actor_role(), "manager");

  // Above the auto-route threshold (PHP 1,000,000.00): straight to a role that may approve it.
  cv1::Claim big;
  ASSERT_TRUE(Submit(m.member_id, 150000000, &big, "DENTAL").ok());
  EXPECT_EQ(big.routed_role(), "manager");
}

TEST_F(ClaimsIntegrationTest, IneligibleClaimsAreRejectedWithCodedReasons) {
  cv1::Claim unknown;
  grpc::Status s = Submit("NO-SUCH-MEMBER", 100000, &unknown);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(unknown.status(), cv1::CLAIM_STATUS_REJECTED);
  ASSERT_GE(unknown.rejection_reasons_size(), 1);
  EXPECT_EQ(unknown.rejection_reasons(0).code(), "MEMBER_NOT_FOUND");
  EXPECT_FALSE(unknown.rejection_reasons(0).message().empty());

  Member m = NewMember(1000000);  // PHP 10,000.00
  cv1::Claim over;
  ASSERT_TRUE(Submit(m.member_id, 1500000, &over).ok());  // more than the whole limit
  EXPECT_EQ(over.status(), cv1::CLAIM_STATUS_REJECTED);
  bool limit_reason = false;
  for (const auto& r : over.rejection_reasons()) limit_reason |= r.code() == "ANNUAL_LIMIT_EXHAUSTED";
  EXPECT_TRUE(limit_reason) << over.DebugString();

  cv1::Claim no_benefit;
  ASSERT_TRUE(Submit(m.member_id, 1000, &no_benefit, "MATERNITY").ok());
  EXPECT_EQ(no_benefit.status(), cv1::CLAIM_STATUS_REJECTED);
  EXPECT_EQ(no_benefit.rejection_reasons(0).code(), "BENEFIT_NOT_IN_PLAN");

  // Rejected claims cannot be approved; bad input is refused before anything is stored.
  cv1::Claim ignored;
  EXPECT_EQ(Approve(unknown, kManager, &ignored).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Submit(m.member_id, -5, &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Submit(m.member_id, 100, &ignored, "OUTPATIENT", "no-such-token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ClaimsIntegrationTest, ApprovalRefusedWhenTheBenefitLimitIsExhaustedLeavesTheClaimUnchanged) {
  Member m = NewMember(1000000);  // PHP 10,000.00
  cv1::Claim first, second;
  ASSERT_TRUE(Submit(m.member_id, 800000, &first).ok());
  ASSERT_TRUE(Submit(m.member_id, 500000, &second, "OUTPATIENT", kSpecialist, "PROV-2").ok());
  ASSERT_EQ(second.status(), cv1::CLAIM_STATUS_SUBMITTED);
  cv1::Claim a = ToReview(first), b = ToReview(second);

  cv1::Claim approved;
  ASSERT_TRUE(Approve(a, kSpecialist, &approved).ok());
  cv1::Claim ignored;
  grpc::Status s = Approve(b, kSpecialist, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();

  cv1::Claim after = Get(b.claim_id());
  EXPECT_EQ(after.status(), cv1::CLAIM_STATUS_IN_REVIEW);
  EXPECT_EQ(after.etag(), b.etag());
  EXPECT_EQ(after.amount_approved().amount_minor(), 0);
  EXPECT_EQ(Actions(History(b.claim_id())), (std::vector<std::string>{"submit", "assign", "start_review"}));
  EXPECT_EQ(Remaining(m), 1000000 - 800000);

  // A partial approval within what is left goes through.
  cv1::Claim partially;
  s = Approve(b, kSpecialist, &partially, NewId(), 200000);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(partially.status(), cv1::CLAIM_STATUS_PARTIALLY_APPROVED);
  EXPECT_EQ(Remaining(m), 0);

  // Reopening the unsettled approval gives its utilisation back.
  cv1::Claim reopened;
  s = claims_stub_->ReopenClaim(Ctx(kSpecialist).get(), Tr(partially, "wrong amount"), &reopened);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reopened.status(), cv1::CLAIM_STATUS_IN_REVIEW);
  EXPECT_EQ(reopened.amount_approved().amount_minor(), 0);
  EXPECT_EQ(Remaining(m), 200000);
}

TEST_F(ClaimsIntegrationTest, MembershipDownDuringApprovalIsUnavailableThenApprovalCountsOnce) {
  Member m = NewMember(100000000);
  cv1::Claim submitted;
  ASSERT_TRUE(Submit(m.member_id, 1234500, &submitted).ok());
  cv1::Claim c = ToReview(submitted);

  membership_->Stop();

  const std::string request_id = NewId();
  cv1::Claim ignored;
  grpc::Status s = Approve(c, kSpecialist, &ignored, request_id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  cv1::Claim unchanged = Get(c.claim_id());
  EXPECT_EQ(unchanged.status(), cv1::CLAIM_STATUS_IN_REVIEW);
  EXPECT_EQ(unchanged.etag(), c.etag());
  EXPECT_EQ(Actions(History(c.claim_id())), (std::vector<std::string>{"submit", "assign", "start_review"}));

  membership_->Start();  // same ports, same database
  ASSERT_TRUE(Serving(*membership_));

  // The client retries its approval with the same request_id until membership answers.
  cv1::Claim approved;
  ASSERT_TRUE(testing::Eventually([&] {
    approved.Clear();
    return Approve(c, kSpecialist, &approved, request_id).ok();
  }));
  EXPECT_EQ(approved.status(), cv1::CLAIM_STATUS_APPROVED);
  EXPECT_EQ(Remaining(m), 100000000 - 1234500);
  cv1::Claim replay;
  ASSERT_TRUE(Approve(c, kSpecialist, &replay, request_id).ok());
  EXPECT_EQ(Remaining(m), 100000000 - 1234500);
}

TEST_F(ClaimsIntegrationTest, BordereauTotalsEqualTheSumOfItsRows) {
  Member m = NewMember(100000000);
  struct Want {
    const char* benefit;
    int64_t claimed;
    int64_t approved;  // 0: leave in review (not in the bordereau)
    const char* provider;
  };
  const Want wants[] = {{"OUTPATIENT", 1000000, 1000000, "P-A"},
                        {"OUTPATIENT", 2500050, 2000000, "P-B"},
                        {"DENTAL", 700000, 700000, "P-C"},
                        {"DENTAL", 300000, 0, "P-D"}};
  for (const Want& w : wants) {
    cv1::Claim submitted;
    ASSERT_TRUE(Submit(m.member_id, w.claimed, &submitted, w.benefit, kSpecialist, w.provider).ok());
    cv1::Claim c = ToReview(submitted);
    if (w.approved == 0) continue;
    cv1::Claim approved;
    grpc::Status s = Approve(c, kSpecialist, &approved, NewId(), w.approved);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (w.claimed == 700000) {  // one settled too
      cv1::Claim settled;
      ASSERT_TRUE(Settle(approved, "PAY-B1", &settled).ok());
    }
  }

  cv1::StreamBordereauRequest req;
  absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  req.set_year(static_cast<int>(today.year()));
  req.set_month(today.month());
  req.set_account_id(m.account_id);
  auto ctx = Ctx(kFinance);
  auto reader = claims_stub_->StreamBordereau(ctx.get(), req);
  cv1::BordereauChunk chunk;
  std::map<std::string, std::pair<int64_t, int64_t>> row_sums;  // category -> claimed, approved
  std::map<std::string, int64_t> row_counts;
  std::map<std::string, cv1::BordereauTotal> totals;
  int rows = 0;
  while (reader->Read(&chunk)) {
    if (chunk.has_row()) {
      ++rows;
      EXPECT_EQ(totals.size(), 0u) << "rows come before totals";
      const auto& r = chunk.row();
      EXPECT_EQ(r.account_id(), m.account_id);
      row_sums[r.benefit_category()].first += r.amount_claimed().amount_minor();
      row_sums[r.benefit_category()].second += r.amount_approved().amount_minor();
      ++row_counts[r.benefit_category()];
    } else {
      totals[chunk.total().benefit_category()] = chunk.total();
    }
  }
  grpc::Status s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rows, 3);
  ASSERT_EQ(totals.size(), 2u);
  for (const auto& [category, total] : totals) {
    EXPECT_EQ(total.claim_count(), row_counts[category]) << category;
    EXPECT_EQ(total.amount_claimed().amount_minor(), row_sums[category].first) << category;
    EXPECT_EQ(total.amount_approved().amount_minor(), row_sums[category].second) << category;
    EXPECT_EQ(total.currency_code(), "PHP");
  }
  EXPECT_EQ(totals["outpatient"].amount_approved().amount_minor(), 3000000);
  EXPECT_EQ(totals["outpatient"].amount_claimed().amount_minor(), 3500050);
  EXPECT_EQ(totals["dental"].amount_approved().amount_minor(), 700000);
  EXPECT_EQ(totals["dental"].claim_count(), 1);
}

TEST_F(ClaimsIntegrationTest, BreachScanMarksOverdueClaimsOnce) {
  Member m = NewMember(100000000);
  cv1::Claim c;
  ASSERT_TRUE(Submit(m.member_id, 50000, &c).ok());
  cv1::RunBreachScanRequest req;
  // Due in 5 business days: not breached a day from now, breached a month from now.
  *req.mutable_as_of() = ToProtoTimestamp(absl::Now() + absl::Hours(24));
  cv1::RunBreachScanResponse resp;
  ASSERT_TRUE(claims_stub_->RunBreachScan(Ctx(kManager).get(), req, &resp).ok());
  EXPECT_FALSE(Get(c.claim_id()).decision_breached());

  *req.mutable_as_of() = ToProtoTimestamp(absl::Now() + absl::Hours(24 * 30));
  ASSERT_TRUE(claims_stub_->RunBreachScan(Ctx(kManager).get(), req, &resp).ok());
  EXPECT_GE(resp.decision_breaches(), 1);
  EXPECT_TRUE(Get(c.claim_id()).decision_breached());
  ASSERT_TRUE(claims_stub_->RunBreachScan(Ctx(kManager).get(), req, &resp).ok());
  EXPECT_EQ(resp.decision_breaches(), 0);
  int breach_events = 0;
  for (const auto& e : History(c.claim_id())) breach_events += e.action() == "decision_tat_breach";
  EXPECT_EQ(breach_events, 1);

  cv1::ListClaimsRequest list;
  list.set_member_id(m.member_id);
  list.set_breached_only(true);
  cv1::ListClaimsResponse listed;
  ASSERT_TRUE(claims_stub_->ListClaims(Ctx(kSpecialist).get(), list, &listed).ok());
  ASSERT_EQ(listed.claims_size(), 1);
  EXPECT_EQ(listed.claims(0).claim_id(), c.claim_id());
}

TEST_F(ClaimsIntegrationTest, BreachScansOnTwoReplicasAtOnceMarkEachClaimOnce) {
  auto replica = StartClaims(*claims_schema_);
  ASSERT_TRUE(Serving(*replica));
  Member m = NewMember(100000000);
  std::vector<std::string> mine;
  for (int i = 0; i < 6; ++i) {
    cv1::Claim c;
    ASSERT_TRUE(Submit(m.member_id, 10000 + i, &c).ok());
    mine.push_back(c.claim_id());
  }
  cv1::Claim approved;
  ASSERT_TRUE(Approve(ToReview(Get(mine.back())), kSpecialist, &approved).ok());
  mine.pop_back();

  // What is due: every claim in the schema still awaiting a decision and not yet marked.
  int due = 0;
  cv1::ListClaimsRequest list;
  list.set_page_size(500);
  do {
    cv1::ListClaimsResponse page;
    ASSERT_TRUE(claims_stub_->ListClaims(Ctx(kSpecialist).get(), list, &page).ok());
    for (const auto& c : page.claims()) {
      bool awaiting = c.status() == cv1::CLAIM_STATUS_SUBMITTED || c.status() == cv1::CLAIM_STATUS_ASSIGNED ||
                      c.status() == cv1::CLAIM_STATUS_IN_REVIEW || c.status() == cv1::CLAIM_STATUS_PENDING_INFO;
      due += awaiting && !c.decision_breached();
    }
    list.set_page_token(page.next_page_token());
  } while (!list.page_token().empty());
  ASSERT_GE(due, 5);

  cv1::RunBreachScanRequest req;
  *req.mutable_as_of() = ToProtoTimestamp(absl::Now() + absl::Hours(24 * 90));
  auto scan = [&](const std::string& address, cv1::RunBreachScanResponse* out) {
    auto stub = cv1::ClaimsService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    return stub->RunBreachScan(Ctx(kManager).get(), req, out);
  };
  cv1::RunBreachScanResponse a, b;
  grpc::Status sa, sb;
  std::thread other([&] { sb = scan(replica->address(), &b); });
  sa = scan(claims_->address(), &a);
  other.join();
  ASSERT_TRUE(sa.ok()) << sa.error_message();
  ASSERT_TRUE(sb.ok()) << sb.error_message();
  EXPECT_EQ(a.decision_breaches() + b.decision_breaches(), due);
  EXPECT_GE(a.settlement_breaches() + b.settlement_breaches(), 1);
  for (const std::string& id : mine) {
    int marks = 0;
    for (const auto& e : History(id)) marks += e.action() == "decision_tat_breach";
    EXPECT_EQ(marks, 1) << id;
  }
  EXPECT_TRUE(Get(approved.claim_id()).settlement_breached());
}

TEST_F(ClaimsIntegrationTest, ListsPageByKeyAndFilter) {
  Member m = NewMember(100000000);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    cv1::Claim c;
    ASSERT_TRUE(Submit(m.member_id, 1000 + i, &c).ok());
    ids.push_back(c.claim_id());
  }
  std::vector<std::string> seen;
  cv1::ListClaimsRequest req;
  req.set_member_id(m.member_id);
  req.set_page_size(2);
  do {
    cv1::ListClaimsResponse page;
    ASSERT_TRUE(claims_stub_->ListClaims(Ctx(kSpecialist).get(), req, &page).ok());
    for (const auto& c : page.claims()) seen.push_back(c.claim_id());
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty());
  EXPECT_EQ(seen, ids);
  req.set_page_size(501);
  cv1::ListClaimsResponse ignored;
  EXPECT_EQ(claims_stub_->ListClaims(Ctx(kSpecialist).get(), req, &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // A token only pages the list it came from.
  req.set_page_size(2);
  req.clear_page_token();
  cv1::ListClaimsResponse first;
  ASSERT_TRUE(claims_stub_->ListClaims(Ctx(kSpecialist).get(), req, &first).ok());
  cv1::ListClaimsRequest other;
  other.set_account_id(m.account_id);
  other.set_page_size(2);
  other.set_page_token(first.next_page_token());
  grpc::Status s = claims_stub_->ListClaims(Ctx(kSpecialist).get(), other, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_token"), std::string::npos) << s.error_message();
}

TEST_F(ClaimsIntegrationTest, ListsFilterByEveryNamedField) {
  Member m = NewMember(100000000);
  const absl::Time before = absl::Now() - absl::Seconds(1);
  std::vector<cv1::Claim> c(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Submit(m.member_id, 3000 + i, &c[i]).ok());
  const absl::Time after = absl::Now() + absl::Microseconds(1);
  cv1::Claim reviewing = ToReview(c[1]);  // assigned to ana.reyes, now IN_REVIEW
  cv1::RunBreachScanRequest scan;
  *scan.mutable_as_of() = ToProtoTimestamp(absl::Now() + absl::Hours(24 * 30));
  cv1::RunBreachScanResponse scanned;
  ASSERT_TRUE(claims_stub_->RunBreachScan(Ctx(kManager).get(), scan, &scanned).ok());

  auto list = [&](const std::function<void(cv1::ListClaimsRequest&)>& filter) {
    cv1::ListClaimsRequest req;
    req.set_account_id(m.account_id);  // this test's claims only
    filter(req);
    cv1::ListClaimsResponse out;
    grpc::Status s = claims_stub_->ListClaims(Ctx(kSpecialist).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& claim : out.claims()) ids.push_back(claim.claim_id());
    return ids;
  };
  using Ids = std::vector<std::string>;
  const Ids all = {c[0].claim_id(), c[1].claim_id(), c[2].claim_id()};
  EXPECT_EQ(list([](auto&) {}), all);
  EXPECT_EQ(list([&](auto& r) {
              r.clear_account_id();
              r.set_member_id(m.member_id);
            }),
            all);
  EXPECT_EQ(list([](auto& r) { r.set_status(cv1::CLAIM_STATUS_IN_REVIEW); }), Ids{c[1].claim_id()});
  EXPECT_EQ(list([](auto& r) { r.set_status(cv1::CLAIM_STATUS_SUBMITTED); }), (Ids{c[0].claim_id(), c[2].claim_id()}));
  EXPECT_EQ(list([](auto& r) { r.set_assignee("ana.reyes"); }), Ids{c[1].claim_id()});
  EXPECT_EQ(list([](auto& r) { r.set_channel(cv1::CHANNEL_PORTAL); }), all);
  EXPECT_EQ(list([](auto& r) { r.set_channel(cv1::CHANNEL_HOTLINE); }), Ids{});
  EXPECT_EQ(list([](auto& r) { r.set_breached_only(true); }), all);
  EXPECT_EQ(list([&](auto& r) { *r.mutable_submitted_from() = ToProtoTimestamp(before); }), all);
  EXPECT_EQ(list([&](auto& r) { *r.mutable_submitted_before() = ToProtoTimestamp(before); }), Ids{});
  EXPECT_EQ(list([&](auto& r) { *r.mutable_submitted_from() = c[1].submit_time(); }),
            (Ids{c[1].claim_id(), c[2].claim_id()}));
  // Each filter leading its own query (no account filter), scoped to this test by
  // the submission window: the tests of this suite run one after another.
  auto in_window = [&](const std::function<void(cv1::ListClaimsRequest&)>& filter) {
    return list([&](cv1::ListClaimsRequest& r) {
      r.clear_account_id();
      *r.mutable_submitted_from() = c[0].submit_time();
      *r.mutable_submitted_before() = ToProtoTimestamp(after);
      filter(r);
    });
  };
  EXPECT_EQ(in_window([](auto&) {}), all);
  EXPECT_EQ(in_window([](auto& r) { r.set_status(cv1::CLAIM_STATUS_SUBMITTED); }),
            (Ids{c[0].claim_id(), c[2].claim_id()}));
  EXPECT_EQ(in_window([](auto& r) { r.set_assignee("ana.reyes"); }), Ids{c[1].claim_id()});
  EXPECT_EQ(in_window([](auto& r) { r.set_channel(cv1::CHANNEL_PORTAL); }), all);
  EXPECT_EQ(in_window([](auto& r) { r.set_channel(cv1::CHANNEL_EMAIL); }), Ids{});
  // The leading filter and the others together.
  EXPECT_EQ(list([](auto& r) {
              r.set_status(cv1::CLAIM_STATUS_SUBMITTED);
              r.set_channel(cv1::CHANNEL_PORTAL);
              r.set_assignee("ana.reyes");
            }),
            Ids{});
}

TEST_F(ClaimsIntegrationTest, ConcurrentIdenticalSubmissionsAreFlaggedAgainstEachOther) {
  Member m = NewMember(100000000);
  constexpr int kTwins = 6;
  for (int round = 0; round < 3; ++round) {
    const std::string provider = absl::StrCat("PROV-RACE-", round);
    std::vector<cv1::Claim> out(kTwins);
    std::vector<grpc::Status> status(kTwins);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kTwins; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        status[i] = Submit(m.member_id, 77700, &out[i], "OUTPATIENT", kSpecialist, provider);
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    std::set<std::string> ids;
    for (int i = 0; i < kTwins; ++i) {
      ASSERT_TRUE(status[i].ok()) << status[i].error_message();
      ids.insert(out[i].claim_id());
    }
    int unflagged = 0;
    for (const cv1::Claim& c : out) {
      if (!c.possible_duplicate()) {
        ++unflagged;
        continue;
      }
      EXPECT_TRUE(ids.count(c.duplicate_of_claim_id())) << c.duplicate_of_claim_id();
      EXPECT_NE(c.duplicate_of_claim_id(), c.claim_id());
    }
    EXPECT_EQ(unflagged, 1) << "round " << round << ": identical claims submitted at once must be flagged";
  }
}

TEST_F(ClaimsIntegrationTest, OneRequestIdUsedByTwoCallersGivesEachTheirOwnClaim) {
  Member m = NewMember(100000000);
  const cv1::SubmitClaimRequest req = SubmitRequest(m.member_id, 12300);
  cv1::Claim by_specialist, by_officer, replay, officer_replay, reused;
  ASSERT_TRUE(claims_stub_->SubmitClaim(Ctx(kSpecialist).get(), req, &by_specialist).ok());
  grpc::Status s = claims_stub_->SubmitClaim(Ctx(kOfficer).get(), req, &by_officer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(by_officer.claim_id(), by_specialist.claim_id()) << "the officer was handed the specialist's answer";
  EXPECT_EQ(by_specialist.submitted_by(), "ana.reyes");
  EXPECT_EQ(by_officer.submitted_by(), "ben.cruz");
  // Each replay is the caller's own first answer.
  ASSERT_TRUE(claims_stub_->SubmitClaim(Ctx(kSpecialist).get(), req, &replay).ok());
  ASSERT_TRUE(claims_stub_->SubmitClaim(Ctx(kOfficer).get(), req, &officer_replay).ok());
  EXPECT_EQ(replay.claim_id(), by_specialist.claim_id());
  EXPECT_EQ(officer_replay.claim_id(), by_officer.claim_id());
  // The same caller reusing the id for another request is refused.
  cv1::SubmitClaimRequest other = req;
  *other.mutable_amount_claimed() = Php(45600);
  s = claims_stub_->SubmitClaim(Ctx(kSpecialist).get(), other, &reused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(s.error_message().rfind("request_id", 0), 0u) << s.error_message();
}

TEST_F(ClaimsIntegrationTest, HotlineClaimAtSevenInTheMorningInManilaForThatDayIsAccepted) {
  Member m = NewMember(100000000);
  // Friday 2026-06-05 23:00 UTC is Saturday 2026-06-06 07:00 in Manila (UTC+8).
  const std::string at = "--test_clock_start=2026-06-05T23:00:00Z";
  testing::TestSchema manila_schema("claims_manila"), utc_schema("claims_utc");
  auto manila = StartClaims(manila_schema, {"--business_tz=Asia/Manila", at});
  auto utc = StartClaims(utc_schema, {at});
  ASSERT_TRUE(Serving(*manila));
  ASSERT_TRUE(Serving(*utc));
  cv1::SubmitClaimRequest req = SubmitRequest(m.member_id, 150000);
  req.set_channel(cv1::CHANNEL_HOTLINE);
  *req.mutable_service_date() = ToProto(absl::CivilDay(2026, 6, 6));  // "today" in Manila

  auto manila_stub = cv1::ClaimsService::NewStub(grpc::CreateChannel(manila->address(), grpc::InsecureChannelCredentials()));
  cv1::Claim accepted;
  grpc::Status s = manila_stub->SubmitClaim(Ctx(kSpecialist).get(), req, &accepted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(accepted.status(), cv1::CLAIM_STATUS_SUBMITTED);
  const absl::Time start = absl::FromCivil(absl::CivilSecond(2026, 6, 5, 23, 0, 0), absl::UTCTimeZone());
  // The test clock runs on from its start: a few seconds have passed since.
  EXPECT_GE(FromProto(accepted.submit_time()), start);
  EXPECT_LT(FromProto(accepted.submit_time()), start + absl::Minutes(5)) << "the test clock is not in use";
  // Arrived on a Manila Saturday: the 5 business days count from Monday 00:00 in
  // Manila, so the decision is due Monday 2026-06-15 00:00 there (Sunday 16:00 UTC).
  EXPECT_EQ(FromProto(accepted.decision_due_time()),
            absl::FromCivil(absl::CivilSecond(2026, 6, 14, 16, 0, 0), absl::UTCTimeZone()));

  // The same instant and service date in a UTC business: still Friday there, so
  // the service date is in the future.
  auto utc_stub = cv1::ClaimsService::NewStub(grpc::CreateChannel(utc->address(), grpc::InsecureChannelCredentials()));
  cv1::Claim refused;
  s = utc_stub->SubmitClaim(Ctx(kSpecialist).get(), req, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message().rfind("service_date", 0), 0u) << s.error_message();
}

TEST_F(ClaimsIntegrationTest, ACallToMembershipEndsWithTheCallersDeadline) {
  Member m = NewMember(100000000);
  // peer_deadline far above the client's deadline: only inheritance ends the wait.
  testing::TestSchema schema("claims_deadline");
  auto claims = StartClaims(schema, {"--peer_deadline=30s"});
  ASSERT_TRUE(Serving(*claims));
  auto stub = cv1::ClaimsService::NewStub(grpc::CreateChannel(claims->address(), grpc::InsecureChannelCredentials()));
  // Membership frozen: connections open, nothing answers.
  membership_->process().Signal(SIGSTOP);
  struct Thaw {
    testing::ServiceProcess& p;
    ~Thaw() { p.process().Signal(SIGCONT); }
  } thaw{*membership_};
  auto ctx = Ctx(kSpecialist);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  cv1::Claim out;
  grpc::Status s = stub->SubmitClaim(ctx.get(), SubmitRequest(m.member_id, 1000), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  // The handler's own peer call ends with the client's deadline too, not after
  // peer_deadline: its log line appears within seconds.
  EXPECT_TRUE(testing::Eventually(
      [&] {
        return claims->process().output().find("\"method\":\"/careops.claims.v1.ClaimsService/SubmitClaim\"") !=
               std::string::npos;
      },
      absl::Seconds(5)))
      << claims->process().output();
}

TEST_F(ClaimsIntegrationTest, NonConformanceIsFlaggedInvestigatedAndClosed) {
  Member m = NewMember(100000000);
  cv1::Claim c;
  ASSERT_TRUE(Submit(m.member_id, 4200, &c).ok());
  cv1::FlagNonConformanceRequest flag;
  flag.set_request_id(NewId());
  flag.set_claim_id(c.claim_id());
  flag.set_category(cv1::NON_CONFORMANCE_CATEGORY_DOCUMENTATION);
  flag.set_notes("receipt unreadable");
  cv1::Investigation v;
  ASSERT_TRUE(claims_stub_->FlagNonConformance(Ctx(kOfficer).get(), flag, &v).ok());
  EXPECT_EQ(v.status(), cv1::INVESTIGATION_STATUS_FLAGGED);

  cv1::InvestigationTransitionRequest open;
  open.set_request_id(NewId());
  open.set_investigation_id(v.investigation_id());
  open.set_etag(v.etag());
  ASSERT_TRUE(claims_stub_->OpenInvestigation(Ctx(kOfficer).get(), open, &v).ok());
  EXPECT_EQ(v.investigator(), "ben.cruz");
  cv1::InvestigationTransitionRequest close_early = open;
  close_early.set_request_id(NewId());
  close_early.set_etag(v.etag());
  cv1::Investigation ignored;
  EXPECT_EQ(claims_stub_->CloseInvestigation(Ctx(kOfficer).get(), close_early, &ignored).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  cv1::RecordFindingsRequest findings;
  findings.set_request_id(NewId());
  findings.set_investigation_id(v.investigation_id());
  findings.set_etag(v.etag());
  findings.set_findings("provider sent a photocopy");
  findings.set_remedial_action("provider briefed; original requested");
  ASSERT_TRUE(claims_stub_->RecordFindings(Ctx(kOfficer).get(), findings, &v).ok());

  cv1::ListInvestigationsRequest list;
  list.set_open_only(true);
  list.set_claim_id(c.claim_id());
  cv1::ListInvestigationsResponse listed;
  ASSERT_TRUE(claims_stub_->ListInvestigations(Ctx(kOfficer).get(), list, &listed).ok());
  EXPECT_EQ(listed.investigations_size(), 1);

  cv1::InvestigationTransitionRequest close = open;
  close.set_request_id(NewId());
  close.set_etag(v.etag());
  ASSERT_TRUE(claims_stub_->CloseInvestigation(Ctx(kOfficer).get(), close, &v).ok());
  EXPECT_EQ(v.status(), cv1::INVESTIGATION_STATUS_CLOSED);
  listed.Clear();
  ASSERT_TRUE(claims_stub_->ListInvestigations(Ctx(kOfficer).get(), list, &listed).ok());
  EXPECT_EQ(listed.investigations_size(), 0);
  auto actions = Actions(History(c.claim_id()));
  EXPECT_EQ(actions.back(), "flag_non_conformance");
}

// The value of `series` (e.g. careops_claims_open{status="submitted"}) on /metrics; -1 when absent.
double MetricValue(int port, const std::string& series) {
  std::string text = testing::HttpGet(port, "/metrics");
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

TEST_F(ClaimsIntegrationTest, OpenClaimsGaugeIsReadFromTheDatabaseAndSurvivesRestart) {
  testing::TestSchema schema("claimsgauge");
  auto claims = StartClaims(schema);
  ASSERT_TRUE(Serving(*claims));
  auto stub = cv1::ClaimsService::NewStub(grpc::CreateChannel(claims->address(), grpc::InsecureChannelCredentials()));
  Member m = NewMember(100000000);
  for (int i = 0; i < 3; ++i) {
    cv1::SubmitClaimRequest req =
        SubmitRequest(i < 2 ? m.member_id : "NO-SUCH-MEMBER", 10000, "OUTPATIENT", absl::StrCat("PROV-", i));
    req.set_channel(cv1::CHANNEL_HOTLINE);
    cv1::Claim out;
    grpc::Status s = stub->SubmitClaim(Ctx(kSpecialist).get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto gauges_right = [&] {
    return MetricValue(claims->metrics_port(), "careops_claims_open{status=\"submitted\"}") == 2 &&
           MetricValue(claims->metrics_port(), "careops_claims_open{status=\"rejected\"}") == 1 &&
           MetricValue(claims->metrics_port(), "careops_claims_open{status=\"approved\"}") == 0;
  };
  EXPECT_TRUE(testing::Eventually(gauges_right)) << testing::HttpGet(claims->metrics_port(), "/metrics");
  EXPECT_EQ(MetricValue(claims->metrics_port(), "careops_claims_submitted_total{channel=\"hotline\",type=\"claim\"}"),
            3);
  EXPECT_EQ(MetricValue(claims->metrics_port(), "careops_claims_decisions_total{decision=\"rejected\"}"), 1);
  // Bounded series exist from the start, at zero.
  EXPECT_EQ(MetricValue(claims->metrics_port(), "careops_claims_tat_breaches_total{stage=\"decision\"}"), 0);
  EXPECT_EQ(MetricValue(claims->metrics_port(), "careops_claims_tat_seconds_count{stage=\"settlement\"}"), 0);
  EXPECT_EQ(MetricValue(claims->metrics_port(), "careops_claims_escalations_total{to_role=\"manager\"}"), 0);
  EXPECT_EQ(MetricValue(claims->metrics_port(), "careops_claims_approved_amount_minor_total{currency=\"PHP\"}"), 0);
  EXPECT_EQ(MetricValue(claims->metrics_port(), "careops_claims_decisions_total{decision=\"approved\"}"), 0);

  claims->Restart();
  ASSERT_TRUE(Serving(*claims));
  EXPECT_TRUE(testing::Eventually(gauges_right)) << testing::HttpGet(claims->metrics_port(), "/metrics");
}

}  // namespace
}  // namespace careops
