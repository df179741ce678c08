// careops-membership end to end: the real binary on a real MariaDB schema, called
// through the generated stub as an account officer would.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/migrations.h"
#include "common/mysql/pool.h"
#include "tests/support/harness.h"
#include "tests/support/rpc.h"

namespace careops {
namespace {

namespace v1 = membership::v1;
using grpc::StatusCode;

common::v1::Date D(int y, int m, int d) { return testing::DateOf(y, m, d); }

common::v1::Money PHP(int64_t minor) { return testing::Php(minor); }

std::string NewRequestId() {
  static std::atomic<int> n{0};
  return absl::StrCat("req-", absl::ToUnixNanos(absl::Now()), "-", n++);
}

v1::Person Person(const std::string& given) {
  v1::Person p;
  p.set_given_name(given);
  p.set_family_name("Santos");
  *p.mutable_birth_date() = D(1990, 4, 12);
  p.set_sex("F");
  return p;
}

// One service process and schema for a test suite, plus helpers that create the
// resources a test needs and fail the test when a call does not succeed.
class Membership {
 public:
  explicit Membership(const std::string& hint, std::vector<std::string> args = {})
      : schema_(hint), service_("membership", schema_.dsn(), std::move(args)) {
    WaitServing();
  }

  void WaitServing() {
    ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service_.address()) == "SERVING"; }))
        << service_.process().output();
    stub_ = v1::MembershipService::NewStub(
        grpc::CreateChannel(service_.address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "dev-account-officer") {
    return testing::BearerContext(token, std::chrono::seconds(30));
  }

  v1::MembershipService::Stub& stub() { return *stub_; }
  testing::ServiceProcess& service() { return service_; }
  const MysqlDsn& dsn() const { return schema_.dsn(); }

  v1::ClientAccount Account(const std::string& name, v1::ClientAccountType type = v1::CLIENT_ACCOUNT_TYPE_CORPORATE,
                            const std::string& officer = "eva.tan") {
    v1::CreateClientAccountRequest req;
    req.set_request_id(NewRequestId());
    req.mutable_account()->set_name(name);
    req.mutable_account()->set_type(type);
    req.mutable_account()->set_account_officer(officer);
    *req.mutable_account()->mutable_start_date() = D(2026, 1, 1);
    v1::ClientAccount out;
    grpc::Status s = stub_->CreateClientAccount(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // OUTPATIENT: PHP 1000.00 a year, PHP 300.00 per visit, 20% co-pay;
  // DENTAL: PHP 500.00, 30-day waiting period; ROOM: unlimited.
  v1::Plan Plan(const std::string& account_id) {
    v1::CreatePlanRequest req;
    req.set_request_id(NewRequestId());
    v1::Plan* p = req.mutable_plan();
    p->set_account_id(account_id);
    p->set_name("Gold");
    p->set_currency_code("PHP");
    v1::Benefit* op = p->add_benefits();
    op->set_code("OUTPATIENT");
    op->set_category("outpatient");
    *op->mutable_annual_limit() = PHP(100000);
    *op->mutable_per_visit_cap() = PHP(30000);
    op->set_copay_basis_points(2000);
    v1::Benefit* dental = p->add_benefits();
    dental->set_code("DENTAL");
    dental->set_category("dental");
    *dental->mutable_annual_limit() = PHP(50000);
    dental->set_waiting_period_days(30);
    v1::Benefit* room = p->add_benefits();
    room->set_code("ROOM");
    room->set_category("inpatient");
    room->set_unlimited(true);
    v1::Plan out;
    grpc::Status s = stub_->CreatePlan(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::Member Enroll(const v1::ClientAccount& a, const v1::Plan& p, const std::string& ref,
                    common::v1::Date effective = D(2026, 1, 1)) {
    v1::EnrollMemberRequest req;
    req.set_request_id(NewRequestId());
    req.set_account_id(a.account_id());
    req.set_plan_id(p.plan_id());
    req.set_external_ref(ref);
    *req.mutable_person() = Person("Maria " + ref);
    *req.mutable_effective_date() = effective;
    v1::Member out;
    grpc::Status s = stub_->EnrollMember(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::CheckEligibilityResponse Check(const std::string& member_id, const std::string& benefit,
                                     common::v1::Date day, int64_t amount) {
    v1::CheckEligibilityRequest req;
    req.set_member_id(member_id);
    req.set_benefit_code(benefit);
    *req.mutable_service_date() = day;
    if (amount > 0) *req.mutable_amount() = PHP(amount);
    v1::CheckEligibilityResponse out;
    grpc::Status s = stub_->CheckEligibility(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  grpc::Status Record(const std::string& member_id, const std::string& benefit, int64_t amount,
                      const std::string& source, v1::Utilization* out, common::v1::Date day = D(2026, 3, 2)) {
    v1::RecordUtilizationRequest req;
    req.set_member_id(member_id);
    req.set_benefit_code(benefit);
    *req.mutable_amount() = PHP(amount);
    *req.mutable_service_date() = day;
    req.set_source_reference(source);
    return stub_->RecordUtilization(Ctx("svc-claims").get(), req, out);
  }

  // Account transitions from `day` as collections calls them (reading the account
  // for its etag first); the call's status.
  grpc::Status Suspend(const std::string& account_id, common::v1::Date day) {
    return Transition(&v1::MembershipService::Stub::SuspendClientAccount, account_id, day, "past due");
  }
  grpc::Status Reinstate(const std::string& account_id, common::v1::Date day) {
    return Transition(&v1::MembershipService::Stub::ReinstateClientAccount, account_id, day, "brought current");
  }
  grpc::Status Cancel(const std::string& account_id, common::v1::Date day) {
    return Transition(&v1::MembershipService::Stub::CancelClientAccount, account_id, day, "notice of cancellation lapsed");
  }

  std::string Metrics() { return testing::HttpGet(service_.metrics_port(), "/metrics"); }

  // The account's current etag ("" when it cannot be read).
  std::string AccountEtag(const std::string& account_id) {
    v1::GetClientAccountRequest req;
    req.set_account_id(account_id);
    v1::ClientAccount out;
    return stub_->GetClientAccount(Ctx().get(), req, &out).ok() ? out.etag() : "";
  }

  // The audit trail of one resource, oldest first, as "action by user: reason".
  std::vector<std::string> Audit(const std::string& resource_id) {
    mysql::PoolOptions options;
    options.dsn = schema_.dsn();
    options.max_size = 1;
    mysql::ConnectionPool pool(options);
    std::vector<std::string> out;
    absl::Status s = mysql::WithConnection(pool, [&](mysql::Connection& c) {
      auto& st = c.Prepare("SELECT action, actor_user, reason FROM audit_log WHERE resource_id = ? ORDER BY id");
      st.setString(1, resource_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) {
        out.push_back(absl::StrCat(std::string(rs->getString(1)), " by ", std::string(rs->getString(2)), ": ",
                                   std::string(rs->getString(3))));
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

 private:
  testing::TestSchema schema_;
  testing::ServiceProcess service_;
  std::unique_ptr<v1::MembershipService::Stub> stub_;

  template <typename Request>
  grpc::Status Transition(grpc::Status (v1::MembershipService::Stub::*call)(grpc::ClientContext*, const Request&,
                                                                          v1::ClientAccount*),
                          const std::string& account_id, common::v1::Date day, const std::string& reason) {
    Request req;
    req.set_request_id(NewRequestId());
    req.set_account_id(account_id);
    req.set_etag(AccountEtag(account_id));
    req.set_reason(reason);
    *req.mutable_effective_date() = day;
    v1::ClientAccount out;
    return (stub_.get()->*call)(Ctx("svc-collections").get(), req, &out);
  }
};

std::vector<v1::EligibilityReasonCode> Codes(const v1::CheckEligibilityResponse& r) {
  std::vector<v1::EligibilityReasonCode> out;
  for (const auto& reason : r.reasons()) out.push_back(reason.code());
  return out;
}

class MembershipTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { m_ = new Membership("membership"); }
  static void TearDownTestSuite() {
    delete m_;
    m_ = nullptr;
  }
  static Membership* m_;
};
Membership* MembershipTest::m_ = nullptr;

// ---------------------------------------------------------------- identity and input

TEST_F(MembershipTest, EveryRpcNeedsACaller) {
  v1::GetMemberRequest req;
  req.set_member_id("01J00000000000000000000000");
  v1::Member out;
  EXPECT_EQ(m_->stub().GetMember(m_->Ctx("").get(), req, &out).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(m_->stub().GetMember(m_->Ctx("not-a-token").get(), req, &out).error_code(), StatusCode::UNAUTHENTICATED);
  v1::CheckEligibilityRequest check;
  v1::CheckEligibilityResponse resp;
  EXPECT_EQ(m_->stub().CheckEligibility(m_->Ctx("").get(), check, &resp).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(m_->stub().GetMember(m_->Ctx().get(), req, &out).error_code(), StatusCode::NOT_FOUND);
}

TEST_F(MembershipTest, ChangesNeedAnAllowedRole) {
  v1::ClientAccount account = m_->Account("Roles Co");
  v1::CreateClientAccountRequest create;
  create.set_request_id(NewRequestId());
  create.mutable_account()->set_name("Analyst account");
  create.mutable_account()->set_type(v1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  *create.mutable_account()->mutable_start_date() = D(2026, 1, 1);
  v1::ClientAccount out;
  grpc::Status s = m_->stub().CreateClientAccount(m_->Ctx("dev-analyst").get(), create, &out);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("role 'analyst'"), std::string::npos);
  v1::RecordUtilizationRequest record;
  v1::Utilization u;
  EXPECT_EQ(m_->stub().RecordUtilization(m_->Ctx("dev-specialist").get(), record, &u).error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::GetClientAccountRequest get;
  get.set_account_id(account.account_id());
  EXPECT_TRUE(m_->stub().GetClientAccount(m_->Ctx("dev-analyst").get(), get, &out).ok());
}

TEST_F(MembershipTest, BadInputIsInvalidArgumentNamingTheFieldAndNothingIsWritten) {
  v1::ClientAccount account = m_->Account("Input Co");
  v1::Plan plan = m_->Plan(account.account_id());

  v1::CreateClientAccountRequest empty_name;
  empty_name.set_request_id(NewRequestId());
  empty_name.mutable_account()->set_type(v1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  *empty_name.mutable_account()->mutable_start_date() = D(2026, 1, 1);
  v1::ClientAccount a;
  grpc::Status s = m_->stub().CreateClientAccount(m_->Ctx().get(), empty_name, &a);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "account.name: must not be empty");

  v1::CreatePlanRequest bad_currency;
  bad_currency.set_request_id(NewRequestId());
  bad_currency.mutable_plan()->set_account_id(account.account_id());
  bad_currency.mutable_plan()->set_name("Silver");
  bad_currency.mutable_plan()->set_currency_code("ZZZ");
  v1::Plan p;
  s = m_->stub().CreatePlan(m_->Ctx().get(), bad_currency, &p);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "plan.currency_code: unknown ISO-4217 currency 'ZZZ'");

  // Effective date before the account's start: refused inside the transaction, nothing kept.
  v1::EnrollMemberRequest early;
  early.set_request_id(NewRequestId());
  early.set_account_id(account.account_id());
  early.set_plan_id(plan.plan_id());
  early.set_external_ref("E-1");
  *early.mutable_person() = Person("Early");
  *early.mutable_effective_date() = D(2025, 12, 31);
  v1::Member member;
  s = m_->stub().EnrollMember(m_->Ctx().get(), early, &member);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "effective_date: must not be before the account's start date 2026-01-01");
  v1::ListMembersRequest list;
  list.set_account_id(account.account_id());
  v1::ListMembersResponse members;
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), list, &members).ok());
  EXPECT_EQ(members.members_size(), 0);
  // The same request_id may be used again once fixed: the failed call claimed nothing.
  *early.mutable_effective_date() = D(2026, 1, 1);
  EXPECT_TRUE(m_->stub().EnrollMember(m_->Ctx().get(), early, &member).ok());

  v1::Utilization u;
  s = m_->Record(member.member_id(), "OUTPATIENT", -100, "claim-negative", &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "amount.amount_minor: must not be negative");

  list.set_page_size(501);
  s = m_->stub().ListMembers(m_->Ctx().get(), list, &members);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_size"), std::string::npos);
  list.set_page_size(10);
  list.set_page_token("garbage");
  EXPECT_EQ(m_->stub().ListMembers(m_->Ctx().get(), list, &members).error_code(), StatusCode::INVALID_ARGUMENT);

  v1::CreateClientAccountRequest no_request_id;
  *no_request_id.mutable_account() = empty_name.account();
  no_request_id.mutable_account()->set_name("No id");
  s = m_->stub().CreateClientAccount(m_->Ctx().get(), no_request_id, &a);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("request_id"), std::string::npos);
}

// ---------------------------------------------------------------- accounts

TEST_F(MembershipTest, TextIsCountedInCharactersAndBadValuesAreNeverEchoedInFull) {
  v1::CreateClientAccountRequest create;
  create.set_request_id(NewRequestId());
  create.mutable_account()->set_type(v1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  *create.mutable_account()->mutable_start_date() = D(2026, 1, 1);
  v1::ClientAccount a;
  // Only zero-width characters and an ideographic space: empty.
  create.mutable_account()->set_name("\xE2\x80\x8B\xE3\x80\x80\xEF\xBB\xBF");
  grpc::Status s = m_->stub().CreateClientAccount(m_->Ctx().get(), create, &a);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "account.name: must not be empty");
  create.mutable_account()->set_name("Acme\nInjected: line");
  s = m_->stub().CreateClientAccount(m_->Ctx().get(), create, &a);
  EXPECT_EQ(s.error_message(), "account.name: must not contain control characters or line breaks");
  // 200 characters of two bytes each fit the 200-character limit; 201 do not.
  std::string name;
  for (int i = 0; i < 200; ++i) name += "\xC3\xB1";
  create.mutable_account()->set_name(name + "\xC3\xB1");
  s = m_->stub().CreateClientAccount(m_->Ctx().get(), create, &a);
  EXPECT_EQ(s.error_message(), "account.name: must be at most 200 characters");
  create.mutable_account()->set_name(name);
  ASSERT_TRUE(m_->stub().CreateClientAccount(m_->Ctx().get(), create, &a).ok());
  EXPECT_EQ(a.name(), name);

  // A megabyte etag comes back as a short message; an empty one is refused.
  v1::SuspendClientAccountRequest suspend;
  suspend.set_request_id(NewRequestId());
  suspend.set_account_id(a.account_id());
  suspend.set_reason("past due");
  *suspend.mutable_effective_date() = D(2026, 4, 1);
  suspend.set_etag(std::string(1 << 20, 'x'));
  v1::ClientAccount out;
  s = m_->stub().SuspendClientAccount(m_->Ctx().get(), suspend, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "etag: '" + std::string(32, 'x') + "…' is not an etag this service issued");
  suspend.clear_etag();
  s = m_->stub().SuspendClientAccount(m_->Ctx().get(), suspend, &out);
  EXPECT_EQ(s.error_message(), "etag: is required (send the etag from your last read)");
  EXPECT_EQ(m_->AccountEtag(a.account_id()), a.etag()) << "nothing changed";

  // Timestamps outside 0001..9999 or with bad nanos name the field.
  v1::ListMovementsRequest list;
  list.mutable_as_of()->set_seconds(253402300800);  // 10000-01-01
  v1::ListMovementsResponse listed;
  s = m_->stub().ListMovements(m_->Ctx().get(), list, &listed);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "as_of: must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
  list.mutable_as_of()->set_seconds(0);
  list.mutable_as_of()->set_nanos(-1);
  s = m_->stub().ListMovements(m_->Ctx().get(), list, &listed);
  EXPECT_EQ(s.error_message(), "as_of: nanos must be between 0 and 999999999");
}

TEST_F(MembershipTest, SameRequestIdReturnsTheFirstAnswerAndADifferentRequestIsRefused) {
  v1::CreateClientAccountRequest req;
  req.set_request_id(NewRequestId());
  req.mutable_account()->set_name("Twice Inc");
  req.mutable_account()->set_type(v1::CLIENT_ACCOUNT_TYPE_BROKER);
  req.mutable_account()->set_account_officer("twice.officer");
  *req.mutable_account()->mutable_start_date() = D(2026, 1, 1);
  v1::ClientAccount first, second;
  ASSERT_TRUE(m_->stub().CreateClientAccount(m_->Ctx().get(), req, &first).ok());
  ASSERT_TRUE(m_->stub().CreateClientAccount(m_->Ctx().get(), req, &second).ok());
  EXPECT_EQ(first.account_id(), second.account_id());
  v1::ListClientAccountsRequest list;
  list.set_account_officer("twice.officer");
  v1::ListClientAccountsResponse accounts;
  ASSERT_TRUE(m_->stub().ListClientAccounts(m_->Ctx().get(), list, &accounts).ok());
  EXPECT_EQ(accounts.accounts_size(), 1);

  req.mutable_account()->set_name("Twice Inc (changed)");
  grpc::Status s = m_->stub().CreateClientAccount(m_->Ctx().get(), req, &second);
  EXPECT_EQ(s.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(s.error_message().find("request_id"), std::string::npos);
}

TEST_F(MembershipTest, AccountsAreListedByKeyAndUpdatedWithAnEtag) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(m_->Account(absl::StrCat("Paged ", i), v1::CLIENT_ACCOUNT_TYPE_AGENT, "paging.officer").account_id());
  }
  m_->Account("Other officer", v1::CLIENT_ACCOUNT_TYPE_AGENT, "someone.else");
  v1::ListClientAccountsRequest list;
  list.set_account_officer("paging.officer");
  list.set_type(v1::CLIENT_ACCOUNT_TYPE_AGENT);
  list.set_page_size(2);
  v1::ListClientAccountsResponse page1, page2;
  ASSERT_TRUE(m_->stub().ListClientAccounts(m_->Ctx().get(), list, &page1).ok());
  ASSERT_EQ(page1.accounts_size(), 2);
  ASSERT_FALSE(page1.next_page_token().empty());
  // An account created between pages sorts after the cursor and shows up once.
  ids.push_back(m_->Account("Paged late", v1::CLIENT_ACCOUNT_TYPE_AGENT, "paging.officer").account_id());
  list.set_page_token(page1.next_page_token());
  ASSERT_TRUE(m_->stub().ListClientAccounts(m_->Ctx().get(), list, &page2).ok());
  ASSERT_EQ(page2.accounts_size(), 2);
  EXPECT_TRUE(page2.next_page_token().empty());
  std::vector<std::string> seen;
  for (const auto& a : page1.accounts()) seen.push_back(a.account_id());
  for (const auto& a : page2.accounts()) seen.push_back(a.account_id());
  EXPECT_EQ(seen, ids);

  v1::GetClientAccountRequest get;
  get.set_account_id(ids[0]);
  v1::ClientAccount account;
  ASSERT_TRUE(m_->stub().GetClientAccount(m_->Ctx().get(), get, &account).ok());
  EXPECT_EQ(account.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);

  v1::UpdateClientAccountRequest update;
  update.set_request_id(NewRequestId());
  *update.mutable_account() = account;
  update.mutable_account()->set_name("Paged 0 renamed");
  update.mutable_account()->set_contact_email("hr@paged.example");
  update.mutable_update_mask()->add_paths("name");
  v1::ClientAccount updated;
  ASSERT_TRUE(m_->stub().UpdateClientAccount(m_->Ctx().get(), update, &updated).ok());
  EXPECT_EQ(updated.name(), "Paged 0 renamed");
  EXPECT_EQ(updated.contact_email(), "");  // not in the mask
  EXPECT_NE(updated.etag(), account.etag());

  update.set_request_id(NewRequestId());  // same stale etag, new request
  EXPECT_EQ(m_->stub().UpdateClientAccount(m_->Ctx().get(), update, &updated).error_code(), StatusCode::ABORTED);
  update.mutable_update_mask()->add_paths("type");
  update.set_request_id(NewRequestId());
  grpc::Status s = m_->stub().UpdateClientAccount(m_->Ctx().get(), update, &updated);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("update_mask"), std::string::npos);
}

TEST_F(MembershipTest, SuspendReinstateAndCancelFollowTheStatusMachine) {
  v1::ClientAccount account = m_->Account("Transitions Co");
  v1::SuspendClientAccountRequest suspend;
  suspend.set_request_id(NewRequestId());
  suspend.set_account_id(account.account_id());
  suspend.set_etag(account.etag());
  suspend.set_reason("third notice lapsed");
  *suspend.mutable_effective_date() = D(2026, 4, 1);
  v1::ClientAccount out, again;
  ASSERT_TRUE(m_->stub().SuspendClientAccount(m_->Ctx("svc-collections").get(), suspend, &out).ok());
  EXPECT_EQ(out.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(out.status_reason(), "third notice lapsed");
  // A retry with the same request_id is the same answer; a new one is a wrong state.
  ASSERT_TRUE(m_->stub().SuspendClientAccount(m_->Ctx("svc-collections").get(), suspend, &again).ok());
  EXPECT_EQ(again.etag(), out.etag());
  suspend.set_request_id(NewRequestId());
  suspend.set_etag(out.etag());
  EXPECT_EQ(m_->stub().SuspendClientAccount(m_->Ctx().get(), suspend, &again).error_code(),
            StatusCode::FAILED_PRECONDITION);
  suspend.set_etag(account.etag());
  EXPECT_EQ(m_->stub().SuspendClientAccount(m_->Ctx().get(), suspend, &again).error_code(), StatusCode::ABORTED);

  v1::ReinstateClientAccountRequest reinstate;
  reinstate.set_request_id(NewRequestId());
  reinstate.set_account_id(account.account_id());
  reinstate.set_etag(out.etag());
  reinstate.set_reason("paid in full");
  *reinstate.mutable_effective_date() = D(2026, 4, 10);
  ASSERT_TRUE(m_->stub().ReinstateClientAccount(m_->Ctx().get(), reinstate, &out).ok());
  EXPECT_EQ(out.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);

  v1::CancelClientAccountRequest cancel;
  cancel.set_request_id(NewRequestId());
  cancel.set_account_id(account.account_id());
  *cancel.mutable_effective_date() = D(2026, 5, 1);
  cancel.set_reason("notice of cancellation");
  // The etag is required: an empty one is refused before anything is looked at.
  grpc::Status s = m_->stub().CancelClientAccount(m_->Ctx().get(), cancel, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "etag: is required (send the etag from your last read)");
  cancel.set_etag(out.etag());
  cancel.clear_reason();
  s = m_->stub().CancelClientAccount(m_->Ctx().get(), cancel, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "reason: must not be empty");
  cancel.set_reason("notice of cancellation");
  ASSERT_TRUE(m_->stub().CancelClientAccount(m_->Ctx().get(), cancel, &out).ok());
  EXPECT_EQ(out.status(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  reinstate.set_request_id(NewRequestId());
  reinstate.set_etag(out.etag());
  EXPECT_EQ(m_->stub().ReinstateClientAccount(m_->Ctx().get(), reinstate, &out).error_code(),
            StatusCode::FAILED_PRECONDITION);

  // Every transition is in the audit trail with its actor and reason; refused ones are not.
  EXPECT_EQ(m_->Audit(account.account_id()),
            (std::vector<std::string>{"account.create by eva.tan: ", "account.suspend by svc-collections: third notice lapsed",
                                      "account.reinstate by eva.tan: paid in full",
                                      "account.cancel by eva.tan: notice of cancellation"}));
}

TEST_F(MembershipTest, CancellingAnAccountEndsItsMembersCoverage) {
  v1::ClientAccount account = m_->Account("Cancelled Corp");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member ana = m_->Enroll(account, plan, "C-1");
  v1::Member ben = m_->Enroll(account, plan, "C-2");
  EXPECT_TRUE(m_->Check(ana.member_id(), "OUTPATIENT", D(2026, 6, 2), 1000).eligible());

  v1::CancelClientAccountRequest cancel;
  cancel.set_request_id(NewRequestId());
  cancel.set_account_id(account.account_id());
  cancel.set_etag(account.etag());
  cancel.set_reason("notice of cancellation grace period lapsed");
  *cancel.mutable_effective_date() = D(2026, 6, 1);
  v1::ClientAccount out;
  ASSERT_TRUE(m_->stub().CancelClientAccount(m_->Ctx("svc-collections").get(), cancel, &out).ok());

  for (const auto& member : {ana, ben}) {
    v1::CheckEligibilityResponse after = m_->Check(member.member_id(), "OUTPATIENT", D(2026, 6, 2), 1000);
    EXPECT_FALSE(after.eligible());
    EXPECT_EQ(Codes(after), (std::vector{v1::MEMBER_NOT_ACTIVE, v1::ACCOUNT_CANCELLED}));
    // A service before the cancellation date is still covered (a late claim).
    EXPECT_TRUE(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 5, 31), 1000).eligible());
    v1::GetMemberRequest get;
    get.set_member_id(member.member_id());
    v1::Member now;
    ASSERT_TRUE(m_->stub().GetMember(m_->Ctx().get(), get, &now).ok());
    EXPECT_EQ(now.status(), v1::MEMBER_STATUS_TERMINATED);
    EXPECT_EQ(now.termination_date().month(), 6);
  }
  v1::Utilization u;
  EXPECT_EQ(m_->Record(ana.member_id(), "OUTPATIENT", 1000, "claim-after-cancel", &u, D(2026, 6, 3)).error_code(),
            StatusCode::FAILED_PRECONDITION);

  v1::GetAccountSummaryRequest summary_req;
  summary_req.set_account_id(account.account_id());
  *summary_req.mutable_period_start() = D(2026, 5, 1);
  *summary_req.mutable_period_end() = D(2026, 6, 30);
  v1::AccountSummary summary;
  ASSERT_TRUE(m_->stub().GetAccountSummary(m_->Ctx("svc-retention").get(), summary_req, &summary).ok());
  EXPECT_EQ(summary.account_status(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  EXPECT_EQ(summary.covered_at_period_start(), 2);
  EXPECT_EQ(summary.covered_at_period_end(), 0);
  EXPECT_EQ(summary.terminated_in_period(), 2);
  EXPECT_EQ(summary.enrolled_in_period(), 0);
  EXPECT_EQ(summary.net_change(), -2);
  ASSERT_EQ(summary.members_by_status_size(), 2);
  EXPECT_EQ(summary.members_by_status(1).status(), v1::MEMBER_STATUS_TERMINATED);
  EXPECT_EQ(summary.members_by_status(1).count(), 2);
  *summary_req.mutable_period_end() = D(2026, 4, 30);
  EXPECT_EQ(m_->stub().GetAccountSummary(m_->Ctx().get(), summary_req, &summary).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

// How many statements on `schema` are running now whose text starts with
// `prefix` (read as root, which sees every session). On this test's few rows a
// statement still running is one waiting for a row lock.
int Running(mysql::ConnectionPool& root, const std::string& schema, const std::string& prefix) {
  int running = -1;
  absl::Status s = mysql::WithConnection(root, [&](mysql::Connection& c) {
    auto& st = c.Prepare("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE ?");
    st.setString(1, schema);
    st.setString(2, prefix + "%");
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (rs->next()) running = rs->getInt(1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return running;
}

// A cancellation in progress holds the account: an enrolment and a utilisation
// that arrive meanwhile wait for it and then see the account CANCELLED, instead
// of adding a covered member or a record to an account whose members it just
// terminated. The test holds one member's row, so the cancel transaction stops
// mid-way (account updated, members being terminated) until the test lets go.
TEST_F(MembershipTest, NothingIsAddedToAnAccountWhileItIsBeingCancelled) {
  v1::ClientAccount account = m_->Account("Cancelling Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member ana = m_->Enroll(account, plan, "X-1");
  v1::Member ben = m_->Enroll(account, plan, "X-2");

  mysql::PoolOptions schema_options, root_options;
  schema_options.dsn = m_->dsn();
  schema_options.max_size = 1;
  root_options.dsn = testing::RootDsn();
  root_options.max_size = 1;
  mysql::ConnectionPool holder(schema_options), root(root_options);
  grpc::Status cancelled, enrolled, recorded;
  v1::Member late_member;
  v1::Utilization late_record;
  bool both_waited = false;
  absl::Status held = mysql::WithConnection(holder, [&](mysql::Connection& c) {
    c.Execute("START TRANSACTION");
    {
      auto& st = c.Prepare("SELECT member_id FROM members WHERE member_id = ? FOR UPDATE");
      st.setString(1, ana.member_id());
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    }
    std::thread cancel([&] { cancelled = m_->Cancel(account.account_id(), D(2026, 6, 1)); });
    // The cancellation holds the account and waits for Ana's row.
    const bool cancel_waits = testing::Eventually(
        [&] { return Running(root, m_->dsn().schema, "UPDATE members SET status = 'TERMINATED'") == 1; });
    std::thread enrol([&] {
      v1::EnrollMemberRequest req;
      req.set_request_id(NewRequestId());
      req.set_account_id(account.account_id());
      req.set_plan_id(plan.plan_id());
      req.set_external_ref("X-3");
      *req.mutable_person() = Person("Late");
      *req.mutable_effective_date() = D(2026, 1, 1);
      enrolled = m_->stub().EnrollMember(m_->Ctx().get(), req, &late_member);
    });
    std::thread record([&] {
      recorded = m_->Record(ben.member_id(), "OUTPATIENT", 1000, "claim-during-cancel", &late_record, D(2026, 6, 3));
    });
    // Both wait for the account's lock; without it they would finish at once, accepted.
    both_waited = cancel_waits && testing::Eventually([&] {
                    return Running(root, m_->dsn().schema, "SELECT account_id, name") == 2;
                  });
    c.Execute("COMMIT");
    cancel.join();
    enrol.join();
    record.join();
    return absl::OkStatus();
  });
  ASSERT_TRUE(held.ok()) << held;
  EXPECT_TRUE(both_waited);
  ASSERT_TRUE(cancelled.ok()) << cancelled.error_message();
  EXPECT_EQ(enrolled.error_code(), StatusCode::FAILED_PRECONDITION) << enrolled.error_message();
  EXPECT_EQ(enrolled.error_message(), "account_id: client account '" + account.account_id() + "' is cancelled");
  EXPECT_EQ(recorded.error_code(), StatusCode::FAILED_PRECONDITION) << recorded.error_message();
  EXPECT_NE(recorded.error_message().find("ACCOUNT_CANCELLED"), std::string::npos) << recorded.error_message();
  v1::ListMembersRequest list;
  list.set_account_id(account.account_id());
  v1::ListMembersResponse members;
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), list, &members).ok());
  ASSERT_EQ(members.members_size(), 2);
  for (const auto& m : members.members()) EXPECT_EQ(m.status(), v1::MEMBER_STATUS_TERMINATED);
  v1::GetUtilizationRequest get;
  get.set_source_reference("claim-during-cancel");
  EXPECT_EQ(m_->stub().GetUtilization(m_->Ctx().get(), get, &late_record).error_code(), StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- plans and members

TEST_F(MembershipTest, PlansAreVersionedNotEditedInPlace) {
  v1::ClientAccount account = m_->Account("Versioned Plans");
  v1::Plan v1_plan = m_->Plan(account.account_id());
  EXPECT_EQ(v1_plan.version(), 1);
  EXPECT_EQ(v1_plan.benefits_size(), 3);
  v1::Member member = m_->Enroll(account, v1_plan, "V-1");

  v1::RevisePlanRequest revise;
  revise.set_request_id(NewRequestId());
  revise.set_plan_id(v1_plan.plan_id());
  revise.set_etag(v1_plan.etag());
  *revise.mutable_benefits() = v1_plan.benefits();
  *revise.mutable_benefits(0)->mutable_annual_limit() = PHP(200000);
  v1::Plan v2_plan;
  ASSERT_TRUE(m_->stub().RevisePlan(m_->Ctx().get(), revise, &v2_plan).ok());
  EXPECT_EQ(v2_plan.version(), 2);
  EXPECT_EQ(v2_plan.supersedes_plan_id(), v1_plan.plan_id());
  EXPECT_NE(v2_plan.plan_id(), v1_plan.plan_id());

  v1::GetPlanRequest get;
  get.set_plan_id(v1_plan.plan_id());
  v1::Plan old;
  ASSERT_TRUE(m_->stub().GetPlan(m_->Ctx().get(), get, &old).ok());
  EXPECT_EQ(old.status(), v1::PLAN_STATUS_SUPERSEDED);
  EXPECT_EQ(old.benefits(0).annual_limit().amount_minor(), 100000);  // unchanged
  // The enrolled member stays on version 1 and its limit.
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 100000);

  revise.set_request_id(NewRequestId());  // the etag read before the revision is stale now
  EXPECT_EQ(m_->stub().RevisePlan(m_->Ctx().get(), revise, &v2_plan).error_code(), StatusCode::ABORTED);
  revise.set_request_id(NewRequestId());
  revise.clear_etag();
  EXPECT_EQ(m_->stub().RevisePlan(m_->Ctx().get(), revise, &v2_plan).error_code(), StatusCode::INVALID_ARGUMENT);
  revise.set_etag(old.etag());
  EXPECT_EQ(m_->stub().RevisePlan(m_->Ctx().get(), revise, &v2_plan).error_code(), StatusCode::FAILED_PRECONDITION);
  v1::EnrollMemberRequest enroll;
  enroll.set_request_id(NewRequestId());
  enroll.set_account_id(account.account_id());
  enroll.set_plan_id(v1_plan.plan_id());
  enroll.set_external_ref("V-2");
  *enroll.mutable_person() = Person("Late");
  *enroll.mutable_effective_date() = D(2026, 2, 1);
  v1::Member m;
  EXPECT_EQ(m_->stub().EnrollMember(m_->Ctx().get(), enroll, &m).error_code(), StatusCode::FAILED_PRECONDITION);

  v1::ListPlansRequest list;
  list.set_account_id(account.account_id());
  list.set_status(v1::PLAN_STATUS_ACTIVE);
  v1::ListPlansResponse plans;
  ASSERT_TRUE(m_->stub().ListPlans(m_->Ctx().get(), list, &plans).ok());
  ASSERT_EQ(plans.plans_size(), 1);
  EXPECT_EQ(plans.plans(0).plan_id(), v2_plan.plan_id());
  EXPECT_EQ(plans.plans(0).benefits(0).annual_limit().amount_minor(), 200000);
  // Both versions on one page, each with its own benefits (read for the page at once).
  list.clear_status();
  ASSERT_TRUE(m_->stub().ListPlans(m_->Ctx().get(), list, &plans).ok());
  ASSERT_EQ(plans.plans_size(), 2);
  EXPECT_EQ(plans.plans(0).plan_id(), v1_plan.plan_id());
  ASSERT_EQ(plans.plans(0).benefits_size(), 3);
  ASSERT_EQ(plans.plans(1).benefits_size(), 3);
  EXPECT_EQ(plans.plans(0).benefits(0).annual_limit().amount_minor(), 100000);
  EXPECT_EQ(plans.plans(1).benefits(0).annual_limit().amount_minor(), 200000);
  EXPECT_EQ(plans.plans(1).benefits(2).code(), "ROOM");
  EXPECT_TRUE(plans.plans(1).benefits(2).unlimited());
}

TEST_F(MembershipTest, APageTokenIsOnlyGoodForTheFiltersItWasMadeWith) {
  v1::ClientAccount account = m_->Account("Token Co", v1::CLIENT_ACCOUNT_TYPE_AGENT, "token.officer");
  m_->Account("Token Co 2", v1::CLIENT_ACCOUNT_TYPE_AGENT, "token.officer");
  v1::Plan plan = m_->Plan(account.account_id());
  m_->Enroll(account, plan, "T-1");
  m_->Enroll(account, plan, "T-2");

  v1::ListMembersRequest members;
  members.set_account_id(account.account_id());
  members.set_page_size(1);
  v1::ListMembersResponse member_page;
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), members, &member_page).ok());
  ASSERT_FALSE(member_page.next_page_token().empty());
  members.set_page_token(member_page.next_page_token());
  members.set_status(v1::MEMBER_STATUS_TERMINATED);
  grpc::Status s = m_->stub().ListMembers(m_->Ctx().get(), members, &member_page);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("page_token: ", 0), 0u) << s.error_message();
  members.clear_status();
  members.set_page_size(5);  // the page size may change; the filters may not
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), members, &member_page).ok());
  ASSERT_EQ(member_page.members_size(), 1);
  EXPECT_EQ(member_page.members(0).external_ref(), "T-2");

  v1::ListClientAccountsRequest accounts;
  accounts.set_account_officer("token.officer");
  accounts.set_page_size(1);
  v1::ListClientAccountsResponse account_page;
  ASSERT_TRUE(m_->stub().ListClientAccounts(m_->Ctx().get(), accounts, &account_page).ok());
  accounts.set_page_token(account_page.next_page_token());
  accounts.set_account_officer("someone.else");
  s = m_->stub().ListClientAccounts(m_->Ctx().get(), accounts, &account_page);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("page_token: ", 0), 0u) << s.error_message();
  // A token of one list is no token for another.
  v1::ListPlansRequest plans;
  plans.set_page_token(member_page.next_page_token().empty() ? accounts.page_token() : member_page.next_page_token());
  v1::ListPlansResponse plan_page;
  EXPECT_EQ(m_->stub().ListPlans(m_->Ctx().get(), plans, &plan_page).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(MembershipTest, EnrolledMembersAreReadAndListedByAccountStatusAndPlan) {
  v1::ClientAccount account = m_->Account("Listing Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "L-1", D(2026, 2, 1));
  m_->Enroll(account, plan, "L-2");
  v1::GetMemberRequest get;
  get.set_member_id(member.member_id());
  v1::Member got;
  ASSERT_TRUE(m_->stub().GetMember(m_->Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.external_ref(), "L-1");
  EXPECT_EQ(got.person().given_name(), "Maria L-1");
  EXPECT_EQ(got.effective_date().month(), 2);
  EXPECT_EQ(got.status(), v1::MEMBER_STATUS_ACTIVE);

  v1::EnrollMemberRequest dup;
  dup.set_request_id(NewRequestId());
  dup.set_account_id(account.account_id());
  dup.set_plan_id(plan.plan_id());
  dup.set_external_ref("L-1");
  *dup.mutable_person() = Person("Again");
  *dup.mutable_effective_date() = D(2026, 2, 1);
  EXPECT_EQ(m_->stub().EnrollMember(m_->Ctx().get(), dup, &got).error_code(), StatusCode::ALREADY_EXISTS);

  v1::ListMembersRequest list;
  list.set_account_id(account.account_id());
  list.set_plan_id(plan.plan_id());
  list.set_status(v1::MEMBER_STATUS_ACTIVE);
  list.set_page_size(1);
  v1::ListMembersResponse page;
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), list, &page).ok());
  ASSERT_EQ(page.members_size(), 1);
  EXPECT_EQ(page.members(0).member_id(), member.member_id());
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), list, &page).ok());
  ASSERT_EQ(page.members_size(), 1);
  EXPECT_EQ(page.members(0).external_ref(), "L-2");
  list.clear_page_token();
  list.set_status(v1::MEMBER_STATUS_TERMINATED);
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), list, &page).ok());
  EXPECT_EQ(page.members_size(), 0);

  // The employee number from the HR census finds its member.
  v1::ListMembersRequest by_ref;
  by_ref.set_account_id(account.account_id());
  by_ref.set_external_ref("L-2");
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), by_ref, &page).ok());
  ASSERT_EQ(page.members_size(), 1);
  EXPECT_EQ(page.members(0).external_ref(), "L-2");
  by_ref.set_external_ref("L-404");
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), by_ref, &page).ok());
  EXPECT_EQ(page.members_size(), 0);
  by_ref.set_external_ref(std::string(65, 'x'));
  grpc::Status s = m_->stub().ListMembers(m_->Ctx().get(), by_ref, &page);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "external_ref: must be at most 64 characters");
}

