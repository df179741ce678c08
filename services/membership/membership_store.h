// Storage of the membership service's resources.
//
// The interface speaks the contract's messages (ClientAccount, Plan, Member,
// Movement, Utilization) so the adapter maps nothing twice. Every mutating method
// takes a Mutation: it runs exactly once per request_id (see
// common/mysql/mutation_runner.h), writes its audit entry in the same transaction, and
// returns the first answer again for a repeated request. Methods that take an etag
// require it (INVALID_ARGUMENT when empty) and return ABORTED when it is stale.
// Reads return NOT_FOUND naming the id.
//
// Dates that depend on "today" (the business day of the caller's clock in
// --business_tz, never the database's clock) arrive as arguments: accounts are
// returned as they read on `today` (AccountAsOf: the status in force, the
// scheduled changes), lists filter and gauges count by the status in force
// that day. Members come back with their whole coverage history; the adapter
// presents them as of today (MemberAsOf).
//
// Implementations: MysqlMembershipStore (mysql_membership_store.h).
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "careops/membership/v1/membership.pb.h"
#include "common/auth.h"
#include "common/mutation.h"
#include "services/membership/membership_rules.h"
#include "common/paging.h"

namespace careops::membership {

// Who asks for a change, when, and under which request id (common/mutation.h).
using Mutation = MutationContext;

// Keyset paging: rows after `after_id` (exclusive), at most `limit`.
using careops::PageRequest;  // common/paging.h

template <typename T>
struct Page {
  std::vector<T> items;
  bool more = false;  // another page follows the last item
};

struct AccountFilter {
  v1::ClientAccountType type = v1::CLIENT_ACCOUNT_TYPE_UNSPECIFIED;
  v1::ClientAccountStatus status = v1::CLIENT_ACCOUNT_STATUS_UNSPECIFIED;
  std::string account_officer;
  absl::CivilDay today;  // `status` matches the status in force on this day
};

struct PlanFilter {
  std::string account_id;
  v1::PlanStatus status = v1::PLAN_STATUS_UNSPECIFIED;
};

struct MemberFilter {
  std::string account_id;
  v1::MemberStatus status = v1::MEMBER_STATUS_UNSPECIFIED;
  std::string plan_id;
  std::string external_ref;  // the HR census key; empty: any
  absl::CivilDay today;      // `plan_id` matches the plan in force on this day
};

struct MovementFilter {
  std::string account_id;
  v1::MovementStatus status = v1::MOVEMENT_STATUS_UNSPECIFIED;
  v1::MovementType type = v1::MOVEMENT_TYPE_UNSPECIFIED;
  bool overdue_only = false;
  absl::Time as_of;  // for overdue_only and each movement's `overdue`
};

struct UtilizationFilter {
  std::string member_id;     // required
  std::string benefit_code;  // empty: every benefit
};

struct AccountTransition {
  std::string account_id;
  std::string etag;
  AccountAction action;
  std::string reason;
  absl::CivilDay effective_date;
  absl::CivilDay today;  // the transition is judged, and the answer reads, as of this day
};

// The scheduled change to `status` from `effective_date` (DecideWithdrawal).
struct StatusWithdrawal {
  std::string account_id;
  std::string etag;
  v1::ClientAccountStatus status = v1::CLIENT_ACCOUNT_STATUS_UNSPECIFIED;
  absl::CivilDay effective_date;
  std::string reason;
  absl::CivilDay today;
};

// A census row the adapter validated on its own (shape of fields); the store
// checks what needs the database (plan of the account, start date, duplicates).
struct BatchRow {
  v1::BatchEnrollRow row;
  std::string invalid;  // non-empty: the row is INVALID with this error, skip it
};

// What a movement's decision did, for metrics (filled only on the first decision).
struct MovementDecision {
  bool decided_now = false;
};

// Counts read for the gauges.
struct MembershipCounts {
  std::map<v1::MemberStatus, int64_t> members;
  std::map<std::pair<v1::ClientAccountType, v1::ClientAccountStatus>, int64_t> accounts;
  std::map<v1::MovementType, int64_t> overdue_movements;  // PENDING and past due
};

class MembershipStore {
 public:
  virtual ~MembershipStore() = default;

  // ---- accounts
  // `account` is complete (id, status ACTIVE, dates); stored as given.
  virtual absl::StatusOr<v1::ClientAccount> CreateAccount(const Mutation& m, const v1::ClientAccount& account) = 0;
  virtual absl::StatusOr<v1::ClientAccount> GetAccount(const std::string& account_id, absl::CivilDay today) = 0;
  virtual absl::StatusOr<Page<v1::ClientAccount>> ListAccounts(const AccountFilter& filter,
                                                               const PageRequest& page) = 0;
  // Loads the account under lock, checks `etag`, applies `edit`, stores it.
  virtual absl::StatusOr<v1::ClientAccount> UpdateAccount(
      const Mutation& m, const std::string& account_id, const std::string& etag,
      const std::function<absl::Status(v1::ClientAccount&)>& edit, absl::CivilDay today) = 0;
  // Suspend/reinstate/cancel per DecideAccountTransition() on the locked
  // account and its status history. Appends to the history; a cancel
  // terminates every member still covered on the date (the members' coverage
  // periods end then, each recorded in coverage_cuts).
  virtual absl::StatusOr<v1::ClientAccount> TransitionAccount(const Mutation& m, const AccountTransition& t) = 0;
  // Removes a scheduled change and those after it per DecideWithdrawal(); a
  // withdrawn cancellation gives back the coverage it ended (UncutCoverage).
  virtual absl::StatusOr<v1::ClientAccount> WithdrawStatusChange(const Mutation& m, const StatusWithdrawal& w) = 0;
  // Empty account_id: every account.
  // Coverage counts come from the members' coverage periods.
  virtual absl::StatusOr<v1::AccountSummary> Summarize(const std::string& account_id, absl::CivilDay start,
                                                       absl::CivilDay end, absl::CivilDay today) = 0;

