// The membership business rules, as pure functions: no database, no RPC, no wall
// clock (time arrives as arguments). The gRPC adapter and the store call these;
// the unit tests exercise them directly.
//
//   - Coverage: a member's coverage is a history of periods (Member.coverage,
//     oldest first, never overlapping), each on one plan version. A member is
//     covered on day d when a period has effective_date <= d and, if an
//     end_date is set, d < end_date. The period that answers for a day
//     (PeriodAsOf) is the last one begun on or before it: its plan's benefits
//     apply, and a day after its end is a lapse. Movements only extend the
//     history forward: a termination ends the latest period, a reinstatement
//     starts a new one on its own date (the days between stay uncovered), a
//     plan change ends the latest period on its date and starts one on the new
//     plan, so the old plan still applies before that day.
//   - Eligibility: DecideEligibility() lists every reason a service is not
//     covered (member not covered, account suspended/cancelled, benefit not in
//     plan, waiting period, annual limit, per-visit cap), with the remaining limit.
//   - Client-account status machine: ACTIVE <-> SUSPENDED, either -> CANCELLED (final).
//   - Movement TAT: due = request time + N business days (Mon-Fri, UTC, minus
//     configured holidays; common/business_days.h).
//   - Decisions on rows the store has locked and loaded (the claims shape: the
//     store locks and loads, a function here decides, the store writes what was
//     decided): enrolability, movement application and decision, plan
//     supersession, account transitions, whether a utilisation may be recorded.
//     Each takes the loaded rows by value or const reference and returns the
//     rows to write, or the status the caller sees.
//   - Validation of resources a caller sends (accounts, plans, people), each
//     error INVALID_ARGUMENT naming the field and the rule, built on the common
//     validator (common/validation.h: lengths in characters, no control
//     characters, names of only blanks or zero-width characters are empty).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "careops/membership/v1/membership.pb.h"
#include "common/enum_codec.h"
#include "common/money.h"

#include "common/business_days.h"