TEST_F(MembershipTest, BatchEnrolmentKeepsGoodRowsAndExplainsEveryBadOne) {
  v1::ClientAccount account = m_->Account("Census Corp");
  v1::Plan plan = m_->Plan(account.account_id());
  m_->Enroll(account, plan, "EMP-EXISTING");
  v1::BatchEnrollMembersRequest req;
  req.set_request_id(NewRequestId());
  req.set_account_id(account.account_id());
  auto add = [&](const std::string& ref, const std::string& plan_id, common::v1::Date eff, const std::string& given) {
    v1::BatchEnrollRow* row = req.add_rows();
    row->set_plan_id(plan_id);
    row->set_external_ref(ref);
    *row->mutable_person() = Person(given);
    *row->mutable_effective_date() = eff;
  };
  add("EMP-1", plan.plan_id(), D(2026, 2, 1), "Ana");          // 0 created
  add("EMP-2", plan.plan_id(), D(2026, 2, 1), "");             // 1 invalid: no given name
  add("EMP-1", plan.plan_id(), D(2026, 2, 1), "Ana again");    // 2 duplicate in the batch
  add("EMP-EXISTING", plan.plan_id(), D(2026, 2, 1), "Old");   // 3 duplicate of a member
  add("EMP-3", plan.plan_id(), D(2025, 6, 1), "Early");        // 4 invalid: before start
  add("EMP-4", "01J0000000000000000000ZZZZ", D(2026, 2, 1), "Lost");  // 5 invalid: unknown plan
  add("EMP-5", plan.plan_id(), D(2026, 3, 1), "Carla");        // 6 created
  v1::BatchEnrollMembersResponse resp;
  ASSERT_TRUE(m_->stub().BatchEnrollMembers(m_->Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 7);
  using O = v1::BatchRowOutcome;
  std::vector<O> outcomes;
  for (const auto& r : resp.results()) outcomes.push_back(r.outcome());
  EXPECT_EQ(outcomes, (std::vector<O>{v1::BATCH_ROW_OUTCOME_CREATED, v1::BATCH_ROW_OUTCOME_INVALID,
                                      v1::BATCH_ROW_OUTCOME_DUPLICATE, v1::BATCH_ROW_OUTCOME_DUPLICATE,
                                      v1::BATCH_ROW_OUTCOME_INVALID, v1::BATCH_ROW_OUTCOME_INVALID,
                                      v1::BATCH_ROW_OUTCOME_CREATED}));
  EXPECT_EQ(resp.results(1).error(), "rows[1].person.given_name: must not be empty");
  EXPECT_NE(resp.results(4).error().find("rows[4].effective_date"), std::string::npos) << resp.results(4).error();
  EXPECT_NE(resp.results(5).error().find("rows[5].plan_id"), std::string::npos) << resp.results(5).error();
  EXPECT_EQ(resp.results(2).member_id(), resp.results(0).member_id());
  EXPECT_EQ(resp.created_count(), 2);
  EXPECT_EQ(resp.duplicate_count(), 2);
  EXPECT_EQ(resp.invalid_count(), 3);

  v1::ListMembersRequest list;
  list.set_account_id(account.account_id());
  v1::ListMembersResponse members;
  ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), list, &members).ok());
  EXPECT_EQ(members.members_size(), 3);

  // The same census again under its request_id changes nothing and answers the same.
  v1::BatchEnrollMembersResponse again;
  ASSERT_TRUE(m_->stub().BatchEnrollMembers(m_->Ctx().get(), req, &again).ok());
  EXPECT_EQ(again.results(0).member_id(), resp.results(0).member_id());
  EXPECT_EQ(again.created_count(), 2);
}

