// The pure membership rules: coverage, eligibility reasons, waiting periods,
// limits and caps, account status transitions and movement TAT in business days.
#include "services/membership/membership_rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
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
  f.period_start = CivilDay(2026, 1, 1);
  f.coverage_start = CivilDay(2026, 1, 1);
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
  EXPECT_EQ(WaitingPeriodEnd(f.coverage_start, 30), CivilDay(2026, 1, 31));
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
  f.period_end = CivilDay(2026, 1, 15);
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


// ---------------------------------------------------------------- decisions on locked rows

namespace decisions {

// "Today" for the decisions judged as of a day: after every date these tests use.
const CivilDay kToday(2026, 12, 2);

CivilDay DayOf(const common::v1::Date& d) { return CivilDay(d.year(), d.month(), d.day()); }

v1::ClientAccount OpenAccount() {
  v1::ClientAccount a;
  a.set_account_id("ACC");
  a.set_status(v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  *a.mutable_start_date() = ToProto(CivilDay(2026, 1, 1));
  *a.mutable_status_effective_date() = ToProto(CivilDay(2026, 1, 1));
  return a;
}

v1::Member CoveredFrom(CivilDay day) {
  v1::Member m;
  m.set_member_id("MEM");
  m.set_account_id("ACC");
  m.set_plan_id("PLAN-1");
  m.set_status(v1::MEMBER_STATUS_ACTIVE);
  *m.mutable_effective_date() = ToProto(day);
  m.mutable_person()->set_given_name("Ana");
  return m;
}

v1::Movement MovementOf(v1::MovementType type, CivilDay effective) {
  v1::Movement mv;
  mv.set_movement_id("MV");
  mv.set_account_id("ACC");
  mv.set_member_id("MEM");
  mv.set_type(type);
  mv.set_status(v1::MOVEMENT_STATUS_PENDING);
  *mv.mutable_effective_date() = ToProto(effective);
  return mv;
}

TEST(EnrolabilityTest, OpenAccountStartedActivePlan) {
  const v1::ClientAccount account = OpenAccount();
  EXPECT_TRUE(DecideEnrolable(account, v1::PLAN_STATUS_ACTIVE, CoveredFrom(CivilDay(2026, 1, 1)), kToday, "").ok());
  absl::Status early = DecideEnrolable(account, v1::PLAN_STATUS_ACTIVE, CoveredFrom(CivilDay(2025, 12, 31)), kToday, "rows[2].");
  EXPECT_EQ(early.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(early.message(), "rows[2].effective_date: must not be before the account's start date 2026-01-01");
  absl::Status foreign = DecideEnrolable(account, std::nullopt, CoveredFrom(CivilDay(2026, 2, 1)), kToday, "");
  EXPECT_EQ(foreign.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(foreign.message(), "plan_id: 'PLAN-1' is not a plan of account 'ACC'");
  absl::Status old = DecideEnrolable(account, v1::PLAN_STATUS_SUPERSEDED, CoveredFrom(CivilDay(2026, 2, 1)), kToday, "");
  EXPECT_EQ(old.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(old.message().find("superseded"), std::string_view::npos);
  v1::ClientAccount cancelled = account;
  cancelled.set_status(v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  absl::Status closed = DecideEnrolable(cancelled, v1::PLAN_STATUS_ACTIVE, CoveredFrom(CivilDay(2026, 2, 1)), kToday, "");
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed.message(), "account_id: client account 'ACC' is cancelled");
  // A suspended account still takes enrolments (coverage is judged per service date).
  v1::ClientAccount suspended = account;
  suspended.set_status(v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_TRUE(DecideEnrolable(suspended, v1::PLAN_STATUS_ACTIVE, CoveredFrom(CivilDay(2026, 2, 1)), kToday, "").ok());
}

TEST(EnrolabilityTest, AScheduledCancellationBlocksOnlyFromItsDay) {
  v1::ClientAccount cancelling = OpenAccount();
  cancelling.set_status(v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  *cancelling.mutable_status_effective_date() = ToProto(CivilDay(2026, 7, 1));
  const CivilDay june10(2026, 6, 10);
  EXPECT_TRUE(DecideEnrolable(cancelling, v1::PLAN_STATUS_ACTIVE, CoveredFrom(CivilDay(2026, 6, 15)), june10, "").ok());
  absl::Status on_the_day =
      DecideEnrolable(cancelling, v1::PLAN_STATUS_ACTIVE, CoveredFrom(CivilDay(2026, 7, 1)), june10, "rows[1].");
  EXPECT_EQ(on_the_day.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(on_the_day.message(),
            "rows[1].effective_date: client account 'ACC' is cancelled from 2026-07-01; nothing can take effect on or "
            "after that day");
  absl::Status from_then =
      DecideEnrolable(cancelling, v1::PLAN_STATUS_ACTIVE, CoveredFrom(CivilDay(2026, 6, 15)), CivilDay(2026, 7, 1), "");
  EXPECT_EQ(from_then.message(), "account_id: client account 'ACC' is cancelled");
  EXPECT_TRUE(RequireOpenAccount(cancelling, CivilDay(2026, 6, 30), "plan.account_id").ok());
  EXPECT_FALSE(RequireOpenAccount(cancelling, CivilDay(2026, 7, 1), "plan.account_id").ok());
  // A movement dated before the day applies; one dated on it is refused.
  v1::Movement change = MovementOf(v1::MOVEMENT_TYPE_DETAIL_CHANGE, CivilDay(2026, 6, 30));
  change.mutable_person()->set_given_name("Renamed");
  EXPECT_TRUE(ApplyMovementToMember(change, cancelling, CoveredFrom(CivilDay(2026, 2, 1)), std::nullopt, june10).ok());
  *change.mutable_effective_date() = ToProto(CivilDay(2026, 7, 1));
  auto late = ApplyMovementToMember(change, cancelling, CoveredFrom(CivilDay(2026, 2, 1)), std::nullopt, june10);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(late.status().message(),
            "effective_date: client account 'ACC' is cancelled from 2026-07-01; nothing can take effect on or after "
            "that day; reject the movement");
}

TEST(PlanRevisionTest, ANewVersionSupersedesTheActiveOne) {
  v1::Plan current = GoodPlan();
  current.set_plan_id("PLAN-1");
  current.set_version(3);
  current.set_status(v1::PLAN_STATUS_ACTIVE);
  v1::Plan next;
  *next.mutable_benefits() = current.benefits();
  next.mutable_benefits(0)->mutable_annual_limit()->set_amount_minor(200000);
  auto revised = DecidePlanRevision(current, next);
  ASSERT_TRUE(revised.ok()) << revised.status();
  EXPECT_EQ(revised->version(), 4);
  EXPECT_EQ(revised->supersedes_plan_id(), "PLAN-1");
  EXPECT_EQ(revised->name(), "Gold");  // empty: kept
  EXPECT_EQ(revised->account_id(), "A");
  EXPECT_EQ(revised->currency_code(), "PHP");
  EXPECT_EQ(revised->status(), v1::PLAN_STATUS_ACTIVE);
  next.mutable_benefits(0)->mutable_annual_limit()->set_currency_code("USD");
  EXPECT_EQ(DecidePlanRevision(current, next).status().code(), absl::StatusCode::kInvalidArgument);
  current.set_status(v1::PLAN_STATUS_SUPERSEDED);
  EXPECT_EQ(DecidePlanRevision(current, next).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AccountTransitionTest, TheDecisionCarriesStatusDateAndReason) {
  const CivilDay today(2026, 4, 1);
  const std::vector<StatusChange> opened = {{CivilDay(2026, 1, 1), v1::CLIENT_ACCOUNT_STATUS_ACTIVE, "", 1}};
  auto suspended =
      DecideAccountTransition(OpenAccount(), opened, AccountAction::kSuspend, CivilDay(2026, 4, 1), "past due", today);
  ASSERT_TRUE(suspended.ok()) << suspended.status();
  EXPECT_EQ(suspended->account.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(suspended->account.status_effective_date().month(), 4);
  EXPECT_EQ(suspended->account.status_reason(), "past due");
  EXPECT_EQ(suspended->change.status, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(suspended->from, v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  std::vector<StatusChange> history = opened;
  history.push_back({CivilDay(2026, 4, 1), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, "past due", 2});
  EXPECT_EQ(DecideAccountTransition(suspended->account, history, AccountAction::kCancel, CivilDay(2026, 3, 31), "x",
                                    today)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecideAccountTransition(suspended->account, history, AccountAction::kSuspend, CivilDay(2026, 5, 1), "x",
                                    today)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

// The stored columns hold the last change of the history: a cancellation
// scheduled for July 1 while today is June 10.
v1::ClientAccount CancellingAccount() {
  v1::ClientAccount a = OpenAccount();
  a.set_status(v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  *a.mutable_status_effective_date() = ToProto(CivilDay(2026, 7, 1));
  a.set_status_reason("notice lapsed");
  return a;
}

std::vector<StatusChange> CancellingHistory() {
  return {{CivilDay(2026, 1, 1), v1::CLIENT_ACCOUNT_STATUS_ACTIVE, "", 1},
          {CivilDay(2026, 7, 1), v1::CLIENT_ACCOUNT_STATUS_CANCELLED, "notice lapsed", 2}};
}

TEST(AccountTransitionTest, ATransitionDatedBeforeAScheduledOneIsJudgedOnItsOwnDate) {
  const CivilDay today(2026, 6, 10);
  auto suspended = DecideAccountTransition(CancellingAccount(), CancellingHistory(), AccountAction::kSuspend, today,
                                           "fraud review", today);
  ASSERT_TRUE(suspended.ok()) << suspended.status();
  EXPECT_EQ(suspended->change.status, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(suspended->change.effective_date, today);
  EXPECT_EQ(suspended->from, v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  // The scheduled cancellation stays the last change.
  EXPECT_EQ(suspended->account.status(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  EXPECT_EQ(DayOf(suspended->account.status_effective_date()), CivilDay(2026, 7, 1));
  // Read back with the new row (made last, dated first): suspended today, cancelled from July 1.
  std::vector<StatusChange> history = CancellingHistory();
  history.push_back({today, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, "fraud review", 3});
  const v1::ClientAccount read = AccountAsOf(suspended->account, history, today);
  EXPECT_EQ(read.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  ASSERT_EQ(read.scheduled_status_changes_size(), 1);
  EXPECT_EQ(read.scheduled_status_changes(0).status(), v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  // A reinstatement before the cancellation follows the suspension too.
  auto back = DecideAccountTransition(suspended->account, history, AccountAction::kReinstate, CivilDay(2026, 6, 20),
                                      "cleared", today);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->from, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  // What the status on its date does not allow is refused, whatever is scheduled.
  auto twice = DecideAccountTransition(suspended->account, history, AccountAction::kSuspend, CivilDay(2026, 6, 15),
                                       "x", today);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(twice.status().message(), "cannot suspend an account that is suspended");
}

TEST(AccountTransitionTest, AChangeThatAScheduledOneCouldNoLongerFollowIsRefused) {
  const CivilDay today(2026, 6, 10);
  v1::ClientAccount stored = OpenAccount();
  stored.set_status(v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  *stored.mutable_status_effective_date() = ToProto(CivilDay(2026, 6, 20));
  const std::vector<StatusChange> history = {
      {CivilDay(2026, 1, 1), v1::CLIENT_ACCOUNT_STATUS_ACTIVE, "", 1},
      {CivilDay(2026, 6, 20), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, "past due", 2}};
  auto cancel = DecideAccountTransition(stored, history, AccountAction::kCancel, CivilDay(2026, 6, 15), "x", today);
  EXPECT_EQ(cancel.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cancel.status().message(),
            "effective_date: the change to suspended scheduled from 2026-06-20 cannot follow an account that is "
            "cancelled from 2026-06-15; withdraw it first (WithdrawScheduledStatusChange)");
  // A scheduled suspension is withdrawn, not reinstated before its day.
  auto early = DecideAccountTransition(stored, history, AccountAction::kReinstate, CivilDay(2026, 6, 15), "x", today);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  // On or after its day, a transition follows it.
  auto after = DecideAccountTransition(stored, history, AccountAction::kReinstate, CivilDay(2026, 6, 20), "x", today);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->account.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(after->from, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
}

TEST(WithdrawalTest, AScheduledChangeIsWithdrawnWithTheChangesAfterIt) {
  const CivilDay today(2026, 6, 10);
  std::vector<StatusChange> history = CancellingHistory();
  history.insert(history.begin() + 1, {CivilDay(2026, 6, 20), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, "past due", 3});
  v1::ClientAccount stored = CancellingAccount();
  // The last one alone: the columns go back to the change before it.
  auto last = DecideWithdrawal(stored, history, v1::CLIENT_ACCOUNT_STATUS_CANCELLED, CivilDay(2026, 7, 1), today);
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(last->withdrawn.size(), 1u);
  EXPECT_EQ(last->withdrawn[0].seq, 2);
  EXPECT_EQ(last->account.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(DayOf(last->account.status_effective_date()), CivilDay(2026, 6, 20));
  EXPECT_EQ(last->account.status_reason(), "past due");
  // An earlier one takes the later ones with it (they were judged from it).
  auto both = DecideWithdrawal(stored, history, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, CivilDay(2026, 6, 20), today);
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->withdrawn.size(), 2u);
  EXPECT_EQ(both->withdrawn[0].seq, 3);
  EXPECT_EQ(both->withdrawn[1].seq, 2);
  EXPECT_EQ(both->account.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(DayOf(both->account.status_effective_date()), CivilDay(2026, 1, 1));
  auto missing = DecideWithdrawal(stored, history, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, CivilDay(2026, 6, 21), today);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "effective_date: no change to suspended is scheduled from 2026-06-21");
  auto in_force = DecideWithdrawal(stored, history, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, CivilDay(2026, 6, 20),
                                   CivilDay(2026, 6, 20));
  EXPECT_EQ(in_force.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(in_force.status().message(),
            "effective_date: the change to suspended from 2026-06-20 is in force already; make a new transition "
            "instead");
}

v1::CoveragePeriod Period(CivilDay start, std::optional<CivilDay> end, const std::string& plan) {
  v1::CoveragePeriod p;
  *p.mutable_effective_date() = ToProto(start);
  if (end) *p.mutable_end_date() = ToProto(*end);
  p.set_plan_id(plan);
  return p;
}

std::vector<std::string> Spans(const Coverage& coverage) {
  std::vector<std::string> out;
  for (const v1::CoveragePeriod& p : coverage) {
    out.push_back(absl::StrCat(ToSqlDate(DayOf(p.effective_date())), "..",
                               p.has_end_date() ? ToSqlDate(DayOf(p.end_date())) : "", " ", p.plan_id()));
  }
  return out;
}

TEST(CoverageCutTest, AWithdrawnCancellationGivesBackWhatItEndedAndNothingMore) {
  const CivilDay cancel(2026, 7, 1);
  Coverage coverage;
  *coverage.Add() = Period(CivilDay(2026, 1, 1), CivilDay(2026, 8, 1), "GOLD");  // a plan change on Aug 1
  *coverage.Add() = Period(CivilDay(2026, 8, 1), std::nullopt, "PLATINUM");
  std::vector<CoverageCut> cuts;
  const Coverage cut = CutCoverage(coverage, cancel, &cuts);
  // The plan change from Aug 1 is withdrawn with the coverage it would start.
  EXPECT_EQ(Spans(cut), (std::vector<std::string>{"2026-01-01..2026-07-01 GOLD"}));
  EXPECT_TRUE(RequireProperCoverage(cut).ok());
  ASSERT_EQ(cuts.size(), 2u);
  EXPECT_EQ(cuts[1].removed_plan_id, "PLATINUM");
  EXPECT_EQ(cuts[1].follows_end, CivilDay(2026, 8, 1));
  CoverageCuts recorded;
  for (const CoverageCut& c : cuts) recorded[c.period_start] = c;
  EXPECT_EQ(Spans(UncutCoverage(cut, cancel, recorded)), Spans(coverage));

  // A plan change dated before the cancellation, applied after it: the split-off
  // period ends on the cancellation date and gets the cut period's end back.
  Coverage split = cut;
  *split[0].mutable_end_date() = ToProto(CivilDay(2026, 6, 15));
  Coverage moved;
  *moved.Add() = split[0];
  *moved.Add() = Period(CivilDay(2026, 6, 15), cancel, "SILVER");
  EXPECT_EQ(Spans(UncutCoverage(moved, cancel, recorded)),
            (std::vector<std::string>{"2026-01-01..2026-06-15 GOLD", "2026-06-15..2026-08-01 SILVER",
                                      "2026-08-01.. PLATINUM"}));
  // A termination since keeps its date, and the plan change it came before stays withdrawn.
  Coverage ended = cut;
  *ended[0].mutable_end_date() = ToProto(CivilDay(2026, 6, 20));
  EXPECT_EQ(Spans(UncutCoverage(ended, cancel, recorded)), std::vector<std::string>{"2026-01-01..2026-06-20 GOLD"});
  // A period that ended before the cancellation is not touched.
  Coverage early;
  *early.Add() = Period(CivilDay(2026, 1, 1), CivilDay(2026, 3, 1), "GOLD");
  std::vector<CoverageCut> none;
  EXPECT_EQ(Spans(CutCoverage(early, cancel, &none)), Spans(early));
  EXPECT_TRUE(none.empty());
}

TEST(MovementDecisionTest, PendingIsDecidedOnceAndTheOtherWayIsRefused) {
  v1::Movement mv = MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 3, 1));
  *mv.mutable_due_time() = ToProtoTimestamp(absl::FromUnixSeconds(1000));
  EXPECT_TRUE(*MovementNeedsDecision(mv, v1::MOVEMENT_STATUS_APPLIED));
  v1::Movement applied = DecidedMovement(mv, v1::MOVEMENT_STATUS_APPLIED, "eva.tan", "", absl::FromUnixSeconds(2000));
  EXPECT_EQ(applied.status(), v1::MOVEMENT_STATUS_APPLIED);
  EXPECT_EQ(applied.decided_by(), "eva.tan");
  EXPECT_FALSE(applied.tat_met());  // decided after its due time
  EXPECT_FALSE(*MovementNeedsDecision(applied, v1::MOVEMENT_STATUS_APPLIED));
  auto other_way = MovementNeedsDecision(applied, v1::MOVEMENT_STATUS_REJECTED);
  EXPECT_EQ(other_way.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(other_way.status().message(), "movement 'MV' is already applied");
  EXPECT_TRUE(DecidedMovement(mv, v1::MOVEMENT_STATUS_REJECTED, "x", "why", absl::FromUnixSeconds(1000)).tat_met());
}

TEST(MovementApplicationTest, TerminationEndsCoverageOnItsDateAndNeverBeforeItStarts) {
  const v1::ClientAccount account = OpenAccount();
  const v1::Member member = CoveredFrom(CivilDay(2026, 2, 1));
  auto ended = ApplyMovementToMember(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 7, 1)), account, member,
                                     std::nullopt, kToday);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->status(), v1::MEMBER_STATUS_TERMINATED);
  EXPECT_EQ(ended->termination_date().month(), 7);
  auto again = ApplyMovementToMember(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 8, 1)), account, *ended,
                                     std::nullopt, kToday);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.status().message(), "member_id: member 'MEM' is already terminated as of 2026-07-01");
  auto before = ApplyMovementToMember(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 1, 15)), account,
                                      member, std::nullopt, kToday);
  EXPECT_EQ(before.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(before.status().message(),
            "effective_date: must not be before the member's coverage starts (2026-02-01)");
}

TEST(MovementApplicationTest, ReinstatementNeedsATerminatedMember) {
  const v1::ClientAccount account = OpenAccount();
  v1::Member member = CoveredFrom(CivilDay(2026, 2, 1));
  auto refused = ApplyMovementToMember(MovementOf(v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 3, 1)), account,
                                       member, std::nullopt, kToday);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  member.set_status(v1::MEMBER_STATUS_TERMINATED);
  *member.mutable_termination_date() = ToProto(CivilDay(2026, 3, 1));
  auto back = ApplyMovementToMember(MovementOf(v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 3, 1)), account,
                                    member, std::nullopt, kToday);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_FALSE(back->has_termination_date());
}

TEST(MovementDatesTest, ImpossibleDatesAreRefusedWhenRequested) {
  v1::Member member = CoveredFrom(CivilDay(2026, 2, 1));
  for (auto type : {v1::MOVEMENT_TYPE_TERMINATION, v1::MOVEMENT_TYPE_PLAN_CHANGE, v1::MOVEMENT_TYPE_DETAIL_CHANGE}) {
    absl::Status early = ValidateMovementDates(MovementOf(type, CivilDay(2026, 1, 31)), member);
    EXPECT_EQ(early.code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_EQ(early.message(), "effective_date: must not be before the member's coverage starts (2026-02-01)");
    // A termination on the first day would leave a period covering nothing.
    EXPECT_EQ(ValidateMovementDates(MovementOf(type, CivilDay(2026, 2, 1)), member).ok(),
              type != v1::MOVEMENT_TYPE_TERMINATION)
        << type;
  }
  EXPECT_EQ(ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 3, 1)), member).code(),
            absl::StatusCode::kFailedPrecondition);
  member.set_status(v1::MEMBER_STATUS_TERMINATED);
  *member.mutable_termination_date() = ToProto(CivilDay(2026, 6, 1));
  absl::Status backdated =
      ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 5, 31)), member);
  EXPECT_EQ(backdated.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backdated.message(), "effective_date: must not be before the termination it undoes (2026-06-01)");
  EXPECT_TRUE(ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 6, 1)), member).ok());
  EXPECT_EQ(ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 7, 1)), member).code(),
            absl::StatusCode::kFailedPrecondition);
  // A termination brought forward (before the current termination date) is possible.
  EXPECT_TRUE(ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 5, 1)), member).ok());
}

