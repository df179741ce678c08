// The gRPC adapter alone: a fake store, a fake clock, no server, no database.
// Checks what the adapter owns: a caller is required, bad input never reaches the
// store, due times come from the configured TAT and the injected clock, page
// tokens round-trip, and eligibility outcomes are counted.
#include "services/membership/membership_service.h"
#include "services/membership/membership_access.h"

#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "common/proto_time.h"
#include "prometheus/registry.h"

namespace careops::membership {
namespace {

// Answers what a test sets up and counts every call; anything else is UNIMPLEMENTED.
class FakeStore final : public MembershipStore {
 public:
  int calls = 0;
  EligibilityFacts facts;
  MemberFilter last_member_filter;
  PageRequest last_page;
  v1::Movement last_movement;

  absl::StatusOr<v1::ClientAccount> CreateAccount(const MutationContext&, const v1::ClientAccount& a) override {
    ++calls;
    return a;
  }
  absl::StatusOr<v1::ClientAccount> GetAccount(const std::string&, absl::CivilDay) override { return Unimplemented(); }
  absl::StatusOr<Page<v1::ClientAccount>> ListAccounts(const AccountFilter&, const PageRequest&) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::ClientAccount> UpdateAccount(const MutationContext&, const std::string&, const std::string&,
                                                  const std::function<absl::Status(v1::ClientAccount&)>&,
                                                  absl::CivilDay) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::ClientAccount> TransitionAccount(const MutationContext&, const AccountTransition&) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::ClientAccount> WithdrawStatusChange(const MutationContext&, const StatusWithdrawal&) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::AccountSummary> Summarize(const std::string&, absl::CivilDay, absl::CivilDay, absl::CivilDay) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::Plan> CreatePlan(const MutationContext&, const v1::Plan&, absl::CivilDay) override { return Unimplemented(); }
  absl::StatusOr<v1::Plan> GetPlan(const std::string&) override { return Unimplemented(); }
  absl::StatusOr<Page<v1::Plan>> ListPlans(const PlanFilter&, const PageRequest&) override { return Unimplemented(); }
  absl::StatusOr<v1::Plan> RevisePlan(const MutationContext&, const std::string&, const std::string&,
                                      const v1::Plan&, absl::CivilDay) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::Member> EnrollMember(const MutationContext&, const v1::Member& m, absl::CivilDay) override {
    ++calls;
    return m;
  }
  absl::StatusOr<v1::Member> GetMember(const std::string&) override { return Unimplemented(); }
  absl::StatusOr<Page<v1::UtilizationLedgerEntry>> ListUtilizations(const UtilizationFilter&,
                                                                    const PageRequest&) override {
    return Unimplemented();
  }
  absl::StatusOr<Page<v1::Member>> ListMembers(const MemberFilter& f, const PageRequest& p) override {
    ++calls;
    last_member_filter = f;
    last_page = p;
    Page<v1::Member> page;
    for (int i = 0; i < p.limit; ++i) {
      page.items.emplace_back().set_member_id(i == 0 ? "01JAAAAAAAAAAAAAAAAAAAAAAA" : "01JBBBBBBBBBBBBBBBBBBBBBBB");
    }
    page.more = true;
    return page;
  }
  absl::StatusOr<v1::BatchEnrollMembersResponse> BatchEnroll(const MutationContext&, const std::string&,
                                                             const std::vector<BatchRow>&,
                                                             const std::function<std::string()>&,
                                                             absl::CivilDay) override {
    ++calls;
    return v1::BatchEnrollMembersResponse();
  }
  absl::StatusOr<v1::Movement> CreateMovement(const MutationContext&, const v1::Movement& m, absl::CivilDay) override {
    ++calls;
    last_movement = m;
    return m;
  }
  absl::StatusOr<v1::Movement> GetMovement(const std::string&, absl::Time) override { return Unimplemented(); }
  absl::StatusOr<v1::Movement> ApplyMovement(const MutationContext&, const std::string&, const std::string&,
                                             const std::string&, absl::CivilDay, MovementDecision*) override {
    return Unimplemented();
  }
  absl::StatusOr<v1::Movement> RejectMovement(const MutationContext&, const std::string&, const std::string&,
                                              const std::string&, MovementDecision*) override {
    return Unimplemented();
  }
  absl::StatusOr<Page<v1::Movement>> ListMovements(const MovementFilter&, const PageRequest&) override {
    return Unimplemented();
  }
  absl::StatusOr<EligibilityFacts> LoadEligibilityFacts(const std::string&, const std::string&, absl::CivilDay,
                                                        std::string* account_id, std::string* plan_id) override {
    ++calls;
    *account_id = "ACCOUNT";
    *plan_id = "PLAN";
    return facts;
  }
  absl::StatusOr<v1::Utilization> RecordUtilization(const MutationContext&, const v1::RecordUtilizationRequest&,
                                                    const std::string&) override {
    ++calls;
    return v1::Utilization();
  }
  absl::StatusOr<v1::Utilization> GetUtilization(const std::string&) override {
    return absl::NotFoundError("not in this fake");
  }
  absl::StatusOr<v1::Utilization> ReverseUtilization(const Mutation&, const v1::ReverseUtilizationRequest&) override {
    return Unimplemented();
  }
  absl::StatusOr<MembershipCounts> Count(absl::Time, absl::CivilDay) override { return MembershipCounts(); }