TEST_F(MembershipTest, BatchOfFiveThousandRowsInOneCall) {
  v1::ClientAccount account = m_->Account("Big Census");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::BatchEnrollMembersRequest req;
  req.set_request_id(NewRequestId());
  req.set_account_id(account.account_id());
  for (int i = 0; i < 5000; ++i) {
    v1::BatchEnrollRow* row = req.add_rows();
    row->set_plan_id(plan.plan_id());
    row->set_external_ref(absl::StrCat("BIG-", i));
    *row->mutable_person() = Person(absl::StrCat("Person ", i));
    *row->mutable_effective_date() = D(2026, 1, 1);
  }
  v1::BatchEnrollMembersResponse resp;
  absl::Time start = absl::Now();
  grpc::Status s = m_->stub().BatchEnrollMembers(m_->Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.created_count(), 5000);
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  v1::GetAccountSummaryRequest summary_req;
  summary_req.set_account_id(account.account_id());
  *summary_req.mutable_period_start() = D(2026, 1, 1);
  *summary_req.mutable_period_end() = D(2026, 1, 31);
  v1::AccountSummary summary;
  ASSERT_TRUE(m_->stub().GetAccountSummary(m_->Ctx().get(), summary_req, &summary).ok());
  EXPECT_EQ(summary.members_by_status(0).count(), 5000);
  EXPECT_EQ(summary.enrolled_in_period(), 5000);

  v1::BatchEnrollRow extra = req.rows(0);
  *req.add_rows() = extra;
  req.set_request_id(NewRequestId());
  s = m_->stub().BatchEnrollMembers(m_->Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "rows: must have 1 to 5000 rows");
}

// ---------------------------------------------------------------- movements

TEST_F(MembershipTest, MovementsArePendingUntilAppliedOrRejectedAndTrackTheirTat) {
  v1::ClientAccount account = m_->Account("Movements Co");
  v1::Plan plan = m_->Plan(account.account_id());

  v1::RequestMovementRequest enroll;
  enroll.set_request_id(NewRequestId());
  enroll.set_account_id(account.account_id());
  enroll.set_type(v1::MOVEMENT_TYPE_ENROLLMENT);
  *enroll.mutable_effective_date() = D(2026, 2, 1);
  enroll.mutable_enrollment()->set_plan_id(plan.plan_id());
  enroll.mutable_enrollment()->set_external_ref("MV-1");
  *enroll.mutable_enrollment()->mutable_person() = Person("Moved");
  v1::Movement pending;
  ASSERT_TRUE(m_->stub().RequestMovement(m_->Ctx().get(), enroll, &pending).ok());
  EXPECT_EQ(pending.status(), v1::MOVEMENT_STATUS_PENDING);
  EXPECT_EQ(pending.requested_by(), "eva.tan");
  int64_t tat = pending.due_time().seconds() - pending.request_time().seconds();
  EXPECT_GE(tat, 2 * 86400);  // two business days, more across a weekend
  EXPECT_LE(tat, 4 * 86400);

  // Listed as overdue once its due time has passed (as_of, no waiting).
  v1::ListMovementsRequest overdue;
  overdue.set_account_id(account.account_id());
  overdue.set_overdue_only(true);
  *overdue.mutable_as_of() = pending.due_time();
  overdue.mutable_as_of()->set_seconds(pending.due_time().seconds() + 60);
  v1::ListMovementsResponse listed;
  ASSERT_TRUE(m_->stub().ListMovements(m_->Ctx().get(), overdue, &listed).ok());
  ASSERT_EQ(listed.movements_size(), 1);
  EXPECT_TRUE(listed.movements(0).overdue());
  overdue.mutable_as_of()->set_seconds(pending.request_time().seconds() + 60);
  ASSERT_TRUE(m_->stub().ListMovements(m_->Ctx().get(), overdue, &listed).ok());
  EXPECT_EQ(listed.movements_size(), 0);

  v1::ApplyMovementRequest apply;
  apply.set_request_id(NewRequestId());
  apply.set_movement_id(pending.movement_id());
  apply.set_etag(pending.etag());
  v1::Movement applied;
  ASSERT_TRUE(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &applied).ok());
  EXPECT_EQ(applied.status(), v1::MOVEMENT_STATUS_APPLIED);
  EXPECT_TRUE(applied.tat_met());
  EXPECT_EQ(applied.decided_by(), "eva.tan");
  ASSERT_FALSE(applied.member_id().empty());
  // Applying again (a new request) with the etag read before the apply is stale;
  // with the applied movement's etag it returns the movement and creates nobody.
  apply.set_request_id(NewRequestId());
  v1::Movement twice;
  EXPECT_EQ(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &twice).error_code(), StatusCode::ABORTED);
  apply.set_request_id(NewRequestId());
  apply.set_etag(applied.etag());
  ASSERT_TRUE(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &twice).ok());
  EXPECT_EQ(twice.member_id(), applied.member_id());
  EXPECT_EQ(twice.etag(), applied.etag());
  v1::RejectMovementRequest reject_applied;
  reject_applied.set_request_id(NewRequestId());
  reject_applied.set_movement_id(pending.movement_id());
  reject_applied.set_etag(applied.etag());
  reject_applied.set_reason("too late");
  EXPECT_EQ(m_->stub().RejectMovement(m_->Ctx().get(), reject_applied, &twice).error_code(),
            StatusCode::FAILED_PRECONDITION);
  const std::string member_id = applied.member_id();
  EXPECT_TRUE(m_->Check(member_id, "OUTPATIENT", D(2026, 2, 2), 100).eligible());

  // Detail change, then termination, then reinstatement.
  v1::RequestMovementRequest details;
  details.set_request_id(NewRequestId());
  details.set_account_id(account.account_id());
  details.set_type(v1::MOVEMENT_TYPE_DETAIL_CHANGE);
  details.set_member_id(member_id);
  *details.mutable_effective_date() = D(2026, 3, 1);
  *details.mutable_person() = Person("Renamed");
  v1::Movement mv;
  ASSERT_TRUE(m_->stub().RequestMovement(m_->Ctx().get(), details, &mv).ok());
  apply.set_request_id(NewRequestId());
  apply.set_movement_id(mv.movement_id());
  apply.set_etag(mv.etag());
  ASSERT_TRUE(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &mv).ok());
  v1::GetMemberRequest get;
  get.set_member_id(member_id);
  v1::Member member;
  ASSERT_TRUE(m_->stub().GetMember(m_->Ctx().get(), get, &member).ok());
  EXPECT_EQ(member.person().given_name(), "Renamed");

  v1::RequestMovementRequest terminate;
  terminate.set_request_id(NewRequestId());
  terminate.set_account_id(account.account_id());
  terminate.set_type(v1::MOVEMENT_TYPE_TERMINATION);
  terminate.set_member_id(member_id);
  *terminate.mutable_effective_date() = D(2026, 7, 1);
  ASSERT_TRUE(m_->stub().RequestMovement(m_->Ctx().get(), terminate, &mv).ok());
  const std::string terminate_etag = mv.etag();
  apply.set_request_id(NewRequestId());
  apply.set_movement_id(mv.movement_id());
  apply.set_etag("999");
  EXPECT_EQ(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &mv).error_code(), StatusCode::ABORTED);
  apply.clear_etag();
  EXPECT_EQ(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &mv).error_code(), StatusCode::INVALID_ARGUMENT);
  apply.set_etag(terminate_etag);
  ASSERT_TRUE(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &mv).ok());
  EXPECT_FALSE(m_->Check(member_id, "OUTPATIENT", D(2026, 7, 1), 100).eligible());
  EXPECT_TRUE(m_->Check(member_id, "OUTPATIENT", D(2026, 6, 30), 100).eligible());

  // Dates that cannot apply are refused when the movement is requested, and
  // nothing is recorded: a reinstatement before the termination it undoes, a
  // termination before the member's coverage starts (2026-02-01).
  v1::RequestMovementRequest backdated = terminate;
  backdated.set_request_id(NewRequestId());
  backdated.set_type(v1::MOVEMENT_TYPE_REINSTATEMENT);
  *backdated.mutable_effective_date() = D(2026, 6, 30);
  grpc::Status refused = m_->stub().RequestMovement(m_->Ctx().get(), backdated, &mv);
  EXPECT_EQ(refused.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "effective_date: must not be before the termination it undoes (2026-07-01)");
  v1::RequestMovementRequest early_end = terminate;
  early_end.set_request_id(NewRequestId());
  *early_end.mutable_effective_date() = D(2026, 1, 15);
  refused = m_->stub().RequestMovement(m_->Ctx().get(), early_end, &mv);
  EXPECT_EQ(refused.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "effective_date: must not be before the member's coverage starts (2026-02-01)");

  v1::RequestMovementRequest reinstate = terminate;
  reinstate.set_request_id(NewRequestId());
  reinstate.set_type(v1::MOVEMENT_TYPE_REINSTATEMENT);
  ASSERT_TRUE(m_->stub().RequestMovement(m_->Ctx().get(), reinstate, &mv).ok());
  apply.set_request_id(NewRequestId());
  apply.set_movement_id(mv.movement_id());
  ASSERT_TRUE(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &mv).ok());
  EXPECT_TRUE(m_->Check(member_id, "OUTPATIENT", D(2026, 8, 1), 100).eligible());

  // A plan change that is rejected leaves the member where it was.
  v1::RequestMovementRequest change;
  change.set_request_id(NewRequestId());
  change.set_account_id(account.account_id());
  change.set_type(v1::MOVEMENT_TYPE_PLAN_CHANGE);
  change.set_member_id(member_id);
  change.set_new_plan_id(plan.plan_id());
  *change.mutable_effective_date() = D(2026, 9, 1);
  ASSERT_TRUE(m_->stub().RequestMovement(m_->Ctx().get(), change, &mv).ok());
  v1::RejectMovementRequest reject;
  reject.set_request_id(NewRequestId());
  reject.set_movement_id(mv.movement_id());
  reject.set_etag(mv.etag());
  reject.set_reason("HR withdrew the request");
  ASSERT_TRUE(m_->stub().RejectMovement(m_->Ctx().get(), reject, &mv).ok());
  EXPECT_EQ(mv.status(), v1::MOVEMENT_STATUS_REJECTED);
  EXPECT_EQ(mv.rejection_reason(), "HR withdrew the request");

  v1::RequestMovementRequest missing_member = change;
  missing_member.set_request_id(NewRequestId());
  missing_member.clear_member_id();
  grpc::Status s = m_->stub().RequestMovement(m_->Ctx().get(), missing_member, &mv);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "member_id: is required");

  v1::ListMovementsRequest by_type;
  by_type.set_account_id(account.account_id());
  by_type.set_type(v1::MOVEMENT_TYPE_PLAN_CHANGE);
  ASSERT_TRUE(m_->stub().ListMovements(m_->Ctx().get(), by_type, &listed).ok());
  ASSERT_EQ(listed.movements_size(), 1);
  EXPECT_EQ(listed.movements(0).status(), v1::MOVEMENT_STATUS_REJECTED);
  v1::ListMovementsRequest applied_only;
  applied_only.set_account_id(account.account_id());
  applied_only.set_status(v1::MOVEMENT_STATUS_APPLIED);
  ASSERT_TRUE(m_->stub().ListMovements(m_->Ctx().get(), applied_only, &listed).ok());
  EXPECT_EQ(listed.movements_size(), 4);
  v1::GetMovementRequest get_mv;
  get_mv.set_movement_id(pending.movement_id());
  ASSERT_TRUE(m_->stub().GetMovement(m_->Ctx().get(), get_mv, &mv).ok());
  EXPECT_EQ(mv.status(), v1::MOVEMENT_STATUS_APPLIED);

  std::string metrics = m_->Metrics();
  EXPECT_NE(metrics.find(R"(careops_membership_movements_total{outcome="applied",type="enrollment"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(careops_membership_movements_total{outcome="rejected",type="plan_change"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_movement_tat_seconds_count{type="termination"} 1)"),
            std::string::npos);
}

// ---------------------------------------------------------------- eligibility and utilisation