TEST(MovementApplicationTest, PlanChangeNeedsAnActivePlanOfTheAccount) {
  const v1::ClientAccount account = OpenAccount();
  v1::Movement mv = MovementOf(v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 3, 1));
  mv.set_new_plan_id("PLAN-2");
  const v1::Member member = CoveredFrom(CivilDay(2026, 2, 1));
  EXPECT_EQ(ApplyMovementToMember(mv, account, member, v1::PLAN_STATUS_ACTIVE, kToday)->plan_id(), "PLAN-2");
  auto foreign = ApplyMovementToMember(mv, account, member, std::nullopt, kToday);
  EXPECT_EQ(foreign.status().message(), "new_plan_id: 'PLAN-2' is not a plan of the account");
  auto old = ApplyMovementToMember(mv, account, member, v1::PLAN_STATUS_SUPERSEDED, kToday);
  EXPECT_EQ(old.status().message(), "new_plan_id: plan 'PLAN-2' is superseded");
}

TEST(MovementApplicationTest, DetailChangeReplacesThePersonAndACancelledAccountTakesNothing) {
  v1::ClientAccount account = OpenAccount();
  v1::Movement mv = MovementOf(v1::MOVEMENT_TYPE_DETAIL_CHANGE, CivilDay(2026, 3, 1));
  mv.mutable_person()->set_given_name("Renamed");
  const v1::Member member = CoveredFrom(CivilDay(2026, 2, 1));
  EXPECT_EQ(ApplyMovementToMember(mv, account, member, std::nullopt, kToday)->person().given_name(), "Renamed");
  account.set_status(v1::CLIENT_ACCOUNT_STATUS_CANCELLED);
  auto closed = ApplyMovementToMember(mv, account, member, std::nullopt, kToday);
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed.status().message(), "account_id: client account 'ACC' is cancelled; reject the movement");
  EXPECT_EQ(MemberActionOf(v1::MOVEMENT_TYPE_DETAIL_CHANGE), "member.change_details");
}

