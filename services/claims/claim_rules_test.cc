#include "services/claims/claim_rules.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace careops::claims {
namespace {

using S = ClaimStatus;
using A = ClaimAction;

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), absl::UTCTimeZone());
}

// The life cycle as the issue states it, written out independently of the
// rules' own table: every (status, action) pair not listed must be refused.
const std::map<std::pair<S, A>, S>& ExpectedLifeCycle() {
  static const auto* table = new std::map<std::pair<S, A>, S>{
      {{S::kSubmitted, A::kAssign}, S::kAssigned},
      {{S::kAssigned, A::kAssign}, S::kAssigned},
      {{S::kAssigned, A::kStartReview}, S::kInReview},
      {{S::kInReview, A::kRequestInfo}, S::kPendingInfo},
      {{S::kPendingInfo, A::kProvideInfo}, S::kInReview},
      {{S::kInReview, A::kApprove}, S::kApprovalPending},
      {{S::kInReview, A::kPartiallyApprove}, S::kApprovalPending},
      {{S::kInReview, A::kDeny}, S::kDenied},
      {{S::kAssigned, A::kEscalate}, S::kSubmitted},  // back in a queue: the next role's
      {{S::kInReview, A::kEscalate}, S::kInReview},
      {{S::kApproved, A::kSettle}, S::kSettled},
      {{S::kPartiallyApproved, A::kSettle}, S::kSettled},
      {{S::kSettled, A::kClose}, S::kClosed},
      {{S::kDenied, A::kClose}, S::kClosed},
      {{S::kRejected, A::kClose}, S::kClosed},
      {{S::kDenied, A::kReopen}, S::kInReview},
      {{S::kRejected, A::kReopen}, S::kInReview},
      {{S::kApproved, A::kReopen}, S::kInReview},
      {{S::kPartiallyApproved, A::kReopen}, S::kInReview},
      {{S::kClosed, A::kReopen}, S::kInReview},
      // Membership's answer to a pending claim (the outbox completion).
      {{S::kApprovalPending, A::kConfirmApproval}, S::kApproved},
      {{S::kApprovalPending, A::kRefuseApproval}, S::kInReview},
      {{S::kReopenPending, A::kConfirmReopen}, S::kInReview},
      {{S::kReopenPending, A::kRefuseReopen}, S::kApproved},
  };
  return *table;
}

TEST(LifeCycleTest, EveryLegalAndIllegalTransition) {
  int legal = 0, illegal = 0;
  for (S from : kAllClaimStatuses) {
    for (A action : kAllClaimActions) {
      auto next = NextStatus(from, action);
      auto it = ExpectedLifeCycle().find({from, action});
      SCOPED_TRACE(std::string(ClaimStatusName(from)) + " + " + std::string(ClaimActionName(action)));
      if (it != ExpectedLifeCycle().end()) {
        ASSERT_TRUE(next.ok()) << next.status();
        EXPECT_EQ(*next, it->second);
        ++legal;
      } else {
        ASSERT_FALSE(next.ok());
        EXPECT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition);
        // The message names the current status so the caller knows where the claim is.
        EXPECT_NE(next.status().message().find(std::string(ClaimStatusName(from))), std::string::npos)
            << next.status();
        ++illegal;
      }
    }
  }
  EXPECT_EQ(legal, 24);
  EXPECT_EQ(illegal, 12 * 15 - 24);
}

TEST(LifeCycleTest, IllegalTransitionMessageSaysWhatIsNeeded) {
  auto next = NextStatus(S::kSubmitted, A::kApprove);
  EXPECT_EQ(next.status().message(), "claim is SUBMITTED; approve needs IN_REVIEW");
}

TEST(LifeCycleTest, SettledThenClosedClaimCannotBeReopened) {
  Claim paid;
  paid.status = S::kClosed;
  paid.settled_at = Utc(2026, 3, 2);
  EXPECT_EQ(NextStatus(paid, A::kReopen).status().code(), absl::StatusCode::kFailedPrecondition);
  Claim denied_then_closed;
  denied_then_closed.status = S::kClosed;
  EXPECT_EQ(*NextStatus(denied_then_closed, A::kReopen), S::kInReview);
}

