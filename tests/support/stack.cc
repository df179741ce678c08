#include "tests/support/stack.h"

#include "absl/time/civil_time.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "tests/support/rpc.h"

namespace careops::testing {

namespace mv1 = ::careops::membership::v1;

::testing::AssertionResult Serving(ServiceProcess& p) {
  if (Eventually([&] { return Health(p.address()) == "SERVING"; })) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << p.process().output();
}

MembershipAndClaims::MembershipAndClaims(const std::vector<std::string>& claims_args) {
  membership_ = std::make_unique<ServiceProcess>("membership", membership_schema_.dsn());
  std::vector<std::string> args{"--membership_addr=" + membership_->address()};
  args.insert(args.end(), claims_args.begin(), claims_args.end());
  claims_ = std::make_unique<ServiceProcess>("claims", claims_schema_.dsn(), args);
}

::testing::AssertionResult MembershipAndClaims::Serving() {
  ::testing::AssertionResult m = testing::Serving(*membership_);
  if (!m) return m;
  return testing::Serving(*claims_);
}

CorporateClient NewCorporateClient(mv1::MembershipService::Stub& membership, const std::vector<Benefit>& benefits,
                                   int64_t annual_limit_minor, int members) {
  const std::string officer = "dev-account-officer";
  CorporateClient out;
  mv1::CreateClientAccountRequest account;
  account.set_request_id(NewId());
  account.mutable_account()->set_name("Test Corp " + account.request_id());
  account.mutable_account()->set_type(mv1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  *account.mutable_account()->mutable_start_date() = ToProto(absl::CivilDay(2024, 1, 1));
  mv1::ClientAccount created;
  grpc::Status s = membership.CreateClientAccount(BearerContext(officer).get(), account, &created);
  EXPECT_TRUE(s.ok()) << s.error_message();
  out.account_id = created.account_id();

  mv1::CreatePlanRequest plan;
  plan.set_request_id(NewId());
  plan.mutable_plan()->set_account_id(out.account_id);
  plan.mutable_plan()->set_name("Gold");
  plan.mutable_plan()->set_currency_code("PHP");
  for (const Benefit& benefit : benefits) {
    mv1::Benefit* b = plan.mutable_plan()->add_benefits();
    b->set_code(benefit.code);
    b->set_category(benefit.category);
    b->set_copay_basis_points(benefit.copay_basis_points);
    if (benefit.per_visit_cap_minor > 0) *b->mutable_per_visit_cap() = Php(benefit.per_visit_cap_minor);
    *b->mutable_annual_limit() = Php(annual_limit_minor);
  }
  mv1::Plan created_plan;
  s = membership.CreatePlan(BearerContext(officer).get(), plan, &created_plan);
  EXPECT_TRUE(s.ok()) << s.error_message();
  out.plan_id = created_plan.plan_id();

  for (int i = 0; i < members; ++i) {
    mv1::EnrollMemberRequest enroll;
    enroll.set_request_id(NewId());
    enroll.set_account_id(out.account_id);
    enroll.set_plan_id(out.plan_id);
    enroll.set_external_ref("EMP-" + enroll.request_id());
    enroll.mutable_person()->set_given_name("Rosa");
    enroll.mutable_person()->set_family_name("Santos");
    *enroll.mutable_person()->mutable_birth_date() = ToProto(absl::CivilDay(1990, 5, 17));
    *enroll.mutable_effective_date() = ToProto(absl::CivilDay(2024, 1, 1));
    mv1::Member member;
    s = membership.EnrollMember(BearerContext(officer).get(), enroll, &member);
    EXPECT_TRUE(s.ok()) << s.error_message();
    out.member_ids.push_back(member.member_id());
  }
  return out;
}

}  // namespace careops::testing