TEST(MovementApplicationTest, AnEnrollmentMakesTheMemberItDescribes) {
  v1::Movement mv = MovementOf(v1::MOVEMENT_TYPE_ENROLLMENT, CivilDay(2026, 3, 1));
  mv.clear_member_id();
  mv.mutable_enrollment()->set_plan_id("PLAN-1");
  mv.mutable_enrollment()->set_external_ref("EMP-9");
  mv.mutable_enrollment()->mutable_person()->set_given_name("New");
  v1::Member m = MemberFromEnrollment(mv, "MEM-NEW");
  EXPECT_EQ(m.member_id(), "MEM-NEW");
  EXPECT_EQ(m.account_id(), "ACC");
  EXPECT_EQ(m.external_ref(), "EMP-9");
  EXPECT_EQ(m.status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_EQ(m.effective_date().month(), 3);
  EXPECT_EQ(m.person().given_name(), "New");
}

TEST(UtilizationDecisionTest, RefusalsNameTheirReason) {
  v1::RecordUtilizationRequest r;
  r.set_member_id("MEM");
  r.set_benefit_code("OUTPATIENT");
  r.set_source_reference("claim-1");
  r.mutable_amount()->set_currency_code("PHP");
  r.mutable_amount()->set_amount_minor(1000);
  *r.mutable_service_date() = ToProto(CivilDay(2026, 3, 2));
  v1::Utilization same;
  same.set_member_id("MEM");
  same.set_benefit_code("OUTPATIENT");
  *same.mutable_amount() = r.amount();
  *same.mutable_service_date() = r.service_date();
  EXPECT_TRUE(RequireSameUtilization(same, r).ok());
  same.mutable_amount()->set_amount_minor(999);
  EXPECT_EQ(RequireSameUtilization(same, r).code(), absl::StatusCode::kAlreadyExists);

  EligibilityFacts f = CoveredMember();
  f.benefit->waiting_period_days = 0;
  EXPECT_EQ(*DecideUtilization(f, CivilDay(2026, 3, 2), 1000, "PHP", "MEM"), 1000);
  EXPECT_EQ(DecideUtilization(f, CivilDay(2026, 3, 2), 1000, "USD", "MEM").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto capped = DecideUtilization(f, CivilDay(2026, 3, 2), 30001, "PHP", "MEM");
  EXPECT_EQ(capped.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(capped.status().message().find("PER_VISIT_CAP_EXCEEDED"), std::string_view::npos);
  EligibilityFacts unknown;
  EXPECT_EQ(DecideUtilization(unknown, CivilDay(2026, 3, 2), 1000, "PHP", "MEM").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ReversalTest, AWholeReversalGivesBackWhatIsLeftAndAgainNothing) {
  auto d = DecideReversal({"PHP", 25000, 0}, std::nullopt);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->give_back_minor, 25000);
  EXPECT_EQ(d->remaining_after_minor, 0);
  EXPECT_TRUE(d->wholly_reversed);
  d = DecideReversal({"PHP", 25000, 10000}, std::nullopt);  // after a partial one: the rest
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->give_back_minor, 15000);
  EXPECT_EQ(d->reversed_after_minor, 25000);
  EXPECT_TRUE(d->wholly_reversed);
  d = DecideReversal({"PHP", 25000, 25000}, std::nullopt);  // wholly reversed already
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->give_back_minor, 0);
  EXPECT_TRUE(d->wholly_reversed);
}

TEST(ReversalTest, APartialReversalLeavesTheRestInForceUpToTheRemainder) {
  auto d = DecideReversal({"PHP", 25000, 0}, Money("PHP", 10000));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->give_back_minor, 10000);
  EXPECT_EQ(d->reversed_after_minor, 10000);
  EXPECT_EQ(d->remaining_after_minor, 15000);
  EXPECT_FALSE(d->wholly_reversed);
  d = DecideReversal({"PHP", 25000, 10000}, Money("PHP", 15000));  // exactly the remainder
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->remaining_after_minor, 0);
  EXPECT_TRUE(d->wholly_reversed);
}

