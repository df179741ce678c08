// The gRPC adapter over an in-memory store, a fake membership and a fake clock:
// who may call, what is validated, and the order of effects around approval
// (utilisation recorded before the claim becomes APPROVED, nothing changed when
// membership refuses or is down, reversal on reopen).
#include "services/claims/claims_service.h"
#include "services/claims/claims_access.h"

#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "prometheus/registry.h"

namespace careops::claims {
namespace {

// ClaimStore in memory, with the same contract: exactly-once by request_id,
// etag checks, duplicate flagging, history per change.
class FakeClaimStore final : public ClaimStore {
 public:
  absl::Status CreateClaim(const MutationContext& m, Claim claim, const ClaimEvent& event,
                           const RenderClaim& render) override {
    if (Replayed(m)) return absl::OkStatus();
    std::vector<Claim> candidates;
    for (const auto& [id, c] : claims_) candidates.push_back(c);
    if (claim.status != ClaimStatus::kRejected) {
      if (auto original = FindLikelyDuplicate(claim, candidates)) {
        claim.possible_duplicate = true;
        claim.duplicate_of = *original;
      }
    }
    claims_[claim.claim_id] = claim;
    history_[claim.claim_id].push_back(event);
    render(claim);
    Remember(m);
    return absl::OkStatus();
  }

  absl::StatusOr<Claim> GetClaim(const std::string& claim_id) override {
    auto it = claims_.find(claim_id);
    if (it == claims_.end()) return absl::NotFoundError("no claim");
    return it->second;
  }