TEST(LifeCycleTest, APendingClaimRefusesEveryUserActionNamingItsStatus) {
  for (S pending : {S::kApprovalPending, S::kReopenPending}) {
    for (A action : {A::kSettle, A::kClose, A::kReopen, A::kDeny, A::kApprove, A::kEscalate, A::kAssign}) {
      auto next = NextStatus(pending, action);
      ASSERT_FALSE(next.ok());
      EXPECT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_NE(next.status().message().find(std::string(ClaimStatusName(pending)) + " (waiting for membership"),
                std::string::npos)
          << next.status();
    }
  }
}

TEST(LifeCycleTest, ConfirmedApprovalIsPartialWhenLessThanPayableWasApproved) {
  Claim c;
  c.status = S::kApprovalPending;
  c.amount_claimed = Money("PHP", 1250);  // a co-pay leaves 1000 payable
  c.payable = Money("PHP", 1000);
  c.amount_approved = Money("PHP", 1000);
  EXPECT_EQ(*NextStatus(c, A::kConfirmApproval), S::kApproved);
  c.amount_approved = Money("PHP", 400);
  EXPECT_EQ(*NextStatus(c, A::kConfirmApproval), S::kPartiallyApproved);
  EXPECT_EQ(*NextStatus(c, A::kRefuseApproval), S::kInReview);
  // A refused reopening puts the approval back as it was.
  c.status = S::kReopenPending;
  EXPECT_EQ(*NextStatus(c, A::kRefuseReopen), S::kPartiallyApproved);
  c.amount_approved = Money("PHP", 1000);
  EXPECT_EQ(*NextStatus(c, A::kRefuseReopen), S::kApproved);
  EXPECT_EQ(*NextStatus(c, A::kConfirmReopen), S::kInReview);
}

TEST(LifeCycleTest, ReopeningARecordedApprovalWaitsForMembership) {
  Claim c;
  c.status = S::kApproved;
  c.amount_claimed = c.amount_approved = Money("PHP", 1000);
  c.utilization_ref = "01CLAIM";
  EXPECT_EQ(*NextStatus(c, A::kReopen), S::kReopenPending);
  c.status = S::kPartiallyApproved;
  EXPECT_EQ(*NextStatus(c, A::kReopen), S::kReopenPending);
  c.utilization_ref.clear();  // nothing recorded: nothing to give back
  EXPECT_EQ(*NextStatus(c, A::kReopen), S::kInReview);
  c.status = S::kDenied;
  c.utilization_ref = "01CLAIM";
  EXPECT_EQ(*NextStatus(c, A::kReopen), S::kInReview);
}

TEST(LifeCycleTest, StageAndOpenPredicates) {
  EXPECT_TRUE(AwaitsMembership(S::kApprovalPending));
  EXPECT_TRUE(AwaitsMembership(S::kReopenPending));
  EXPECT_FALSE(AwaitsMembership(S::kApproved));
  EXPECT_FALSE(AwaitsDecision(S::kApprovalPending));
  EXPECT_FALSE(AwaitsSettlement(S::kApprovalPending));
  EXPECT_TRUE(IsOpen(S::kApprovalPending));
  EXPECT_TRUE(AwaitsDecision(S::kPendingInfo));
  EXPECT_FALSE(AwaitsDecision(S::kApproved));
  EXPECT_TRUE(AwaitsSettlement(S::kPartiallyApproved));
  EXPECT_FALSE(AwaitsSettlement(S::kSettled));
  EXPECT_FALSE(IsOpen(S::kClosed));
  EXPECT_TRUE(IsOpen(S::kRejected));
}

// ---- Authority -----------------------------------------------------------------

AuthorityChain DefaultChain() { return *AuthorityChain::Parse(AuthorityChain::DefaultText()); }

Claim ClaimFor(std::string currency, int64_t minor, std::string routed_role = "specialist") {
  Claim c;
  c.amount_claimed = Money(currency, minor);
  c.payable = c.amount_claimed;
  c.routed_role = std::move(routed_role);
  return c;
}

TEST(AuthorityTest, LimitsPerRoleAtTheBoundary) {
  AuthorityChain chain = DefaultChain();
  EXPECT_TRUE(chain.MayApprove("specialist", Money("PHP", 5000000)));
  EXPECT_FALSE(chain.MayApprove("specialist", Money("PHP", 5000001)));
  EXPECT_TRUE(chain.MayApprove("officer", Money("PHP", 20000000)));
  EXPECT_FALSE(chain.MayApprove("officer", Money("PHP", 20000001)));
  EXPECT_TRUE(chain.MayApprove("assistant_manager", Money("PHP", 100000000)));
  EXPECT_FALSE(chain.MayApprove("assistant_manager", Money("PHP", 100000001)));
  EXPECT_TRUE(chain.MayApprove("manager", Money("PHP", 999999999999)));
  EXPECT_FALSE(chain.MayApprove("account_officer", Money("PHP", 1)));
}