TEST(ReversalTest, ARequestedAmountOutsideTheRulesIsRefusedNamingTheField) {
  auto d = DecideReversal({"PHP", 25000, 10000}, Money("PHP", 15001));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d.status().message(), "amount.amount_minor: must be at most the record's remaining un-reversed amount PHP 150.00");
  d = DecideReversal({"PHP", 25000, 25000}, Money("PHP", 1));
  EXPECT_EQ(d.status().message(), "amount.amount_minor: must be at most the record's remaining un-reversed amount PHP 0.00");
  d = DecideReversal({"PHP", 25000, 0}, Money("PHP", 0));
  EXPECT_EQ(d.status().message(), "amount.amount_minor: must be more than zero");
  d = DecideReversal({"PHP", 25000, 0}, Money("PHP", -5));
  EXPECT_EQ(d.status().message(), "amount.amount_minor: must be more than zero");
  d = DecideReversal({"PHP", 25000, 0}, Money("USD", 100));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d.status().message(), "amount.currency_code: must be the record's currency PHP");
}

TEST(LedgerTest, APartlyReversedEntryCountsOnlyItsUnreversedPart) {
  google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry> entries;
  for (auto [amount, reversed] : {std::pair<int64_t, int64_t>{20000, 5000}, {10000, 0}}) {
    v1::Utilization* u = entries.Add()->mutable_utilization();
    u->set_benefit_code("OUTPATIENT");
    *u->mutable_service_date() = ToProto(CivilDay(2026, 3, 1));
    u->mutable_amount()->set_amount_minor(amount);
    u->mutable_reversed_amount()->set_amount_minor(reversed);
  }
  FillRunningBalances({}, {{"OUTPATIENT", Outpatient()}}, "PHP", &entries);
  EXPECT_EQ(entries[0].used_in_year().amount_minor(), 15000);
  EXPECT_EQ(entries[0].remaining_limit().amount_minor(), 85000);
  EXPECT_EQ(entries[1].used_in_year().amount_minor(), 25000);
  EXPECT_EQ(entries[1].remaining_limit().amount_minor(), 75000);
}

