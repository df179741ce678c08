// The pure membership rules: coverage, eligibility reasons, waiting periods,
// limits and caps, account status transitions and movement TAT in business days.
#include "services/membership/membership_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/clock.h"
#include "common/proto_time.h"

namespace careops::membership {
namespace {

using absl::CivilDay;

BenefitTerms Outpatient() {
  BenefitTerms b;
  b.code = "OUTPATIENT";
  b.category = "outpatient";
  b.annual_limit_minor = 100000;  // PHP 1000.00
  b.per_visit_cap_minor = 30000;
  b.copay_basis_points = 2000;
  b.waiting_period_days = 30;
  return b;
}

EligibilityFacts CoveredMember() {
  EligibilityFacts f;
  f.member_found = true;
  f.effective_date = CivilDay(2026, 1, 1);
  f.account_status = v1::CLIENT_ACCOUNT_STATUS_ACTIVE;
  f.account_status_effective_date = CivilDay(2025, 1, 1);
  f.currency = "PHP";
  f.benefit = Outpatient();
  return f;
}

std::vector<v1::EligibilityReasonCode> Codes(const EligibilityDecision& d) {
  std::vector<v1::EligibilityReasonCode> out;
  for (const auto& r : d.reasons) out.push_back(r.code);
  return out;
}

TEST(CoverageTest, EffectiveInclusiveTerminationExclusive) {
  CivilDay eff(2026, 3, 1), term(2026, 6, 1);
  EXPECT_FALSE(CoveredOn(eff, term, CivilDay(2026, 2, 28)));
  EXPECT_TRUE(CoveredOn(eff, term, eff));
  EXPECT_TRUE(CoveredOn(eff, term, CivilDay(2026, 5, 31)));
  EXPECT_FALSE(CoveredOn(eff, term, term));
  EXPECT_TRUE(CoveredOn(eff, std::nullopt, CivilDay(2040, 1, 1)));
}

TEST(EligibilityTest, CoveredMemberWithinLimitsIsEligible) {
  EligibilityDecision d = DecideEligibility(CoveredMember(), CivilDay(2026, 3, 1), 20000);
  EXPECT_TRUE(d.eligible);
  EXPECT_TRUE(d.reasons.empty());
  EXPECT_EQ(d.remaining_minor, 100000);
  EXPECT_FALSE(d.unlimited);
}

TEST(EligibilityTest, UnknownMemberIsOnlyMemberNotFound) {
  EligibilityFacts f;
  EligibilityDecision d = DecideEligibility(f, CivilDay(2026, 3, 1), 100);
  EXPECT_FALSE(d.eligible);
  EXPECT_EQ(Codes(d), std::vector{v1::MEMBER_NOT_FOUND});
}

TEST(EligibilityTest, WaitingPeriodCountsDaysFromEffectiveDate) {
  EligibilityFacts f = CoveredMember();
  EXPECT_EQ(WaitingPeriodEnd(f.effective_date, 30), CivilDay(2026, 1, 31));
  EXPECT_EQ(Codes(DecideEligibility(f, CivilDay(2026, 1, 30), 100)), std::vector{v1::WAITING_PERIOD_NOT_SERVED});
  EXPECT_TRUE(DecideEligibility(f, CivilDay(2026, 1, 31), 100).eligible);
  // Without a waiting period a service before coverage is only "not active".
  f.benefit->waiting_period_days = 0;
  EXPECT_EQ(Codes(DecideEligibility(f, CivilDay(2025, 12, 31), 100)), std::vector{v1::MEMBER_NOT_ACTIVE});
}

TEST(EligibilityTest, AnnualLimitIsWhatIsLeftThisYear) {
  EligibilityFacts f = CoveredMember();
  f.used_minor = 90000;
  EligibilityDecision ok = DecideEligibility(f, CivilDay(2026, 3, 1), 10000);
  EXPECT_TRUE(ok.eligible);
  EXPECT_EQ(ok.remaining_minor, 10000);
  EligibilityDecision over = DecideEligibility(f, CivilDay(2026, 3, 1), 10001);
  EXPECT_EQ(Codes(over), std::vector{v1::ANNUAL_LIMIT_EXHAUSTED});
  EXPECT_NE(over.reasons[0].message.find("PHP 1000.00"), std::string::npos) << over.reasons[0].message;
  f.used_minor = 100000;
  // Exhausted even for a coverage-only check (amount 0).
  EXPECT_EQ(Codes(DecideEligibility(f, CivilDay(2026, 3, 1), 0)), std::vector{v1::ANNUAL_LIMIT_EXHAUSTED});
}

TEST(EligibilityTest, UnlimitedBenefitHasNoLimitReason) {
  EligibilityFacts f = CoveredMember();
  f.benefit->unlimited = true;
  f.benefit->per_visit_cap_minor = 0;
  f.used_minor = 99999999;
  EligibilityDecision d = DecideEligibility(f, CivilDay(2026, 3, 1), 5000000);
  EXPECT_TRUE(d.eligible);
  EXPECT_TRUE(d.unlimited);
}

TEST(EligibilityTest, BalancesStayWithinTheMoneyBound) {
  EligibilityFacts f = CoveredMember();
  EXPECT_EQ(RemainingLimit(*f.benefit, "PHP", 30000), 70000);
  EXPECT_EQ(RemainingLimit(*f.benefit, "PHP", 200000), 0);  // over-used: nothing left, never negative
  f.benefit->unlimited = true;
  EXPECT_EQ(RemainingLimit(*f.benefit, "PHP", 5), 0);
  f.used_minor = kMaxMoneyMinor - 10;
  EXPECT_EQ(*UsedAfterRecording(f, 10), kMaxMoneyMinor);
  auto over = UsedAfterRecording(f, 11);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(over.status().message(),
            "amount: the member's utilisation of OUTPATIENT this year would exceed 10^15 minor units");
}

TEST(EligibilityTest, PerVisitCap) {
  EligibilityFacts f = CoveredMember();
  EXPECT_TRUE(DecideEligibility(f, CivilDay(2026, 3, 1), 30000).eligible);
  EligibilityDecision d = DecideEligibility(f, CivilDay(2026, 3, 1), 30001);
  EXPECT_EQ(Codes(d), std::vector{v1::PER_VISIT_CAP_EXCEEDED});
  EXPECT_NE(d.reasons[0].message.find("per-visit cap of PHP 300.00"), std::string::npos);
}

TEST(EligibilityTest, EveryReasonThatAppliesIsListed) {
  EligibilityFacts f = CoveredMember();
  f.termination_date = CivilDay(2026, 1, 15);
  f.account_status = v1::CLIENT_ACCOUNT_STATUS_CANCELLED;
  f.account_status_effective_date = CivilDay(2026, 1, 15);
  f.used_minor = 95000;
  EligibilityDecision d = DecideEligibility(f, CivilDay(2026, 1, 20), 40000);
  EXPECT_FALSE(d.eligible);
  EXPECT_EQ(Codes(d), (std::vector{v1::MEMBER_NOT_ACTIVE, v1::ACCOUNT_CANCELLED, v1::WAITING_PERIOD_NOT_SERVED,
                                   v1::ANNUAL_LIMIT_EXHAUSTED, v1::PER_VISIT_CAP_EXCEEDED}));
}

TEST(EligibilityTest, BenefitNotInPlan) {
  EligibilityFacts f = CoveredMember();
  f.benefit.reset();
  EXPECT_EQ(Codes(DecideEligibility(f, CivilDay(2026, 3, 1), 100)), std::vector{v1::BENEFIT_NOT_IN_PLAN});
}

TEST(EligibilityTest, AccountSuspensionAppliesFromItsEffectiveDate) {
  EligibilityFacts f = CoveredMember();
  f.account_status = v1::CLIENT_ACCOUNT_STATUS_SUSPENDED;
  f.account_status_effective_date = CivilDay(2026, 4, 1);
  EXPECT_TRUE(DecideEligibility(f, CivilDay(2026, 3, 31), 100).eligible);
  EXPECT_EQ(Codes(DecideEligibility(f, CivilDay(2026, 4, 1), 100)), std::vector{v1::ACCOUNT_SUSPENDED});
}

TEST(AccountStatusTest, TransitionDatesNeverPredateTheStartOrTheCurrentStatus) {
  const CivilDay start(2026, 1, 1), suspended_since(2026, 4, 1);
  EXPECT_TRUE(ValidateTransitionDate(CivilDay(2026, 4, 1), start, suspended_since, "effective_date").ok());
  EXPECT_TRUE(ValidateTransitionDate(CivilDay(2026, 4, 10), start, suspended_since, "effective_date").ok());
  absl::Status before_status = ValidateTransitionDate(CivilDay(2026, 3, 31), start, suspended_since, "effective_date");
  EXPECT_EQ(before_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(before_status.message(), "effective_date: must not be before the current status's effective date 2026-04-01");
  absl::Status before_start = ValidateTransitionDate(CivilDay(2025, 12, 31), start, start, "effective_date");
  EXPECT_EQ(before_start.message(), "effective_date: must not be before the account's start date 2026-01-01");
}

TEST(AccountStatusTest, Transitions) {
  using v1::CLIENT_ACCOUNT_STATUS_ACTIVE;
  using v1::CLIENT_ACCOUNT_STATUS_CANCELLED;
  using v1::CLIENT_ACCOUNT_STATUS_SUSPENDED;
  EXPECT_EQ(*NextAccountStatus(CLIENT_ACCOUNT_STATUS_ACTIVE, AccountAction::kSuspend), CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(*NextAccountStatus(CLIENT_ACCOUNT_STATUS_SUSPENDED, AccountAction::kReinstate),
            CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(*NextAccountStatus(CLIENT_ACCOUNT_STATUS_ACTIVE, AccountAction::kCancel), CLIENT_ACCOUNT_STATUS_CANCELLED);
  EXPECT_EQ(*NextAccountStatus(CLIENT_ACCOUNT_STATUS_SUSPENDED, AccountAction::kCancel),
            CLIENT_ACCOUNT_STATUS_CANCELLED);
  auto bad = NextAccountStatus(CLIENT_ACCOUNT_STATUS_ACTIVE, AccountAction::kReinstate);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(bad.status().message(), "cannot reinstate an account that is active");
  EXPECT_EQ(NextAccountStatus(CLIENT_ACCOUNT_STATUS_SUSPENDED, AccountAction::kSuspend).status().code(),
            absl::StatusCode::kFailedPrecondition);
  for (auto action : {AccountAction::kSuspend, AccountAction::kReinstate, AccountAction::kCancel}) {
    EXPECT_EQ(NextAccountStatus(CLIENT_ACCOUNT_STATUS_CANCELLED, action).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

absl::Time At(int y, int mo, int d, int h) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, 0, 0), absl::UTCTimeZone());
}

TEST(TatTest, BusinessDaysSkipWeekends) {
  // 2026-11-20 is a Friday.
  FakeClock clock(At(2026, 11, 20, 10));
  EXPECT_EQ(AddBusinessDays(clock.Now(), 2), At(2026, 11, 24, 10));  // Tuesday
  EXPECT_EQ(AddBusinessDays(clock.Now(), 0), clock.Now());
  EXPECT_EQ(AddBusinessDays(At(2026, 11, 23, 9), 2), At(2026, 11, 25, 9));  // Mon -> Wed
  EXPECT_EQ(AddBusinessDays(At(2026, 11, 21, 9), 1), At(2026, 11, 24, 0));  // Sat: counts from Monday morning
  EXPECT_EQ(AddBusinessDays(At(2026, 11, 20, 10), 5), At(2026, 11, 27, 10));
}

TEST(TatTest, MetAndOverdue) {
  FakeClock clock(At(2026, 11, 20, 10));
  absl::Time due = AddBusinessDays(clock.Now(), 2);
  clock.Advance(absl::Hours(24 * 4));  // Tuesday 10:00, exactly due
  EXPECT_TRUE(TatMet(due, clock.Now()));
  EXPECT_FALSE(Overdue(v1::MOVEMENT_STATUS_PENDING, due, clock.Now()));
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(TatMet(due, clock.Now()));
  EXPECT_TRUE(Overdue(v1::MOVEMENT_STATUS_PENDING, due, clock.Now()));
  EXPECT_FALSE(Overdue(v1::MOVEMENT_STATUS_APPLIED, due, clock.Now()));
}

TEST(TatTest, ParsesTargetsPerType) {
  auto t = ParseTatTargets("enrollment:3, termination:1");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(TatBusinessDays(*t, v1::MOVEMENT_TYPE_ENROLLMENT), 3);
  EXPECT_EQ(TatBusinessDays(*t, v1::MOVEMENT_TYPE_TERMINATION), 1);
  EXPECT_EQ(TatBusinessDays(*t, v1::MOVEMENT_TYPE_PLAN_CHANGE), kDefaultTatBusinessDays);
  EXPECT_EQ(ParseTatTargets("enrolment:2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTatTargets("termination:x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTatTargets("termination:-1").status().code(), absl::StatusCode::kInvalidArgument);
}

v1::Plan GoodPlan() {
  v1::Plan p;
  p.set_account_id("A");
  p.set_name("Gold");
  p.set_currency_code("PHP");
  v1::Benefit* b = p.add_benefits();
  b->set_code("OUTPATIENT");
  b->set_category("outpatient");
  b->mutable_annual_limit()->set_currency_code("PHP");
  b->mutable_annual_limit()->set_amount_minor(100000);
  return p;
}

TEST(ValidationTest, PlanLimitsStayWithinTheMoneyBound) {
  v1::Plan p = GoodPlan();
  v1::Benefit* b = p.mutable_benefits(0);
  b->mutable_annual_limit()->set_amount_minor(kMaxMoneyMinor);
  EXPECT_TRUE(ValidateNewPlan(p, "plan").ok());
  b->mutable_annual_limit()->set_amount_minor(kMaxMoneyMinor + 1);
  EXPECT_EQ(ValidateNewPlan(p, "plan").message(),
            "plan.benefits[0].annual_limit.amount_minor: must be at most 10^15 (1000000000000000) minor units in "
            "absolute value");
  b->mutable_annual_limit()->set_amount_minor(1000);
  b->mutable_per_visit_cap()->set_currency_code("PHP");
  b->mutable_per_visit_cap()->set_amount_minor(kMaxMoneyMinor + 1);
  EXPECT_EQ(ValidateNewPlan(p, "plan").message(),
            "plan.benefits[0].per_visit_cap.amount_minor: must be at most 10^15 (1000000000000000) minor units");
}

TEST(ValidationTest, PlanRulesNameTheField) {
  EXPECT_TRUE(ValidateNewPlan(GoodPlan(), "plan").ok());
  v1::Plan p = GoodPlan();
  p.set_currency_code("XXX");
  EXPECT_EQ(ValidateNewPlan(p, "plan").message(), "plan.currency_code: unknown ISO-4217 currency 'XXX'");
  p = GoodPlan();
  p.mutable_benefits(0)->mutable_annual_limit()->set_amount_minor(-5);
  EXPECT_EQ(ValidateNewPlan(p, "plan").message(),
            "plan.benefits[0].annual_limit: must be more than zero unless unlimited is set");
  p = GoodPlan();
  *p.add_benefits() = p.benefits(0);
  EXPECT_NE(ValidateNewPlan(p, "plan").message().find("appears twice"), std::string::npos);
  p = GoodPlan();
  p.mutable_benefits(0)->set_copay_basis_points(10001);
  EXPECT_EQ(ValidateNewPlan(p, "plan").message(), "plan.benefits[0].copay_basis_points: must be between 0 and 10000");
  p = GoodPlan();
  p.set_name("  ");
  EXPECT_EQ(ValidateNewPlan(p, "plan").message(), "plan.name: must not be empty");
}

TEST(ValidationTest, PersonAndAccount) {
  v1::Person person;
  person.set_given_name("Ana");
  person.set_family_name("Reyes");
  *person.mutable_birth_date() = ToProto(CivilDay(1990, 5, 1));
  EXPECT_TRUE(ValidatePerson(person, "person", CivilDay(2026, 1, 1)).ok());
  *person.mutable_birth_date() = ToProto(CivilDay(2027, 5, 1));
  EXPECT_EQ(ValidatePerson(person, "person", CivilDay(2026, 1, 1)).message(),
            "person.birth_date: must not be in the future");
  person.clear_given_name();
  EXPECT_EQ(ValidatePerson(person, "person", CivilDay(2026, 1, 1)).message(), "person.given_name: must not be empty");

  v1::ClientAccount a;
  a.set_name("Acme");
  a.set_type(v1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  *a.mutable_start_date() = ToProto(CivilDay(2026, 1, 1));
  EXPECT_TRUE(ValidateNewAccount(a, "account").ok());
  a.set_type(v1::CLIENT_ACCOUNT_TYPE_UNSPECIFIED);
  EXPECT_EQ(ValidateNewAccount(a, "account").code(), absl::StatusCode::kInvalidArgument);
  a.set_contact_email("not an address");
  EXPECT_EQ(ValidateAccountField(a, "contact_email", "account").message(),
            "account.contact_email: must be an e-mail address");
  EXPECT_TRUE(ValidateAccountField(a, "name", "account").ok());
  EXPECT_EQ(ValidateAccountField(a, "type", "account").message(),
            "update_mask: path 'type' is not updatable (name, account_officer, contact_email)");
  EXPECT_EQ(ValidateNotBeforeStart(CivilDay(2025, 12, 31), CivilDay(2026, 1, 1), "effective_date").message(),
            "effective_date: must not be before the account's start date 2026-01-01");
}

TEST(ValidationTest, NamesCountCharactersAndMustBeVisible) {
  v1::Person person;
  person.set_family_name("Reyes");
  *person.mutable_birth_date() = ToProto(CivilDay(1990, 5, 1));
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "\xC3\xB1";  // "ñ": 100 characters, 200 bytes
  person.set_given_name(hundred);
  EXPECT_TRUE(ValidatePerson(person, "person", CivilDay(2026, 1, 1)).ok());
  for (const char* blank : {"\xE2\x80\x8B", "\xC2\xA0\xE3\x80\x80", "\xEF\xBB\xBF "}) {
    person.set_given_name(blank);
    EXPECT_EQ(ValidatePerson(person, "person", CivilDay(2026, 1, 1)).message(), "person.given_name: must not be empty");
  }
  person.set_given_name("Ana\nReyes");
  EXPECT_EQ(ValidatePerson(person, "person", CivilDay(2026, 1, 1)).message(),
            "person.given_name: must not contain control characters or line breaks");

  v1::ClientAccount a;
  a.set_name("\xE2\x80\x8B\xE2\x80\x8D");
  a.set_type(v1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  *a.mutable_start_date() = ToProto(CivilDay(2026, 1, 1));
  EXPECT_EQ(ValidateNewAccount(a, "account").message(), "account.name: must not be empty");
  // A path the caller made up comes back as a short prefix only.
  EXPECT_LT(ValidateAccountField(a, std::string(100000, 'p'), "account").message().size(), 120u);
}

}  // namespace
}  // namespace careops::membership