TEST(AuthorityTest, LimitsArePerCurrency) {
  auto chain = AuthorityChain::Parse("specialist:PHP=5000000,USD=100000;manager:unlimited");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(chain->MayApprove("specialist", Money("USD", 100000)));
  EXPECT_FALSE(chain->MayApprove("specialist", Money("USD", 100001)));
  // No limit listed for EUR: the specialist may not approve any EUR claim.
  EXPECT_FALSE(chain->MayApprove("specialist", Money("EUR", 1)));
  EXPECT_EQ(chain->LimitText("specialist", "EUR"), "none in EUR");
  EXPECT_EQ(chain->LimitText("specialist", "PHP"), "PHP 50000.00");
}

TEST(AuthorityTest, ParseRejectsBadChains) {
  EXPECT_FALSE(AuthorityChain::Parse("").ok());
  EXPECT_FALSE(AuthorityChain::Parse("specialist").ok());
  EXPECT_FALSE(AuthorityChain::Parse("specialist:XXX=1").ok());
  EXPECT_FALSE(AuthorityChain::Parse("specialist:PHP=-1").ok());
  EXPECT_FALSE(AuthorityChain::Parse("a:PHP=1;a:PHP=2").ok());
}

TEST(AuthorityTest, ApprovalAboveLimitIsPermissionDeniedNamingTheLimit) {
  AuthorityChain chain = DefaultChain();
  Claim claim = ClaimFor("PHP", 30000000);
  absl::Status s = CheckApprovalAuthority(chain, "specialist", claim);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("PHP 50000.00"), std::string::npos) << s;
  EXPECT_NE(s.message().find("PHP 300000.00"), std::string::npos) << s;
  EXPECT_EQ(CheckApprovalAuthority(chain, "officer", claim).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckApprovalAuthority(chain, "assistant_manager", claim).ok());
  EXPECT_TRUE(CheckApprovalAuthority(chain, "manager", claim).ok());
  // The limit is judged on the amount claimed: a partial approval of a claim
  // above the limit is refused like a full one (issue 10).
  claim.payable = Money("PHP", 30000000);
  absl::StatusOr<Money> part = AmountToApprove(claim, Money("PHP", 5000000));
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(CheckApprovalAuthority(chain, "specialist", claim).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckApprovalAuthority(chain, "collection_assistant", ClaimFor("PHP", 1)).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AuthorityTest, RoleBelowTheRoutedRoleMayNotApprove) {
  AuthorityChain chain = DefaultChain();
  Claim claim = ClaimFor("PHP", 100, "officer");
  EXPECT_EQ(CheckApprovalAuthority(chain, "specialist", claim).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckApprovalAuthority(chain, "officer", claim).ok());
  EXPECT_TRUE(CheckApprovalAuthority(chain, "manager", claim).ok());
}