TEST(LedgerTest, TheBalanceRunsPerBenefitAndYearAndSkipsReversedEntries) {
  google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry> entries;
  auto add = [&](const std::string& code, int year, int64_t amount, bool reversed) {
    v1::Utilization* u = entries.Add()->mutable_utilization();
    u->set_benefit_code(code);
    *u->mutable_service_date() = ToProto(CivilDay(year, 3, 1));
    u->mutable_amount()->set_amount_minor(amount);
    u->set_reversed(reversed);
  };
  add("OUTPATIENT", 2026, 20000, false);
  add("OUTPATIENT", 2026, 5000, true);
  add("ROOM", 2026, 70000, false);
  add("OUTPATIENT", 2027, 1000, false);
  add("GONE", 2026, 300, false);  // a benefit the member's plan no longer has
  std::map<std::string, BenefitTerms> terms = {{"OUTPATIENT", Outpatient()}};
  terms["ROOM"].code = "ROOM";
  terms["ROOM"].unlimited = true;
  FillRunningBalances({{{"OUTPATIENT", 2026}, 50000}}, terms, "PHP", &entries);
  EXPECT_EQ(entries[0].used_in_year().amount_minor(), 70000);
  EXPECT_EQ(entries[0].remaining_limit().amount_minor(), 30000);
  EXPECT_EQ(entries[1].used_in_year().amount_minor(), 70000);  // reversed: nothing
  EXPECT_TRUE(entries[2].unlimited());
  EXPECT_EQ(entries[2].remaining_limit().amount_minor(), 0);
  EXPECT_EQ(entries[3].used_in_year().amount_minor(), 1000);  // a new year
  EXPECT_EQ(entries[3].remaining_limit().amount_minor(), 99000);
  EXPECT_EQ(entries[4].used_in_year().amount_minor(), 300);
  EXPECT_FALSE(entries[4].unlimited());
  EXPECT_EQ(entries[4].remaining_limit().currency_code(), "PHP");
}