TEST_F(MembershipTest, EligibilityListsEveryReasonWithTheRemainingLimit) {
  v1::ClientAccount account = m_->Account("Eligibility Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "EL-1", D(2026, 3, 1));

  v1::CheckEligibilityResponse ok = m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 20000);
  EXPECT_TRUE(ok.eligible());
  EXPECT_EQ(ok.remaining_limit().amount_minor(), 100000);
  EXPECT_EQ(ok.remaining_limit().currency_code(), "PHP");
  EXPECT_EQ(ok.account_id(), account.account_id());
  EXPECT_EQ(ok.plan_id(), plan.plan_id());
  EXPECT_EQ(ok.benefit_category(), "outpatient");
  EXPECT_EQ(ok.copay_basis_points(), 2000);

  v1::CheckEligibilityResponse unknown = m_->Check("01J0000000000000000000NONE", "OUTPATIENT", D(2026, 3, 2), 100);
  EXPECT_FALSE(unknown.eligible());
  EXPECT_EQ(Codes(unknown), std::vector{v1::MEMBER_NOT_FOUND});
  EXPECT_EQ(Codes(m_->Check(member.member_id(), "VISION", D(2026, 3, 2), 100)), std::vector{v1::BENEFIT_NOT_IN_PLAN});
  EXPECT_EQ(Codes(m_->Check(member.member_id(), "DENTAL", D(2026, 3, 15), 100)),
            std::vector{v1::WAITING_PERIOD_NOT_SERVED});
  EXPECT_TRUE(m_->Check(member.member_id(), "DENTAL", D(2026, 3, 31), 100).eligible());
  EXPECT_EQ(Codes(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 30001)),
            std::vector{v1::PER_VISIT_CAP_EXCEEDED});
  EXPECT_EQ(Codes(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 2, 28), 100)),
            std::vector{v1::MEMBER_NOT_ACTIVE});
  v1::CheckEligibilityResponse room = m_->Check(member.member_id(), "ROOM", D(2026, 3, 2), 99999999);
  EXPECT_TRUE(room.eligible());
  EXPECT_TRUE(room.unlimited());

  v1::SuspendClientAccountRequest suspend;
  suspend.set_request_id(NewRequestId());
  suspend.set_account_id(account.account_id());
  suspend.set_etag(account.etag());
  suspend.set_reason("past due");
  *suspend.mutable_effective_date() = D(2026, 4, 1);
  v1::ClientAccount out;
  ASSERT_TRUE(m_->stub().SuspendClientAccount(m_->Ctx().get(), suspend, &out).ok());
  EXPECT_EQ(Codes(m_->Check(member.member_id(), "DENTAL", D(2026, 4, 2), 100)), std::vector{v1::ACCOUNT_SUSPENDED});

  v1::CheckEligibilityRequest no_date;
  no_date.set_member_id(member.member_id());
  no_date.set_benefit_code("OUTPATIENT");
  v1::CheckEligibilityResponse resp;
  grpc::Status s = m_->stub().CheckEligibility(m_->Ctx().get(), no_date, &resp);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "service_date: is required");

  std::string metrics = m_->Metrics();
  EXPECT_NE(metrics.find(R"(careops_membership_eligibility_checks_total{outcome="ineligible"})"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_eligibility_checks_total{outcome="eligible"})"), std::string::npos);
}

TEST_F(MembershipTest, EligibilityJudgesTheAccountStatusInForceOnTheServiceDate) {
  v1::ClientAccount account = m_->Account("History Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "H-1");
  const std::string id = member.member_id();

  // Suspended 1-9 April, then reinstated: the account is ACTIVE now, but a claim
  // dated inside the suspension is still refused and one either side is not.
  ASSERT_TRUE(m_->Suspend(account.account_id(), D(2026, 4, 1)).ok());
  ASSERT_TRUE(m_->Reinstate(account.account_id(), D(2026, 4, 10)).ok());
  EXPECT_EQ(Codes(m_->Check(id, "OUTPATIENT", D(2026, 4, 5), 100)), std::vector{v1::ACCOUNT_SUSPENDED});
  EXPECT_EQ(Codes(m_->Check(id, "OUTPATIENT", D(2026, 4, 1), 100)), std::vector{v1::ACCOUNT_SUSPENDED});
  EXPECT_TRUE(m_->Check(id, "OUTPATIENT", D(2026, 3, 31), 100).eligible());
  EXPECT_TRUE(m_->Check(id, "OUTPATIENT", D(2026, 4, 10), 100).eligible());
  v1::Utilization u;
  grpc::Status s = m_->Record(id, "OUTPATIENT", 100, "claim-h-suspended", &u, D(2026, 4, 5));
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("ACCOUNT_SUSPENDED"), std::string::npos) << s.error_message();
  EXPECT_TRUE(m_->Record(id, "OUTPATIENT", 100, "claim-h-after", &u, D(2026, 4, 12)).ok());

  // A transition may not predate the status it replaces.
  s = m_->Suspend(account.account_id(), D(2026, 4, 9));
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "effective_date: must not be before the current status's effective date 2026-04-10");

  // Suspended again from May, cancelled from June: each day answers with its own status.
  ASSERT_TRUE(m_->Suspend(account.account_id(), D(2026, 5, 1)).ok());
  ASSERT_TRUE(m_->Cancel(account.account_id(), D(2026, 6, 1)).ok());
  EXPECT_EQ(Codes(m_->Check(id, "OUTPATIENT", D(2026, 5, 15), 100)), std::vector{v1::ACCOUNT_SUSPENDED});
  EXPECT_EQ(Codes(m_->Check(id, "OUTPATIENT", D(2026, 6, 2), 100)),
            (std::vector{v1::MEMBER_NOT_ACTIVE, v1::ACCOUNT_CANCELLED}));
  EXPECT_EQ(Codes(m_->Check(id, "OUTPATIENT", D(2026, 4, 5), 100)), std::vector{v1::ACCOUNT_SUSPENDED});
  EXPECT_TRUE(m_->Check(id, "OUTPATIENT", D(2026, 4, 20), 100).eligible());
}

// The ledger reads back every record in the order it was made, with its
// reversal and the running balance of its benefit and year, across pages.
TEST_F(MembershipTest, TheUtilisationLedgerShowsEveryEntryWithItsRunningBalance) {
  v1::ClientAccount account = m_->Account("Ledger Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "LG-1");
  v1::Utilization u;
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 20000, "ledger-a", &u, D(2026, 3, 2)).ok());
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 30000, "ledger-b", &u, D(2026, 4, 2)).ok());
  ASSERT_TRUE(m_->Record(member.member_id(), "DENTAL", 5000, "ledger-d", &u, D(2026, 4, 3)).ok());
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 10000, "ledger-c", &u, D(2027, 1, 5)).ok());
  v1::ReverseUtilizationRequest reverse;
  reverse.set_source_reference("ledger-a");
  reverse.set_reason("approval reversed");
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), reverse, &u).ok());

  v1::ListUtilizationsRequest list;
  list.set_member_id(member.member_id());
  list.set_benefit_code("OUTPATIENT");
  list.set_page_size(2);
  v1::ListUtilizationsResponse page1, page2;
  ASSERT_TRUE(m_->stub().ListUtilizations(m_->Ctx().get(), list, &page1).ok());
  ASSERT_EQ(page1.entries_size(), 2);
  ASSERT_FALSE(page1.next_page_token().empty());
  list.set_page_token(page1.next_page_token());
  ASSERT_TRUE(m_->stub().ListUtilizations(m_->Ctx().get(), list, &page2).ok());
  ASSERT_EQ(page2.entries_size(), 1);
  EXPECT_TRUE(page2.next_page_token().empty());
  struct Line {
    std::string source;
    bool reversed;
    int64_t used, remaining;
    bool operator==(const Line&) const = default;
  };
  std::vector<Line> ledger;
  for (const auto* page : {&page1, &page2}) {
    for (const auto& e : page->entries()) {
      ledger.push_back({e.utilization().source_reference(), e.utilization().reversed(), e.used_in_year().amount_minor(),
                        e.remaining_limit().amount_minor()});
    }
  }
  // The reversed record counts nothing; 2027 starts a new year (limit PHP 1000.00).
  EXPECT_EQ(ledger, (std::vector<Line>{{"ledger-a", true, 0, 100000},
                                       {"ledger-b", false, 30000, 70000},
                                       {"ledger-c", false, 10000, 90000}}));
  EXPECT_EQ(page1.entries(0).utilization().reverse_reason(), "approval reversed");
  EXPECT_EQ(page1.entries(1).remaining_limit().currency_code(), "PHP");

  v1::ListUtilizationsRequest all;
  all.set_member_id(member.member_id());
  v1::ListUtilizationsResponse every;
  ASSERT_TRUE(m_->stub().ListUtilizations(m_->Ctx().get(), all, &every).ok());
  ASSERT_EQ(every.entries_size(), 4);
  EXPECT_EQ(every.entries(2).utilization().benefit_code(), "DENTAL");
  EXPECT_EQ(every.entries(2).used_in_year().amount_minor(), 5000);
  EXPECT_EQ(every.entries(2).remaining_limit().amount_minor(), 45000);

  all.set_member_id("01J0000000000000000000NONE");
  EXPECT_EQ(m_->stub().ListUtilizations(m_->Ctx().get(), all, &every).error_code(), StatusCode::NOT_FOUND);
  all.clear_member_id();
  grpc::Status s = m_->stub().ListUtilizations(m_->Ctx().get(), all, &every);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "member_id: is required");
}

TEST_F(MembershipTest, UtilisationIsIdempotentBySourceReferenceAndReversible) {
  v1::ClientAccount account = m_->Account("Utilisation Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "U-1");

  v1::Utilization first, again;
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 25000, "claim-u-1", &first).ok());
  EXPECT_EQ(first.remaining_limit().amount_minor(), 75000);
  EXPECT_FALSE(first.reversed());
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 25000, "claim-u-1", &again).ok());
  EXPECT_EQ(again.utilization_id(), first.utilization_id());
  EXPECT_EQ(again.remaining_limit().amount_minor(), 75000);  // counted once
  grpc::Status s = m_->Record(member.member_id(), "OUTPATIENT", 26000, "claim-u-1", &again);
  EXPECT_EQ(s.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(s.error_message().find("source_reference"), std::string::npos);

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 25000, absl::StrCat("claim-u-fill-", i), &again).ok());
  }
  EXPECT_EQ(again.remaining_limit().amount_minor(), 0);
  s = m_->Record(member.member_id(), "OUTPATIENT", 100, "claim-u-over", &again);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("ANNUAL_LIMIT_EXHAUSTED"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("annual limit of PHP 1000.00"), std::string::npos) << s.error_message();
  // A new year has its own balance.
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 100, "claim-u-next-year", &again, D(2027, 1, 5)).ok());
  EXPECT_EQ(again.remaining_limit().amount_minor(), 99900);

  v1::ReverseUtilizationRequest reverse;
  reverse.set_source_reference("claim-u-1");
  reverse.set_reason("approval reversed");
  v1::Utilization reversed, reversed_again;
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), reverse, &reversed).ok());
  EXPECT_TRUE(reversed.reversed());
  EXPECT_EQ(reversed.remaining_limit().amount_minor(), 25000);
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), reverse, &reversed_again).ok());
  EXPECT_TRUE(reversed_again.reversed());
  EXPECT_EQ(reversed_again.remaining_limit().amount_minor(), 25000);  // given back once
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 25000);
  reverse.set_source_reference("claim-never-recorded");
  EXPECT_EQ(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), reverse, &reversed).error_code(), StatusCode::NOT_FOUND);

  s = m_->Record(member.member_id(), "OUTPATIENT", 30001, "claim-u-cap", &again);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("per-visit cap of PHP 300.00"), std::string::npos) << s.error_message();
  EXPECT_EQ(m_->Record("01J0000000000000000000NONE", "OUTPATIENT", 100, "claim-u-nobody", &again).error_code(),
            StatusCode::NOT_FOUND);
}

// A partial reversal (issue 10): ReverseUtilization with an amount.
v1::ReverseUtilizationRequest PartialReversal(const std::string& source, int64_t amount, const std::string& request_id) {
  v1::ReverseUtilizationRequest r;
  r.set_request_id(request_id);
  r.set_source_reference(source);
  r.set_reason("claw-back by adjustment");
  *r.mutable_amount() = PHP(amount);
  return r;
}

TEST_F(MembershipTest, APartialReversalLeavesTheRestOfTheRecordInForce) {
  v1::ClientAccount account = m_->Account("Partial Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "PR-1");
  v1::Utilization u;
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 25000, "claim-p-1", &u).ok());
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 5000, "claim-p-2", &u).ok());
  EXPECT_EQ(u.remaining_limit().amount_minor(), 70000);

  v1::Utilization partial;
  grpc::Status s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(),
                                                 PartialReversal("claim-p-1", 10000, NewRequestId()), &partial);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(partial.reversed());  // PHP 150.00 of it still counts
  EXPECT_EQ(partial.amount().amount_minor(), 25000);
  EXPECT_EQ(partial.reversed_amount().amount_minor(), 10000);
  EXPECT_EQ(partial.remaining_limit().amount_minor(), 80000);
  ASSERT_EQ(partial.reversals_size(), 1);
  EXPECT_EQ(partial.reversals(0).amount().amount_minor(), 10000);
  EXPECT_EQ(partial.reversals(0).amount().currency_code(), "PHP");
  EXPECT_EQ(partial.reverse_reason(), "claw-back by adjustment");
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 80000);
  // The limit counts the rest: PHP 800.00 is left, not a cent more.
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 30000, "claim-p-3", &u).ok());
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 30000, "claim-p-4", &u).ok());
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 20000, "claim-p-5", &u).ok());
  EXPECT_EQ(u.remaining_limit().amount_minor(), 0);
  s = m_->Record(member.member_id(), "OUTPATIENT", 1, "claim-p-over", &u);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();

  // Beyond the remainder (PHP 150.00): refused naming the field, nothing changed.
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), PartialReversal("claim-p-1", 15001, NewRequestId()),
                                    &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "amount.amount_minor: must be at most the record's remaining un-reversed amount PHP 150.00");
  v1::GetUtilizationRequest get;
  get.set_source_reference("claim-p-1");
  v1::Utilization held;
  ASSERT_TRUE(m_->stub().GetUtilization(m_->Ctx().get(), get, &held).ok());
  EXPECT_EQ(held.reversed_amount().amount_minor(), 10000);
  EXPECT_EQ(held.reversals_size(), 1);
  EXPECT_EQ(held.remaining_limit().amount_minor(), 0);
  // Other bad amounts, and a partial reversal without its request_id.
  v1::ReverseUtilizationRequest bad = PartialReversal("claim-p-1", 100, NewRequestId());
  bad.mutable_amount()->set_currency_code("USD");
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), bad, &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "amount.currency_code: must be the record's currency PHP");
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), PartialReversal("claim-p-1", 0, NewRequestId()), &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "amount.amount_minor: must be more than zero");
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), PartialReversal("claim-p-1", -5, NewRequestId()), &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "amount.amount_minor: must not be negative");
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), PartialReversal("claim-p-1", 100, ""), &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "request_id: is required for a partial reversal (with amount)");
  ASSERT_TRUE(m_->stub().GetUtilization(m_->Ctx().get(), get, &held).ok());
  EXPECT_EQ(held.reversed_amount().amount_minor(), 10000);
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 0);

  // A second partial reversal up to the remainder reverses the record wholly.
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), PartialReversal("claim-p-1", 15000, NewRequestId()),
                                    &partial);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(partial.reversed());
  EXPECT_EQ(partial.reversed_amount().amount_minor(), 25000);
  EXPECT_EQ(partial.remaining_limit().amount_minor(), 15000);
  ASSERT_EQ(partial.reversals_size(), 2);
  EXPECT_EQ(partial.reversals(1).amount().amount_minor(), 15000);
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 15000);
  // Nothing is left to reverse: a partial one is refused, a whole one answers the record.
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), PartialReversal("claim-p-1", 1, NewRequestId()), &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "amount.amount_minor: must be at most the record's remaining un-reversed amount PHP 0.00");
  v1::ReverseUtilizationRequest whole;
  whole.set_source_reference("claim-p-1");
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), whole, &u).ok());
  EXPECT_EQ(u.reversals_size(), 2);
  EXPECT_EQ(u.remaining_limit().amount_minor(), 15000);

  // A whole reversal after a partial one gives back only the rest.
  s = m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), PartialReversal("claim-p-2", 2000, NewRequestId()), &u);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(u.remaining_limit().amount_minor(), 17000);
  whole.set_source_reference("claim-p-2");
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), whole, &u).ok());
  EXPECT_TRUE(u.reversed());
  EXPECT_EQ(u.reversed_amount().amount_minor(), 5000);
  EXPECT_EQ(u.remaining_limit().amount_minor(), 20000);
}

TEST_F(MembershipTest, TheLedgerShowsEachPartialReversalWithARightRunningBalance) {
  v1::ClientAccount account = m_->Account("Partial Ledger Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "PL-1");
  v1::Utilization u;
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 20000, "pledger-a", &u).ok());
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 30000, "pledger-b", &u).ok());
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(),
                                            PartialReversal("pledger-a", 5000, NewRequestId()), &u).ok());
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(),
                                            PartialReversal("pledger-a", 2500, NewRequestId()), &u).ok());
  v1::ListUtilizationsRequest list;
  list.set_member_id(member.member_id());
  list.set_page_size(1);  // the balance runs across pages
  v1::ListUtilizationsResponse page1, page2;
  ASSERT_TRUE(m_->stub().ListUtilizations(m_->Ctx().get(), list, &page1).ok());
  list.set_page_token(page1.next_page_token());
  ASSERT_TRUE(m_->stub().ListUtilizations(m_->Ctx().get(), list, &page2).ok());
  ASSERT_EQ(page1.entries_size(), 1);
  ASSERT_EQ(page2.entries_size(), 1);
  const v1::Utilization& a = page1.entries(0).utilization();
  EXPECT_EQ(a.source_reference(), "pledger-a");
  EXPECT_FALSE(a.reversed());
  EXPECT_EQ(a.reversed_amount().amount_minor(), 7500);
  ASSERT_EQ(a.reversals_size(), 2);
  EXPECT_EQ(a.reversals(0).amount().amount_minor(), 5000);
  EXPECT_EQ(a.reversals(1).amount().amount_minor(), 2500);
  EXPECT_EQ(page1.entries(0).used_in_year().amount_minor(), 12500);
  EXPECT_EQ(page1.entries(0).remaining_limit().amount_minor(), 87500);
  EXPECT_EQ(page2.entries(0).utilization().reversals_size(), 0);
  EXPECT_EQ(page2.entries(0).used_in_year().amount_minor(), 42500);
  EXPECT_EQ(page2.entries(0).remaining_limit().amount_minor(), 57500);
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 57500);
}

TEST_F(MembershipTest, APartialReversalReplayedWithItsRequestIdAppliesOnce) {
  v1::ClientAccount account = m_->Account("Partial Replay Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "PRR-1");
  v1::Utilization u;
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 25000, "claim-pr-1", &u).ok());
  const v1::ReverseUtilizationRequest req = PartialReversal("claim-pr-1", 10000, NewRequestId());
  v1::Utilization first, again;
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), req, &first).ok());
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), req, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());  // the first answer
  EXPECT_EQ(again.reversed_amount().amount_minor(), 10000);
  v1::GetUtilizationRequest get;
  get.set_source_reference("claim-pr-1");
  v1::Utilization held;
  ASSERT_TRUE(m_->stub().GetUtilization(m_->Ctx().get(), get, &held).ok());
  EXPECT_EQ(held.reversed_amount().amount_minor(), 10000);  // given back once
  EXPECT_EQ(held.reversals_size(), 1);
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 85000);
  // The same request_id for another amount is another request.
  v1::ReverseUtilizationRequest other = req;
  *other.mutable_amount() = PHP(5000);
  EXPECT_EQ(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), other, &again).error_code(),
            StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(m_->stub().GetUtilization(m_->Ctx().get(), get, &held).ok());
  EXPECT_EQ(held.reversed_amount().amount_minor(), 10000);
}