TEST(PayableTest, CoPayCapAndRemainingLimitMakeThePlansShare) {
  const Money claimed("PHP", 1000000);  // PHP 10,000.00
  // 20% co-pay: the plan pays 8,000.00.
  EXPECT_EQ(*PayableAmount(claimed, {.copay_basis_points = 2000}), Money("PHP", 800000));
  // ... at most the per-visit cap,
  EXPECT_EQ(*PayableAmount(claimed, {.copay_basis_points = 2000, .per_visit_cap = Money("PHP", 500000)}),
            Money("PHP", 500000));
  // ... and at most what is left of the annual limit, whichever is lower.
  EXPECT_EQ(*PayableAmount(claimed, {.copay_basis_points = 2000,
                                     .per_visit_cap = Money("PHP", 500000),
                                     .remaining_limit = Money("PHP", 300000)}),
            Money("PHP", 300000));
  // No terms: the plan pays what was claimed. Rounding is half away from zero.
  EXPECT_EQ(*PayableAmount(claimed, {}), claimed);
  EXPECT_EQ(*PayableAmount(Money("PHP", 10001), {.copay_basis_points = 2000}), Money("PHP", 8001));
  EXPECT_EQ(*PayableAmount(claimed, {.copay_basis_points = 10000}), Money("PHP", 0));
  // A term in another currency is the claim's currency being wrong.
  absl::StatusOr<Money> usd = PayableAmount(Money("USD", 100), {.per_visit_cap = Money("PHP", 500000)});
  EXPECT_EQ(usd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(usd.status().message().rfind("amount_claimed", 0), 0u) << usd.status();
}

TEST(PayableTest, SharesFollowTheDecision) {
  Claim c = ClaimFor("PHP", 1000000);
  c.payable = Money("PHP", 800000);
  c.status = S::kInReview;
  EXPECT_EQ(PlanShare(c), Money("PHP", 800000));
  EXPECT_EQ(MemberShare(c), Money("PHP", 200000));
  c.status = S::kPartiallyApproved;
  c.amount_approved = Money("PHP", 600000);
  EXPECT_EQ(PlanShare(c), Money("PHP", 600000));
  EXPECT_EQ(MemberShare(c), Money("PHP", 400000));
  c.status = S::kDenied;
  c.amount_approved = Money("PHP", 0);
  EXPECT_EQ(PlanShare(c), Money("PHP", 0));
  EXPECT_EQ(MemberShare(c), Money("PHP", 1000000));
}

TEST(PayableTest, AnApprovalDefaultsToThePayableAmountAndNeverExceedsIt) {
  Claim c = ClaimFor("PHP", 1000000);
  c.payable = Money("PHP", 800000);
  EXPECT_EQ(*AmountToApprove(c, std::nullopt), Money("PHP", 800000));
  EXPECT_EQ(*AmountToApprove(c, Money("PHP", 800000)), Money("PHP", 800000));
  EXPECT_EQ(*AmountToApprove(c, Money("PHP", 1)), Money("PHP", 1));
  for (const Money& bad : {Money("PHP", 800001), Money("PHP", 0), Money("USD", 100)}) {
    absl::StatusOr<Money> refused = AmountToApprove(c, bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad.ToString();
    EXPECT_EQ(refused.status().message().rfind("approved_amount", 0), 0u) << refused.status();
  }
  c.payable = Money("PHP", 0);
  EXPECT_EQ(AmountToApprove(c, std::nullopt).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AuthorityTest, EscalationGoesOneRoleUpAndStopsAtTheTop) {
  AuthorityChain chain = DefaultChain();
  EXPECT_EQ(*chain.NextRole("specialist"), "officer");
  EXPECT_EQ(*chain.NextRole("officer"), "assistant_manager");
  EXPECT_EQ(*chain.NextRole("assistant_manager"), "manager");
  EXPECT_EQ(chain.NextRole("manager").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(chain.NextRole("analyst").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AuthorityTest, AutoRoutingSendsLargeClaimsToARoleThatMayApprove) {
  AuthorityChain chain = DefaultChain();
  auto thresholds = ParseAutoRouteThresholds("PHP=100000000");
  ASSERT_TRUE(thresholds.ok());
  // At or below the threshold: the lowest role's queue, escalated by hand.
  EXPECT_EQ(RouteOnSubmit(chain, *thresholds, Money("PHP", 30000000)), "specialist");
  EXPECT_EQ(RouteOnSubmit(chain, *thresholds, Money("PHP", 100000000)), "specialist");
  // Above it: the lowest role whose limit covers the amount.
  EXPECT_EQ(RouteOnSubmit(chain, *thresholds, Money("PHP", 100000001)), "manager");
  auto low = ParseAutoRouteThresholds("PHP=5000000");
  EXPECT_EQ(RouteOnSubmit(chain, *low, Money("PHP", 6000000)), "officer");
  EXPECT_EQ(RouteOnSubmit(chain, *low, Money("PHP", 30000000)), "assistant_manager");
  // No threshold for the currency: never auto-routed.
  EXPECT_EQ(RouteOnSubmit(chain, *low, Money("USD", 999999999)), "specialist");
  EXPECT_FALSE(ParseAutoRouteThresholds("PHP").ok());
}

// ---- TAT -------------------------------------------------------------------------

TEST(TatTest, DueTimesCountBusinessDaysOnly) {
  TatTargets tat;  // 5 business days to decide, 10 to settle
  // Friday 10:00: five business days later is the next Friday 10:00; ten is two weeks on.
  EXPECT_EQ(tat.DecisionDue(Utc(2026, 11, 20, 10)), Utc(2026, 11, 27, 10));
  EXPECT_EQ(tat.SettlementDue(Utc(2026, 11, 20, 10)), Utc(2026, 12, 4, 10));
  // Work arriving on a Saturday counts from Monday 00:00.
  EXPECT_EQ(tat.DecisionDue(Utc(2026, 11, 21, 15)), Utc(2026, 11, 30, 0));
}

TEST(TatTest, ConfiguredHolidaysDoNotCount) {
  TatTargets tat{.decision_business_days = 5,
                 .settlement_business_days = 1,
                 .calendar = BusinessCalendar({absl::CivilDay(2026, 11, 25), absl::CivilDay(2026, 12, 25)})};
  // Wednesday 25 November is a holiday: Friday + 5 lands on Monday.
  EXPECT_EQ(tat.DecisionDue(Utc(2026, 11, 20, 10)), Utc(2026, 11, 30, 10));
  // Approved Thursday 24 December: Christmas is skipped, settlement due Monday.
  EXPECT_EQ(tat.SettlementDue(Utc(2026, 12, 24, 9)), Utc(2026, 12, 28, 9));
}

// ---- Duplicates --------------------------------------------------------------------

Claim Live(std::string id, S status = S::kSubmitted) {
  Claim c;
  c.claim_id = std::move(id);
  c.member_id = "M1";
  c.benefit_code = "OUTPATIENT";
  c.provider_id = "P1";
  c.service_date = absl::CivilDay(2026, 3, 2);
  c.amount_claimed = Money("PHP", 150000);
  c.status = status;
  return c;
}

TEST(DuplicateTest, SameMemberBenefitProviderDateAndAmountIsFlagged) {
  Claim incoming = Live("NEW");
  EXPECT_EQ(FindLikelyDuplicate(incoming, {Live("OLD")}), std::optional<std::string>("OLD"));
  EXPECT_EQ(FindLikelyDuplicate(incoming, {Live("OLD", S::kSettled)}), std::optional<std::string>("OLD"));
}

TEST(DuplicateTest, AnyDifferenceOrADeadClaimIsNotADuplicate) {
  Claim incoming = Live("NEW");
  auto with = [](auto change) {
    Claim c = Live("OLD");
    change(c);
    return c;
  };
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {with([](Claim& c) { c.member_id = "M2"; })}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {with([](Claim& c) { c.benefit_code = "DENTAL"; })}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {with([](Claim& c) { c.provider_id = "P2"; })}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {with([](Claim& c) { c.service_date += 1; })}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {with([](Claim& c) { c.amount_claimed = Money("PHP", 150001); })}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {with([](Claim& c) { c.amount_claimed = Money("USD", 150000); })}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {Live("OLD", S::kRejected)}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {Live("OLD", S::kDenied)}));
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {Live("NEW")}));  // itself
  EXPECT_FALSE(FindLikelyDuplicate(incoming, {}));
}

// ---- Investigations ------------------------------------------------------------------

TEST(InvestigationTest, FlagOpenFindingsClose) {
  using I = InvestigationStatus;
  using IA = InvestigationAction;
  EXPECT_EQ(*NextInvestigationStatus(I::kFlagged, IA::kOpen), I::kOpen);
  EXPECT_EQ(*NextInvestigationStatus(I::kOpen, IA::kRecordFindings), I::kFindingsRecorded);
  EXPECT_EQ(*NextInvestigationStatus(I::kFindingsRecorded, IA::kRecordFindings), I::kFindingsRecorded);
  EXPECT_EQ(*NextInvestigationStatus(I::kFindingsRecorded, IA::kClose), I::kClosed);
  EXPECT_EQ(NextInvestigationStatus(I::kOpen, IA::kClose).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(NextInvestigationStatus(I::kFlagged, IA::kRecordFindings).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(NextInvestigationStatus(I::kClosed, IA::kOpen).status().code(), absl::StatusCode::kFailedPrecondition);
}

// ---- Adjustments -----------------------------------------------------------------

// A settled claim: PHP 10,000.00 claimed, 20% co-pay, PHP 8,000.00 approved and paid.
Claim SettledOriginal() {
  Claim c = ClaimFor("PHP", 1000000);
  c.claim_id = "orig";
  c.type = kTypeClaim;
  c.copay_basis_points = 2000;
  c.payable = Money("PHP", 800000);
  c.amount_approved = Money("PHP", 800000);
  c.utilization_ref = "orig";
  c.status = S::kSettled;
  c.decided_at = Utc(2026, 3, 2);
  c.settled_at = Utc(2026, 3, 3);
  return c;
}

Claim AdjustmentOf(const Claim& original, std::string id, int64_t minor, S status) {
  Claim a = ClaimFor("PHP", minor);
  a.claim_id = std::move(id);
  a.type = kTypeAdjustment;
  a.original_claim_id = original.claim_id;
  a.status = status;
  if (AdjustmentStands(a)) {
    a.amount_approved = a.amount_claimed;
    if (minor > 0) a.utilization_ref = a.claim_id;
  }
  return a;
}

TEST(AdjustmentTest, OnlyASettledOriginalThatIsNoAdjustmentMayBeAdjusted) {
  Claim original = SettledOriginal();
  EXPECT_TRUE(CheckAdjustment(original, BookOf(original, {}), Money("PHP", -100)).ok());
  Claim approved = original;
  approved.status = S::kApproved;
  approved.settled_at.reset();
  absl::Status s = CheckAdjustment(approved, BookOf(approved, {}), Money("PHP", -100));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("is APPROVED"), std::string::npos) << s;
  Claim closed = original;
  closed.status = S::kClosed;
  EXPECT_TRUE(CheckAdjustment(closed, BookOf(closed, {}), Money("PHP", -100)).ok());
  Claim denied_closed = closed;
  denied_closed.settled_at.reset();
  EXPECT_EQ(CheckAdjustment(denied_closed, BookOf(denied_closed, {}), Money("PHP", -100)).code(),
            absl::StatusCode::kFailedPrecondition);
  Claim adjustment = AdjustmentOf(original, "adj1", 100, S::kSettled);
  adjustment.settled_at = Utc(2026, 3, 4);
  s = CheckAdjustment(adjustment, BookOf(adjustment, {}), Money("PHP", -50));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("is an ADJUSTMENT; adjust its original claim orig"), std::string::npos) << s;
}

TEST(AdjustmentTest, CurrencyMustBeTheOriginalsAndOneAdjustmentIsOpenAtATime) {
  Claim original = SettledOriginal();
  absl::Status s = CheckAdjustment(original, BookOf(original, {}), Money("USD", 100));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("amount_claimed.currency_code"), std::string::npos) << s;
  for (S open : {S::kSubmitted, S::kInReview, S::kApprovalPending}) {
    AdjustmentBook book = BookOf(original, {AdjustmentOf(original, "adj1", -100, open)});
    EXPECT_EQ(book.open_adjustment, "adj1");
    EXPECT_EQ(CheckAdjustment(original, book, Money("PHP", -100)).code(), absl::StatusCode::kFailedPrecondition);
  }
  AdjustmentBook after_denial = BookOf(original, {AdjustmentOf(original, "adj1", -100, S::kDenied)});
  EXPECT_EQ(after_denial.open_adjustment, "");
  EXPECT_EQ(after_denial.paid_net, Money("PHP", 800000));
}