// ---------------------------------------------------------------- coverage periods

v1::Member Apply(const v1::Member& member, v1::MovementType type, CivilDay day, const std::string& new_plan = "") {
  v1::Movement mv = MovementOf(type, day);
  mv.set_new_plan_id(new_plan);
  auto out = ApplyMovementToMember(mv, OpenAccount(), member,
                                   type == v1::MOVEMENT_TYPE_PLAN_CHANGE ? std::optional(v1::PLAN_STATUS_ACTIVE)
                                                                         : std::nullopt, kToday);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : member;
}

std::string Periods(const v1::Member& m) {
  std::string out;
  for (const v1::CoveragePeriod& p : m.coverage()) {
    absl::StrAppend(&out, ToSqlDate(DayOf(p.effective_date())), "..",
                    p.has_end_date() ? ToSqlDate(DayOf(p.end_date())) : "", " ", p.plan_id(), ";");
  }
  return out;
}

TEST(CoveragePeriodTest, AReinstatementAfterALapseStartsANewPeriodAndTheGapStaysUncovered) {
  v1::Member m = Apply(CoveredFrom(CivilDay(2026, 2, 1)), v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 5, 1));
  m = Apply(m, v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 6, 1));
  EXPECT_EQ(Periods(m), "2026-02-01..2026-05-01 PLAN-1;2026-06-01.. PLAN-1;");
  EXPECT_EQ(m.status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_FALSE(m.has_termination_date());
  EXPECT_EQ(m.effective_date().month(), 2);  // coverage first started then: waiting periods count from it
  auto covered = [&](CivilDay day) { return CoveredOn(*PeriodAsOf(m.coverage(), day), day); };
  EXPECT_TRUE(covered(CivilDay(2026, 4, 30)));
  EXPECT_FALSE(covered(CivilDay(2026, 5, 1)));
  EXPECT_FALSE(covered(CivilDay(2026, 5, 31)));
  EXPECT_TRUE(covered(CivilDay(2026, 6, 1)));
  EXPECT_FALSE(covered(CivilDay(2026, 1, 31)));
  EXPECT_EQ(DayOf(PeriodAsOf(m.coverage(), CivilDay(2026, 1, 1))->effective_date()), CivilDay(2026, 2, 1));
  // Reinstated on the termination date itself: no gap, the period goes on.
  v1::Member same_day = Apply(CoveredFrom(CivilDay(2026, 2, 1)), v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 5, 1));
  same_day = Apply(same_day, v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 5, 1));
  EXPECT_EQ(Periods(same_day), "2026-02-01.. PLAN-1;");
}

TEST(CoveragePeriodTest, ADayInALapseIsNotCoveredForEligibility) {
  EligibilityFacts f = CoveredMember();
  f.period_start = CivilDay(2026, 1, 1);
  f.period_end = CivilDay(2026, 5, 1);  // the period answering for a day in the lapse: the last one begun
  EligibilityDecision d = DecideEligibility(f, CivilDay(2026, 5, 20), 100);
  EXPECT_EQ(Codes(d), std::vector{v1::MEMBER_NOT_ACTIVE});
  EXPECT_EQ(d.reasons[0].message, "coverage ended on 2026-05-01, on or before the service date 2026-05-20");
  // Waiting periods count from the first coverage day, not the period's start.
  f.period_start = CivilDay(2026, 6, 1);
  f.period_end.reset();
  f.coverage_start = CivilDay(2026, 1, 1);
  EXPECT_TRUE(DecideEligibility(f, CivilDay(2026, 6, 2), 100).eligible);
}

TEST(CoveragePeriodTest, APlanChangeTakesEffectOnItsDateAndIsShownAsScheduledUntilThen) {
  v1::Member m = Apply(CoveredFrom(CivilDay(2026, 2, 1)), v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 9, 1), "PLAN-2");
  EXPECT_EQ(Periods(m), "2026-02-01..2026-09-01 PLAN-1;2026-09-01.. PLAN-2;");
  EXPECT_EQ(m.plan_id(), "PLAN-2");  // the stored column: the last plan
  EXPECT_EQ(m.status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_EQ(PeriodAsOf(m.coverage(), CivilDay(2026, 8, 31))->plan_id(), "PLAN-1");
  EXPECT_EQ(PeriodAsOf(m.coverage(), CivilDay(2026, 9, 1))->plan_id(), "PLAN-2");

  v1::Member before = MemberAsOf(m, CivilDay(2026, 8, 22));
  EXPECT_EQ(before.plan_id(), "PLAN-1");
  ASSERT_TRUE(before.has_scheduled_plan_change());
  EXPECT_EQ(before.scheduled_plan_change().plan_id(), "PLAN-2");
  EXPECT_EQ(DayOf(before.scheduled_plan_change().effective_date()), CivilDay(2026, 9, 1));
  v1::Member after = MemberAsOf(m, CivilDay(2026, 9, 1));
  EXPECT_EQ(after.plan_id(), "PLAN-2");
  EXPECT_FALSE(after.has_scheduled_plan_change());

  // A plan change on the latest period's first day replaces its plan; one of a
  // member terminated later keeps the end on the new plan's period.
  v1::Member replaced = Apply(m, v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 9, 1), "PLAN-3");
  EXPECT_EQ(Periods(replaced), "2026-02-01..2026-09-01 PLAN-1;2026-09-01.. PLAN-3;");
  v1::Member ending = Apply(CoveredFrom(CivilDay(2026, 2, 1)), v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 12, 1));
  ending = Apply(ending, v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 10, 1), "PLAN-2");
  EXPECT_EQ(Periods(ending), "2026-02-01..2026-10-01 PLAN-1;2026-10-01..2026-12-01 PLAN-2;");
  EXPECT_EQ(ending.status(), v1::MEMBER_STATUS_TERMINATED);
  // A termination dated after today is scheduled: ACTIVE until its day.
  EXPECT_EQ(MemberAsOf(ending, CivilDay(2026, 11, 30)).status(), v1::MEMBER_STATUS_ACTIVE);
  EXPECT_EQ(MemberAsOf(ending, CivilDay(2026, 12, 1)).status(), v1::MEMBER_STATUS_TERMINATED);
}