TEST_F(MembershipTest, OnlyClaimsMayReverseUtilisationInPart) {
  v1::ClientAccount account = m_->Account("Partial Access Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "PA-1");
  v1::Utilization u;
  ASSERT_TRUE(m_->Record(member.member_id(), "OUTPATIENT", 25000, "claim-pa-1", &u).ok());
  for (const char* who : {"dev-account-officer", "svc-collections", "dev-analyst"}) {
    grpc::Status s = m_->stub().ReverseUtilization(m_->Ctx(who).get(),
                                                   PartialReversal("claim-pa-1", 10000, NewRequestId()), &u);
    EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << who << ": " << s.error_message();
  }
  v1::GetUtilizationRequest get;
  get.set_source_reference("claim-pa-1");
  ASSERT_TRUE(m_->stub().GetUtilization(m_->Ctx().get(), get, &u).ok());
  EXPECT_EQ(u.reversed_amount().amount_minor(), 0);
  EXPECT_EQ(u.reversals_size(), 0);
  EXPECT_EQ(m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0).remaining_limit().amount_minor(), 75000);
}

TEST_F(MembershipTest, UnlimitedUtilisationPastTheMoneyBoundIsFailedPrecondition) {
  v1::ClientAccount account = m_->Account("Bound Corp");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "B-1");
  const int64_t bound = 1'000'000'000'000'000;  // 10^15 minor units
  v1::Utilization u;
  grpc::Status s = m_->Record(member.member_id(), "ROOM", bound + 1, "claim-too-big", &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "amount.amount_minor: must be at most 10^15 (1000000000000000) minor units in absolute value");
  ASSERT_TRUE(m_->Record(member.member_id(), "ROOM", bound, "claim-at-bound", &u).ok());
  // The year's balance would pass the bound: refused with the documented code,
  // never stored as a wrapped or negative balance.
  s = m_->Record(member.member_id(), "ROOM", 1, "claim-one-more", &u);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(s.error_message(), "amount: the member's utilisation of ROOM this year would exceed 10^15 minor units");
  // Nothing was recorded: after reversing the first, the second fits.
  v1::ReverseUtilizationRequest reverse;
  reverse.set_source_reference("claim-at-bound");
  reverse.set_reason("claim reopened");
  ASSERT_TRUE(m_->stub().ReverseUtilization(m_->Ctx("svc-claims").get(), reverse, &u).ok());
  EXPECT_TRUE(m_->Record(member.member_id(), "ROOM", 1, "claim-one-more", &u).ok());
}

TEST_F(MembershipTest, SixteenConcurrentRecordsNeverOverspendTheLimit) {
  v1::ClientAccount account = m_->Account("Race Co");
  v1::Plan plan = m_->Plan(account.account_id());
  v1::Member member = m_->Enroll(account, plan, "R-1");
  // OUTPATIENT: PHP 1000.00 a year; 16 claims of PHP 150.00 race for it: 6 fit.
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      v1::Utilization u;
      grpc::Status s = m_->Record(member.member_id(), "OUTPATIENT", 15000, absl::StrCat("race-", i), &u);
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == StatusCode::FAILED_PRECONDITION) {
        ++refused;
      } else {
        ++other;
        ADD_FAILURE() << s.error_code() << " " << s.error_message();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(refused.load(), 10);
  EXPECT_EQ(other.load(), 0);
  v1::CheckEligibilityResponse left = m_->Check(member.member_id(), "OUTPATIENT", D(2026, 3, 2), 0);
  EXPECT_EQ(left.remaining_limit().amount_minor(), 100000 - 6 * 15000);
}

// ---------------------------------------------------------------- the corporate-enrolment workflow (DESIGN.md)