TEST(AdjustmentTest, AClawBackIsAtMostWhatWasPaidNetOfEarlierAdjustments) {
  Claim original = SettledOriginal();
  // Paid 8,000.00, then clawed back 3,000.00: 5,000.00 left to claw back.
  Claim first = AdjustmentOf(original, "adj1", -300000, S::kSettled);
  first.clawback_refs = {"orig"};
  first.clawback_rest_minor = 500000;
  first.clawback_given = 1;
  first.clawback_rest_recorded = true;
  first.utilization_ref = "adj1";
  AdjustmentBook book = BookOf(original, {first});
  EXPECT_EQ(book.paid_net, Money("PHP", 500000));
  EXPECT_TRUE(CheckAdjustment(original, book, Money("PHP", -500000)).ok());
  absl::Status s = CheckAdjustment(original, book, Money("PHP", -500001));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message().rfind("amount_claimed: claws back PHP 5000.01, more than the PHP 5000.00 paid", 0), 0u) << s;
}

TEST(AdjustmentTest, APositiveAdjustmentStaysWithinThePlansRulesForTheOriginal) {
  Claim original = SettledOriginal();  // at most 8,000.00 (10,000.00 less 20% co-pay)
  original.amount_approved = Money("PHP", 700000);
  AdjustmentBook book = BookOf(original, {});
  EXPECT_TRUE(CheckAdjustment(original, book, Money("PHP", 100000)).ok());
  absl::Status s = CheckAdjustment(original, book, Money("PHP", 100001));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message().rfind("amount_claimed:", 0), 0u) << s;
  original.per_visit_cap = Money("PHP", 750000);
  EXPECT_EQ(CheckAdjustment(original, BookOf(original, {}), Money("PHP", 50001)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckAdjustment(original, BookOf(original, {}), Money("PHP", 50000)).ok());
}

