// The claims business rules, pure and clock-free so that every rule has a unit
// test: the claim life cycle (which action moves which status where), the
// authority chain (who may approve how much, and who is next up), routing of
// large claims at submission, TAT due times in business days, and duplicate
// detection. Nothing here touches the database, the network or the wall clock.
//
// Answers are statuses a caller can act on: FAILED_PRECONDITION names the
// claim's current status and what the action needs; PERMISSION_DENIED names the
// role, its limit and the amount.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/business_days.h"
#include "common/money.h"
#include "services/claims/claim.h"

namespace careops::claims {

// ---- Life cycle -------------------------------------------------------------

enum class ClaimAction {
  kAssign,            // SUBMITTED, ASSIGNED -> ASSIGNED
  kStartReview,       // ASSIGNED -> IN_REVIEW
  kRequestInfo,       // IN_REVIEW -> PENDING_INFO
  kProvideInfo,       // PENDING_INFO -> IN_REVIEW
  kApprove,           // IN_REVIEW -> APPROVAL_PENDING (full amount)
  kPartiallyApprove,  // IN_REVIEW -> APPROVAL_PENDING (less than claimed)
  kDeny,              // IN_REVIEW -> DENIED
  kEscalate,          // next role up: ASSIGNED -> SUBMITTED (unassigned, in that role's queue);
                      // IN_REVIEW -> IN_REVIEW (any of that role may decide it)
  kSettle,            // APPROVED, PARTIALLY_APPROVED -> SETTLED
  kClose,             // SETTLED, DENIED, REJECTED -> CLOSED
  kReopen,            // DENIED, REJECTED, CLOSED -> IN_REVIEW; APPROVED, PARTIALLY_APPROVED
                      // -> REOPEN_PENDING when a utilisation is to be given back, else IN_REVIEW
  // Membership's answer to a pending claim's intent (the outbox completion):
  kConfirmApproval,   // APPROVAL_PENDING -> APPROVED / PARTIALLY_APPROVED (by the amount approved)
  kRefuseApproval,    // APPROVAL_PENDING -> IN_REVIEW
  kConfirmReopen,     // REOPEN_PENDING -> IN_REVIEW
  kRefuseReopen,      // REOPEN_PENDING -> APPROVED / PARTIALLY_APPROVED (as it was)
};
inline constexpr ClaimAction kAllClaimActions[] = {
    ClaimAction::kAssign, ClaimAction::kStartReview, ClaimAction::kRequestInfo,
    ClaimAction::kProvideInfo, ClaimAction::kApprove, ClaimAction::kPartiallyApprove,
    ClaimAction::kDeny, ClaimAction::kEscalate, ClaimAction::kSettle,
    ClaimAction::kClose, ClaimAction::kReopen, ClaimAction::kConfirmApproval,
    ClaimAction::kRefuseApproval, ClaimAction::kConfirmReopen, ClaimAction::kRefuseReopen};

// "assign", "start_review", ... (history and audit use these).
std::string_view ClaimActionName(ClaimAction a);

// History lines that are not a ClaimAction. Every history action is one of
// these or a ClaimActionName, and each is a value of the proto's
// ClaimEventAction (its name in upper case).
inline constexpr char kEventSubmit[] = "submit";
inline constexpr char kEventDecisionBreach[] = "decision_tat_breach";
inline constexpr char kEventSettlementBreach[] = "settlement_tat_breach";
inline constexpr char kEventFlagNonConformance[] = "flag_non_conformance";
inline constexpr char kEventReconcileRepair[] = "reconcile_repair";
inline constexpr char kEventClawbackGivenBack[] = "clawback_given_back";
inline constexpr char kEventClawbackRestRecorded[] = "clawback_rest_recorded";
inline constexpr char kEventClawbackGiveBackRefused[] = "clawback_give_back_refused";
inline constexpr const char* kOtherClaimEvents[] = {kEventSubmit, kEventDecisionBreach, kEventSettlementBreach,
                                                    kEventFlagNonConformance, kEventReconcileRepair,
                                                    kEventClawbackGivenBack, kEventClawbackRestRecorded,
                                                    kEventClawbackGiveBackRefused};

// The status `action` moves a claim in `from` to; FAILED_PRECONDITION naming the
// current status and the statuses the action accepts otherwise.
absl::StatusOr<ClaimStatus> NextStatus(ClaimStatus from, ClaimAction action);

// NextStatus plus the rules that need more of the claim than its status: a
// CLOSED claim that was settled cannot be reopened (its money has been paid);
// reopening an approval with a recorded utilisation waits for membership to give
// it back (REOPEN_PENDING); a confirmed approval, or a refused reopening, is
// PARTIALLY_APPROVED when less than the payable amount was approved; an
// adjustment whose claw-back membership holds in part is not denied.
absl::StatusOr<ClaimStatus> NextStatus(const Claim& claim, ClaimAction action);

// Waiting for membership: APPROVAL_PENDING or REOPEN_PENDING.
bool AwaitsMembership(ClaimStatus s);

// Stamps a decision made at `now` on `c`; true when it is late and no breach
// scan had marked it yet (so it counts as a breach now, once).
bool StampDecision(Claim& c, absl::Time now);

// Statuses a claim can still be decided in (the decision TAT runs).
bool AwaitsDecision(ClaimStatus s);
// Approved and not yet settled (the settlement TAT runs).
bool AwaitsSettlement(ClaimStatus s);
// Not CLOSED: what the careops_claims_open gauge counts.
bool IsOpen(ClaimStatus s);

// ---- What a claim pays -----------------------------------------------------------

// The plan's terms for a claim's benefit on its service date (membership's
// CheckEligibility at screening).
struct PlanTerms {
  int copay_basis_points = 0;            // the member's share, 0..10000
  std::optional<Money> per_visit_cap;    // unset: none
  std::optional<Money> remaining_limit;  // unset: unlimited
};

// What the plan pays for `claimed` approved in full: the amount less the
// co-pay (copay_basis_points of it, rounded half away from zero), at most the
// per-visit cap and at most the remaining limit. INVALID_ARGUMENT naming
// amount_claimed when a term is in another currency.
absl::StatusOr<Money> PayableAmount(const Money& claimed, const PlanTerms& terms);

// The plan's share of `c`: amount_approved once approved (also while membership
// confirms it, and after settlement), zero when it was denied or rejected or
// closed without approval, the payable amount while it is undecided.
Money PlanShare(const Claim& c);
// amount_claimed - PlanShare(c): what the member pays.
Money MemberShare(const Claim& c);

// The amount an approval of `c` approves: `requested`, or the payable amount
// when none is given. INVALID_ARGUMENT naming approved_amount when it is in
// another currency, not above zero, or above the payable amount;
// FAILED_PRECONDITION when nothing is payable (deny the claim instead).
absl::StatusOr<Money> AmountToApprove(const Claim& c, const std::optional<Money>& requested);

// ---- Adjustments ---------------------------------------------------------------
//
// A settled claim is corrected by an ADJUSTMENT claim naming it (the original):
// a signed amount, positive when the plan pays more, negative when it claws
// back. An original and its adjustments are its family. Membership records only
// positive amounts and gives back only whole records, so the family's
// utilisation is a set of live records: the original's approval, one per
// positive adjustment, and for a claw-back the records it gave back replaced by
// the rest (those records less the claw-back), when there is any.

// Whether the adjustment `a` stands: approved (also unsettled) and not undone.
bool AdjustmentStands(const Claim& a);

// One utilisation record the family holds in membership.
struct LiveRecord {
  std::string ref;  // source_reference
  Money amount;
};

// What a family amounts to, from the original and its adjustments in claim_id
// order.
struct AdjustmentBook {
  Money paid_net;                // the original's amount approved plus every standing adjustment
  std::vector<LiveRecord> live;  // oldest first
  std::string open_adjustment;   // an adjustment not decided yet ("" when none)
};
AdjustmentBook BookOf(const Claim& original, const std::vector<Claim>& adjustments);

// Whether an adjustment of `amount` may be submitted against `original`:
// FAILED_PRECONDITION when the original is not settled (SETTLED, or CLOSED after
// settlement), is an adjustment itself, or has an undecided adjustment;
// INVALID_ARGUMENT naming amount_claimed.currency_code for another currency;
// FAILED_PRECONDITION naming amount_claimed when a claw-back exceeds paid_net,
// or a positive amount would take paid_net above what the plan's rules allow
// for the original (amount claimed less co-pay, at most the per-visit cap).
absl::Status CheckAdjustment(const Claim& original, const AdjustmentBook& book, const Money& amount);

// How a claw-back of `amount` (negative) is counted in membership: live
// records of the family are given back and what they hold beyond the claw-back
// (the rest) is recorded again. The smallest record that covers it, so the
// rest is the least; when none does, as few records as cover it, largest
// first, at most kMaxClawbackRecords. FAILED_PRECONDITION naming amount_claimed
// when those do not cover it (what they cover is in the message).
inline constexpr int kMaxClawbackRecords = 16;  // V006: clawback_ref holds 16 references
struct Clawback {
  std::vector<std::string> give_back_refs;  // in the order they are given back
  Money rest;                               // zero: nothing to record again
};
absl::StatusOr<Clawback> PlanClawback(const AdjustmentBook& book, const Money& amount);

// An approved (or approving) claw-back: an adjustment with records to give back.
bool IsClawback(const Claim& c);
// Membership holds part of c's claw-back (a record given back or the rest
// recorded): c must be approved again to finish it, never denied.
bool ClawbackPartlyHeld(const Claim& c);

// What of c's claw-back membership holds now, the one reading BookOf and
// reconciliation share: the records it has given back (the first
// clawback_given of clawback_refs), and whether its rest is live under
// utilization_ref.
std::span<const std::string> ClawbackGivenBack(const Claim& c);
bool ClawbackRestHeld(const Claim& c);

// A claw-back's next step in membership. The order makes a refusal harmless:
// the rest is recorded first, because recording is the only step membership
// can refuse (a limit, the member's coverage on the service date) and at that
// point nothing is applied yet; then each record is given back, which
// membership refuses only for a record it does not hold (NOT_FOUND: the ledger
// does not count it either way). A claw-back from before V006 gave its record
// back first and records its rest after.
enum class ClawbackStep { kRecordRest, kGiveBack, kDone };
ClawbackStep NextClawbackStep(const Claim& c);

// The membership reference of a claim's approval number `seq`: the claim id for
// the first, then "<claim id>/<seq>" (a new one per approval, so a refused or
// reopened approval's reference is never reused).
std::string UtilizationReference(const std::string& claim_id, int seq);

// The amount an approval's authority is judged on: the amount claimed, its
// absolute value for an adjustment.
Money AuthorityAmount(const Claim& c);

// ---- Authority chain -----------------------------------------------------------

// One role of the chain and what it may approve: an amount per currency in minor
// units, or anything. A currency with no limit listed may not be approved.
struct AuthorityLevel {
  std::string role;
  bool unlimited = false;
  std::map<std::string, int64_t, std::less<>> limits;  // currency -> minor units
};

class AuthorityChain {
 public:
  // Lowest role first, ';' between roles, ',' between currencies:
  //   "specialist:PHP=5000000,USD=100000;officer:PHP=20000000;manager:unlimited"
  // INVALID_ARGUMENT naming the bad part.
  static absl::StatusOr<AuthorityChain> Parse(std::string_view text);
  // specialist 50,000.00 < officer 200,000.00 < assistant_manager 1,000,000.00 <
  // manager unlimited, in PHP and USD.
  static std::string DefaultText();