  absl::StatusOr<std::vector<Claim>> ListClaims(const ClaimFilter&, const std::string& after_id, int limit) override {
    std::vector<Claim> out;
    for (auto it = claims_.upper_bound(after_id); it != claims_.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  absl::Status TransitionClaim(const MutationContext& m, const std::string& claim_id, int64_t expected_version,
                               const ClaimDecider& decide, const RenderClaim& render) override {
    if (Replayed(m)) return absl::OkStatus();
    auto it = claims_.find(claim_id);
    if (it == claims_.end()) return absl::NotFoundError("no claim");
    if (it->second.version != expected_version) return absl::AbortedError("stale etag");
    auto change = decide(it->second);
    if (!change.ok()) return change.status();
    change->claim.version = it->second.version + 1;
    change->claim.updated_at = m.now;
    it->second = change->claim;
    history_[claim_id].push_back(change->event);
    render(it->second);
    Remember(m);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ClaimEvent>> GetHistory(const std::string& claim_id) override {
    return history_[claim_id];
  }
  absl::StatusOr<BreachScanResult> MarkBreaches(absl::Time as_of) override {
    BreachScanResult r;
    for (auto& [id, c] : claims_) {
      if (AwaitsDecision(c.status) && !c.decision_breached && c.decision_due_at <= as_of) {
        c.decision_breached = true;
        ++r.decision_breaches;
      }
    }
    return r;
  }
  absl::StatusOr<std::map<ClaimStatus, int64_t>> CountByStatus() override { return std::map<ClaimStatus, int64_t>(); }
  absl::Status ScanBordereau(const BordereauQuery&, const std::function<absl::Status(const Claim&)>&) override {
    return absl::UnimplementedError("not in this fake");
  }
  absl::Status CreateInvestigation(const MutationContext&, const Investigation&, const RenderInvestigation&) override {
    return absl::UnimplementedError("not in this fake");
  }
  absl::Status TransitionInvestigation(const MutationContext&, const std::string&, int64_t, const InvestigationDecider&,
                                       const RenderInvestigation&) override {
    return absl::UnimplementedError("not in this fake");
  }
  absl::StatusOr<std::vector<Investigation>> ListInvestigations(bool, const std::string&, const std::string&,
                                                                int) override {
    return absl::UnimplementedError("not in this fake");
  }

  std::map<std::string, Claim> claims_;
  std::map<std::string, std::vector<ClaimEvent>> history_;

 private:
  bool Replayed(const MutationContext& m) {
    auto it = responses_.find(m.request_id);
    if (it == responses_.end()) return false;
    m.response->ParseFromString(it->second);
    return true;
  }
  void Remember(const MutationContext& m) { responses_[m.request_id] = m.response->SerializeAsString(); }
  std::map<std::string, std::string> responses_;
};

class FakeMembership final : public MembershipClient {
 public:
  absl::StatusOr<Eligibility> CheckEligibility(const EligibilityQuery& q) override {
    ++eligibility_checks;
    if (!next_status.ok()) return next_status;
    if (q.member_id == "M-UNKNOWN") return Eligibility{false, {{"MEMBER_NOT_FOUND", "no member"}}, "", "", ""};
    return Eligibility{true, {}, "ACC-1", "PLAN-1", "outpatient"};
  }
  absl::Status RecordUtilization(const UtilizationRecord& r) override {
    if (!next_status.ok()) return next_status;
    recorded.push_back(r);
    return absl::OkStatus();
  }
  absl::Status ReverseUtilization(const std::string& ref, const std::string&) override {
    if (!next_status.ok()) return next_status;
    reversed.push_back(ref);
    return absl::OkStatus();
  }

  absl::Status next_status = absl::OkStatus();
  int eligibility_checks = 0;
  std::vector<UtilizationRecord> recorded;
  std::vector<std::string> reversed;
};

// INVALID_ARGUMENT whose message names `field`, as every refusal of bad input must.
::testing::AssertionResult InvalidArgumentNaming(const grpc::Status& s, const std::string& field) {
  if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT && s.error_message().find(field) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "want INVALID_ARGUMENT naming " << field << ", got code " << s.error_code()
                                       << ": " << s.error_message();
}

absl::Time Friday10() { return absl::FromCivil(absl::CivilSecond(2026, 11, 20, 10, 0, 0), absl::UTCTimeZone()); }

class ClaimsServiceTest : public ::testing::Test {
 protected:
  ClaimsServiceTest()
      : clock_(Friday10()),
        metrics_(registry_),
        service_(store_, membership_, rpc_, metrics_,
                 {*AuthorityChain::Parse(AuthorityChain::DefaultText()), *ParseAutoRouteThresholds("PHP=100000000"),
                  TatTargets{}}) {}

  struct Call {
    grpc::ServerContext ctx;
    grpc::testing::ServerContextTestSpouse spouse{&ctx};
    explicit Call(const std::string& token) {
      if (!token.empty()) spouse.AddClientMetadata("authorization", "Bearer " + token);
    }
  };

  static Authenticator MakeAuthenticator() {
    return *Authenticator::FromText(
        "t-specialist ana specialist claims\n"
        "t-officer ben officer claims\n"
        "t-manager dan manager claims\n"
        "t-analyst hana analyst reporting\n"
        "t-finance fay finance finance\n");
  }

  // A valid submission from its own provider (so never a duplicate of another).
  v1::SubmitClaimRequest SubmitRequest(int64_t minor, const std::string& member = "M-1") {
    v1::SubmitClaimRequest req;
    req.set_request_id(absl::StrCat("submit-", ++seq_));
    req.set_type(v1::CLAIM_TYPE_CLAIM);
    req.set_member_id(member);
    req.set_benefit_code("OUTPATIENT");
    *req.mutable_service_date() = careops::ToProto(absl::CivilDay(2026, 11, 19));
    req.set_provider_id(absl::StrCat("P-", seq_));
    req.mutable_amount_claimed()->set_currency_code("PHP");
    req.mutable_amount_claimed()->set_amount_minor(minor);
    req.set_channel(v1::CHANNEL_HOTLINE);
    return req;
  }

  v1::Claim Submit(int64_t minor, const std::string& member = "M-1") {
    v1::SubmitClaimRequest req = SubmitRequest(minor, member);
    v1::Claim out;
    Call call("t-specialist");
    grpc::Status s = service_.SubmitClaim(&call.ctx, &req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::TransitionRequest Tr(const v1::Claim& c, const std::string& reason = "why") {
    v1::TransitionRequest req;
    req.set_request_id(absl::StrCat("t-", ++seq_));
    req.set_claim_id(c.claim_id());
    req.set_etag(c.etag());
    req.set_reason(reason);
    return req;
  }

  v1::Claim InReview(int64_t minor) {
    v1::Claim c = Submit(minor);
    v1::AssignClaimRequest assign;
    assign.set_request_id(absl::StrCat("a-", ++seq_));
    assign.set_claim_id(c.claim_id());
    assign.set_etag(c.etag());
    assign.set_assignee("ana");
    v1::Claim assigned, reviewing;
    Call a("t-specialist");
    EXPECT_TRUE(service_.AssignClaim(&a.ctx, &assign, &assigned).ok());
    Call r("t-specialist");
    auto tr = Tr(assigned);
    EXPECT_TRUE(service_.StartReview(&r.ctx, &tr, &reviewing).ok());
    return reviewing;
  }

  grpc::Status Approve(const v1::Claim& c, const std::string& token, v1::Claim* out, int64_t amount = 0) {
    v1::ApproveClaimRequest req;
    req.set_request_id(absl::StrCat("ap-", ++seq_));
    req.set_claim_id(c.claim_id());
    req.set_etag(c.etag());
    if (amount > 0) {
      req.mutable_approved_amount()->set_currency_code("PHP");
      req.mutable_approved_amount()->set_amount_minor(amount);
    }
    Call call(token);
    return service_.ApproveClaim(&call.ctx, &req, out);
  }

  int seq_ = 0;
  FakeClaimStore store_;
  FakeMembership membership_;
  Authenticator authenticator_ = MakeAuthenticator();
  Authorizer authorizer_ = *Authorizer::Create(v1::ClaimsService::service_full_name(),
                                               ClaimsAccess(*AuthorityChain::Parse(AuthorityChain::DefaultText())));
  FakeClock clock_;
  RpcKit rpc_{authenticator_, authorizer_, clock_};
  prometheus::Registry registry_;
  ClaimsMetrics metrics_;
  ClaimsServiceImpl service_;
};

TEST_F(ClaimsServiceTest, NoCallerIsUnauthenticatedAndARoleOutsideTheChainChangesNothing) {
  v1::Claim c = Submit(1000);
  Call none("");
  v1::GetClaimRequest get;
  get.set_claim_id(c.claim_id());
  v1::Claim out;
  EXPECT_EQ(service_.GetClaim(&none.ctx, &get, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Call analyst("t-analyst");
  auto tr = Tr(c);
  EXPECT_EQ(service_.CloseClaim(&analyst.ctx, &tr, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(store_.claims_[c.claim_id()].version, 1);
  // Who is asking is settled before what is asked: bad input from nobody is UNAUTHENTICATED.
  Call nobody("");
  auto deny = Tr(c, "");
  EXPECT_EQ(service_.DenyClaim(&nobody.ctx, &deny, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Call analyst2("t-analyst");
  EXPECT_EQ(service_.DenyClaim(&analyst2.ctx, &deny, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ClaimsServiceTest, SubmissionScreensEligibilityAndSetsTheDecisionDueTime) {
  v1::Claim c = Submit(1000);
  EXPECT_EQ(c.status(), v1::CLAIM_STATUS_SUBMITTED);
  EXPECT_EQ(c.account_id(), "ACC-1");
  EXPECT_EQ(c.benefit_category(), "outpatient");
  // Friday 10:00 + 5 business days = the next Friday 10:00.
  EXPECT_EQ(FromProto(c.decision_due_time()), Friday10() + absl::Hours(24 * 7));

  v1::Claim rejected = Submit(1000, "M-UNKNOWN");
  EXPECT_EQ(rejected.status(), v1::CLAIM_STATUS_REJECTED);
  ASSERT_EQ(rejected.rejection_reasons_size(), 1);
  EXPECT_EQ(rejected.rejection_reasons(0).code(), "MEMBER_NOT_FOUND");
}

TEST_F(ClaimsServiceTest, MembershipDownAtSubmissionStoresNothing) {
  membership_.next_status = absl::UnavailableError("membership down");
  v1::SubmitClaimRequest req = SubmitRequest(100);
  v1::Claim out;
  Call call("t-specialist");
  EXPECT_EQ(service_.SubmitClaim(&call.ctx, &req, &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(store_.claims_.empty());
}

TEST_F(ClaimsServiceTest, BadInputIsInvalidArgumentNamingTheField) {
  v1::SubmitClaimRequest req = SubmitRequest(100);
  req.clear_member_id();
  v1::Claim out;
  Call call("t-specialist");
  grpc::Status s = service_.SubmitClaim(&call.ctx, &req, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "member_id"));

  v1::Claim c = Submit(1000);
  auto tr = Tr(c);
  tr.set_etag("");
  Call close("t-specialist");
  s = service_.CloseClaim(&close.ctx, &tr, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "etag"));
}

TEST_F(ClaimsServiceTest, BadRequestIdIsRefusedBeforeMembershipIsAsked) {
  v1::SubmitClaimRequest req = SubmitRequest(100);
  req.clear_request_id();
  v1::Claim out;
  Call a("t-specialist");
  grpc::Status s = service_.SubmitClaim(&a.ctx, &req, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "request_id"));
  EXPECT_EQ(membership_.eligibility_checks, 0);
  EXPECT_TRUE(store_.claims_.empty());

  v1::Claim c = InReview(1000);
  v1::ApproveClaimRequest approve;
  approve.set_request_id("has spaces");
  approve.set_claim_id(c.claim_id());
  approve.set_etag(c.etag());
  Call b("t-specialist");
  s = service_.ApproveClaim(&b.ctx, &approve, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "request_id"));
  EXPECT_TRUE(membership_.recorded.empty());
  EXPECT_EQ(store_.claims_[c.claim_id()].status, ClaimStatus::kInReview);
}

TEST_F(ClaimsServiceTest, ApprovalRecordsUtilisationKeyedByTheClaimIdBeforeApproving) {
  v1::Claim c = InReview(2000000);
  v1::Claim approved;
  ASSERT_TRUE(Approve(c, "t-specialist", &approved).ok());
  ASSERT_EQ(membership_.recorded.size(), 1u);
  EXPECT_EQ(membership_.recorded[0].source_reference, c.claim_id());
  EXPECT_EQ(membership_.recorded[0].amount, Money("PHP", 2000000));
  EXPECT_EQ(approved.status(), v1::CLAIM_STATUS_APPROVED);
  // Friday + 10 business days.
  EXPECT_EQ(FromProto(approved.settlement_due_time()), Friday10() + absl::Hours(24 * 14));
}

TEST_F(ClaimsServiceTest, MembershipRefusalOrOutageLeavesTheClaimUnchanged) {
  v1::Claim c = InReview(2000000);
  const Claim before = store_.claims_[c.claim_id()];
  const size_t events = store_.history_[c.claim_id()].size();
  v1::Claim out;
  membership_.next_status = absl::FailedPreconditionError("membership RecordUtilization: limit exhausted");
  EXPECT_EQ(Approve(c, "t-specialist", &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  membership_.next_status = absl::UnavailableError("membership is unavailable");
  EXPECT_EQ(Approve(c, "t-specialist", &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(store_.claims_[c.claim_id()].version, before.version);
  EXPECT_EQ(store_.claims_[c.claim_id()].status, ClaimStatus::kInReview);
  EXPECT_EQ(store_.history_[c.claim_id()].size(), events);
}

TEST_F(ClaimsServiceTest, AboveTheLimitIsPermissionDeniedWithoutAskingMembership) {
  v1::Claim c = InReview(30000000);
  v1::Claim out;
  EXPECT_EQ(Approve(c, "t-specialist", &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Approve(c, "t-officer", &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(membership_.recorded.empty());
  // A partial approval within the specialist's limit is theirs to make.
  ASSERT_TRUE(Approve(c, "t-specialist", &out, 5000000).ok());
  EXPECT_EQ(out.status(), v1::CLAIM_STATUS_PARTIALLY_APPROVED);
}

TEST_F(ClaimsServiceTest, ReopeningAnUnsettledApprovalReversesItsUtilisation) {
  v1::Claim c = InReview(1000);
  v1::Claim approved, reopened, again;
  ASSERT_TRUE(Approve(c, "t-specialist", &approved).ok());
  Call call("t-specialist");
  auto tr = Tr(approved, "amount wrong");
  ASSERT_TRUE(service_.ReopenClaim(&call.ctx, &tr, &reopened).ok());
  EXPECT_EQ(membership_.reversed, std::vector<std::string>{c.claim_id()});
  EXPECT_EQ(reopened.status(), v1::CLAIM_STATUS_IN_REVIEW);
  EXPECT_FALSE(reopened.has_decision_time());
  // The second approval is a new utilisation, distinct from the reversed one.
  ASSERT_TRUE(Approve(reopened, "t-specialist", &again).ok());
  ASSERT_EQ(membership_.recorded.size(), 2u);
  EXPECT_EQ(membership_.recorded[1].source_reference, c.claim_id() + "/2");
}

TEST_F(ClaimsServiceTest, ReopenWhileMembershipIsDownLeavesTheApprovalInPlace) {
  v1::Claim c = InReview(1000);
  v1::Claim approved, out;
  ASSERT_TRUE(Approve(c, "t-specialist", &approved).ok());
  membership_.next_status = absl::UnavailableError("membership is unavailable");
  Call call("t-specialist");
  auto tr = Tr(approved, "amount wrong");
  EXPECT_EQ(service_.ReopenClaim(&call.ctx, &tr, &out).error_code(), grpc::StatusCode::UNAVAILABLE);
  const Claim& stored = store_.claims_[c.claim_id()];
  EXPECT_EQ(stored.status, ClaimStatus::kApproved);
  EXPECT_EQ(stored.utilization_ref, c.claim_id());
  EXPECT_EQ(absl::StrCat(stored.version), approved.etag());
  EXPECT_TRUE(membership_.reversed.empty());
}

TEST_F(ClaimsServiceTest, EscalationClimbsTheChainAndStopsAtTheTop) {
  v1::Claim c = InReview(1000);
  for (const char* role : {"officer", "assistant_manager", "manager"}) {
    Call call("t-specialist");
    auto tr = Tr(c, "complex");
    ASSERT_TRUE(service_.EscalateClaim(&call.ctx, &tr, &c).ok());
    EXPECT_EQ(c.routed_role(), role);
    EXPECT_TRUE(c.assignee().empty());
  }
  Call call("t-manager");
  auto tr = Tr(c, "again");
  v1::Claim out;
  EXPECT_EQ(service_.EscalateClaim(&call.ctx, &tr, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ClaimsServiceTest, LateSettlementIsMarkedBreached) {
  v1::Claim c = InReview(1000);
  v1::Claim approved, settled;
  ASSERT_TRUE(Approve(c, "t-specialist", &approved).ok());
  clock_.Advance(absl::Hours(24 * 30));
  v1::SettleClaimRequest req;
  req.set_request_id("settle-1");
  req.set_claim_id(c.claim_id());
  req.set_etag(approved.etag());
  req.set_payment_reference("PAY-1");
  Call call("t-finance");
  ASSERT_TRUE(service_.SettleClaim(&call.ctx, &req, &settled).ok());
  EXPECT_TRUE(settled.settlement_breached());
  EXPECT_FALSE(settled.decision_breached());
}

TEST_F(ClaimsServiceTest, ReplayedRequestIdReturnsTheFirstAnswerWithoutCallingMembershipAgain) {
  v1::Claim c = InReview(1000);
  v1::ApproveClaimRequest req;
  req.set_request_id("approve-once");
  req.set_claim_id(c.claim_id());
  req.set_etag(c.etag());
  v1::Claim first, second;
  Call a("t-specialist"), b("t-specialist");
  ASSERT_TRUE(service_.ApproveClaim(&a.ctx, &req, &first).ok());
  ASSERT_TRUE(service_.ApproveClaim(&b.ctx, &req, &second).ok());
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  EXPECT_EQ(membership_.recorded.size(), 1u);
}

TEST_F(ClaimsServiceTest, UnknownEnumValuesAreInvalidArgumentAndStoreNothing) {
  v1::SubmitClaimRequest req = SubmitRequest(100);
  req.set_type(static_cast<v1::ClaimType>(42));
  v1::Claim out;
  Call a("t-specialist");
  grpc::Status s = service_.SubmitClaim(&a.ctx, &req, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "type"));
  req.set_type(v1::CLAIM_TYPE_CLAIM);
  req.set_channel(static_cast<v1::Channel>(42));
  Call b("t-specialist");
  s = service_.SubmitClaim(&b.ctx, &req, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "channel"));
  EXPECT_TRUE(store_.claims_.empty());

  // A channel filter outside the enum is refused, not read as "any channel".
  v1::ListClaimsRequest list;
  list.set_channel(static_cast<v1::Channel>(42));
  v1::ListClaimsResponse listed;
  Call c("t-specialist");
  s = service_.ListClaims(&c.ctx, &list, &listed);
  EXPECT_TRUE(InvalidArgumentNaming(s, "channel"));
}

TEST_F(ClaimsServiceTest, PageTokensCarryTheirFilters) {
  for (int i = 0; i < 3; ++i) Submit(1000 + i);
  v1::ListClaimsRequest req;
  req.set_page_size(1);
  req.set_member_id("M-1");
  req.set_status(v1::CLAIM_STATUS_SUBMITTED);
  v1::ListClaimsResponse first;
  Call a("t-specialist");
  ASSERT_TRUE(service_.ListClaims(&a.ctx, &req, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());

  // Same filters, any page size: the next page.
  req.set_page_token(first.next_page_token());
  req.set_page_size(2);
  v1::ListClaimsResponse second;
  Call b("t-specialist");
  ASSERT_TRUE(service_.ListClaims(&b.ctx, &req, &second).ok());
  ASSERT_EQ(second.claims_size(), 2);
  EXPECT_GT(second.claims(0).claim_id(), first.claims(0).claim_id());
  EXPECT_TRUE(second.next_page_token().empty());

  // Another filter with the same token: refused, naming page_token.
  for (auto change : std::vector<std::function<void(v1::ListClaimsRequest&)>>{
           [](v1::ListClaimsRequest& r) { r.set_member_id("M-2"); }, [](v1::ListClaimsRequest& r) { r.clear_status(); },
           [](v1::ListClaimsRequest& r) { r.set_breached_only(true); },
           [](v1::ListClaimsRequest& r) { r.set_channel(v1::CHANNEL_PORTAL); },
           [](v1::ListClaimsRequest& r) { *r.mutable_submitted_from() = ToProtoTimestamp(Friday10()); }}) {
    v1::ListClaimsRequest other = req;
    change(other);
    v1::ListClaimsResponse out;
    Call c("t-specialist");
    grpc::Status s = service_.ListClaims(&c.ctx, &other, &out);
    EXPECT_TRUE(InvalidArgumentNaming(s, "page_token"));
  }
  // Something that is not a token at all, or a bare claim id.
  for (const std::string& bad : {std::string("not-a-token"), first.claims(0).claim_id()}) {
    v1::ListClaimsRequest other = req;
    other.set_page_token(bad);
    v1::ListClaimsResponse out;
    Call c("t-specialist");
    grpc::Status s = service_.ListClaims(&c.ctx, &other, &out);
    EXPECT_TRUE(InvalidArgumentNaming(s, "page_token"));
  }
}

}  // namespace
}  // namespace careops::claims
