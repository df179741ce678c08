// The gRPC adapter over an in-memory store, a fake membership, a fake outbox
// delivery and a fake clock: who may call, what is validated, and the order of
// effects around approval (the claim waits APPROVAL_PENDING until membership
// records the utilisation, goes back to IN_REVIEW when membership refuses, stays
// pending while membership is down; reversal on reopen the same way).
#include "services/claims/claims_service.h"
#include "services/claims/claims_access.h"

#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "careops/membership/v1/membership.pb.h"
#include "prometheus/registry.h"
#include "services/claims/claims_outbox.h"

namespace careops::claims {
namespace {

namespace mv1 = ::careops::membership::v1;

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

  absl::Status CreateAdjustment(const MutationContext& m, const std::string& original_id, const AdjustmentMaker& make,
                                const RenderClaim& render) override {
    if (Replayed(m)) return absl::OkStatus();
    CAREOPS_ASSIGN_OR_RETURN(Claim original, GetClaim(original_id));
    CAREOPS_ASSIGN_OR_RETURN(std::vector<Claim> adjustments, ListAdjustments(original_id));
    CAREOPS_ASSIGN_OR_RETURN(auto made, make(original, adjustments));
    claims_[made.first.claim_id] = made.first;
    history_[made.first.claim_id].push_back(made.second);
    render(made.first);
    Remember(m);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Claim>> ListAdjustments(const std::string& original_id) override {
    std::vector<Claim> out;
    for (const auto& [id, c] : claims_) {
      if (c.original_claim_id == original_id) out.push_back(c);
    }
    return out;
  }

  absl::StatusOr<Claim> GetClaim(const std::string& claim_id) override {
    auto it = claims_.find(claim_id);
    if (it == claims_.end()) return absl::NotFoundError("no claim");
    return it->second;
  }

  absl::StatusOr<mysql::KeysetPage<Claim>> ListClaims(const ClaimFilter&, const PageRequest& page) override {
    mysql::KeysetPage<Claim> out;
    for (auto it = claims_.upper_bound(page.after_id); it != claims_.end(); ++it) {
      if (static_cast<int>(out.items.size()) == page.limit) {
        out.more = true;
        break;
      }
      out.items.push_back(it->second);
    }
    return out;
  }

  absl::StatusOr<bool> AnswerIfReplayed(const MutationContext& m) override { return Replayed(m); }

  absl::Status TransitionClaim(const MutationContext& m, const std::string& claim_id, mysql::ExpectedVersion expected,
                               const ClaimDecider& decide, const RenderClaim& render) override {
    if (Replayed(m)) return absl::OkStatus();
    auto it = claims_.find(claim_id);
    if (it == claims_.end()) return absl::NotFoundError("no claim");
    if (it->second.version != expected.value()) return absl::AbortedError("stale etag");
    auto change = decide(it->second);
    if (!change.ok()) return change.status();
    change->claim.version = it->second.version + 1;
    change->claim.updated_at = m.now;
    it->second = change->claim;
    if (change->intent) {
      outbox::IntentRecord r;
      r.intent = *change->intent;
      r.request_id = m.request_id;
      intents_[r.intent.key] = r;
    }
    history_[claim_id].push_back(change->event);
    render(it->second);
    Remember(m);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ClaimEvent>> GetHistory(const std::string& claim_id) override {
    return history_[claim_id];
  }
  absl::StatusOr<BreachScanResult> MarkBreaches(const BreachScanQuery& q) override {
    BreachScanResult r;
    for (auto& [id, c] : claims_) {
      if (AwaitsDecision(c.status) && !c.decision_breached && c.decision_due_at <= q.as_of) {
        if (!q.preview) c.decision_breached = true;
        ++r.decision_breaches;
        r.claims.push_back({c.claim_id, c.account_id, true, false});
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
  absl::Status TransitionInvestigation(const MutationContext&, const std::string&, mysql::ExpectedVersion,
                                       const InvestigationDecider&, const RenderInvestigation&) override {
    return absl::UnimplementedError("not in this fake");
  }
  absl::StatusOr<mysql::KeysetPage<Investigation>> ListInvestigations(bool, const std::string&,
                                                                      const PageRequest&) override {
    return absl::UnimplementedError("not in this fake");
  }

  std::map<std::string, Claim> claims_;
  std::map<std::string, std::vector<ClaimEvent>> history_;
  std::map<std::string, outbox::IntentRecord> intents_;  // by key, as the outbox table holds them

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
  absl::StatusOr<std::optional<UtilizationState>> GetUtilization(const std::string& ref) override {
    std::optional<UtilizationState> out;
    for (const auto& r : recorded) {
      if (r.source_reference() == ref) out = UtilizationState{FromProto(r.amount()), false};
    }
    for (const auto& r : reversed) {
      if (r == ref && out) out->reversed = true;
    }
    return out;
  }

  absl::Status next_status = absl::OkStatus();  // CheckEligibility's answer
  absl::Status utilization_status = absl::OkStatus();  // what Record/ReverseUtilization answer
  int eligibility_checks = 0;
  std::vector<mv1::RecordUtilizationRequest> recorded;
  std::vector<std::string> reversed;
};

// The outbox delivery over the fake store and membership: membership answers
// with utilization_status, the relay's verdict is the real outbox::Decide, and
// the claim is settled by the real SettleOnAnswer, as the completion handler
// does in the relay's transaction.
class FakeIntents final : public outbox::IntentDeliverer {
 public:
  FakeIntents(FakeClaimStore& store, FakeMembership& membership, const Clock& clock)
      : store_(store), membership_(membership), clock_(clock) {}

  absl::StatusOr<outbox::IntentRecord> DeliverNow(const std::string& key, absl::Time) override {
    auto it = store_.intents_.find(key);
    if (it == store_.intents_.end()) return absl::NotFoundError("no intent");
    outbox::IntentRecord& r = it->second;
    if (r.state != outbox::IntentState::kPending) return r;
    ++r.attempts;
    ++deliveries;
    const bool record = r.intent.peer_method == kRecordUtilizationMethod;
    outbox::PeerReply reply{membership_.utilization_status, ""};
    if (reply.status.ok()) {
      if (record) {
        mv1::RecordUtilizationRequest req;
        req.ParseFromString(r.intent.request);
        membership_.recorded.push_back(req);
      } else {
        mv1::ReverseUtilizationRequest req;
        req.ParseFromString(r.intent.request);
        membership_.reversed.push_back(req.source_reference());
      }
    }
    const absl::Time now = clock_.Now();
    outbox::Decision d = outbox::Decide(reply.status.code(),
                                        record ? std::vector<absl::StatusCode>{}
                                               : std::vector<absl::StatusCode>{absl::StatusCode::kNotFound},
                                        r.attempts, now, {});
    r.last_error = reply.status.ok() ? "" : absl::StrCat(absl::StatusCodeToString(reply.status.code()), ": ",
                                                         reply.status.message());
    if (d.verdict == outbox::Verdict::kRetry) return r;
    Claim& claim = store_.claims_[r.intent.resource_id];
    TatTargets tat;
    auto change = SettleOnAnswer(claim, r, d.verdict == outbox::Verdict::kDelivered, reply, now, tat, nullptr);
    if (!change.ok()) return change.status();
    if (*change) {
      (*change)->claim.version = claim.version + 1;
      (*change)->claim.updated_at = now;
      claim = (*change)->claim;
      store_.history_[claim.claim_id].push_back((*change)->event);
    }
    r.result = ToProto(claim).SerializeAsString();
    r.state = d.verdict == outbox::Verdict::kDelivered ? outbox::IntentState::kDelivered
                                                       : outbox::IntentState::kFailed;
    return r;
  }

  int deliveries = 0;

 private:
  FakeClaimStore& store_;
  FakeMembership& membership_;
  const Clock& clock_;
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
        intents_(store_, membership_, clock_),
        service_(store_, membership_, intents_, rpc_, metrics_,
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
        "t-intake ivan specialist claims\n"
        "t-officer ben officer claims\n"
        "t-manager dan manager claims\n"
        "t-analyst hana analyst reporting\n"
        "t-finance fay finance finance\n"
        "t-ops olga operations operations\n");
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

  // Logged by the intake specialist, so that the others may approve it (maker-checker).
  v1::Claim Submit(int64_t minor, const std::string& member = "M-1", const std::string& token = "t-intake") {
    v1::SubmitClaimRequest req = SubmitRequest(minor, member);
    v1::Claim out;
    Call call(token);
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
  FakeIntents intents_;
  ClaimsServiceImpl service_;
};

std::vector<std::string> Actions(const std::vector<ClaimEvent>& events) {
  std::vector<std::string> out;
  for (const ClaimEvent& e : events) out.push_back(e.action);
  return out;
}

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

TEST_F(ClaimsServiceTest, CodesAmountsTimestampsAndEtagsFollowTheCommonRules) {
  v1::Claim out;
  v1::SubmitClaimRequest req = SubmitRequest(100);
  req.add_diagnosis_codes("J06.9");
  req.add_diagnosis_codes("J06.9\nE11");
  Call submit("t-specialist");
  grpc::Status s = service_.SubmitClaim(&submit.ctx, &req, &out);
  EXPECT_EQ(s.error_message(), "diagnosis_codes[1]: must not contain control characters or line breaks");
  req = SubmitRequest(kMaxMoneyMinor + 1);
  Call too_big("t-specialist");
  s = service_.SubmitClaim(&too_big.ctx, &req, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "amount_claimed.amount_minor"));
  EXPECT_TRUE(store_.claims_.empty());

  v1::Claim c = Submit(1000);
  auto tr = Tr(c);
  tr.set_etag(std::string(1 << 20, '7'));
  Call close("t-specialist");
  s = service_.CloseClaim(&close.ctx, &tr, &out);
  EXPECT_TRUE(InvalidArgumentNaming(s, "etag"));
  EXPECT_LT(s.error_message().size(), 100u);

  v1::ListClaimsRequest list;
  list.mutable_submitted_from()->set_nanos(1000000000);
  v1::ListClaimsResponse listed;
  Call list_call("t-specialist");
  s = service_.ListClaims(&list_call.ctx, &list, &listed);
  EXPECT_EQ(s.error_message(), "submitted_from: nanos must be between 0 and 999999999");

  v1::RunBreachScanRequest scan;
  scan.mutable_as_of()->set_seconds(-62135596801);  // the second before 0001-01-01
  v1::RunBreachScanResponse scanned;
  Call scan_call("t-ops");
  s = service_.RunBreachScan(&scan_call.ctx, &scan, &scanned);
  EXPECT_EQ(s.error_message(), "as_of: must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
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
  EXPECT_TRUE(store_.intents_.empty());
  EXPECT_EQ(store_.claims_[c.claim_id()].status, ClaimStatus::kInReview);
}

TEST_F(ClaimsServiceTest, ApprovalWaitsForMembershipThenAnswersApproved) {
  v1::Claim c = InReview(2000000);
  v1::Claim approved;
  ASSERT_TRUE(Approve(c, "t-specialist", &approved).ok());
  ASSERT_EQ(membership_.recorded.size(), 1u);
  EXPECT_EQ(membership_.recorded[0].source_reference(), c.claim_id());
  EXPECT_EQ(membership_.recorded[0].amount().amount_minor(), 2000000);
  EXPECT_EQ(approved.status(), v1::CLAIM_STATUS_APPROVED);
  EXPECT_EQ(approved.utilization_reference(), c.claim_id());
  // Friday + 10 business days.
  EXPECT_EQ(FromProto(approved.settlement_due_time()), Friday10() + absl::Hours(24 * 14));
  // Two steps: approved here (pending), confirmed once membership recorded it.
  EXPECT_EQ(Actions(store_.history_[c.claim_id()]),
            (std::vector<std::string>{"submit", "assign", "start_review", "approve", "approval_confirmed"}));
  EXPECT_EQ(store_.history_[c.claim_id()][3].to_status, ClaimStatus::kApprovalPending);
}

TEST_F(ClaimsServiceTest, MembershipRefusalPutsTheClaimBackInReviewWithTheReason) {
  v1::Claim c = InReview(2000000);
  v1::Claim out;
  membership_.utilization_status = absl::FailedPreconditionError("utilisation refused: ANNUAL_LIMIT_EXHAUSTED");
  grpc::Status s = Approve(c, "t-specialist", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("ANNUAL_LIMIT_EXHAUSTED"), std::string::npos) << s.error_message();
  const Claim& stored = store_.claims_[c.claim_id()];
  EXPECT_EQ(stored.status, ClaimStatus::kInReview);
  EXPECT_EQ(stored.amount_approved.minor(), 0);
  EXPECT_TRUE(stored.utilization_ref.empty());
  const ClaimEvent& refusal = store_.history_[c.claim_id()].back();
  EXPECT_EQ(refusal.action, "approval_refused");
  EXPECT_NE(refusal.reason.find("ANNUAL_LIMIT_EXHAUSTED"), std::string::npos);
  // The next approval is a new utilisation reference.
  membership_.utilization_status = absl::OkStatus();
  v1::Claim current = ToProto(stored), approved;
  ASSERT_TRUE(Approve(current, "t-specialist", &approved).ok());
  EXPECT_EQ(approved.status(), v1::CLAIM_STATUS_APPROVED);
  EXPECT_EQ(approved.utilization_reference(), c.claim_id() + "/2");
}

TEST_F(ClaimsServiceTest, MembershipDownLeavesTheClaimPendingUntilTheRelayDeliversIt) {
  v1::Claim c = InReview(2000000);
  v1::Claim out;
  membership_.utilization_status = absl::UnavailableError("membership is down");
  ASSERT_TRUE(Approve(c, "t-specialist", &out).ok());
  EXPECT_EQ(out.status(), v1::CLAIM_STATUS_APPROVAL_PENDING);
  EXPECT_TRUE(membership_.recorded.empty());
  // Nothing else may happen to it meanwhile.
  Call call("t-specialist");
  auto tr = Tr(out, "changed my mind");
  v1::Claim ignored;
  grpc::Status s = service_.DenyClaim(&call.ctx, &tr, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("APPROVAL_PENDING"), std::string::npos) << s.error_message();
  // Membership is back; the background relay delivers.
  membership_.utilization_status = absl::OkStatus();
  auto delivered = intents_.DeliverNow(IntentKeyFor(out), absl::InfiniteFuture());
  ASSERT_TRUE(delivered.ok());
  EXPECT_EQ(delivered->state, outbox::IntentState::kDelivered);
  EXPECT_EQ(store_.claims_[c.claim_id()].status, ClaimStatus::kApproved);
  EXPECT_EQ(membership_.recorded.size(), 1u);
}

// A claw-back's intents, settled as the relay's completions do
// (claims_outbox.h): the rest first, then the give-back; a refusal at any step
// leaves nothing of it in membership.
class ClawbackCompletionTest : public ::testing::Test {
 protected:
  ClawbackCompletionTest() {
    pending_.claim_id = "adj1";
    pending_.type = kTypeAdjustment;
    pending_.original_claim_id = "orig";
    pending_.status = ClaimStatus::kApprovalPending;
    pending_.amount_claimed = pending_.payable = pending_.amount_approved = Money("PHP", -100000);
    pending_.clawback_refs = {"orig"};
    pending_.clawback_rest_minor = 300000;
    pending_.utilization_ref = "adj1";
    pending_.utilization_seq = 1;
    pending_.version = 5;
  }
  static outbox::IntentRecord RecordOf(const outbox::Intent& intent) {
    outbox::IntentRecord r;
    r.intent = intent;
    return r;
  }
  // The claim as stored after `change` (one version on).
  static Claim Stored(const ClaimChange& change) {
    Claim c = change.claim;
    c.version += 1;
    return c;
  }
  absl::StatusOr<std::optional<ClaimChange>> Answer(const Claim& cur, const outbox::Intent& intent, bool delivered,
                                                    absl::Status status = absl::OkStatus()) {
    return SettleOnAnswer(cur, RecordOf(intent), delivered, {std::move(status), ""}, now_, tat_, nullptr);
  }

  const absl::Time now_ = absl::FromUnixSeconds(1'790'000'000);
  const TatTargets tat_;
  Claim pending_;
};

TEST_F(ClawbackCompletionTest, TheRestIsRecordedFirstThenTheRecordIsGivenBack) {
  std::optional<outbox::Intent> first = ClawbackIntent(pending_, 5);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->peer_method, kRecordUtilizationMethod);
  mv1::RecordUtilizationRequest rest;
  ASSERT_TRUE(rest.ParseFromString(first->request));
  EXPECT_EQ(rest.source_reference(), "adj1");
  EXPECT_EQ(rest.amount().amount_minor(), 300000);

  // Recorded: still pending, now on the give-back.
  auto step = Answer(pending_, *first, true);
  ASSERT_TRUE(step.ok() && step->has_value()) << step.status();
  EXPECT_EQ((*step)->claim.status, ClaimStatus::kApprovalPending);
  EXPECT_EQ((*step)->event.action, kEventClawbackRestRecorded);
  EXPECT_TRUE((*step)->claim.clawback_rest_recorded);
  ASSERT_TRUE((*step)->intent.has_value());
  EXPECT_EQ((*step)->intent->peer_method, kReverseUtilizationMethod);
  EXPECT_EQ((*step)->intent->key, "claim/adj1/6");
  mv1::ReverseUtilizationRequest reverse;
  ASSERT_TRUE(reverse.ParseFromString((*step)->intent->request));
  EXPECT_EQ(reverse.source_reference(), "orig");
  const Claim waiting_give_back = Stored(**step);
  // The rest answered again is not what the claim waits on any more.
  auto again = Answer(waiting_give_back, *first, true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());

  // Given back: APPROVED for the signed amount.
  auto done = Answer(waiting_give_back, *(*step)->intent, true);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->claim.status, ClaimStatus::kApproved);
  EXPECT_EQ((*done)->claim.amount_approved, Money("PHP", -100000));
  EXPECT_EQ((*done)->claim.clawback_given, 1);
  EXPECT_FALSE((*done)->intent.has_value());
}

TEST_F(ClawbackCompletionTest, ARefusedRestLeavesNothingApplied) {
  std::optional<outbox::Intent> first = ClawbackIntent(pending_, 5);
  ASSERT_TRUE(first.has_value());
  auto refused = Answer(pending_, *first, false, absl::FailedPreconditionError("utilisation refused: MEMBER_NOT_ACTIVE"));
  ASSERT_TRUE(refused.ok() && refused->has_value());
  const ClaimChange& c = **refused;
  EXPECT_EQ(c.claim.status, ClaimStatus::kInReview);
  EXPECT_EQ(c.event.action, "approval_refused");
  EXPECT_EQ(c.event.reason, "utilisation refused: MEMBER_NOT_ACTIVE");
  EXPECT_NE(c.event.details.find("nothing of the claw-back was applied"), std::string::npos) << c.event.details;
  EXPECT_TRUE(c.claim.clawback_refs.empty());
  EXPECT_EQ(c.claim.clawback_given, 0);
  EXPECT_EQ(c.claim.utilization_ref, "");
  EXPECT_EQ(c.claim.amount_approved, Money("PHP", 0));
  EXPECT_FALSE(c.intent.has_value());
  EXPECT_FALSE(ClawbackPartlyHeld(c.claim));
}

TEST_F(ClawbackCompletionTest, ARefusedGiveBackGivesTheRestBackAgain) {
  auto recorded = Answer(pending_, *ClawbackIntent(pending_, 5), true);
  ASSERT_TRUE(recorded.ok() && recorded->has_value());
  const Claim waiting = Stored(**recorded);
  auto refused = Answer(waiting, *(*recorded)->intent, false, absl::InvalidArgumentError("reason: bad"));
  ASSERT_TRUE(refused.ok() && refused->has_value());
  EXPECT_EQ((*refused)->claim.status, ClaimStatus::kApprovalPending);
  EXPECT_EQ((*refused)->event.action, kEventClawbackGiveBackRefused);
  ASSERT_TRUE((*refused)->intent.has_value());
  mv1::ReverseUtilizationRequest undo;
  ASSERT_TRUE(undo.ParseFromString((*refused)->intent->request));
  EXPECT_EQ(undo.source_reference(), "adj1");
  auto undone = Answer(Stored(**refused), *(*refused)->intent, true);
  ASSERT_TRUE(undone.ok() && undone->has_value());
  EXPECT_EQ((*undone)->claim.status, ClaimStatus::kInReview);
  EXPECT_EQ((*undone)->event.action, "approval_refused");
  EXPECT_FALSE(ClawbackPartlyHeld((*undone)->claim));
  EXPECT_TRUE((*undone)->claim.clawback_refs.empty());
  EXPECT_EQ((*undone)->claim.utilization_ref, "");
  EXPECT_EQ((*undone)->claim.amount_approved, Money("PHP", 0));
  EXPECT_FALSE((*undone)->intent.has_value());
  // The give-back of the rest refused in turn: membership holds the rest, so
  // the adjustment is kept as it is (not denied; approving again finishes it).
  auto stuck = Answer(Stored(**refused), *(*refused)->intent, false, absl::FailedPreconditionError("no"));
  ASSERT_TRUE(stuck.ok() && stuck->has_value());
  EXPECT_EQ((*stuck)->claim.status, ClaimStatus::kInReview);
  EXPECT_TRUE((*stuck)->claim.clawback_rest_recorded);
  EXPECT_EQ((*stuck)->claim.utilization_ref, "adj1");
  EXPECT_EQ(NextStatus((*stuck)->claim, ClaimAction::kDeny).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(NextClawbackStep((*stuck)->claim), ClawbackStep::kGiveBack);
}

TEST_F(ClawbackCompletionTest, AClawBackFromBeforeV006RecordsItsRestAfterItsRecordWasGivenBack) {
  // Given back by the old order, then the rest refused: back in review with the
  // record given back; it may not be denied, and approving again records the rest only.
  Claim legacy = pending_;
  legacy.status = ClaimStatus::kInReview;
  legacy.clawback_given = 1;
  legacy.utilization_ref.clear();
  EXPECT_TRUE(ClawbackPartlyHeld(legacy));
  EXPECT_EQ(NextStatus(legacy, ClaimAction::kDeny).status().code(), absl::StatusCode::kFailedPrecondition);
  legacy.status = ClaimStatus::kApprovalPending;
  legacy.utilization_ref = "adj1/2";
  EXPECT_EQ(NextClawbackStep(legacy), ClawbackStep::kRecordRest);
  auto refused = Answer(legacy, *ClawbackIntent(legacy, 5), false, absl::FailedPreconditionError("no"));
  ASSERT_TRUE(refused.ok() && refused->has_value());
  EXPECT_EQ((*refused)->claim.status, ClaimStatus::kInReview);
  EXPECT_EQ((*refused)->claim.clawback_given, 1);
  EXPECT_EQ((*refused)->claim.clawback_refs, std::vector<std::string>{"orig"});
  auto done = Answer(legacy, *ClawbackIntent(legacy, 5), true);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->claim.status, ClaimStatus::kApproved);
  // Its give-back still in flight at the upgrade: the rest follows it.
  Claim in_flight = pending_;
  EXPECT_EQ(NextClawbackStep(in_flight), ClawbackStep::kRecordRest);
  mv1::ReverseUtilizationRequest old_give_back;
  old_give_back.set_request_id("reverse-orig");
  old_give_back.set_source_reference("orig");
  outbox::Intent old_intent{.key = "claim/adj1/5",
                            .peer_method = kReverseUtilizationMethod,
                            .request = old_give_back.SerializeAsString(),
                            .idempotency_key = "reverse-orig",
                            .resource_kind = "claim",
                            .resource_id = "adj1"};
  auto given = Answer(in_flight, old_intent, true);
  ASSERT_TRUE(given.ok() && given->has_value());
  EXPECT_EQ((*given)->claim.status, ClaimStatus::kApprovalPending);
  ASSERT_TRUE((*given)->intent.has_value());
  EXPECT_EQ((*given)->intent->peer_method, kRecordUtilizationMethod);
}

TEST_F(ClawbackCompletionTest, AClawBackOfWholeRecordsOnlyGivesBack) {
  Claim whole = pending_;
  whole.clawback_rest_minor = 0;
  whole.utilization_ref.clear();
  std::optional<outbox::Intent> first = ClawbackIntent(whole, 5);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->peer_method, kReverseUtilizationMethod);
  auto done = Answer(whole, *first, true);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->claim.status, ClaimStatus::kApproved);
  EXPECT_FALSE((*done)->intent.has_value());
  // Refused: nothing was applied.
  auto refused = Answer(whole, *first, false, absl::InvalidArgumentError("bad"));
  ASSERT_TRUE(refused.ok() && refused->has_value());
  EXPECT_EQ((*refused)->claim.status, ClaimStatus::kInReview);
  EXPECT_FALSE(ClawbackPartlyHeld((*refused)->claim));
}

TEST(ClaimEventActionTest, EveryHistoryActionIsAValueOfTheProtoEnum) {
  for (ClaimAction a : kAllClaimActions) {
    EXPECT_NE(EventActionOf(ClaimActionName(a)), v1::CLAIM_EVENT_ACTION_UNSPECIFIED) << ClaimActionName(a);
  }
  for (const char* other : kOtherClaimEvents) {
    EXPECT_NE(EventActionOf(other), v1::CLAIM_EVENT_ACTION_UNSPECIFIED) << other;
  }
  EXPECT_EQ(EventActionOf("decision_tat_breach"), v1::CLAIM_EVENT_ACTION_DECISION_TAT_BREACH);
  EXPECT_EQ(EventActionOf("made_up"), v1::CLAIM_EVENT_ACTION_UNSPECIFIED);
}

TEST_F(ClaimsServiceTest, TheSubmitterMayNotApproveTheirOwnClaim) {
  v1::Claim mine = Submit(1000, "M-1", "t-specialist");
  v1::AssignClaimRequest assign;
  assign.set_request_id("assign-own");
  assign.set_claim_id(mine.claim_id());
  assign.set_etag(mine.etag());
  assign.set_assignee("ana");
  v1::Claim assigned, reviewing, out;
  Call a("t-specialist");
  ASSERT_TRUE(service_.AssignClaim(&a.ctx, &assign, &assigned).ok());
  Call r("t-specialist");
  auto tr = Tr(assigned);
  ASSERT_TRUE(service_.StartReview(&r.ctx, &tr, &reviewing).ok());
  grpc::Status s = Approve(reviewing, "t-specialist", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("maker-checker"), std::string::npos) << s.error_message();
  EXPECT_TRUE(membership_.recorded.empty());
  ASSERT_TRUE(Approve(reviewing, "t-officer", &out).ok());
  EXPECT_EQ(out.status(), v1::CLAIM_STATUS_APPROVED);
}

TEST_F(ClaimsServiceTest, DenyReopenAndReturnNeedTheRoutedRank) {
  v1::Claim c = InReview(1000);
  // A manager's approval belongs to the manager's rank.
  v1::Claim approved, out;
  ASSERT_TRUE(Approve(c, "t-manager", &approved).ok());
  EXPECT_EQ(approved.routed_role(), "manager");
  Call specialist("t-specialist");
  auto reopen = Tr(approved, "wrong");
  grpc::Status s = service_.ReopenClaim(&specialist.ctx, &reopen, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(store_.claims_[c.claim_id()].status, ClaimStatus::kApproved);
  // Escalated to the officer: the specialist may neither deny nor return it.
  v1::Claim other = InReview(1000), escalated;
  Call esc("t-specialist");
  auto up = Tr(other, "complex");
  ASSERT_TRUE(service_.EscalateClaim(&esc.ctx, &up, &escalated).ok());
  Call deny_call("t-specialist");
  auto deny = Tr(escalated, "no");
  EXPECT_EQ(service_.DenyClaim(&deny_call.ctx, &deny, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Call info_call("t-specialist");
  auto info = Tr(escalated, "need the receipt");
  EXPECT_EQ(service_.RequestInformation(&info_call.ctx, &info, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  Call officer("t-officer");
  auto deny2 = Tr(escalated, "no");
  ASSERT_TRUE(service_.DenyClaim(&officer.ctx, &deny2, &out).ok());
  EXPECT_EQ(out.status(), v1::CLAIM_STATUS_DENIED);
}

TEST_F(ClaimsServiceTest, AboveTheLimitIsPermissionDeniedWithoutAskingMembership) {
  v1::Claim c = InReview(30000000);
  v1::Claim out;
  EXPECT_EQ(Approve(c, "t-specialist", &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Approve(c, "t-officer", &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(membership_.recorded.empty());
  // The limit is judged on the amount claimed (issue 10): approving part of the
  // claim within the specialist's limit is still above their authority.
  EXPECT_EQ(Approve(c, "t-specialist", &out, 5000000).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(membership_.recorded.empty());
  ASSERT_TRUE(Approve(c, "t-manager", &out, 5000000).ok());
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
  EXPECT_EQ(membership_.recorded[1].source_reference(), c.claim_id() + "/2");
}

TEST_F(ClaimsServiceTest, ReopenWhileMembershipIsDownWaitsReopenPending) {
  v1::Claim c = InReview(1000);
  v1::Claim approved, out;
  ASSERT_TRUE(Approve(c, "t-specialist", &approved).ok());
  membership_.utilization_status = absl::UnavailableError("membership is unavailable");
  Call call("t-specialist");
  auto tr = Tr(approved, "amount wrong");
  ASSERT_TRUE(service_.ReopenClaim(&call.ctx, &tr, &out).ok());
  EXPECT_EQ(out.status(), v1::CLAIM_STATUS_REOPEN_PENDING);
  const Claim& stored = store_.claims_[c.claim_id()];
  EXPECT_EQ(stored.utilization_ref, c.claim_id());
  EXPECT_TRUE(membership_.reversed.empty());
  // Settling is refused while the reversal waits.
  v1::SettleClaimRequest settle;
  settle.set_request_id("settle-pending");
  settle.set_claim_id(c.claim_id());
  settle.set_etag(out.etag());
  settle.set_payment_reference("PAY-1");
  Call s_call("t-finance");
  v1::Claim ignored;
  EXPECT_EQ(service_.SettleClaim(&s_call.ctx, &settle, &ignored).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  membership_.utilization_status = absl::OkStatus();
  ASSERT_TRUE(intents_.DeliverNow(IntentKeyFor(out), absl::InfiniteFuture()).ok());
  EXPECT_EQ(store_.claims_[c.claim_id()].status, ClaimStatus::kInReview);
  EXPECT_EQ(membership_.reversed, std::vector<std::string>{c.claim_id()});
}

TEST_F(ClaimsServiceTest, ARefusedReversalLeavesTheApprovalStanding) {
  v1::Claim c = InReview(1000);
  v1::Claim approved, out;
  ASSERT_TRUE(Approve(c, "t-specialist", &approved).ok());
  membership_.utilization_status = absl::PermissionDeniedError("not allowed");
  Call call("t-specialist");
  auto tr = Tr(approved, "amount wrong");
  EXPECT_EQ(service_.ReopenClaim(&call.ctx, &tr, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  const Claim& stored = store_.claims_[c.claim_id()];
  EXPECT_EQ(stored.status, ClaimStatus::kApproved);
  EXPECT_EQ(stored.utilization_ref, c.claim_id());
  EXPECT_EQ(store_.history_[c.claim_id()].back().action, "reopen_refused");
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
  EXPECT_EQ(first.status(), v1::CLAIM_STATUS_APPROVED);
  EXPECT_EQ(membership_.recorded.size(), 1u);
  EXPECT_EQ(intents_.deliveries, 1);
}

TEST_F(ClaimsServiceTest, AReplayAfterARefusalIsRefusedTheSameWay) {
  v1::Claim c = InReview(1000);
  v1::ApproveClaimRequest req;
  req.set_request_id("approve-refused");
  req.set_claim_id(c.claim_id());
  req.set_etag(c.etag());
  membership_.utilization_status = absl::FailedPreconditionError("utilisation refused: ACCOUNT_CANCELLED");
  v1::Claim first, second;
  Call a("t-specialist"), b("t-specialist");
  grpc::Status s1 = service_.ApproveClaim(&a.ctx, &req, &first);
  membership_.utilization_status = absl::OkStatus();  // a replay must not try again
  grpc::Status s2 = service_.ApproveClaim(&b.ctx, &req, &second);
  EXPECT_EQ(s1.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s2.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s1.error_message(), s2.error_message());
  EXPECT_TRUE(membership_.recorded.empty());
  EXPECT_EQ(store_.claims_[c.claim_id()].status, ClaimStatus::kInReview);
}

TEST_F(ClaimsServiceTest, ReconciliationFindsAnOrphanAndSchedulesItsReversalOnce) {
  v1::Claim orphaned = InReview(1500);
  v1::Claim approved, fine = InReview(2500);
  ASSERT_TRUE(Approve(fine, "t-specialist", &approved).ok());
  // Membership holds a utilisation for a claim that never left review.
  mv1::RecordUtilizationRequest stray;
  stray.set_source_reference(orphaned.claim_id());
  *stray.mutable_amount() = careops::ToProto(Money("PHP", 1500));
  membership_.recorded.push_back(stray);

  auto report = service_.Reconcile(clock_.Now(), {"reconciler", "system", "claims"});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->claims_checked(), 2);
  ASSERT_EQ(report->differences_size(), 1);
  EXPECT_EQ(report->differences(0).kind(), v1::UTILIZATION_DIFFERENCE_KIND_ORPHANED);
  EXPECT_TRUE(report->differences(0).repair_scheduled());
  const Claim& stored = store_.claims_[orphaned.claim_id()];
  EXPECT_EQ(stored.utilization_seq, 1);  // its first approval will use claim_id/2
  EXPECT_EQ(store_.history_[orphaned.claim_id()].back().action, "reconcile_repair");
  ASSERT_EQ(store_.intents_.count(IntentKeyFor([&] {
              v1::Claim c = ToProto(stored);
              c.set_status(v1::CLAIM_STATUS_REOPEN_PENDING);  // the key form of a pending claim's intent
              return c;
            }())),
            1u);
  // The reversal is delivered; a second run finds nothing.
  for (auto& [key, intent] : store_.intents_) {
    if (intent.state == outbox::IntentState::kPending) ASSERT_TRUE(intents_.DeliverNow(key, absl::InfiniteFuture()).ok());
  }
  EXPECT_EQ(membership_.reversed, std::vector<std::string>{orphaned.claim_id()});
  report = service_.Reconcile(clock_.Now(), {"reconciler", "system", "claims"});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->differences_size(), 0);
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