TEST(CoveragePeriodTest, TheHistoryOnlyMovesForward) {
  v1::Member m = Apply(CoveredFrom(CivilDay(2026, 2, 1)), v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 9, 1), "PLAN-2");
  for (auto type : {v1::MOVEMENT_TYPE_TERMINATION, v1::MOVEMENT_TYPE_PLAN_CHANGE}) {
    absl::Status s = ValidateMovementDates(MovementOf(type, CivilDay(2026, 8, 1)), m);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_EQ(s.message(), "effective_date: must not be before the member's latest coverage period starts (2026-09-01)");
  }
  // A detail change is not about coverage: any day from the first one.
  EXPECT_TRUE(ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_DETAIL_CHANGE, CivilDay(2026, 8, 1)), m).ok());
  // No plan change on or after the day coverage ends.
  v1::Member ended = Apply(CoveredFrom(CivilDay(2026, 2, 1)), v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 5, 1));
  for (CivilDay day : {CivilDay(2026, 5, 1), CivilDay(2026, 6, 1)}) {
    absl::Status late = ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_PLAN_CHANGE, day), ended);
    EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(late.message(),
              "effective_date: the coverage of member 'MEM' ends on 2026-05-01; a plan change must take effect before "
              "that day");
  }
  EXPECT_TRUE(ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 4, 30)), ended).ok());
  // A reinstatement before the termination it undoes, and one after a lapse's
  // reinstatement that went before it, are refused.
  absl::Status early = ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 4, 30)), ended);
  EXPECT_EQ(early.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(early.message(), "effective_date: must not be before the termination it undoes (2026-05-01)");
  v1::Member back = Apply(ended, v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 7, 1));
  absl::Status end_in_lapse = ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 6, 1)), back);
  EXPECT_EQ(end_in_lapse.code(), absl::StatusCode::kInvalidArgument);
}

// Every history the movements and cancellations below can make: no period ends
// on or before the day it begins.
TEST(CoveragePeriodTest, NoMovementOrCancellationLeavesAPeriodCoveringNothing) {
  const v1::Member open = CoveredFrom(CivilDay(2026, 2, 1));
  const v1::Member changing = Apply(open, v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 9, 1), "PLAN-2");
  const v1::Member lapsed = Apply(Apply(open, v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 5, 1)),
                                  v1::MOVEMENT_TYPE_REINSTATEMENT, CivilDay(2026, 8, 1));
  for (const v1::Member& m : {open, changing, lapsed}) {
    EXPECT_TRUE(RequireProperCoverage(m.coverage()).ok()) << m.DebugString();
    for (int offset = -40; offset <= 260; offset += 10) {
      const CivilDay day = CivilDay(2026, 2, 1) + offset;
      std::vector<CoverageCut> cuts;
      const v1::Member cut = CancelMemberCoverage(m, day, &cuts);
      EXPECT_TRUE(RequireProperCoverage(cut.coverage()).ok()) << ToSqlDate(day) << " " << cut.DebugString();
      EXPECT_EQ(DayOf(cut.termination_date()) <= day, true) << ToSqlDate(day);
      // Withdrawing gives back exactly what there was.
      CoverageCuts recorded;
      for (const CoverageCut& c : cuts) recorded[c.period_start] = c;
      EXPECT_EQ(Spans(UncutCoverage(cut.coverage(), day, recorded)), Spans(CoverageOf(m))) << ToSqlDate(day);
    }
  }
  // A termination on the first day of the plan change's period withdraws the change.
  const v1::Member stopped = Apply(changing, v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 9, 1));
  EXPECT_EQ(Spans(stopped.coverage()), std::vector<std::string>{"2026-02-01..2026-09-01 PLAN-1"});
  EXPECT_EQ(stopped.plan_id(), "PLAN-1");
  EXPECT_EQ(DayOf(stopped.termination_date()), CivilDay(2026, 9, 1));
  // ... and on the first day of a reinstatement, the reinstatement.
  const v1::Member undone = Apply(lapsed, v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 8, 1));
  EXPECT_EQ(Spans(undone.coverage()), std::vector<std::string>{"2026-02-01..2026-05-01 PLAN-1"});
  // On the first day of a member's only period there is nothing to end.
  absl::Status first_day = ValidateMovementDates(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 2, 1)), open);
  EXPECT_EQ(first_day.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(first_day.message(),
            "effective_date: must be after the member's coverage starts (2026-02-01): a termination on its first day "
            "would cover nothing");
  auto applied = ApplyMovementToMember(MovementOf(v1::MOVEMENT_TYPE_TERMINATION, CivilDay(2026, 2, 1)), OpenAccount(),
                                       open, std::nullopt, kToday);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CoverageCutTest, ACancellationOnOrBeforeAScheduledPlanChangeWithdrawsItUntilTheCancellationIsWithdrawn) {
  const v1::Member changing =
      Apply(CoveredFrom(CivilDay(2026, 2, 1)), v1::MOVEMENT_TYPE_PLAN_CHANGE, CivilDay(2026, 9, 1), "PLAN-2");
  // Cancelled from the plan change's own day: the old plan runs until then, the new one never starts.
  std::vector<CoverageCut> cuts;
  const v1::Member cut = CancelMemberCoverage(changing, CivilDay(2026, 9, 1), &cuts);
  EXPECT_EQ(Spans(cut.coverage()), std::vector<std::string>{"2026-02-01..2026-09-01 PLAN-1"});
  EXPECT_EQ(cut.plan_id(), "PLAN-1");
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].period_start, CivilDay(2026, 9, 1));
  EXPECT_EQ(cuts[0].removed_plan_id, "PLAN-2");
  EXPECT_EQ(cuts[0].previous_end, std::nullopt);
  EXPECT_EQ(cuts[0].follows_end, CivilDay(2026, 9, 1));
  // Coverage that would only begin with the cancellation in force: none is left.
  std::vector<CoverageCut> all;
  const v1::Member never = CancelMemberCoverage(CoveredFrom(CivilDay(2026, 8, 1)), CivilDay(2026, 7, 1), &all);
  EXPECT_EQ(never.coverage_size(), 0);
  EXPECT_EQ(DayOf(never.effective_date()), CivilDay(2026, 8, 1));
  EXPECT_EQ(DayOf(never.termination_date()), CivilDay(2026, 7, 1));
  EXPECT_EQ(never.status(), v1::MEMBER_STATUS_TERMINATED);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].follows_end, std::nullopt);
  CoverageCuts recorded{{all[0].period_start, all[0]}};
  EXPECT_EQ(Spans(UncutCoverage(never.coverage(), CivilDay(2026, 7, 1), recorded)),
            std::vector<std::string>{"2026-08-01.. PLAN-1"});
  // A wrong history is caught before it is written.
  Coverage bad;
  *bad.Add() = Period(CivilDay(2026, 9, 1), CivilDay(2026, 9, 1), "PLAN-2");
  EXPECT_EQ(RequireProperCoverage(bad).code(), absl::StatusCode::kInternal);
  Coverage overlapping;
  *overlapping.Add() = Period(CivilDay(2026, 1, 1), CivilDay(2026, 3, 1), "PLAN-1");
  *overlapping.Add() = Period(CivilDay(2026, 2, 1), std::nullopt, "PLAN-2");
  EXPECT_EQ(RequireProperCoverage(overlapping).code(), absl::StatusCode::kInternal);
}