TEST_F(MembershipTest, CorporateEnrolmentWorkflowEndToEnd) {
  // An account officer opens the corporate account and its plan.
  v1::ClientAccount account = m_->Account("Acme Manufacturing", v1::CLIENT_ACCOUNT_TYPE_CORPORATE, "workflow.officer");
  v1::Plan plan = m_->Plan(account.account_id());

  // HR sends a census of 300 rows: 296 good, 2 invalid, 2 duplicates.
  v1::BatchEnrollMembersRequest census;
  census.set_request_id(NewRequestId());
  census.set_account_id(account.account_id());
  for (int i = 0; i < 298; ++i) {
    v1::BatchEnrollRow* row = census.add_rows();
    row->set_plan_id(plan.plan_id());
    row->set_external_ref(absl::StrCat("ACME-", i));
    *row->mutable_person() = Person(absl::StrCat("Employee ", i));
    *row->mutable_effective_date() = D(2026, 2, 1);
  }
  census.mutable_rows(10)->mutable_person()->clear_birth_date();          // invalid
  *census.mutable_rows(20)->mutable_effective_date() = D(2025, 12, 1);    // invalid: before the start
  *census.add_rows() = census.rows(0);                                    // duplicate in the census
  *census.add_rows() = census.rows(1);
  v1::BatchEnrollMembersResponse enrolled;
  ASSERT_TRUE(m_->stub().BatchEnrollMembers(m_->Ctx().get(), census, &enrolled).ok());
  ASSERT_EQ(enrolled.results_size(), 300);
  EXPECT_EQ(enrolled.created_count(), 296);
  EXPECT_EQ(enrolled.invalid_count(), 2);
  EXPECT_EQ(enrolled.duplicate_count(), 2);
  EXPECT_EQ(enrolled.results(10).error(), "rows[10].person.birth_date: is required");
  EXPECT_NE(enrolled.results(20).error().find("rows[20].effective_date"), std::string::npos);
  EXPECT_EQ(enrolled.results(298).outcome(), v1::BATCH_ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(enrolled.results(298).member_id(), enrolled.results(0).member_id());

  // The whole roster pages back by key.
  v1::ListMembersRequest roster;
  roster.set_account_id(account.account_id());
  roster.set_page_size(100);
  int listed = 0, pages = 0;
  do {
    v1::ListMembersResponse page;
    ASSERT_TRUE(m_->stub().ListMembers(m_->Ctx().get(), roster, &page).ok());
    listed += page.members_size();
    ++pages;
    roster.set_page_token(page.next_page_token());
  } while (!roster.page_token().empty() && pages < 10);
  EXPECT_EQ(listed, 296);
  EXPECT_EQ(pages, 3);

  // Movements: a new hire, a leaver, a promotion to a revised plan, a correction.
  const std::string leaver = enrolled.results(0).member_id();
  const std::string promoted = enrolled.results(1).member_id();
  const std::string corrected = enrolled.results(2).member_id();
  v1::RevisePlanRequest revise;
  revise.set_request_id(NewRequestId());
  revise.set_plan_id(plan.plan_id());
  revise.set_etag(plan.etag());
  revise.set_name("Gold 2026.2");
  *revise.mutable_benefits() = plan.benefits();
  v1::Plan revised;
  ASSERT_TRUE(m_->stub().RevisePlan(m_->Ctx().get(), revise, &revised).ok());

  auto request = [&](v1::MovementType type, const std::string& member_id, common::v1::Date day) {
    v1::RequestMovementRequest req;
    req.set_request_id(NewRequestId());
    req.set_account_id(account.account_id());
    req.set_type(type);
    req.set_member_id(member_id);
    *req.mutable_effective_date() = day;
    return req;
  };
  std::vector<v1::RequestMovementRequest> requests = {
      request(v1::MOVEMENT_TYPE_ENROLLMENT, "", D(2026, 3, 1)),
      request(v1::MOVEMENT_TYPE_TERMINATION, leaver, D(2026, 3, 16)),
      request(v1::MOVEMENT_TYPE_PLAN_CHANGE, promoted, D(2026, 3, 1)),
      request(v1::MOVEMENT_TYPE_DETAIL_CHANGE, corrected, D(2026, 3, 1)),
  };
  requests[0].mutable_enrollment()->set_plan_id(revised.plan_id());
  requests[0].mutable_enrollment()->set_external_ref("ACME-NEW-1");
  *requests[0].mutable_enrollment()->mutable_person() = Person("New Hire");
  requests[2].set_new_plan_id(revised.plan_id());
  *requests[3].mutable_person() = Person("Corrected");
  std::vector<v1::Movement> movements(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(m_->stub().RequestMovement(m_->Ctx().get(), requests[i], &movements[i]).ok()) << i;
    EXPECT_EQ(movements[i].status(), v1::MOVEMENT_STATUS_PENDING);
    EXPECT_GT(movements[i].due_time().seconds(), movements[i].request_time().seconds());
  }

  // Tracked against their TAT: none is overdue at request time, all four are once the due time has passed.
  v1::ListMovementsRequest overdue;
  overdue.set_account_id(account.account_id());
  overdue.set_overdue_only(true);
  *overdue.mutable_as_of() = movements[0].request_time();
  v1::ListMovementsResponse listed_movements;
  ASSERT_TRUE(m_->stub().ListMovements(m_->Ctx().get(), overdue, &listed_movements).ok());
  EXPECT_EQ(listed_movements.movements_size(), 0);
  overdue.mutable_as_of()->set_seconds(movements.back().due_time().seconds() + 1);
  ASSERT_TRUE(m_->stub().ListMovements(m_->Ctx().get(), overdue, &listed_movements).ok());
  ASSERT_EQ(listed_movements.movements_size(), 4);
  for (const auto& mv : listed_movements.movements()) EXPECT_TRUE(mv.overdue());

  // The officer applies three and rejects the correction; each shows its TAT was met.
  for (size_t i = 0; i < 3; ++i) {
    v1::ApplyMovementRequest apply;
    apply.set_request_id(NewRequestId());
    apply.set_movement_id(movements[i].movement_id());
    apply.set_etag(movements[i].etag());
    ASSERT_TRUE(m_->stub().ApplyMovement(m_->Ctx().get(), apply, &movements[i]).ok()) << i;
    EXPECT_EQ(movements[i].status(), v1::MOVEMENT_STATUS_APPLIED);
    EXPECT_TRUE(movements[i].tat_met());
    EXPECT_FALSE(movements[i].overdue());
  }
  v1::RejectMovementRequest reject;
  reject.set_request_id(NewRequestId());
  reject.set_movement_id(movements[3].movement_id());
  reject.set_etag(movements[3].etag());
  reject.set_reason("name matches the ID already on file");
  ASSERT_TRUE(m_->stub().RejectMovement(m_->Ctx().get(), reject, &movements[3]).ok());
  EXPECT_EQ(movements[3].status(), v1::MOVEMENT_STATUS_REJECTED);
  EXPECT_TRUE(movements[3].tat_met());
  ASSERT_TRUE(m_->stub().ListMovements(m_->Ctx().get(), overdue, &listed_movements).ok());
  EXPECT_EQ(listed_movements.movements_size(), 0);

  // The changes took effect.
  const std::string new_hire = movements[0].member_id();
  ASSERT_FALSE(new_hire.empty());
  EXPECT_EQ(m_->Check(new_hire, "OUTPATIENT", D(2026, 3, 2), 100).plan_id(), revised.plan_id());
  EXPECT_EQ(Codes(m_->Check(leaver, "OUTPATIENT", D(2026, 3, 16), 100)), std::vector{v1::MEMBER_NOT_ACTIVE});
  EXPECT_EQ(m_->Check(promoted, "OUTPATIENT", D(2026, 3, 2), 100).plan_id(), revised.plan_id());
  v1::GetMemberRequest get;
  get.set_member_id(corrected);
  v1::Member unchanged;
  ASSERT_TRUE(m_->stub().GetMember(m_->Ctx().get(), get, &unchanged).ok());
  EXPECT_EQ(unchanged.person().given_name(), "Employee 2");

  v1::GetAccountSummaryRequest summary_req;
  summary_req.set_account_id(account.account_id());
  *summary_req.mutable_period_start() = D(2026, 2, 1);
  *summary_req.mutable_period_end() = D(2026, 3, 31);
  v1::AccountSummary summary;
  ASSERT_TRUE(m_->stub().GetAccountSummary(m_->Ctx().get(), summary_req, &summary).ok());
  EXPECT_EQ(summary.covered_at_period_start(), 296);
  EXPECT_EQ(summary.covered_at_period_end(), 296);  // one joined, one left
  EXPECT_EQ(summary.enrolled_in_period(), 297);
  EXPECT_EQ(summary.terminated_in_period(), 1);
}

// ---------------------------------------------------------------- V003: status history of older accounts

std::string SourceFile(const std::string& path) {
  std::ifstream in(testing::SourceDir() + "/" + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(MembershipMigrationTest, StatusHistoryOfAccountsMadeBeforeV003IsBackFilled) {
  testing::TestSchema schema("membership_v003");
  {
    // The schema as V002 left it, with an account suspended 1-9 April and then
    // reinstated (known only from the audit trail) and one suspended since May.
    mysql::PoolOptions options;
    options.dsn = schema.dsn();
    options.max_size = 1;
    mysql::ConnectionPool pool(options);
    ASSERT_TRUE(Migrate(pool, {{1, "V001__runtime.sql", SourceFile("common/schema/V001__runtime.sql")},
                               {2, "V002__membership.sql", SourceFile("services/membership/schema/V002__membership.sql")}})
                    .ok());
    absl::Status s = mysql::WithConnection(pool, [](mysql::Connection& c) {
      for (const char* sql : {
               "INSERT INTO client_accounts VALUES ('0000000000000000000000000A', 'Legacy', 'corporate', 'active',"
               " '', '', '2026-01-01', '2026-04-10', 'paid', 3, NOW(6), NOW(6))",
               "INSERT INTO client_accounts VALUES ('0000000000000000000000000B', 'Legacy 2', 'corporate', 'suspended',"
               " '', '', '2026-01-01', '2026-05-01', 'past due', 2, NOW(6), NOW(6))",
               "INSERT INTO plans VALUES ('000000000000000000000000PA', '0000000000000000000000000A', 'Gold', 'PHP', 1,"
               " '', 'active', 1, NOW(6))",
               "INSERT INTO plans VALUES ('000000000000000000000000PB', '0000000000000000000000000B', 'Gold', 'PHP', 1,"
               " '', 'active', 1, NOW(6))",
               "INSERT INTO plan_benefits VALUES ('000000000000000000000000PA', 'OUTPATIENT', 'outpatient', 0, 100000,"
               " 0, 0, 0, 0), ('000000000000000000000000PB', 'OUTPATIENT', 'outpatient', 0, 100000, 0, 0, 0, 0)",
               "INSERT INTO members VALUES ('000000000000000000000000MA', '0000000000000000000000000A',"
               " '000000000000000000000000PA', 'L-1', 'active', 'Ana', 'Cruz', '1990-01-01', 'F', '', '',"
               " '2026-01-01', NULL, 1, NOW(6), NOW(6)), ('000000000000000000000000MB', '0000000000000000000000000B',"
               " '000000000000000000000000PB', 'L-2', 'active', 'Ben', 'Cruz', '1990-01-01', 'M', '', '',"
               " '2026-01-01', NULL, 1, NOW(6), NOW(6))",
               "INSERT INTO audit_log (at, actor_user, actor_role, actor_team, action, resource_type, resource_id,"
               " reason, details, request_id) VALUES"
               " (NOW(6), 'svc-collections', 'service', '', 'account.suspend', 'account', '0000000000000000000000000A',"
               " 'past due', '{\"from\":\"active\",\"to\":\"suspended\",\"effective_date\":\"2026-04-01\"}', 'r1'),"
               " (NOW(6), 'svc-collections', 'service', '', 'account.reinstate', 'account', '0000000000000000000000000A',"
               " 'paid', '{\"from\":\"suspended\",\"to\":\"active\",\"effective_date\":\"2026-04-10\"}', 'r2')",
           }) {
        c.Execute(sql);
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }
  testing::ServiceProcess service("membership", schema.dsn());
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  auto stub = v1::MembershipService::NewStub(grpc::CreateChannel(service.address(), grpc::InsecureChannelCredentials()));
  auto check = [&](const std::string& member_id, common::v1::Date day) {
    v1::CheckEligibilityRequest req;
    req.set_member_id(member_id);
    req.set_benefit_code("OUTPATIENT");
    *req.mutable_service_date() = day;
    v1::CheckEligibilityResponse out;
    grpc::Status s = stub->CheckEligibility(testing::BearerContext("dev-account-officer").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return Codes(out);
  };
  using Reasons = std::vector<v1::EligibilityReasonCode>;
  EXPECT_EQ(check("000000000000000000000000MA", D(2026, 3, 31)), Reasons{});
  EXPECT_EQ(check("000000000000000000000000MA", D(2026, 4, 5)), Reasons{v1::ACCOUNT_SUSPENDED});
  EXPECT_EQ(check("000000000000000000000000MA", D(2026, 4, 10)), Reasons{});
  EXPECT_EQ(check("000000000000000000000000MB", D(2026, 4, 30)), Reasons{});
  EXPECT_EQ(check("000000000000000000000000MB", D(2026, 5, 1)), Reasons{v1::ACCOUNT_SUSPENDED});
}

// ---------------------------------------------------------------- coverage periods and scheduled changes

// Requests a movement and applies it; the first status that is not OK.
grpc::Status Move(Membership& m, const std::string& account_id, v1::MovementType type, const std::string& member_id,
                  common::v1::Date day, const std::string& new_plan_id = "") {
  v1::RequestMovementRequest req;
  req.set_request_id(NewRequestId());
  req.set_account_id(account_id);
  req.set_type(type);
  req.set_member_id(member_id);
  req.set_new_plan_id(new_plan_id);
  *req.mutable_effective_date() = day;
  v1::Movement mv;
  grpc::Status s = m.stub().RequestMovement(m.Ctx().get(), req, &mv);
  if (!s.ok()) return s;
  v1::ApplyMovementRequest apply;
  apply.set_request_id(NewRequestId());
  apply.set_movement_id(mv.movement_id());
  apply.set_etag(mv.etag());
  return m.stub().ApplyMovement(m.Ctx().get(), apply, &mv);
}

v1::Member GetMember(Membership& m, const std::string& member_id) {
  v1::GetMemberRequest req;
  req.set_member_id(member_id);
  v1::Member out;
  grpc::Status s = m.stub().GetMember(m.Ctx().get(), req, &out);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return out;
}

std::vector<std::string> MemberIdsOnPlan(Membership& m, const std::string& account_id, const std::string& plan_id) {
  v1::ListMembersRequest req;
  req.set_account_id(account_id);
  req.set_plan_id(plan_id);
  v1::ListMembersResponse out;
  grpc::Status s = m.stub().ListMembers(m.Ctx().get(), req, &out);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::vector<std::string> ids;
  for (const v1::Member& member : out.members()) ids.push_back(member.member_id() + " " + member.plan_id());
  return ids;
}

TEST_F(MembershipTest, AServiceDateInALapseBetweenTerminationAndReinstatementIsIneligible) {
  v1::ClientAccount account = m_->Account("Lapse Co");
  v1::Plan plan = m_->Plan(account.account_id());
  const std::string id = m_->Enroll(account, plan, "LP-1").member_id();
  ASSERT_TRUE(Move(*m_, account.account_id(), v1::MOVEMENT_TYPE_TERMINATION, id, D(2026, 5, 1)).ok());
  ASSERT_TRUE(Move(*m_, account.account_id(), v1::MOVEMENT_TYPE_REINSTATEMENT, id, D(2026, 6, 1)).ok());

  v1::Member member = GetMember(*m_, id);
  EXPECT_EQ(member.status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_FALSE(member.has_termination_date());
  ASSERT_EQ(member.coverage_size(), 2);
  EXPECT_EQ(member.coverage(0).end_date().month(), 5);
  EXPECT_EQ(member.coverage(1).effective_date().month(), 6);
  EXPECT_FALSE(member.coverage(1).has_end_date());
  EXPECT_EQ(member.coverage(1).plan_id(), plan.plan_id());
  EXPECT_EQ(member.coverage(1).plan_version(), 1);

  v1::CheckEligibilityResponse lapse = m_->Check(id, "OUTPATIENT", D(2026, 5, 15), 100);
  EXPECT_FALSE(lapse.eligible());
  EXPECT_EQ(Codes(lapse), std::vector{v1::MEMBER_NOT_ACTIVE});
  EXPECT_EQ(lapse.reasons(0).message(), "coverage ended on 2026-05-01, on or before the service date 2026-05-15");
  EXPECT_EQ(Codes(m_->Check(id, "OUTPATIENT", D(2026, 5, 31), 100)), std::vector{v1::MEMBER_NOT_ACTIVE});
  EXPECT_TRUE(m_->Check(id, "OUTPATIENT", D(2026, 4, 30), 100).eligible());
  EXPECT_TRUE(m_->Check(id, "OUTPATIENT", D(2026, 6, 1), 100).eligible());
  v1::Utilization u;
  grpc::Status s = m_->Record(id, "OUTPATIENT", 100, "claim-lapse", &u, D(2026, 5, 15));
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("MEMBER_NOT_ACTIVE"), std::string::npos) << s.error_message();
  EXPECT_TRUE(m_->Record(id, "OUTPATIENT", 100, "claim-after-lapse", &u, D(2026, 6, 2)).ok());

  // The history only moves forward: nothing is dated back into the lapse or
  // before the period in force.
  s = Move(*m_, account.account_id(), v1::MOVEMENT_TYPE_TERMINATION, id, D(2026, 5, 20));
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "effective_date: must not be before the member's latest coverage period starts (2026-06-01)");
  ASSERT_TRUE(Move(*m_, account.account_id(), v1::MOVEMENT_TYPE_TERMINATION, id, D(2026, 8, 1)).ok());
  s = Move(*m_, account.account_id(), v1::MOVEMENT_TYPE_REINSTATEMENT, id, D(2026, 7, 31));
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "effective_date: must not be before the termination it undoes (2026-08-01)");
  s = Move(*m_, account.account_id(), v1::MOVEMENT_TYPE_PLAN_CHANGE, id, D(2026, 8, 2), plan.plan_id());
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(m_->Check(id, "OUTPATIENT", D(2026, 7, 31), 100).eligible());
  EXPECT_EQ(Codes(m_->Check(id, "OUTPATIENT", D(2026, 8, 1), 100)), std::vector{v1::MEMBER_NOT_ACTIVE});

  // Coverage counts follow the periods: nobody is covered in the lapse.
  v1::GetAccountSummaryRequest summary;
  summary.set_account_id(account.account_id());
  *summary.mutable_period_start() = D(2026, 5, 15);
  *summary.mutable_period_end() = D(2026, 6, 15);
  v1::AccountSummary out;
  ASSERT_TRUE(m_->stub().GetAccountSummary(m_->Ctx().get(), summary, &out).ok());
  EXPECT_EQ(out.covered_at_period_start(), 0);
  EXPECT_EQ(out.covered_at_period_end(), 1);
}

// One process on 2026-06-10 (the business day, UTC), another on a later day on
// the same schema: what was scheduled takes effect on its day with no job run.
constexpr char kJune10[] = "--test_clock_start=2026-06-10T09:00:00Z";

v1::Plan PlatinumPlan(Membership& m, const std::string& account_id) {
  v1::CreatePlanRequest req;
  req.set_request_id(NewRequestId());
  v1::Plan* p = req.mutable_plan();
  p->set_account_id(account_id);
  p->set_name("Platinum");
  p->set_currency_code("PHP");
  v1::Benefit* op = p->add_benefits();
  op->set_code("OUTPATIENT");
  op->set_category("outpatient");
  *op->mutable_annual_limit() = PHP(500000);
  *op->mutable_per_visit_cap() = PHP(80000);
  v1::Plan out;
  grpc::Status s = m.stub().CreatePlan(m.Ctx().get(), req, &out);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return out;
}

TEST(MembershipScheduleTest, APlanChangeEffectiveInTenDaysLeavesTodaysPerVisitCapInForce) {
  Membership m("membership_plan_change", {kJune10});
  v1::ClientAccount account = m.Account("Plan Change Co");
  v1::Plan gold = m.Plan(account.account_id());              // PHP 300.00 per visit
  v1::Plan platinum = PlatinumPlan(m, account.account_id());  // PHP 800.00 per visit
  const std::string id = m.Enroll(account, gold, "PC-1").member_id();
  ASSERT_TRUE(Move(m, account.account_id(), v1::MOVEMENT_TYPE_PLAN_CHANGE, id, D(2026, 6, 20), platinum.plan_id()).ok());

  v1::Member member = GetMember(m, id);
  EXPECT_EQ(member.plan_id(), gold.plan_id());
  ASSERT_TRUE(member.has_scheduled_plan_change());
  EXPECT_EQ(member.scheduled_plan_change().plan_id(), platinum.plan_id());
  EXPECT_EQ(member.scheduled_plan_change().plan_version(), 1);
  EXPECT_EQ(member.scheduled_plan_change().effective_date().day(), 20);
  ASSERT_EQ(member.coverage_size(), 2);
  EXPECT_EQ(member.coverage(0).plan_id(), gold.plan_id());
  EXPECT_EQ(member.coverage(0).end_date().day(), 20);
  EXPECT_EQ(MemberIdsOnPlan(m, account.account_id(), gold.plan_id()), std::vector{id + " " + gold.plan_id()});
  EXPECT_TRUE(MemberIdsOnPlan(m, account.account_id(), platinum.plan_id()).empty());

  // Before the 20th the old plan's cap applies; from it the new one's.
  v1::CheckEligibilityResponse today = m.Check(id, "OUTPATIENT", D(2026, 6, 10), 50000);
  EXPECT_EQ(Codes(today), std::vector{v1::PER_VISIT_CAP_EXCEEDED});
  EXPECT_EQ(today.plan_id(), gold.plan_id());
  EXPECT_EQ(today.per_visit_cap().amount_minor(), 30000);
  EXPECT_EQ(Codes(m.Check(id, "OUTPATIENT", D(2026, 6, 19), 50000)), std::vector{v1::PER_VISIT_CAP_EXCEEDED});
  v1::CheckEligibilityResponse then = m.Check(id, "OUTPATIENT", D(2026, 6, 20), 50000);
  EXPECT_TRUE(then.eligible());
  EXPECT_EQ(then.plan_id(), platinum.plan_id());
  EXPECT_EQ(then.per_visit_cap().amount_minor(), 80000);
  v1::Utilization u;
  grpc::Status s = m.Record(id, "OUTPATIENT", 50000, "claim-pc-early", &u, D(2026, 6, 15));
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("PER_VISIT_CAP_EXCEEDED"), std::string::npos) << s.error_message();
  ASSERT_TRUE(m.Record(id, "OUTPATIENT", 20000, "claim-pc-gold", &u, D(2026, 6, 15)).ok());
  EXPECT_EQ(u.remaining_limit().amount_minor(), 80000);  // of Gold's PHP 1000.00
  ASSERT_TRUE(m.Record(id, "OUTPATIENT", 50000, "claim-pc-platinum", &u, D(2026, 6, 21)).ok());
  EXPECT_EQ(u.remaining_limit().amount_minor(), 430000);  // the year's use, against Platinum's PHP 5000.00
  v1::ListUtilizationsRequest ledger;
  ledger.set_member_id(id);
  v1::ListUtilizationsResponse entries;
  ASSERT_TRUE(m.stub().ListUtilizations(m.Ctx().get(), ledger, &entries).ok());
  ASSERT_EQ(entries.entries_size(), 2);
  EXPECT_EQ(entries.entries(0).remaining_limit().amount_minor(), 80000);
  EXPECT_EQ(entries.entries(1).remaining_limit().amount_minor(), 430000);

  // On the 21st, with nothing run in between, the new plan is the one in force.
  testing::ServiceProcess later("membership", m.dsn(), {"--test_clock_start=2026-06-21T09:00:00Z"});
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(later.address()) == "SERVING"; }))
      << later.process().output();
  auto stub = v1::MembershipService::NewStub(grpc::CreateChannel(later.address(), grpc::InsecureChannelCredentials()));
  v1::GetMemberRequest get;
  get.set_member_id(id);
  v1::Member after;
  ASSERT_TRUE(stub->GetMember(m.Ctx().get(), get, &after).ok());
  EXPECT_EQ(after.plan_id(), platinum.plan_id());
  EXPECT_FALSE(after.has_scheduled_plan_change());
  v1::ListMembersRequest on_platinum;
  on_platinum.set_account_id(account.account_id());
  on_platinum.set_plan_id(platinum.plan_id());
  v1::ListMembersResponse listed;
  ASSERT_TRUE(stub->ListMembers(m.Ctx().get(), on_platinum, &listed).ok());
  ASSERT_EQ(listed.members_size(), 1);
  EXPECT_EQ(listed.members(0).plan_id(), platinum.plan_id());
}

TEST(MembershipScheduleTest, AFutureDatedSuspensionLeavesTheAccountActiveInListsAndGaugesUntilItsDay) {
  Membership m("membership_scheduled", {kJune10});
  v1::ClientAccount account = m.Account("Scheduled Co");
  v1::Plan plan = m.Plan(account.account_id());
  const std::string id = m.Enroll(account, plan, "SC-1").member_id();
  v1::ClientAccount closing = m.Account("Closing Co");
  v1::Plan closing_plan = m.Plan(closing.account_id());
  const std::string leaving = m.Enroll(closing, closing_plan, "SC-2").member_id();

  v1::SuspendClientAccountRequest suspend;
  suspend.set_request_id(NewRequestId());
  suspend.set_account_id(account.account_id());
  suspend.set_etag(account.etag());
  suspend.set_reason("past due from the 20th");
  *suspend.mutable_effective_date() = D(2026, 6, 20);
  v1::ClientAccount scheduled;
  ASSERT_TRUE(m.stub().SuspendClientAccount(m.Ctx("svc-collections").get(), suspend, &scheduled).ok());
  EXPECT_EQ(scheduled.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(scheduled.status_effective_date().month(), 1);
  ASSERT_EQ(scheduled.scheduled_status_changes_size(), 1);
  EXPECT_EQ(scheduled.scheduled_status_changes(0).status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(scheduled.scheduled_status_changes(0).effective_date().day(), 20);
  EXPECT_EQ(scheduled.scheduled_status_changes(0).reason(), "past due from the 20th");
  ASSERT_TRUE(m.Cancel(closing.account_id(), D(2026, 6, 25)).ok());

  v1::GetClientAccountRequest get;
  get.set_account_id(account.account_id());
  v1::ClientAccount read;
  ASSERT_TRUE(m.stub().GetClientAccount(m.Ctx().get(), get, &read).ok());
  EXPECT_EQ(read.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(read.scheduled_status_changes_size(), 1);
  auto listed = [](v1::MembershipService::Stub& stub, v1::ClientAccountStatus status) {
    v1::ListClientAccountsRequest req;
    req.set_status(status);
    v1::ListClientAccountsResponse out;
    grpc::Status s = stub.ListClientAccounts(testing::BearerContext("dev-account-officer").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> names;
    for (const v1::ClientAccount& a : out.accounts()) names.push_back(a.name());
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(listed(m.stub(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE), (std::vector<std::string>{"Closing Co", "Scheduled Co"}));
  EXPECT_TRUE(listed(m.stub(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED).empty());
  EXPECT_TRUE(listed(m.stub(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED).empty());
  // Covered until the day; refused from it.
  EXPECT_TRUE(m.Check(id, "OUTPATIENT", D(2026, 6, 19), 100).eligible());
  EXPECT_EQ(Codes(m.Check(id, "OUTPATIENT", D(2026, 6, 20), 100)), std::vector{v1::ACCOUNT_SUSPENDED});
  EXPECT_TRUE(m.Check(leaving, "OUTPATIENT", D(2026, 6, 24), 100).eligible());
  EXPECT_EQ(Codes(m.Check(leaving, "OUTPATIENT", D(2026, 6, 25), 100)),
            (std::vector{v1::MEMBER_NOT_ACTIVE, v1::ACCOUNT_CANCELLED}));
  // The cancellation's members are covered until its day: ACTIVE, the end scheduled.
  v1::Member until = GetMember(m, leaving);
  EXPECT_EQ(until.status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_EQ(until.termination_date().day(), 25);
  v1::ListMembersRequest terminated;
  terminated.set_status(v1::MEMBER_STATUS_TERMINATED);
  v1::ListMembersResponse members;
  ASSERT_TRUE(m.stub().ListMembers(m.Ctx().get(), terminated, &members).ok());
  EXPECT_EQ(members.members_size(), 0);
  // A transition dated before the scheduled one is judged from the status on its
  // own date: the account is not suspended on the 15th (a scheduled suspension is
  // withdrawn, not reinstated).
  grpc::Status early = m.Reinstate(account.account_id(), D(2026, 6, 15));
  EXPECT_EQ(early.error_code(), StatusCode::FAILED_PRECONDITION);
  m.service().Restart();
  m.WaitServing();
  std::string metrics = m.Metrics();
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="active",type="corporate"} 2)"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="suspended",type="corporate"} 0)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="cancelled",type="corporate"} 0)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_members{status="active"} 2)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_members{status="terminated"} 0)"), std::string::npos);

  // On the 25th both have taken effect, with no job run: reads, lists and gauges agree.
  testing::ServiceProcess later("membership", m.dsn(), {"--test_clock_start=2026-06-25T09:00:00Z"});
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(later.address()) == "SERVING"; }))
      << later.process().output();
  auto stub = v1::MembershipService::NewStub(grpc::CreateChannel(later.address(), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(stub->GetClientAccount(m.Ctx().get(), get, &read).ok());
  EXPECT_EQ(read.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(read.status_effective_date().day(), 20);
  EXPECT_EQ(read.status_reason(), "past due from the 20th");
  EXPECT_EQ(read.scheduled_status_changes_size(), 0);
  EXPECT_EQ(listed(*stub, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED), std::vector<std::string>{"Scheduled Co"});
  EXPECT_EQ(listed(*stub, v1::CLIENT_ACCOUNT_STATUS_CANCELLED), std::vector<std::string>{"Closing Co"});
  EXPECT_TRUE(listed(*stub, v1::CLIENT_ACCOUNT_STATUS_ACTIVE).empty());
  metrics = testing::HttpGet(later.metrics_port(), "/metrics");
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="suspended",type="corporate"} 1)"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="cancelled",type="corporate"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="active",type="corporate"} 0)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_members{status="active"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_members{status="terminated"} 1)"), std::string::npos);
  v1::GetMemberRequest get_leaving;
  get_leaving.set_member_id(leaving);
  v1::Member gone;
  ASSERT_TRUE(stub->GetMember(m.Ctx().get(), get_leaving, &gone).ok());
  EXPECT_EQ(gone.status(), v1::MEMBER_STATUS_TERMINATED);
  ASSERT_TRUE(stub->ListMembers(m.Ctx().get(), terminated, &members).ok());
  ASSERT_EQ(members.members_size(), 1);
  EXPECT_EQ(members.members(0).member_id(), leaving);
  // The account summary reports the status in force too.
  v1::GetAccountSummaryRequest summary;
  summary.set_account_id(account.account_id());
  *summary.mutable_period_start() = D(2026, 6, 1);
  *summary.mutable_period_end() = D(2026, 6, 25);
  v1::AccountSummary out;
  ASSERT_TRUE(stub->GetAccountSummary(m.Ctx().get(), summary, &out).ok());
  EXPECT_EQ(out.account_status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
}

// Withdraws the scheduled change to `status` from `day`; the call's status.
grpc::Status Withdraw(Membership& m, const std::string& account_id, v1::ClientAccountStatus status,
                      common::v1::Date day, v1::ClientAccount* out, const std::string& request_id = NewRequestId(),
                      const std::string& token = "dev-account-officer") {
  v1::WithdrawScheduledStatusChangeRequest req;
  req.set_request_id(request_id);
  req.set_account_id(account_id);
  req.set_etag(m.AccountEtag(account_id));
  req.set_status(status);
  *req.mutable_effective_date() = day;
  req.set_reason("the officer changed their mind");
  return m.stub().WithdrawScheduledStatusChange(m.Ctx(token).get(), req, out);
}

TEST(MembershipScheduleTest, AnOfficerSuspendsTodayAndThenWithdrawsTheScheduledCancellation) {
  Membership m("membership_withdraw", {kJune10});
  v1::ClientAccount account = m.Account("Withdraw Co");
  v1::Plan plan = m.Plan(account.account_id());
  const std::string id = m.Enroll(account, plan, "WD-1").member_id();
  ASSERT_TRUE(m.Cancel(account.account_id(), D(2026, 7, 1)).ok());
  EXPECT_EQ(GetMember(m, id).termination_date().month(), 7);
  EXPECT_EQ(Codes(m.Check(id, "OUTPATIENT", D(2026, 7, 2), 100)),
            (std::vector{v1::MEMBER_NOT_ACTIVE, v1::ACCOUNT_CANCELLED}));

  // Suspended from today while the cancellation waits for its day: both hold.
  ASSERT_TRUE(m.Suspend(account.account_id(), D(2026, 6, 10)).ok());
  v1::GetClientAccountRequest get;
  get.set_account_id(account.account_id());
  v1::ClientAccount read;
  ASSERT_TRUE(m.stub().GetClientAccount(m.Ctx().get(), get, &read).ok());
  EXPECT_EQ(read.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  ASSERT_EQ(read.scheduled_status_changes_size(), 1);
  EXPECT_EQ(read.scheduled_status_changes(0).status(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  EXPECT_EQ(Codes(m.Check(id, "OUTPATIENT", D(2026, 6, 12), 100)), std::vector{v1::ACCOUNT_SUSPENDED});

  // Bad input names the field; a caller outside the rule is refused; nothing changes.
  v1::ClientAccount out;
  v1::WithdrawScheduledStatusChangeRequest bad;
  bad.set_request_id(NewRequestId());
  bad.set_account_id(account.account_id());
  bad.set_etag(read.etag());
  *bad.mutable_effective_date() = D(2026, 7, 1);
  bad.set_reason("x");
  grpc::Status s = m.stub().WithdrawScheduledStatusChange(m.Ctx().get(), bad, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "status: must be the scheduled change's status: ACTIVE, SUSPENDED or CANCELLED");
  bad.set_status(v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  bad.set_etag(account.etag());  // read before the cancellation
  EXPECT_EQ(m.stub().WithdrawScheduledStatusChange(m.Ctx().get(), bad, &out).error_code(), StatusCode::ABORTED);
  EXPECT_EQ(Withdraw(m, account.account_id(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED, D(2026, 7, 1), &out,
                     NewRequestId(), "dev-specialist")
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  s = Withdraw(m, account.account_id(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED, D(2026, 7, 2), &out);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "effective_date: no change to cancelled is scheduled from 2026-07-02");
  s = Withdraw(m, account.account_id(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, D(2026, 6, 10), &out);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "effective_date: the change to suspended from 2026-06-10 is in force already; make a new transition "
            "instead");

  // The cancellation is withdrawn: the suspension stays, the member's coverage is back.
  v1::WithdrawScheduledStatusChangeRequest withdraw;
  withdraw.set_request_id(NewRequestId());
  withdraw.set_account_id(account.account_id());
  withdraw.set_etag(read.etag());
  withdraw.set_status(v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  *withdraw.mutable_effective_date() = D(2026, 7, 1);
  withdraw.set_reason("the officer changed their mind");
  ASSERT_TRUE(m.stub().WithdrawScheduledStatusChange(m.Ctx().get(), withdraw, &out).ok());
  EXPECT_EQ(out.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(out.status_effective_date().day(), 10);
  EXPECT_EQ(out.scheduled_status_changes_size(), 0);
  ASSERT_TRUE(m.stub().GetClientAccount(m.Ctx().get(), get, &read).ok());
  EXPECT_EQ(read.etag(), out.etag());
  EXPECT_EQ(read.scheduled_status_changes_size(), 0);
  // The same request again is the first answer; the same id with another request is refused.
  v1::ClientAccount again;
  ASSERT_TRUE(m.stub().WithdrawScheduledStatusChange(m.Ctx().get(), withdraw, &again).ok());
  EXPECT_EQ(again.etag(), out.etag());
  withdraw.set_reason("another reason");
  EXPECT_EQ(m.stub().WithdrawScheduledStatusChange(m.Ctx().get(), withdraw, &again).error_code(),
            StatusCode::ALREADY_EXISTS);
  v1::Member member = GetMember(m, id);
  EXPECT_EQ(member.status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_FALSE(member.has_termination_date());
  ASSERT_EQ(member.coverage_size(), 1);
  EXPECT_FALSE(member.coverage(0).has_end_date());
  EXPECT_EQ(Codes(m.Check(id, "OUTPATIENT", D(2026, 7, 2), 100)), std::vector{v1::ACCOUNT_SUSPENDED});
  // Reinstated later, the member is covered again after the old cancellation date.
  ASSERT_TRUE(m.Reinstate(account.account_id(), D(2026, 6, 20)).ok());
  EXPECT_TRUE(m.Check(id, "OUTPATIENT", D(2026, 7, 2), 100).eligible());
  EXPECT_EQ(m.Audit(account.account_id()),
            (std::vector<std::string>{"account.create by eva.tan: ",
                                      "account.cancel by svc-collections: notice of cancellation lapsed",
                                      "account.suspend by svc-collections: past due",
                                      "account.withdraw by eva.tan: the officer changed their mind",
                                      "account.reinstate by svc-collections: brought current"}));
}

TEST(MembershipScheduleTest, ATransitionAScheduledChangeCouldNoLongerFollowIsRefusedUntilThatIsWithdrawn) {
  Membership m("membership_withdraw_first", {kJune10});
  v1::ClientAccount account = m.Account("Withdraw First Co");
  ASSERT_TRUE(m.Suspend(account.account_id(), D(2026, 6, 20)).ok());
  ASSERT_TRUE(m.Reinstate(account.account_id(), D(2026, 6, 30)).ok());
  grpc::Status s = m.Cancel(account.account_id(), D(2026, 6, 15));
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "effective_date: the change to suspended scheduled from 2026-06-20 cannot follow an account that is "
            "cancelled from 2026-06-15; withdraw it first (WithdrawScheduledStatusChange)");
  // Withdrawing the suspension takes the reinstatement judged from it too.
  v1::ClientAccount out;
  ASSERT_TRUE(Withdraw(m, account.account_id(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, D(2026, 6, 20), &out).ok());
  EXPECT_EQ(out.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(out.scheduled_status_changes_size(), 0);
  ASSERT_TRUE(m.Cancel(account.account_id(), D(2026, 6, 15)).ok());
  v1::GetClientAccountRequest get;
  get.set_account_id(account.account_id());
  ASSERT_TRUE(m.stub().GetClientAccount(m.Ctx().get(), get, &out).ok());
  ASSERT_EQ(out.scheduled_status_changes_size(), 1);
  EXPECT_EQ(out.scheduled_status_changes(0).status(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
}

v1::EnrollMemberRequest Enrolment(const v1::ClientAccount& a, const v1::Plan& p, const std::string& ref,
                                  common::v1::Date effective) {
  v1::EnrollMemberRequest req;
  req.set_request_id(NewRequestId());
  req.set_account_id(a.account_id());
  req.set_plan_id(p.plan_id());
  req.set_external_ref(ref);
  *req.mutable_person() = Person("Maria " + ref);
  *req.mutable_effective_date() = effective;
  return req;
}

TEST(MembershipScheduleTest, AScheduledCancellationBlocksEnrolmentsPlansAndMovementsOnlyFromItsDay) {
  Membership m("membership_cancel_later", {kJune10});
  v1::ClientAccount account = m.Account("Cancel Later Co");
  v1::Plan plan = m.Plan(account.account_id());
  const std::string staying = m.Enroll(account, plan, "CL-0").member_id();
  ASSERT_TRUE(m.Cancel(account.account_id(), D(2026, 7, 1)).ok());

  // Until July 1 the account takes enrolments; their coverage ends with the account.
  v1::Member joined;
  grpc::Status s = m.stub().EnrollMember(m.Ctx().get(), Enrolment(account, plan, "CL-1", D(2026, 6, 15)), &joined);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(joined.status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_EQ(joined.termination_date().month(), 7);
  ASSERT_EQ(joined.coverage_size(), 1);
  EXPECT_EQ(joined.coverage(0).end_date().day(), 1);
  EXPECT_TRUE(m.Check(joined.member_id(), "OUTPATIENT", D(2026, 6, 30), 100).eligible());
  EXPECT_EQ(Codes(m.Check(joined.member_id(), "OUTPATIENT", D(2026, 7, 1), 100)),
            (std::vector{v1::MEMBER_NOT_ACTIVE, v1::ACCOUNT_CANCELLED}));
  // Coverage cannot start on or after the cancellation.
  v1::Member late;
  s = m.stub().EnrollMember(m.Ctx().get(), Enrolment(account, plan, "CL-2", D(2026, 7, 1)), &late);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "effective_date: client account '" + account.account_id() +
                                   "' is cancelled from 2026-07-01; nothing can take effect on or after that day");
  v1::BatchEnrollMembersRequest census;
  census.set_request_id(NewRequestId());
  census.set_account_id(account.account_id());
  for (const auto& [ref, day] : {std::pair{"CL-3", D(2026, 6, 20)}, std::pair{"CL-4", D(2026, 7, 5)}}) {
    v1::BatchEnrollRow* row = census.add_rows();
    row->set_plan_id(plan.plan_id());
    row->set_external_ref(ref);
    *row->mutable_person() = Person(ref);
    *row->mutable_effective_date() = day;
  }
  v1::BatchEnrollMembersResponse rows;
  ASSERT_TRUE(m.stub().BatchEnrollMembers(m.Ctx().get(), census, &rows).ok());
  ASSERT_EQ(rows.results_size(), 2);
  EXPECT_EQ(rows.results(0).outcome(), v1::BATCH_ROW_OUTCOME_CREATED);
  EXPECT_EQ(rows.results(1).outcome(), v1::BATCH_ROW_OUTCOME_INVALID);
  EXPECT_EQ(rows.results(1).error(), "rows[1].effective_date: client account '" + account.account_id() +
                                         "' is cancelled from 2026-07-01; nothing can take effect on or after that day");
  const std::string from_census = rows.results(0).member_id();
  EXPECT_EQ(GetMember(m, from_census).termination_date().month(), 7);
  // Plans and movements dated before the day are accepted; after it, refused.
  v1::Plan platinum = PlatinumPlan(m, account.account_id());
  EXPECT_FALSE(platinum.plan_id().empty());
  EXPECT_TRUE(Move(m, account.account_id(), v1::MOVEMENT_TYPE_PLAN_CHANGE, staying, D(2026, 6, 20), platinum.plan_id())
                  .ok());
  v1::Member changed = GetMember(m, staying);
  ASSERT_EQ(changed.coverage_size(), 2);
  EXPECT_EQ(changed.coverage(1).plan_id(), platinum.plan_id());
  EXPECT_EQ(changed.coverage(1).end_date().month(), 7);
  s = Move(m, account.account_id(), v1::MOVEMENT_TYPE_TERMINATION, joined.member_id(), D(2026, 7, 2));
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "effective_date: client account '" + account.account_id() +
                                   "' is cancelled from 2026-07-01; nothing can take effect on or after that day");

  // From July 1 (another process, nothing run in between) the account takes nothing new.
  testing::ServiceProcess later("membership", m.dsn(), {"--test_clock_start=2026-07-01T09:00:00Z"});
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(later.address()) == "SERVING"; }))
      << later.process().output();
  auto stub = v1::MembershipService::NewStub(grpc::CreateChannel(later.address(), grpc::InsecureChannelCredentials()));
  s = stub->EnrollMember(m.Ctx().get(), Enrolment(account, plan, "CL-5", D(2026, 6, 15)), &late);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "account_id: client account '" + account.account_id() + "' is cancelled");
  v1::CreatePlanRequest plan_req;
  plan_req.set_request_id(NewRequestId());
  *plan_req.mutable_plan() = plan;
  plan_req.mutable_plan()->clear_plan_id();
  v1::Plan refused;
  EXPECT_EQ(stub->CreatePlan(m.Ctx().get(), plan_req, &refused).error_code(), StatusCode::FAILED_PRECONDITION);

  // Withdrawn before its day, the cancellation gives back the coverage of the
  // members enrolled while it waited, and of the plan change made meanwhile.
  v1::ClientAccount out;
  ASSERT_TRUE(Withdraw(m, account.account_id(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED, D(2026, 7, 1), &out).ok());
  for (const std::string& id : {joined.member_id(), from_census, staying}) {
    v1::Member back = GetMember(m, id);
    EXPECT_FALSE(back.has_termination_date()) << id;
    EXPECT_FALSE(back.coverage().rbegin()->has_end_date()) << id;
    EXPECT_TRUE(m.Check(id, "OUTPATIENT", D(2026, 7, 2), 100).eligible()) << id;
  }
  EXPECT_EQ(GetMember(m, staying).coverage(0).end_date().day(), 20);  // the plan change keeps its day
}

// The number of coverage periods in the schema that end on or before they begin.
int64_t PeriodsCoveringNothing(const MysqlDsn& dsn) {
  mysql::PoolOptions options;
  options.dsn = dsn;
  options.max_size = 1;
  mysql::ConnectionPool pool(options);
  int64_t n = -1;
  absl::Status s = mysql::WithConnection(pool, [&](mysql::Connection& c) {
    auto& st = c.Prepare("SELECT COUNT(*) FROM coverage_periods WHERE end_date <= effective_date");
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (rs->next()) n = rs->getInt64(1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return n;
}

std::string DateText(const common::v1::Date& d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

// A member's periods as "start..end plan", naming the plans of these tests.
std::vector<std::string> Periods(const v1::Member& member, const std::string& platinum_plan_id) {
  std::vector<std::string> out;
  for (const v1::CoveragePeriod& p : member.coverage()) {
    out.push_back(absl::StrCat(DateText(p.effective_date()), "..", p.has_end_date() ? DateText(p.end_date()) : "",
                               p.plan_id() == platinum_plan_id ? " platinum" : " gold"));
  }
  return out;
}

TEST(MembershipScheduleTest, APlanChangeOnOrAfterTheDayCoverageEndsNeverStartsAPeriodCoveringNothing) {
  Membership m("membership_no_empty_period", {kJune10});
  v1::ClientAccount account = m.Account("No Empty Period Co");
  v1::Plan plan = m.Plan(account.account_id());
  v1::Plan platinum = PlatinumPlan(m, account.account_id());
  const std::string before = m.Enroll(account, plan, "NE-1").member_id();  // a plan change after the cancellation
  const std::string on_day = m.Enroll(account, plan, "NE-2").member_id();  // a plan change on its day
  const std::string pending = m.Enroll(account, plan, "NE-3").member_id();
  const std::string terminated = m.Enroll(account, plan, "NE-4").member_id();
  const std::string stopped = m.Enroll(account, plan, "NE-5").member_id();
  const std::string id = account.account_id();
  ASSERT_TRUE(Move(m, id, v1::MOVEMENT_TYPE_PLAN_CHANGE, before, D(2026, 8, 1), platinum.plan_id()).ok());
  ASSERT_TRUE(Move(m, id, v1::MOVEMENT_TYPE_PLAN_CHANGE, on_day, D(2026, 7, 1), platinum.plan_id()).ok());

  // Terminated from Sep 1: a plan change from then on is refused when requested, naming the date.
  ASSERT_TRUE(Move(m, id, v1::MOVEMENT_TYPE_TERMINATION, terminated, D(2026, 9, 1)).ok());
  for (common::v1::Date day : {D(2026, 9, 1), D(2026, 9, 15)}) {
    grpc::Status s = Move(m, id, v1::MOVEMENT_TYPE_PLAN_CHANGE, terminated, day, platinum.plan_id());
    EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(s.error_message(), "effective_date: the coverage of member '" + terminated +
                                     "' ends on 2026-09-01; a plan change must take effect before that day");
  }
  // A termination on the day a scheduled plan change takes effect withdraws the change.
  ASSERT_TRUE(Move(m, id, v1::MOVEMENT_TYPE_PLAN_CHANGE, stopped, D(2026, 8, 1), platinum.plan_id()).ok());
  ASSERT_TRUE(Move(m, id, v1::MOVEMENT_TYPE_TERMINATION, stopped, D(2026, 8, 1)).ok());
  v1::Member read = GetMember(m, stopped);
  EXPECT_EQ(Periods(read, platinum.plan_id()), std::vector<std::string>{"2026-01-01..2026-08-01 gold"});
  EXPECT_FALSE(read.has_scheduled_plan_change());

  // Requested before the cancellation is scheduled, applied after it: refused.
  v1::RequestMovementRequest req;
  req.set_request_id(NewRequestId());
  req.set_account_id(id);
  req.set_type(v1::MOVEMENT_TYPE_PLAN_CHANGE);
  req.set_member_id(pending);
  req.set_new_plan_id(platinum.plan_id());
  *req.mutable_effective_date() = D(2026, 7, 15);
  v1::Movement mv;
  ASSERT_TRUE(m.stub().RequestMovement(m.Ctx().get(), req, &mv).ok());

  // The cancellation from Jul 1 withdraws the plan changes scheduled from then on.
  ASSERT_TRUE(m.Cancel(id, D(2026, 7, 1)).ok());
  EXPECT_EQ(PeriodsCoveringNothing(m.dsn()), 0);
  for (const std::string& member : {before, on_day}) {
    read = GetMember(m, member);
    EXPECT_EQ(Periods(read, platinum.plan_id()), std::vector<std::string>{"2026-01-01..2026-07-01 gold"}) << member;
    EXPECT_EQ(read.plan_id(), plan.plan_id());
    EXPECT_FALSE(read.has_scheduled_plan_change());
    EXPECT_EQ(DateText(read.termination_date()), "2026-07-01");
    EXPECT_EQ(Codes(m.Check(member, "OUTPATIENT", D(2026, 8, 2), 100)),
              (std::vector{v1::MEMBER_NOT_ACTIVE, v1::ACCOUNT_CANCELLED}));
  }
  v1::ApplyMovementRequest apply;
  apply.set_request_id(NewRequestId());
  apply.set_movement_id(mv.movement_id());
  apply.set_etag(mv.etag());
  grpc::Status s = m.stub().ApplyMovement(m.Ctx().get(), apply, &mv);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "effective_date: client account '" + id +
                                   "' is cancelled from 2026-07-01; nothing can take effect on or after that day; "
                                   "reject the movement");
  s = Move(m, id, v1::MOVEMENT_TYPE_PLAN_CHANGE, before, D(2026, 7, 1), platinum.plan_id());
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(PeriodsCoveringNothing(m.dsn()), 0);

  // Withdrawn, the cancellation gives the scheduled plan changes back.
  v1::ClientAccount out;
  ASSERT_TRUE(Withdraw(m, id, v1::CLIENT_ACCOUNT_STATUS_CANCELLED, D(2026, 7, 1), &out).ok());
  read = GetMember(m, before);
  EXPECT_EQ(Periods(read, platinum.plan_id()), (std::vector<std::string>{"2026-01-01..2026-08-01 gold", "2026-08-01.. platinum"}));
  EXPECT_EQ(read.scheduled_plan_change().plan_id(), platinum.plan_id());
  EXPECT_FALSE(read.has_termination_date());
  EXPECT_EQ(Periods(GetMember(m, on_day), platinum.plan_id()),
            (std::vector<std::string>{"2026-01-01..2026-07-01 gold", "2026-07-01.. platinum"}));
  EXPECT_TRUE(m.Check(on_day, "OUTPATIENT", D(2026, 8, 2), 100).eligible());
  EXPECT_EQ(Periods(GetMember(m, stopped), platinum.plan_id()), std::vector<std::string>{"2026-01-01..2026-08-01 gold"});
  EXPECT_EQ(PeriodsCoveringNothing(m.dsn()), 0);
}

// Applies V001 and membership's migrations up to `last` to `schema`, then runs
// `seeds` (rows as that version stored them); the binary started on the schema
// then applies the migrations after `last`.
void SeedUnder(const testing::TestSchema& schema, int last, const std::vector<const char*>& seeds) {
  mysql::PoolOptions options;
  options.dsn = schema.dsn();
  options.max_size = 1;
  mysql::ConnectionPool pool(options);
  std::vector<Migration> migrations = {{1, "V001__runtime.sql", SourceFile("common/schema/V001__runtime.sql")}};
  for (auto [n, name] : {std::pair{2, "V002__membership.sql"}, {3, "V003__account_status_history.sql"},
                         {4, "V004__enum_codec_values.sql"}, {5, "V005__coverage_periods.sql"}}) {
    if (n > last) break;
    migrations.push_back({n, name, SourceFile(absl::StrCat("services/membership/schema/", name))});
  }
  ASSERT_EQ(static_cast<int>(migrations.back().version), last);
  ASSERT_TRUE(Migrate(pool, migrations).ok());
  absl::Status s = mysql::WithConnection(pool, [&](mysql::Connection& c) {
    for (const char* sql : seeds) c.Execute(sql);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

// ---------------------------------------------------------------- V005: coverage periods of older members

TEST(MembershipMigrationTest, MembersMadeBeforeV005GetOnePeriodEach) {
  testing::TestSchema schema("membership_v005");
  // The schema as V004 left it: one member covered, one terminated on 1 May.
  ASSERT_NO_FATAL_FAILURE(SeedUnder(schema, 4, {
      "INSERT INTO client_accounts VALUES ('0000000000000000000000000A', 'Legacy', 'CORPORATE', 'ACTIVE',"
      " '', '', '2026-01-01', '2026-01-01', '', 1, NOW(6), NOW(6))",
      "INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at)"
      " VALUES ('0000000000000000000000000A', '2026-01-01', 'ACTIVE', '', NOW(6))",
      "INSERT INTO plans VALUES ('000000000000000000000000PA', '0000000000000000000000000A', 'Gold', 'PHP', 1,"
      " '', 'ACTIVE', 1, NOW(6))",
      "INSERT INTO plan_benefits VALUES ('000000000000000000000000PA', 'OUTPATIENT', 'outpatient', 0, 100000,"
      " 0, 0, 0, 0)",
      "INSERT INTO members VALUES ('000000000000000000000000MA', '0000000000000000000000000A',"
      " '000000000000000000000000PA', 'L-1', 'ACTIVE', 'Ana', 'Cruz', '1990-01-01', 'F', '', '',"
      " '2026-01-01', NULL, 1, NOW(6), NOW(6)), ('000000000000000000000000MB', '0000000000000000000000000A',"
      " '000000000000000000000000PA', 'L-2', 'TERMINATED', 'Ben', 'Cruz', '1990-01-01', 'M', '', '',"
      " '2026-02-01', '2026-05-01', 2, NOW(6), NOW(6))",
  }));
  testing::ServiceProcess service("membership", schema.dsn());
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  auto stub = v1::MembershipService::NewStub(grpc::CreateChannel(service.address(), grpc::InsecureChannelCredentials()));
  auto get = [&](const std::string& id) {
    v1::GetMemberRequest req;
    req.set_member_id(id);
    v1::Member out;
    grpc::Status s = stub->GetMember(testing::BearerContext("dev-account-officer").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  };
  v1::Member open = get("000000000000000000000000MA");
  ASSERT_EQ(open.coverage_size(), 1);
  EXPECT_EQ(open.coverage(0).effective_date().month(), 1);
  EXPECT_FALSE(open.coverage(0).has_end_date());
  EXPECT_EQ(open.coverage(0).plan_id(), "000000000000000000000000PA");
  EXPECT_EQ(open.coverage(0).plan_version(), 1);
  EXPECT_EQ(open.plan_id(), "000000000000000000000000PA");
  v1::Member ended = get("000000000000000000000000MB");
  ASSERT_EQ(ended.coverage_size(), 1);
  EXPECT_EQ(ended.coverage(0).effective_date().month(), 2);
  EXPECT_EQ(ended.coverage(0).end_date().month(), 5);
  v1::CheckEligibilityRequest check;
  check.set_member_id("000000000000000000000000MB");
  check.set_benefit_code("OUTPATIENT");
  *check.mutable_service_date() = D(2026, 4, 30);
  v1::CheckEligibilityResponse out;
  ASSERT_TRUE(stub->CheckEligibility(testing::BearerContext("dev-account-officer").get(), check, &out).ok());
  EXPECT_TRUE(out.eligible());
  *check.mutable_service_date() = D(2026, 5, 1);
  ASSERT_TRUE(stub->CheckEligibility(testing::BearerContext("dev-account-officer").get(), check, &out).ok());
  EXPECT_EQ(Codes(out), std::vector{v1::MEMBER_NOT_ACTIVE});
}

// ---------------------------------------------------------------- V006: cuts of cancellations made before it

TEST(MembershipMigrationTest, ACancellationScheduledUnderV005IsWithdrawnAsIfMadeToday) {
  testing::TestSchema schema("membership_v006");
  // The schema as V005 left it, with the account cancelled from 1 July (made
  // on 1 June, still scheduled on 10 June) the way V005 cancelled: members
  // terminated from that day, every period running then ended on it, and a
  // period beginning later ended as it began. Ana was covered (open); Ben was
  // terminated on 1 May; Carla had a plan change to Platinum scheduled for
  // 1 August; Dan's enrolment would only have begun on 15 July.
  ASSERT_NO_FATAL_FAILURE(SeedUnder(schema, 5, {
      "INSERT INTO client_accounts VALUES ('0000000000000000000000000A', 'Legacy', 'CORPORATE', 'CANCELLED',"
      " '', '', '2026-01-01', '2026-07-01', 'notice lapsed', 3, '2026-06-01', '2026-06-01')",
      "INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at) VALUES"
      " ('0000000000000000000000000A', '2026-01-01', 'ACTIVE', '', '2026-01-01'),"
      " ('0000000000000000000000000A', '2026-07-01', 'CANCELLED', 'notice lapsed', '2026-06-01')",
      "INSERT INTO plans VALUES ('000000000000000000000000PA', '0000000000000000000000000A', 'Gold', 'PHP', 1,"
      " '', 'ACTIVE', 1, NOW(6)), ('000000000000000000000000PB', '0000000000000000000000000A', 'Platinum',"
      " 'PHP', 1, '', 'ACTIVE', 1, NOW(6))",
      "INSERT INTO plan_benefits VALUES ('000000000000000000000000PA', 'OUTPATIENT', 'outpatient', 0, 100000,"
      " 0, 0, 0, 0), ('000000000000000000000000PB', 'OUTPATIENT', 'outpatient', 0, 500000, 0, 0, 0, 0)",
      "INSERT INTO members VALUES"
      " ('000000000000000000000000MA', '0000000000000000000000000A', '000000000000000000000000PA', 'L-1',"
      " 'TERMINATED', 'Ana', 'Cruz', '1990-01-01', 'F', '', '', '2026-01-01', '2026-07-01', 2, NOW(6), NOW(6)),"
      " ('000000000000000000000000MB', '0000000000000000000000000A', '000000000000000000000000PA', 'L-2',"
      " 'TERMINATED', 'Ben', 'Cruz', '1990-01-01', 'M', '', '', '2026-02-01', '2026-05-01', 2, NOW(6), NOW(6)),"
      " ('000000000000000000000000MC', '0000000000000000000000000A', '000000000000000000000000PB', 'L-3',"
      " 'TERMINATED', 'Carla', 'Cruz', '1990-01-01', 'F', '', '', '2026-01-01', '2026-07-01', 3, NOW(6),"
      " NOW(6)),"
      " ('000000000000000000000000MD', '0000000000000000000000000A', '000000000000000000000000PA', 'L-4',"
      " 'TERMINATED', 'Dan', 'Cruz', '1990-01-01', 'M', '', '', '2026-07-15', '2026-07-01', 2, NOW(6), NOW(6))",
      "INSERT INTO coverage_periods VALUES"
      " ('000000000000000000000000MA', '2026-01-01', '2026-07-01', '000000000000000000000000PA', NOW(6)),"
      " ('000000000000000000000000MB', '2026-02-01', '2026-05-01', '000000000000000000000000PA', NOW(6)),"
      " ('000000000000000000000000MC', '2026-01-01', '2026-07-01', '000000000000000000000000PA', NOW(6)),"
      " ('000000000000000000000000MC', '2026-08-01', '2026-08-01', '000000000000000000000000PB', NOW(6)),"
      " ('000000000000000000000000MD', '2026-07-15', '2026-07-15', '000000000000000000000000PA', NOW(6))",
  }));
  // Starting applies V006 and what follows it.
  testing::ServiceProcess service("membership", schema.dsn(), {kJune10});
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  auto stub = v1::MembershipService::NewStub(grpc::CreateChannel(service.address(), grpc::InsecureChannelCredentials()));
  auto ctx = [] { return testing::BearerContext("dev-account-officer"); };
  auto get = [&](const std::string& id) {
    v1::GetMemberRequest req;
    req.set_member_id(id);
    v1::Member out;
    grpc::Status s = stub->GetMember(ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  };
  auto eligible = [&](const std::string& id, common::v1::Date day) {
    v1::CheckEligibilityRequest check;
    check.set_member_id(id);
    check.set_benefit_code("OUTPATIENT");
    *check.mutable_service_date() = day;
    v1::CheckEligibilityResponse out;
    EXPECT_TRUE(stub->CheckEligibility(ctx().get(), check, &out).ok());
    return out.eligible();
  };
  const std::string platinum = "000000000000000000000000PB";
  const std::string ana = "000000000000000000000000MA", ben = "000000000000000000000000MB",
                    carla = "000000000000000000000000MC", dan = "000000000000000000000000MD";

  // Read as a cancellation made today reads: no period covers nothing, the
  // plan change scheduled after the cancellation is withdrawn.
  EXPECT_EQ(PeriodsCoveringNothing(schema.dsn()), 0);
  EXPECT_EQ(Periods(get(ana), platinum), std::vector<std::string>{"2026-01-01..2026-07-01 gold"});
  v1::Member read = get(carla);
  EXPECT_EQ(Periods(read, platinum), std::vector<std::string>{"2026-01-01..2026-07-01 gold"});
  EXPECT_EQ(read.plan_id(), "000000000000000000000000PA");
  EXPECT_FALSE(read.has_scheduled_plan_change());
  read = get(dan);
  EXPECT_EQ(read.coverage_size(), 0);
  EXPECT_EQ(DateText(read.termination_date()), "2026-07-01");
  EXPECT_TRUE(eligible(carla, D(2026, 6, 30)));
  EXPECT_FALSE(eligible(carla, D(2026, 8, 2)));

  // Withdrawn, it gives back what it ended and nothing more.
  v1::GetClientAccountRequest get_account;
  get_account.set_account_id("0000000000000000000000000A");
  v1::ClientAccount account;
  ASSERT_TRUE(stub->GetClientAccount(ctx().get(), get_account, &account).ok());
  ASSERT_EQ(account.scheduled_status_changes_size(), 1);
  v1::WithdrawScheduledStatusChangeRequest withdraw;
  withdraw.set_request_id(NewRequestId());
  withdraw.set_account_id(account.account_id());
  withdraw.set_etag(account.etag());
  withdraw.set_status(v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  *withdraw.mutable_effective_date() = D(2026, 7, 1);
  withdraw.set_reason("paid after all");
  grpc::Status s = stub->WithdrawScheduledStatusChange(ctx().get(), withdraw, &account);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(account.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(account.scheduled_status_changes_size(), 0);
  read = get(ana);
  EXPECT_EQ(Periods(read, platinum), std::vector<std::string>{"2026-01-01.. gold"});
  EXPECT_FALSE(read.has_termination_date());
  EXPECT_EQ(Periods(get(ben), platinum), std::vector<std::string>{"2026-02-01..2026-05-01 gold"});
  read = get(carla);
  EXPECT_EQ(Periods(read, platinum),
            (std::vector<std::string>{"2026-01-01..2026-08-01 gold", "2026-08-01.. platinum"}));
  EXPECT_EQ(read.plan_id(), "000000000000000000000000PA");
  EXPECT_EQ(read.scheduled_plan_change().plan_id(), platinum);
  read = get(dan);
  EXPECT_EQ(Periods(read, platinum), std::vector<std::string>{"2026-07-15.. gold"});
  EXPECT_FALSE(read.has_termination_date());
  for (const std::string& id : {ana, carla, dan}) EXPECT_TRUE(eligible(id, D(2026, 8, 2))) << id;
  EXPECT_FALSE(eligible(ben, D(2026, 8, 2)));
  EXPECT_EQ(PeriodsCoveringNothing(schema.dsn()), 0);
}

// ---------------------------------------------------------------- gauges across a restart

TEST(MembershipGaugesTest, GaugesComeFromTheDatabaseAndSurviveARestart) {
  // With a TAT of zero business days an enrolment request is overdue at once.
  Membership m("membership_gauges", {"--movement_tat=enrollment:0"});
  v1::ClientAccount a1 = m.Account("Gauge One");
  v1::ClientAccount a2 = m.Account("Gauge Two");
  m.Account("Gauge Broker", v1::CLIENT_ACCOUNT_TYPE_BROKER);
  v1::Plan p1 = m.Plan(a1.account_id());
  v1::Plan p2 = m.Plan(a2.account_id());
  m.Enroll(a1, p1, "G-1");
  m.Enroll(a1, p1, "G-2");
  m.Enroll(a1, p1, "G-3");
  m.Enroll(a2, p2, "G-4");
  v1::CancelClientAccountRequest cancel;
  cancel.set_request_id(NewRequestId());
  cancel.set_account_id(a2.account_id());
  cancel.set_etag(a2.etag());
  cancel.set_reason("closed");
  *cancel.mutable_effective_date() = D(2026, 9, 1);
  v1::ClientAccount out;
  ASSERT_TRUE(m.stub().CancelClientAccount(m.Ctx().get(), cancel, &out).ok());
  v1::RequestMovementRequest enroll;
  enroll.set_request_id(NewRequestId());
  enroll.set_account_id(a1.account_id());
  enroll.set_type(v1::MOVEMENT_TYPE_ENROLLMENT);
  *enroll.mutable_effective_date() = D(2026, 2, 1);
  enroll.mutable_enrollment()->set_plan_id(p1.plan_id());
  enroll.mutable_enrollment()->set_external_ref("G-5");
  *enroll.mutable_enrollment()->mutable_person() = Person("Pending");
  v1::Movement pending;
  ASSERT_TRUE(m.stub().RequestMovement(m.Ctx().get(), enroll, &pending).ok());

  m.service().Restart();
  m.WaitServing();
  std::string metrics = m.Metrics();
  EXPECT_NE(metrics.find(R"(careops_membership_members{status="active"} 3)"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(R"(careops_membership_members{status="terminated"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="active",type="corporate"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="cancelled",type="corporate"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="active",type="broker"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_accounts{status="suspended",type="agent"} 0)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_movements_overdue{type="enrollment"} 1)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_movements_overdue{type="termination"} 0)"), std::string::npos);
  // Counter and histogram series exist at zero before their first event.
  EXPECT_NE(metrics.find(R"(careops_membership_movement_tat_breaches_total{type="detail_change"} 0)"), std::string::npos);
  EXPECT_NE(metrics.find(R"(careops_membership_movement_tat_seconds_count{type="plan_change"} 0)"), std::string::npos);

  // Decided past its due time: the movement says its TAT was missed and the breach is counted.
  v1::ApplyMovementRequest apply;
  apply.set_request_id(NewRequestId());
  apply.set_movement_id(pending.movement_id());
  apply.set_etag(pending.etag());
  v1::Movement applied;
  ASSERT_TRUE(m.stub().ApplyMovement(m.Ctx().get(), apply, &applied).ok());
  EXPECT_FALSE(applied.tat_met());
  metrics = m.Metrics();
  EXPECT_NE(metrics.find(R"(careops_membership_movement_tat_breaches_total{type="enrollment"} 1)"), std::string::npos)
      << metrics;
}

// ---------------------------------------------------------------- V009: partial reversals of older records

TEST(MembershipMigrationTest, RecordsReversedBeforeV009ReadAsReversedWholeAndOthersReverseInPart) {
  testing::TestSchema schema("membership_v009");
  // Records as V002..V008 kept them: one reversed (whole, the only kind there
  // was), one in force; the balance counts the one in force.
  ASSERT_NO_FATAL_FAILURE(SeedUnder(schema, 5, {
      "INSERT INTO client_accounts VALUES ('0000000000000000000000000A', 'Legacy', 'CORPORATE', 'ACTIVE',"
      " '', '', '2026-01-01', '2026-01-01', '', 1, '2026-01-01', '2026-01-01')",
      "INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at) VALUES"
      " ('0000000000000000000000000A', '2026-01-01', 'ACTIVE', '', '2026-01-01')",
      "INSERT INTO plans VALUES ('000000000000000000000000PA', '0000000000000000000000000A', 'Gold', 'PHP', 1,"
      " '', 'ACTIVE', 1, NOW(6))",
      "INSERT INTO plan_benefits VALUES ('000000000000000000000000PA', 'OUTPATIENT', 'outpatient', 0, 100000,"
      " 0, 0, 0, 0)",
      "INSERT INTO members VALUES ('000000000000000000000000MA', '0000000000000000000000000A',"
      " '000000000000000000000000PA', 'L-1', 'ACTIVE', 'Ana', 'Cruz', '1990-01-01', 'F', '', '', '2026-01-01',"
      " NULL, 1, NOW(6), NOW(6))",
      "INSERT INTO coverage_periods VALUES"
      " ('000000000000000000000000MA', '2026-01-01', NULL, '000000000000000000000000PA', NOW(6))",
      "INSERT INTO utilizations VALUES"
      " ('000000000000000000000000U1', 'legacy-1', '000000000000000000000000MA', 'OUTPATIENT', 20000, 'PHP',"
      " '2026-03-02', 1, 'approval reversed', '2026-03-02', '2026-03-05'),"
      " ('000000000000000000000000U2', 'legacy-2', '000000000000000000000000MA', 'OUTPATIENT', 30000, 'PHP',"
      " '2026-03-03', 0, '', '2026-03-03', NULL)",
      "INSERT INTO benefit_balances VALUES ('000000000000000000000000MA', 'OUTPATIENT', 2026, 30000)",
  }));
  // Starting applies V006 and what follows it.
  testing::ServiceProcess service("membership", schema.dsn());
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  auto stub = v1::MembershipService::NewStub(grpc::CreateChannel(service.address(), grpc::InsecureChannelCredentials()));
  v1::GetUtilizationRequest get;
  get.set_source_reference("legacy-1");
  v1::Utilization u;
  ASSERT_TRUE(stub->GetUtilization(testing::BearerContext("dev-account-officer").get(), get, &u).ok());
  EXPECT_TRUE(u.reversed());
  EXPECT_EQ(u.reversed_amount().amount_minor(), 20000);
  ASSERT_EQ(u.reversals_size(), 1);
  EXPECT_EQ(u.reversals(0).amount().amount_minor(), 20000);
  EXPECT_EQ(u.reversals(0).reason(), "approval reversed");
  EXPECT_EQ(u.remaining_limit().amount_minor(), 70000);

  // Nothing is left of the reversed one; the other reverses in part.
  grpc::Status s = stub->ReverseUtilization(testing::BearerContext("svc-claims").get(),
                                            PartialReversal("legacy-1", 1, NewRequestId()), &u);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  s = stub->ReverseUtilization(testing::BearerContext("svc-claims").get(),
                               PartialReversal("legacy-2", 10000, NewRequestId()), &u);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(u.reversed());
  EXPECT_EQ(u.remaining_limit().amount_minor(), 80000);
  v1::ListUtilizationsRequest list;
  list.set_member_id("000000000000000000000000MA");
  v1::ListUtilizationsResponse ledger;
  ASSERT_TRUE(stub->ListUtilizations(testing::BearerContext("dev-account-officer").get(), list, &ledger).ok());
  ASSERT_EQ(ledger.entries_size(), 2);
  EXPECT_EQ(ledger.entries(0).used_in_year().amount_minor(), 0);
  EXPECT_EQ(ledger.entries(1).used_in_year().amount_minor(), 20000);
  EXPECT_EQ(ledger.entries(1).remaining_limit().amount_minor(), 80000);
}

}  // namespace
}  // namespace careops