namespace careops::membership {

// ---------------------------------------------------------------- coverage

bool CoveredOn(absl::CivilDay effective_date, std::optional<absl::CivilDay> termination_date,
               absl::CivilDay day);

using Coverage = google::protobuf::RepeatedPtrField<v1::CoveragePeriod>;

// The member's periods, oldest first. A Member read without them (a message
// built by hand) counts as one period from effective_date to termination_date
// on plan_id.
Coverage CoverageOf(const v1::Member& member);

// The period that answers for `day`: the last one begun on or before it, else
// the first one (coverage not begun yet); nullptr when there is none.
const v1::CoveragePeriod* PeriodAsOf(const Coverage& coverage, absl::CivilDay day);

bool CoveredOn(const v1::CoveragePeriod& period, absl::CivilDay day);

// `member` with `coverage` and the columns that summarise it: effective_date
// (the first start), termination_date (the last end), status (TERMINATED when
// the last period has an end; reads judge it as of today, MemberAsOf) and
// plan_id (the last period's plan: what the member is on once every applied
// change has taken effect).
v1::Member WithCoverage(v1::Member member, Coverage coverage);

// `member` (with its coverage) as it reads on `today`: plan_id is the plan in
// force today (of PeriodAsOf(today)), scheduled_plan_change the next period
// after today on another plan, if any, and status ACTIVE while coverage runs
// today or later (a termination dated after today is scheduled: it shows in
// termination_date), TERMINATED once the last period has ended.
v1::Member MemberAsOf(v1::Member member, absl::CivilDay today);

// The first day a benefit with `waiting_period_days` may be used.
absl::CivilDay WaitingPeriodEnd(absl::CivilDay effective_date, int waiting_period_days);

// ---------------------------------------------------------------- eligibility

// A plan's benefit terms in plain numbers (minor units of the plan's currency).
struct BenefitTerms {
  std::string code;
  std::string category;
  bool unlimited = false;
  int64_t annual_limit_minor = 0;
  int64_t per_visit_cap_minor = 0;  // 0: no cap
  int32_t copay_basis_points = 0;
  int32_t waiting_period_days = 0;
};

// What the store knows about a member on the day of a service.
struct EligibilityFacts {
  bool member_found = false;
  // The coverage period that answers for the service date (PeriodAsOf); its
  // plan is the one whose benefit, currency and limits are below.
  absl::CivilDay period_start;
  std::optional<absl::CivilDay> period_end;
  absl::CivilDay coverage_start;  // the member's first coverage day: waiting periods count from it
  // The account's status in force on the service date (from its status history,
  // not the current status) and the day that status took effect.
  v1::ClientAccountStatus account_status = v1::CLIENT_ACCOUNT_STATUS_ACTIVE;
  absl::CivilDay account_status_effective_date;
  std::string currency;                 // the plan's currency
  std::optional<BenefitTerms> benefit;  // nullopt: the code is not in the member's plan
  int64_t used_minor = 0;               // used this calendar year (of the service date)
};

struct EligibilityReason {
  v1::EligibilityReasonCode code;
  std::string message;
};

struct EligibilityDecision {
  bool eligible = false;
  std::vector<EligibilityReason> reasons;
  bool unlimited = false;
  int64_t remaining_minor = 0;  // before this amount; 0 when unlimited
};

// What is left of `benefit`'s annual limit after `used_minor` (0 when used up or
// unlimited), computed with Money's checked arithmetic.
int64_t RemainingLimit(const BenefitTerms& benefit, std::string_view currency, int64_t used_minor);

// The year's utilisation after recording `amount_minor` more. FAILED_PRECONDITION
// naming "amount" when it would pass 10^15 minor units (only an unlimited benefit
// gets there: a limit is itself at most 10^15).
absl::StatusOr<int64_t> UsedAfterRecording(const EligibilityFacts& facts, int64_t amount_minor);

// Every reason that applies, in the enum's order. `amount_minor` 0 checks
// coverage only (no limit or cap reason can apply).
EligibilityDecision DecideEligibility(const EligibilityFacts& facts, absl::CivilDay service_date,
                                      int64_t amount_minor);

// ---------------------------------------------------------------- accounts

enum class AccountAction { kSuspend, kReinstate, kCancel };

std::string_view ActionName(AccountAction action);  // "suspend", "reinstate", "cancel"

// One row of an account's status history (V003): the status from its day.
// `seq` is the row's key (the order it was made; 0 for a row not yet stored).
struct StatusChange {
  absl::CivilDay effective_date;
  v1::ClientAccountStatus status = v1::CLIENT_ACCOUNT_STATUS_ACTIVE;
  std::string reason;
  int64_t seq = 0;
};

// An account's status history in force order: by effective date, and in the
// order made within a day. The status on day d is the last change dated on or
// before d; each change follows from the one before it (NextAccountStatus).
std::vector<StatusChange> InForceOrder(std::vector<StatusChange> history);

// `account` as stored (its status columns hold the last change of the
// history: the one every later transition would follow) as it reads on
// `today`: status, status_effective_date and status_reason of the change in
// force today (the last of `history` dated on or before today; before any,
// ACTIVE from the start date), every later change in scheduled_status_changes.
// `history` in any order (InForceOrder is applied).
v1::ClientAccount AccountAsOf(v1::ClientAccount account, const std::vector<StatusChange>& history,
                              absl::CivilDay today);

// The status after `action`, or FAILED_PRECONDITION naming the current status.
absl::StatusOr<v1::ClientAccountStatus> NextAccountStatus(v1::ClientAccountStatus from, AccountAction action);

// The day a stored account (its columns: the last change of its history) is
// cancelled from, scheduled or in force; nullopt when no cancellation was made.
// A cancellation is final, so it is always the last change.
std::optional<absl::CivilDay> CancellationDate(const v1::ClientAccount& stored);

// ---------------------------------------------------------------- movements (TAT)

// TAT targets in business days per movement type. Parsed from
// "enrollment:2,termination:2,plan_change:3,reinstatement:2,detail_change:1";
// types left out keep kDefaultTatBusinessDays.
constexpr int kDefaultTatBusinessDays = 2;
using TatTargets = std::map<v1::MovementType, int>;
absl::StatusOr<TatTargets> ParseTatTargets(std::string_view text);
int TatBusinessDays(const TatTargets& targets, v1::MovementType type);

// Due times use a common/business_days.h BusinessCalendar (MembershipServiceOptions).

// A decided movement met its TAT when decided no later than due.
bool TatMet(absl::Time due, absl::Time decided);
// A pending movement is overdue once `as_of` is past due.
bool Overdue(v1::MovementStatus status, absl::Time due, absl::Time as_of);

// ---------------------------------------------------------------- decisions on locked rows

// FAILED_PRECONDITION naming `field` when the stored account is cancelled on
// or before `today`: nothing new (plans, members, movements) may be added to
// it. A cancellation scheduled after today blocks nothing yet: until its day
// the account takes enrolments, plans and movements (whose coverage the
// cancellation ends on its date, CutCoverage).
absl::Status RequireOpenAccount(const v1::ClientAccount& account, absl::CivilDay today, std::string_view field);

// FAILED_PRECONDITION naming `field` when `day` is on or after the stored
// account's cancellation date (scheduled or in force): nothing can start or
// change on a day the account no longer covers.
absl::Status RequireBeforeCancellation(const v1::ClientAccount& account, absl::CivilDay day, std::string_view field);

// Whether `member` may be enrolled in `account` (locked by the store, so its
// status cannot change before the insert commits) on `today`: the account is
// not cancelled by today (RequireOpenAccount) and the coverage starts before
// a scheduled cancellation (RequireBeforeCancellation), on or after the
// account's start, and the plan is an ACTIVE plan of the account.
// `plan_status` is the status of member.plan_id() when it is a plan of the
// account, nullopt when it is not. Field names are prefixed with `prefix`
// ("rows[3]." in a census). FAILED_PRECONDITION or INVALID_ARGUMENT.
absl::Status DecideEnrolable(const v1::ClientAccount& account, std::optional<v1::PlanStatus> plan_status,
                             const v1::Member& member, absl::CivilDay today, std::string_view prefix);

// What a cancellation from `cancel_date` did to one coverage period: the
// period that starts on `period_start` ran until `previous_end` (nullopt:
// open) before the cancellation ended it (V006 coverage_cuts), so that a
// withdrawn cancellation can give it back (UncutCoverage). A period that would
// only have begun on or after the cancellation date (a plan change or a
// reinstatement scheduled for then, an enrolment starting then) is removed
// whole rather than left covering nothing: `removed_plan_id` is its plan and
// `follows_end` the end the period before it had then (nullopt: it was the
// member's first), so that it comes back only after that period (V007).
struct CoverageCut {
  absl::CivilDay period_start;
  std::optional<absl::CivilDay> previous_end;
  std::string removed_plan_id;  // empty: the period was ended, not removed
  std::optional<absl::CivilDay> follows_end;
};
using CoverageCuts = std::map<absl::CivilDay, CoverageCut>;  // by period_start

// INTERNAL naming the period when `coverage` has one that ends on or before
// it begins (it would cover nothing, and every rule reading the history
// assumes it does not happen) or periods out of order or overlapping. The
// store checks it before writing a member's periods.
absl::Status RequireProperCoverage(const Coverage& coverage);

// `coverage` ended by a cancellation from `cancel_date`: every period still
// running on that day ends on it, and every period beginning on or after it is
// removed (so the result may be empty: coverage that would only have begun
// with the cancellation in force). Appends what it ended or removed to `cuts`.
// The store does the same for a whole account: periods running on the day in
// one SQL statement (kEndAccountCoverage), members with later periods through
// CancelMemberCoverage.
Coverage CutCoverage(Coverage coverage, absl::CivilDay cancel_date, std::vector<CoverageCut>* cuts);

// `member` (with its coverage) under a cancellation from `cancel_date`
// (CutCoverage): its columns follow the periods left; a member left without
// any keeps its first day as effective_date and is TERMINATED from the
// cancellation date (termination_date = cancel_date, as for every member of a
// cancelled account), with no period written.
v1::Member CancelMemberCoverage(v1::Member member, absl::CivilDay cancel_date, std::vector<CoverageCut>* cuts);

// `coverage` as if the cancellation from `cancel_date` had not been made:
// a period the cancellation ended and that no movement changed since (its
// end is still the cancellation's) gets its end back from `cuts` (by period
// start); a period ending on the cancellation date that a later movement
// split off a cut period (a plan change dated before the cancellation) gets
// the end of the cut period it was split from. Periods ended since by a
// movement keep that end. A removed period comes back (in start order) when
// the period before it ends again where it did when it was removed (none
// before it: the member has no period), so a plan change scheduled after a
// termination made since stays withdrawn.
Coverage UncutCoverage(Coverage coverage, absl::CivilDay cancel_date, const CoverageCuts& cuts);

// The new version a RevisePlan makes of `current` from `next` (name, benefits):
// FAILED_PRECONDITION when `current` is already superseded; INVALID_ARGUMENT for
// benefits that do not fit the plan's currency. Account, currency, version + 1 and
// supersedes_plan_id come from `current`; an empty name keeps the current one.
absl::StatusOr<v1::Plan> DecidePlanRevision(const v1::Plan& current, const v1::Plan& next);

// A transition decided on a locked account: the account's columns to write
// (the last change of the new history) and the change to append.
struct AccountTransitionDecision {
  v1::ClientAccount account;
  StatusChange change;
  v1::ClientAccountStatus from = v1::CLIENT_ACCOUNT_STATUS_UNSPECIFIED;  // the status on the change's date before it
};

// `action` from `effective_date` with `reason` on the stored `account` with
// its `history`, judged on `today`. The date must not be before the account's
// start nor before the change in force today (INVALID_ARGUMENT naming
// effective_date, ValidateTransitionDate): the past is not rewritten. The
// action is judged from the status the history gives on its date, so a
// transition may be dated before changes already scheduled (a suspension
// today while a cancellation waits for next month): FAILED_PRECONDITION from
// a wrong status on that date (NextAccountStatus), and FAILED_PRECONDITION
// naming the scheduled change when it would no longer follow (a cancellation
// before a scheduled suspension): withdraw that change first. A transition
// dated on the same day as a scheduled change follows it.
absl::StatusOr<AccountTransitionDecision> DecideAccountTransition(const v1::ClientAccount& account,
                                                                  const std::vector<StatusChange>& history,
                                                                  AccountAction action, absl::CivilDay effective_date,
                                                                  const std::string& reason, absl::CivilDay today);

// A withdrawal decided on a locked account: the account's columns to write
// (the last change left) and the changes withdrawn, in force order.
struct WithdrawalDecision {
  v1::ClientAccount account;
  std::vector<StatusChange> withdrawn;
};

// Withdraws the change to `status` scheduled from `effective_date` (after
// `today`) and every change scheduled after it, which were judged from it.
// NOT_FOUND naming effective_date when no change to `status` is scheduled
// from that day; FAILED_PRECONDITION naming effective_date when it is in force
// already (dated today or earlier: make a new transition instead).
absl::StatusOr<WithdrawalDecision> DecideWithdrawal(const v1::ClientAccount& account,
                                                    const std::vector<StatusChange>& history,
                                                    v1::ClientAccountStatus status, absl::CivilDay effective_date,
                                                    absl::CivilDay today);

// Whether a decision (apply or reject) still has to be made on `movement`:
// false when it is already `target` (the same answer again), true when PENDING,
// FAILED_PRECONDITION when it was decided the other way.
absl::StatusOr<bool> MovementNeedsDecision(const v1::Movement& movement, v1::MovementStatus target);

// `movement` decided to `target` by `decided_by` at `now` (TAT met or not).
v1::Movement DecidedMovement(v1::Movement movement, v1::MovementStatus target, const std::string& decided_by,
                             const std::string& rejection_reason, absl::Time now);

// The member an ENROLLMENT movement creates, with id `member_id`.
v1::Member MemberFromEnrollment(const v1::Movement& movement, const std::string& member_id);

// What applying a movement other than ENROLLMENT does to `member` and its
// coverage (the result's coverage is the member's whole new history; see
// WithCoverage for the columns). The account must not be cancelled on or
// before `today`, and the movement must be dated before a scheduled
// cancellation (RequireOpenAccount, RequireBeforeCancellation); the store
// then ends the result's coverage on that cancellation's date (CutCoverage).
// TERMINATION ends the latest period on the effective date (not before it
// starts, not a member already terminated by then); dated on the latest
// period's first day it removes that period (the plan change or reinstatement
// that began it is withdrawn: coverage ends with the period before it), so no
// period ever ends as it begins; REINSTATEMENT needs a
// TERMINATED member and starts a new period on its date on the last plan (on
// the termination date itself the period simply goes on); PLAN_CHANGE needs
// `new_plan_status` (the status of movement.new_plan_id() when it is a plan of
// the account, nullopt otherwise) to be ACTIVE and ends the latest period on
// its date, starting one on the new plan that keeps the old end (on the
// period's first day the plan is replaced); DETAIL_CHANGE replaces the person.
// FAILED_PRECONDITION naming the field for every refusal.
absl::StatusOr<v1::Member> ApplyMovementToMember(const v1::Movement& movement, const v1::ClientAccount& account,
                                                 v1::Member member, std::optional<v1::PlanStatus> new_plan_status,
                                                 absl::CivilDay today);

// Whether `movement`'s effective date can apply to `member` as it is now,
// checked when the movement is requested (so an impossible one is refused then,
// not days later when someone applies it) and again when it is applied.
// INVALID_ARGUMENT naming effective_date for a date that cannot apply: any
// movement dated before the member's coverage starts, a termination, plan
// change or reinstatement dated before the latest period starts (the history
// only moves forward), a reinstatement dated before the termination it undoes,
// a termination on the first day of a member's only period (it would cover
// nothing). FAILED_PRECONDITION naming effective_date for a plan change dated
// on or after the day the member's coverage ends (a termination, or the
// account's cancellation, scheduled or in force): it would start a period
// covering nothing. FAILED_PRECONDITION naming member_id for a member in the
// wrong state: a termination of a member already terminated by then, a
// reinstatement of a member who is not terminated.
absl::Status ValidateMovementDates(const v1::Movement& movement, const v1::Member& member);

// The audit action of a movement's effect on its member ("member.terminate").
std::string_view MemberActionOf(v1::MovementType type);

// ALREADY_EXISTS unless `existing` (recorded under the request's
// source_reference) is the same utilisation: member, benefit, amount and date.
absl::Status RequireSameUtilization(const v1::Utilization& existing, const v1::RecordUtilizationRequest& request);

// Whether `amount_minor` in `currency` may be recorded for a service on
// `service_date`, given the facts loaded under the balance lock; the year's
// utilisation after it. INVALID_ARGUMENT for another currency than the plan's,
// NOT_FOUND for an unknown member, FAILED_PRECONDITION listing every
// eligibility reason (or naming the 10^15 bound).
absl::StatusOr<int64_t> DecideUtilization(const EligibilityFacts& facts, absl::CivilDay service_date,
                                          int64_t amount_minor, std::string_view currency,
                                          std::string_view member_id);

// ---------------------------------------------------------------- utilisation reversal

// A utilisation record as the store has locked and loaded it for a reversal:
// its amount and what earlier reversals gave back of it.
struct ReversalFacts {
  std::string currency;
  int64_t amount_minor = 0;
  int64_t reversed_minor = 0;  // 0..amount_minor
};

struct ReversalDecision {
  int64_t give_back_minor = 0;       // what this reversal returns to the balance (0: nothing to write)
  int64_t reversed_after_minor = 0;  // the record's reversed amount after it
  int64_t remaining_after_minor = 0; // what of the record still counts against the limit
  bool wholly_reversed = false;      // nothing of the record counts any more
};

// A reversal of `requested` (nullopt: whatever is not reversed yet, so a whole
// reversal of a wholly reversed record gives back nothing and answers it
// again). INVALID_ARGUMENT naming the field and the rule for a requested
// amount that is not more than zero (amount.amount_minor), in another
// currency than the record's (amount.currency_code), or more than the
// record's remaining un-reversed amount (amount.amount_minor).
absl::StatusOr<ReversalDecision> DecideReversal(const ReversalFacts& record, const std::optional<Money>& requested);

// ---------------------------------------------------------------- utilisation ledger

// Un-reversed utilisation per (benefit code, calendar year).
using UsedByBenefitYear = std::map<std::pair<std::string, int>, int64_t>;

// Fills each entry's running balance, in the order given (record order):
// used_in_year starts from `used_before` (what the entries before the first
// one used) and grows by every entry's un-reversed part (amount less
// reversed_amount); remaining_limit is the
// benefit's annual limit in `terms` less that. A benefit no longer in the plan
// shows used_in_year with no limit. Amounts in `currency`, through Money's
// checked arithmetic (a sum past 10^15 stays at the bound).
void FillRunningBalances(UsedByBenefitYear used_before, const std::map<std::string, BenefitTerms>& terms,
                         const std::string& currency,
                         google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry>* entries);
// The same with the terms of the plan in force on each entry's service date
// (`terms_on`: the benefits of the plan of the member's period for that day).
using TermsOn = std::function<const std::map<std::string, BenefitTerms>&(absl::CivilDay service_date)>;
void FillRunningBalances(UsedByBenefitYear used_before, const TermsOn& terms_on, const std::string& currency,
                         google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry>* entries);

// ---------------------------------------------------------------- validation

// Each returns INVALID_ARGUMENT naming `field` (prefixed to nested fields) and the rule.
absl::Status ValidateNewAccount(const v1::ClientAccount& account, std::string_view field);
// The updatable paths of a client account: "name", "account_officer", "contact_email".
absl::Status ValidateAccountField(const v1::ClientAccount& account, std::string_view path, std::string_view field);
absl::Status ValidatePerson(const v1::Person& person, std::string_view field, absl::CivilDay today);
absl::Status ValidateExternalRef(std::string_view ref, std::string_view field);
// Benefits of a plan in `currency`: codes unique, limits positive, percentages in range.
absl::Status ValidateBenefits(const google::protobuf::RepeatedPtrField<v1::Benefit>& benefits,
                              std::string_view currency, std::string_view field);
absl::Status ValidateNewPlan(const v1::Plan& plan, std::string_view field);
// INVALID_ARGUMENT unless `day` is on or after the account's start date.
absl::Status ValidateNotBeforeStart(absl::CivilDay day, absl::CivilDay account_start, std::string_view field);
// A status transition's effective date: not before the account's start, and not
// before the day the current status took effect (the status history only moves
// forward, so the status in force on any day is well defined).
absl::Status ValidateTransitionDate(absl::CivilDay day, absl::CivilDay account_start, absl::CivilDay status_since,
                                    std::string_view field);

BenefitTerms TermsFromProto(const v1::Benefit& benefit);

}  // namespace careops::membership