TEST(AdjustmentTest, WhatMembershipHoldsOfAClawBackFollowsItsProgress) {
  Claim a = AdjustmentOf(SettledOriginal(), "adj1", -100, S::kApprovalPending);
  a.clawback_refs = {"orig", "adj0"};
  a.clawback_rest_minor = 500;
  a.utilization_ref = "adj1";
  EXPECT_TRUE(ClawbackGivenBack(a).empty());
  EXPECT_FALSE(ClawbackRestHeld(a));
  a.clawback_rest_recorded = true;
  EXPECT_TRUE(ClawbackRestHeld(a));
  a.clawback_given = 1;
  EXPECT_EQ(std::vector<std::string>(ClawbackGivenBack(a).begin(), ClawbackGivenBack(a).end()),
            std::vector<std::string>{"orig"});
  a.clawback_given = 5;  // never more than it lists
  EXPECT_EQ(ClawbackGivenBack(a).size(), 2u);
  a.clawback_rest_minor = 0;  // a claw-back of whole records holds no rest
  EXPECT_FALSE(ClawbackRestHeld(a));
  EXPECT_EQ(UtilizationReference("c1", 1), "c1");
  EXPECT_EQ(UtilizationReference("c1", 3), "c1/3");
}

TEST(AdjustmentTest, TheBookMirrorsMembershipsLiveRecords) {
  Claim original = SettledOriginal();  // record "orig" 8,000.00
  Claim plus = AdjustmentOf(original, "adj1", 100000, S::kApproved);  // record "adj1" 1,000.00
  Claim minus = AdjustmentOf(original, "adj2", -200000, S::kSettled);  // gives back "orig", records 6,000.00
  minus.clawback_refs = {"orig"};
  minus.clawback_rest_minor = 600000;
  minus.clawback_given = 1;
  minus.clawback_rest_recorded = true;
  minus.utilization_ref = "adj2";
  AdjustmentBook book = BookOf(original, {plus, minus});
  EXPECT_EQ(book.paid_net, Money("PHP", 700000));
  ASSERT_EQ(book.live.size(), 2u);
  EXPECT_EQ(book.live[0].ref, "adj1");
  EXPECT_EQ(book.live[1].ref, "adj2");
  EXPECT_EQ(book.live[1].amount, Money("PHP", 600000));
  // A claw-back from before V006 whose rest was refused gave its record back
  // all the same; one still on its way has given back nothing yet.
  Claim refused = AdjustmentOf(original, "adj3", -100, S::kInReview);
  refused.clawback_refs = {"adj2"};
  refused.clawback_given = 1;
  book = BookOf(original, {plus, minus, refused});
  ASSERT_EQ(book.live.size(), 1u);
  EXPECT_EQ(book.live[0].ref, "adj1");
  refused.clawback_given = 0;
  refused.status = S::kApprovalPending;
  EXPECT_EQ(BookOf(original, {plus, minus, refused}).live.size(), 2u);
}