  // Position in the chain (0 = lowest); nullopt for roles outside it.
  std::optional<int> Rank(std::string_view role) const;
  bool Contains(std::string_view role) const { return Rank(role).has_value(); }
  const std::string& lowest_role() const { return levels_.front().role; }
  const std::vector<AuthorityLevel>& levels() const { return levels_; }

  bool MayApprove(std::string_view role, const Money& amount) const;
  // The lowest role whose limit covers `amount`; the top role when none does.
  const std::string& LowestRoleFor(const Money& amount) const;
  // The role above `role`; FAILED_PRECONDITION at the top of the chain.
  absl::StatusOr<std::string> NextRole(std::string_view role) const;
  // "PHP 50000.00", "unlimited" or "none in USD", for messages.
  std::string LimitText(std::string_view role, std::string_view currency) const;

 private:
  std::vector<AuthorityLevel> levels_;
};

// Whether `role` may approve `claim`: PERMISSION_DENIED when the role is not in
// the chain, ranks below the role the claim is routed to, or its limit in the
// claim's currency is below the amount claimed. The limit is judged on the
// amount claimed, not on the amount approved: approving part of a claim above
// one's limit is still deciding that claim.
absl::Status CheckApprovalAuthority(const AuthorityChain& chain, std::string_view role, const Claim& claim);

// Denying, reopening and returning a claim for information are decisions on it
// too: PERMISSION_DENIED unless `role` is in the chain and ranks at least the
// claim's routed role. (An approval moves routed_role up to the approver's role
// when the approver ranks higher, so only someone of that rank reopens it.)
absl::Status CheckDecisionRank(const AuthorityChain& chain, std::string_view role, const Claim& claim,
                               ClaimAction action);

// Maker-checker: PERMISSION_DENIED when `user` submitted `claim` (the person who
// logged a claim may not approve it). Off when `enforced` is false.
absl::Status CheckMakerChecker(bool enforced, std::string_view user, const Claim& claim);

// Per-currency thresholds above which a claim is routed at submission straight to
// a role that may approve it, instead of the lowest role. "PHP=100000000,USD=2000000".
using AutoRouteThresholds = std::map<std::string, int64_t, std::less<>>;
absl::StatusOr<AutoRouteThresholds> ParseAutoRouteThresholds(std::string_view text);

// The role a newly submitted claim for `amount` is queued for (Claim.routed_role):
// the lowest role of the chain, or, above the currency's threshold, the lowest
// role whose limit covers the amount. Below the threshold a claim starts with
// the lowest role even when that role may not approve it, and is escalated up
// the chain until it reaches a role that may (DESIGN: "escalated up the
// authority chain until someone may approve it").
std::string RouteOnSubmit(const AuthorityChain& chain, const AutoRouteThresholds& thresholds,
                          const Money& amount);

// ---- TAT ---------------------------------------------------------------------

// Targets per stage in business days of `calendar` (weekends and the configured
// holidays do not count; see common/business_days.h).
struct TatTargets {
  int decision_business_days = 5;     // submission (or reopening) -> decision
  int settlement_business_days = 10;  // approval -> settlement
  BusinessCalendar calendar;

  // When a decision on a claim submitted or reopened at `from` is due.
  absl::Time DecisionDue(absl::Time from) const;
  // When settlement of a claim approved at `approved` is due.
  absl::Time SettlementDue(absl::Time approved) const;
};

// ---- Duplicates ----------------------------------------------------------------

// Statuses of claims a new submission is compared with (not REJECTED or DENIED).
bool CountsForDuplicates(ClaimStatus s);

// The id of the first candidate with the same member, benefit, provider, service
// date and amount as `incoming` that still counts; nullopt when none.
std::optional<std::string> FindLikelyDuplicate(const Claim& incoming, const std::vector<Claim>& candidates);

// ---- Non-conformance investigations --------------------------------------------

enum class InvestigationAction { kOpen, kRecordFindings, kClose };
std::string_view InvestigationActionName(InvestigationAction a);
// FLAGGED -open-> OPEN -record_findings-> FINDINGS_RECORDED (again to amend)
// -close-> CLOSED.
absl::StatusOr<InvestigationStatus> NextInvestigationStatus(InvestigationStatus from, InvestigationAction a);

}  // namespace careops::claims