TEST(AccountAsOfTest, AFutureDatedTransitionIsScheduledUntilItsDay) {
  v1::ClientAccount stored = OpenAccount();  // columns: the last transition made
  stored.set_status(v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  *stored.mutable_status_effective_date() = ToProto(CivilDay(2026, 12, 12));
  stored.set_status_reason("past due");
  const std::vector<StatusChange> history = {
      {CivilDay(2026, 1, 1), v1::CLIENT_ACCOUNT_STATUS_ACTIVE, ""},
      {CivilDay(2026, 12, 12), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED, "past due"},
  };
  v1::ClientAccount today = AccountAsOf(stored, history, CivilDay(2026, 12, 2));
  EXPECT_EQ(today.status(), v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(DayOf(today.status_effective_date()), CivilDay(2026, 1, 1));
  EXPECT_EQ(today.status_reason(), "");
  ASSERT_EQ(today.scheduled_status_changes_size(), 1);
  EXPECT_EQ(today.scheduled_status_changes(0).status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(DayOf(today.scheduled_status_changes(0).effective_date()), CivilDay(2026, 12, 12));
  EXPECT_EQ(today.scheduled_status_changes(0).reason(), "past due");
  v1::ClientAccount on_the_day = AccountAsOf(stored, history, CivilDay(2026, 12, 12));
  EXPECT_EQ(on_the_day.status(), v1::CLIENT_ACCOUNT_STATUS_SUSPENDED);
  EXPECT_EQ(on_the_day.status_reason(), "past due");
  EXPECT_EQ(on_the_day.scheduled_status_changes_size(), 0);
  // Before the account starts it reads ACTIVE from its start.
  EXPECT_EQ(AccountAsOf(stored, {{CivilDay(2027, 1, 1), v1::CLIENT_ACCOUNT_STATUS_ACTIVE, ""}}, CivilDay(2026, 12, 2))
                .status(),
            v1::CLIENT_ACCOUNT_STATUS_ACTIVE);
}

TEST(LedgerTest, EachEntryIsJudgedByThePlanInForceOnItsServiceDate) {
  google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry> entries;
  for (int month : {3, 10}) {
    v1::Utilization* u = entries.Add()->mutable_utilization();
    u->set_benefit_code("OUTPATIENT");
    *u->mutable_service_date() = ToProto(CivilDay(2026, month, 1));
    u->mutable_amount()->set_amount_minor(10000);
  }
  std::map<std::string, BenefitTerms> old_plan = {{"OUTPATIENT", Outpatient()}};  // PHP 1000.00 a year
  std::map<std::string, BenefitTerms> new_plan = old_plan;
  new_plan["OUTPATIENT"].annual_limit_minor = 200000;
  FillRunningBalances(
      {}, [&](CivilDay day) -> const std::map<std::string, BenefitTerms>& {
        return day < CivilDay(2026, 9, 1) ? old_plan : new_plan;
      },
      "PHP", &entries);
  EXPECT_EQ(entries[0].remaining_limit().amount_minor(), 90000);
  EXPECT_EQ(entries[1].remaining_limit().amount_minor(), 180000);
}

TEST(EnumLabelTest, LabelsAreTheCodecNamesLowerCased) {
  EXPECT_EQ(EnumLabel(v1::MOVEMENT_TYPE_PLAN_CHANGE), "plan_change");
  EXPECT_EQ(EnumLabel(v1::CLIENT_ACCOUNT_TYPE_DIRECT_CLIENT), "direct_client");
  EXPECT_EQ(EnumLabel(v1::MEMBER_STATUS_TERMINATED), "terminated");
  EXPECT_EQ(EnumShortName(v1::CLIENT_ACCOUNT_STATUS_SUSPENDED), "SUSPENDED");
  EXPECT_EQ(EnumFromShortName<v1::MovementStatus>("REJECTED"), v1::MOVEMENT_STATUS_REJECTED);
}

}  // namespace decisions

}  // namespace
}  // namespace careops::membership