TEST(AdjustmentTest, AClawBackGivesBackTheSmallestRecordThatCoversItAndRecordsTheRest) {
  Claim original = SettledOriginal();
  Claim plus = AdjustmentOf(original, "adj1", 100000, S::kSettled);
  AdjustmentBook book = BookOf(original, {plus});
  // 500.00: the smaller record (adj1, 1,000.00) covers it; 500.00 is recorded again.
  absl::StatusOr<Clawback> plan = PlanClawback(book, Money("PHP", -50000));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->give_back_refs, std::vector<std::string>{"adj1"});
  EXPECT_EQ(plan->rest, Money("PHP", 50000));
  // 3,000.00: only the original's record covers it.
  plan = PlanClawback(book, Money("PHP", -300000));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->give_back_refs, std::vector<std::string>{"orig"});
  EXPECT_EQ(plan->rest, Money("PHP", 500000));
  // All of it: nothing to record again.
  plan = PlanClawback(book, Money("PHP", -800000));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->rest, Money("PHP", 0));
  // 8,500.00: no single record covers it; both are given back and 500.00 recorded again.
  plan = PlanClawback(book, Money("PHP", -850000));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->give_back_refs, (std::vector<std::string>{"orig", "adj1"}));
  EXPECT_EQ(plan->rest, Money("PHP", 50000));
}