  // ---- plans
  // Plans and revisions: FAILED_PRECONDITION when the account is cancelled by `today`.
  virtual absl::StatusOr<v1::Plan> CreatePlan(const Mutation& m, const v1::Plan& plan, absl::CivilDay today) = 0;
  virtual absl::StatusOr<v1::Plan> GetPlan(const std::string& plan_id) = 0;
  virtual absl::StatusOr<Page<v1::Plan>> ListPlans(const PlanFilter& filter, const PageRequest& page) = 0;
  // `next` is the new version, complete but for version/supersedes (set here).
  // FAILED_PRECONDITION when `plan_id` is already superseded.
  virtual absl::StatusOr<v1::Plan> RevisePlan(const Mutation& m, const std::string& plan_id,
                                              const std::string& etag, const v1::Plan& next,
                                              absl::CivilDay today) = 0;

  // ---- members
  // `member` is complete (id, status ACTIVE). DecideEnrolable on `today`
  // (FAILED_PRECONDITION or INVALID_ARGUMENT); ALREADY_EXISTS when the
  // external_ref is taken in the account. Under a scheduled cancellation the
  // coverage ends on its date (CutCoverage, recorded in coverage_cuts).
  virtual absl::StatusOr<v1::Member> EnrollMember(const Mutation& m, const v1::Member& member,
                                                  absl::CivilDay today) = 0;
  virtual absl::StatusOr<v1::Member> GetMember(const std::string& member_id) = 0;
  virtual absl::StatusOr<Page<v1::Member>> ListMembers(const MemberFilter& filter, const PageRequest& page) = 0;
  // One result per row; good rows are inserted together, in one transaction.
  // Rows are judged as EnrollMember judges one member.
  virtual absl::StatusOr<v1::BatchEnrollMembersResponse> BatchEnroll(const Mutation& m,
                                                                     const std::string& account_id,
                                                                     const std::vector<BatchRow>& rows,
                                                                     const std::function<std::string()>& new_id,
                                                                     absl::CivilDay today) = 0;

  // ---- movements
  // `movement` is complete (id, PENDING, request and due times).
  // FAILED_PRECONDITION when the account is cancelled by `today`, or the
  // movement is dated on or after a scheduled cancellation.
  virtual absl::StatusOr<v1::Movement> CreateMovement(const Mutation& m, const v1::Movement& movement,
                                                      absl::CivilDay today) = 0;
  virtual absl::StatusOr<v1::Movement> GetMovement(const std::string& movement_id, absl::Time as_of) = 0;
  // Applies a PENDING movement (its change takes effect in the same transaction);
  // an APPLIED one is returned as is. `new_member_id` names the member an
  // ENROLLMENT creates. Judged on `today` as CreateMovement is; under a
  // scheduled cancellation the member's coverage ends on its date.
  virtual absl::StatusOr<v1::Movement> ApplyMovement(const Mutation& m, const std::string& movement_id,
                                                     const std::string& etag, const std::string& new_member_id,
                                                     absl::CivilDay today, MovementDecision* decision) = 0;
  virtual absl::StatusOr<v1::Movement> RejectMovement(const Mutation& m, const std::string& movement_id,
                                                      const std::string& etag, const std::string& reason,
                                                      MovementDecision* decision) = 0;
  virtual absl::StatusOr<Page<v1::Movement>> ListMovements(const MovementFilter& filter,
                                                           const PageRequest& page) = 0;

  // ---- eligibility and utilisation
  // Facts for DecideEligibility on `service_date`: the coverage period that
  // answers for that day (PeriodAsOf) with its plan's benefit, the account
  // status in force that day and the balance of its calendar year;
  // member_found=false for an unknown member. `account_id`, `plan_id` (the
  // period's plan) are filled when the member exists.
  virtual absl::StatusOr<EligibilityFacts> LoadEligibilityFacts(const std::string& member_id,
                                                                const std::string& benefit_code,
                                                                absl::CivilDay service_date, std::string* account_id,
                                                                std::string* plan_id) = 0;
  // Locks the member's balance row for the service year, re-decides eligibility
  // under the lock and records the amount; see the contract for idempotency.
  virtual absl::StatusOr<v1::Utilization> RecordUtilization(const Mutation& m,
                                                            const v1::RecordUtilizationRequest& request,
                                                            const std::string& new_utilization_id) = 0;
  virtual absl::StatusOr<v1::Utilization> ReverseUtilization(const Mutation& m,
                                                             const v1::ReverseUtilizationRequest& request) = 0;
  // The record under `source_reference` with the remaining limit now; NOT_FOUND when none.
  virtual absl::StatusOr<v1::Utilization> GetUtilization(const std::string& source_reference) = 0;
  // A page of the member's ledger in record order, with each entry's running
  // balance (FillRunningBalances); NOT_FOUND for an unknown member.
  virtual absl::StatusOr<Page<v1::UtilizationLedgerEntry>> ListUtilizations(const UtilizationFilter& filter,
                                                                            const PageRequest& page) = 0;

  // ---- gauges
  // Current counts, accounts by the status in force on `today`; movements are
  // overdue when PENDING with due time before `as_of`.
  virtual absl::StatusOr<MembershipCounts> Count(absl::Time as_of, absl::CivilDay today) = 0;
};

}  // namespace careops::membership