 private:
  static absl::Status Unimplemented() { return absl::UnimplementedError("not in this fake"); }
};

// Built field by field, so impossible dates (February 30) stay impossible.
common::v1::Date D(int y, int m, int d) {
  common::v1::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

class MembershipServiceTest : public ::testing::Test {
 protected:
  MembershipServiceTest()
      : clock_(absl::FromCivil(absl::CivilSecond(2026, 11, 20, 10, 0, 0), absl::UTCTimeZone())),  // a Friday
        metrics_(registry_, BusinessCalendar()),
        service_(store_, rpc_, metrics_, {*ParseTatTargets("enrollment:3")}) {}

  // A server context as an officer's call would arrive (or with no caller).
  struct Call {
    grpc::ServerContext ctx;
    grpc::testing::ServerContextTestSpouse spouse{&ctx};
    explicit Call(bool authenticated = true, const std::string& token = "dev-account-officer") {
      if (authenticated) spouse.AddClientMetadata("authorization", "Bearer " + token);
    }
  };

  static Authenticator MakeAuthenticator() {
    return *Authenticator::FromText(
        "dev-account-officer eva.tan account_officer membership\n"
        "dev-analyst hana.go analyst reporting\n"
        "svc-claims svc-claims service platform\n");
  }

  FakeStore store_;
  Authenticator authenticator_ = MakeAuthenticator();
  Authorizer authorizer_ = *Authorizer::Create(v1::MembershipService::service_full_name(), MembershipAccess());
  FakeClock clock_;
  RpcKit rpc_{authenticator_, authorizer_, clock_};
  prometheus::Registry registry_;
  MembershipMetrics metrics_;
  MembershipServiceImpl service_;
};

TEST_F(MembershipServiceTest, NoCallerIsUnauthenticatedAndReachesNothing) {
  Call call(false);
  v1::CheckEligibilityRequest req;
  v1::CheckEligibilityResponse resp;
  EXPECT_EQ(service_.CheckEligibility(&call.ctx, &req, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(store_.calls, 0);
}

TEST_F(MembershipServiceTest, EveryCallNeedsItsRule) {
  {
    Call call(true, "dev-analyst");
    v1::CreateClientAccountRequest req;
    v1::ClientAccount resp;
    grpc::Status s = service_.CreateClientAccount(&call.ctx, &req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("role 'analyst'"), std::string::npos) << s.error_message();
  }
  {
    Call call(true, "dev-account-officer");
    v1::RecordUtilizationRequest req;
    v1::Utilization resp;
    EXPECT_EQ(service_.RecordUtilization(&call.ctx, &req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    // Member lists are personal data: not for analysts.
    Call call(true, "dev-analyst");
    v1::ListMembersRequest req;
    v1::ListMembersResponse resp;
    EXPECT_EQ(service_.ListMembers(&call.ctx, &req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    Call call(true, "dev-account-officer");
    v1::ListMembersRequest req;
    v1::ListMembersResponse resp;
    EXPECT_TRUE(service_.ListMembers(&call.ctx, &req, &resp).ok());
  }
  EXPECT_EQ(store_.calls, 1);  // only the allowed read
}

TEST_F(MembershipServiceTest, BadInputNeverReachesTheStore) {
  {
    Call call;
    v1::EnrollMemberRequest req;
    req.set_request_id("r1");
    req.set_account_id("A");
    req.set_plan_id("P");
    req.set_external_ref("E");
    req.mutable_person()->set_given_name("Ana");
    req.mutable_person()->set_family_name("Reyes");
    *req.mutable_person()->mutable_birth_date() = D(2030, 1, 1);  // after today (2026-11-20)
    *req.mutable_effective_date() = D(2026, 1, 1);
    v1::Member resp;
    grpc::Status s = service_.EnrollMember(&call.ctx, &req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "person.birth_date: must not be in the future");
  }
  {
    Call call(true, "svc-claims");
    v1::RecordUtilizationRequest req;
    req.set_member_id("M");
    req.set_benefit_code("OUTPATIENT");
    req.set_source_reference("claim-1");
    req.mutable_amount()->set_currency_code("QQQ");
    req.mutable_amount()->set_amount_minor(100);
    *req.mutable_service_date() = D(2026, 2, 30);
    v1::Utilization resp;
    grpc::Status s = service_.RecordUtilization(&call.ctx, &req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "amount.currency_code: unknown ISO-4217 currency 'QQQ'");
  }
  {
    Call call;
    v1::BatchEnrollMembersRequest req;
    req.set_request_id("r2");
    req.set_account_id("A");
    v1::BatchEnrollMembersResponse resp;
    EXPECT_EQ(service_.BatchEnrollMembers(&call.ctx, &req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    Call call;
    v1::CheckEligibilityRequest req;
    req.set_member_id("M");
    req.set_benefit_code("OUTPATIENT");
    *req.mutable_service_date() = D(2026, 2, 30);
    v1::CheckEligibilityResponse resp;
    grpc::Status s = service_.CheckEligibility(&call.ctx, &req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("service_date"), std::string::npos) << s.error_message();
  }
  EXPECT_EQ(store_.calls, 0);
}

TEST_F(MembershipServiceTest, MovementDueTimeUsesTheConfiguredTatInBusinessDays) {
  Call call;
  v1::RequestMovementRequest req;
  req.set_request_id("r3");
  req.set_account_id("A");
  req.set_type(v1::MOVEMENT_TYPE_ENROLLMENT);
  *req.mutable_effective_date() = D(2026, 12, 1);
  req.mutable_enrollment()->set_plan_id("P");
  req.mutable_enrollment()->set_external_ref("E");
  req.mutable_enrollment()->mutable_person()->set_given_name("Ana");
  req.mutable_enrollment()->mutable_person()->set_family_name("Reyes");
  *req.mutable_enrollment()->mutable_person()->mutable_birth_date() = D(1990, 1, 1);
  v1::Movement resp;
  ASSERT_TRUE(service_.RequestMovement(&call.ctx, &req, &resp).ok());
  // Friday 10:00 + 3 business days = Wednesday 10:00.
  EXPECT_EQ(FromProto(resp.due_time()),
            absl::FromCivil(absl::CivilSecond(2026, 11, 25, 10, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(resp.requested_by(), "eva.tan");
  EXPECT_EQ(resp.status(), v1::MOVEMENT_STATUS_PENDING);

  // Configured holidays do not count either: with Tuesday 24 November off, Thursday.
  MembershipServiceOptions with_holiday{*ParseTatTargets("enrollment:3"), BusinessCalendar({absl::CivilDay(2026, 11, 24)})};
  MembershipServiceImpl holiday_service(store_, rpc_, metrics_, with_holiday);
  Call again;
  req.set_request_id("r3-holiday");
  ASSERT_TRUE(holiday_service.RequestMovement(&again.ctx, &req, &resp).ok());
  EXPECT_EQ(FromProto(resp.due_time()),
            absl::FromCivil(absl::CivilSecond(2026, 11, 26, 10, 0, 0), absl::UTCTimeZone()));
}

TEST_F(MembershipServiceTest, PageTokensRoundTripAndPageSizeIsBounded) {
  v1::ListMembersResponse first;
  {
    Call call;
    v1::ListMembersRequest req;
    req.set_page_size(2);
    req.set_account_id("A");
    ASSERT_TRUE(service_.ListMembers(&call.ctx, &req, &first).ok());
    EXPECT_EQ(store_.last_page.limit, 2);
    EXPECT_EQ(store_.last_member_filter.account_id, "A");
    ASSERT_FALSE(first.next_page_token().empty());
  }
  {
    Call call;
    v1::ListMembersRequest req;
    req.set_account_id("A");
    req.set_page_token(first.next_page_token());  // page_size may change between pages
    v1::ListMembersResponse resp;
    ASSERT_TRUE(service_.ListMembers(&call.ctx, &req, &resp).ok());
    EXPECT_EQ(store_.last_page.after_id, "01JBBBBBBBBBBBBBBBBBBBBBBB");
    EXPECT_EQ(store_.last_page.limit, 50);
  }
  // A token carries the filters it was made with: other filters are refused.
  for (auto change : std::vector<std::function<void(v1::ListMembersRequest&)>>{
           [](v1::ListMembersRequest& r) { r.clear_account_id(); },
           [](v1::ListMembersRequest& r) { r.set_account_id("B"); },
           [](v1::ListMembersRequest& r) { r.set_status(v1::MEMBER_STATUS_TERMINATED); },
           [](v1::ListMembersRequest& r) { r.set_plan_id("P"); }}) {
    Call call;
    v1::ListMembersRequest req;
    req.set_account_id("A");
    change(req);
    req.set_page_token(first.next_page_token());
    v1::ListMembersResponse resp;
    int calls = store_.calls;
    grpc::Status s = service_.ListMembers(&call.ctx, &req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message().rfind("page_token: was made for other filters", 0), 0u) << s.error_message();
    EXPECT_EQ(store_.calls, calls);
  }
  {
    // Nor is a members token good for another list.
    Call call;
    v1::ListMovementsRequest req;
    req.set_page_token(first.next_page_token());
    v1::ListMovementsResponse resp;
    EXPECT_EQ(service_.ListMovements(&call.ctx, &req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    Call call;
    v1::ListMembersRequest req;
    req.set_page_size(-1);
    v1::ListMembersResponse resp;
    EXPECT_EQ(service_.ListMembers(&call.ctx, &req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(MembershipServiceTest, EligibilityAnswersFromTheRulesAndIsCounted) {
  store_.facts.member_found = true;
  store_.facts.period_start = absl::CivilDay(2026, 1, 1);
  store_.facts.coverage_start = absl::CivilDay(2026, 1, 1);
  store_.facts.currency = "PHP";
  BenefitTerms b;
  b.code = "OUTPATIENT";
  b.category = "outpatient";
  b.annual_limit_minor = 1000;
  store_.facts.benefit = b;
  store_.facts.used_minor = 900;
  Call call;
  v1::CheckEligibilityRequest req;
  req.set_member_id("M");
  req.set_benefit_code("OUTPATIENT");
  *req.mutable_service_date() = D(2026, 3, 1);
  req.mutable_amount()->set_currency_code("PHP");
  req.mutable_amount()->set_amount_minor(200);
  v1::CheckEligibilityResponse resp;
  ASSERT_TRUE(service_.CheckEligibility(&call.ctx, &req, &resp).ok());
  EXPECT_FALSE(resp.eligible());
  ASSERT_EQ(resp.reasons_size(), 1);
  EXPECT_EQ(resp.reasons(0).code(), v1::ANNUAL_LIMIT_EXHAUSTED);
  EXPECT_EQ(resp.remaining_limit().amount_minor(), 100);
  EXPECT_EQ(resp.account_id(), "ACCOUNT");
  bool counted = false;
  for (const auto& family : registry_.Collect()) {
    if (family.name != "careops_membership_eligibility_checks_total") continue;
    for (const auto& metric : family.metric) {
      if (metric.label[0].value == "ineligible") counted = metric.counter.value == 1;
    }
  }
  EXPECT_TRUE(counted);
}

}  // namespace
}  // namespace careops::membership