TEST(AdjustmentTest, AClawBackTakesTheSmallestRecordThatCoversItElseTheFewestRecords) {
  Claim original = SettledOriginal();  // "orig" 8,000.00
  Claim a1 = AdjustmentOf(original, "adj1", 300000, S::kSettled);
  Claim a2 = AdjustmentOf(original, "adj2", 200000, S::kSettled);
  Claim a3 = AdjustmentOf(original, "adj3", 300000, S::kSettled);
  AdjustmentBook book = BookOf(original, {a1, a2, a3});
  // 2,500.00: adj1 and adj3 (3,000.00) cover it, the newest of them is taken; not orig.
  absl::StatusOr<Clawback> plan = PlanClawback(book, Money("PHP", -250000));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->give_back_refs, std::vector<std::string>{"adj3"});
  EXPECT_EQ(plan->rest, Money("PHP", 50000));
  // 12,000.00 of 16,000.00: orig, then the newest 3,000.00, then the other.
  plan = PlanClawback(book, Money("PHP", -1200000));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->give_back_refs, (std::vector<std::string>{"orig", "adj3", "adj1"}));
  EXPECT_EQ(plan->rest, Money("PHP", 200000));
  // Everything: every record, nothing to record again.
  plan = PlanClawback(book, Money("PHP", -1600000));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->give_back_refs.size(), 4u);
  EXPECT_EQ(plan->rest, Money("PHP", 0));
  // More records than one claw-back gives back: what they cover is named.
  std::vector<Claim> many;
  for (int i = 0; i < kMaxClawbackRecords + 2; ++i) {
    many.push_back(AdjustmentOf(original, absl::StrCat("adj", 10 + i), 1000, S::kSettled));
  }
  Claim small = original;
  small.amount_approved = Money("PHP", 1000);
  small.utilization_ref = "orig";
  plan = PlanClawback(BookOf(small, many), Money("PHP", -(kMaxClawbackRecords + 1) * 1000));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plan.status().message().rfind("amount_claimed: claws back PHP 170.00; the 16 largest", 0), 0u)
      << plan.status();
  EXPECT_NE(plan.status().message().find("cover only PHP 160.00"), std::string::npos) << plan.status();
}

TEST(AdjustmentTest, AuthorityIsJudgedOnTheAbsoluteAmountAndTheWholeAmountIsApproved) {
  AuthorityChain chain = DefaultChain();  // specialist: PHP 50,000.00
  Claim a = AdjustmentOf(SettledOriginal(), "adj1", -5000001, S::kInReview);
  EXPECT_EQ(AuthorityAmount(a), Money("PHP", 5000001));
  EXPECT_EQ(CheckApprovalAuthority(chain, "specialist", a).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckApprovalAuthority(chain, "officer", a).ok());
  a.amount_claimed = a.payable = Money("PHP", -5000000);
  EXPECT_TRUE(CheckApprovalAuthority(chain, "specialist", a).ok());
  EXPECT_EQ(*AmountToApprove(a, std::nullopt), Money("PHP", -5000000));
  EXPECT_EQ(AmountToApprove(a, Money("PHP", -100)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MemberShare(a), Money("PHP", 0));
  EXPECT_EQ(PlanShare(a), Money("PHP", -5000000));
}

TEST(AdjustmentTest, NeitherASettledClaimNorAnAdjustmentIsReopened) {
  Claim original = SettledOriginal();
  absl::Status s = NextStatus(original, A::kReopen).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("SubmitClaim type ADJUSTMENT, original_claim_id orig"), std::string::npos) << s;
  Claim denied = AdjustmentOf(original, "adj1", 100, S::kDenied);
  EXPECT_EQ(NextStatus(denied, A::kReopen).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace careops::claims
