// MembershipStore on MySQL/MariaDB (schema/V002__membership.sql and later) through
// Connector/C++ 1.1.
//
// Every write runs in mysql::RunMutation (keyed by caller, method and request_id) or, for
// utilisation (keyed by source_reference), in mysql::RunInTransaction, with its
// audit entry in the same transaction. The store locks and loads; the decision is
// a pure function of membership_rules.h (enrolability, movement application,
// plan supersession, account transitions, utilisation); the store writes what
// it decided.
//
// Locks, always in this order: the client account first (FOR UPDATE to change
// it; LOCK IN SHARE MODE to add a child row: plan, member, movement,
// utilisation), then the child rows. So a child can never be added beside a
// cancellation in progress: it waits for the cancel to commit and then sees the
// account CANCELLED. Utilisation then locks the member's benefit_balances row for
// the service year (SELECT ... FOR UPDATE) before it reads the balance, so
// concurrent records serialise on it and never overspend. A member's coverage
// periods (V005) are rewritten whole under the member's row lock, in the
// transaction that changes the member; "today" for reads that depend on it
// (status in force, plan in force) is an argument, never the database's clock.
// Statements are typed (common/mysql/row.h: values bound and columns read in
// order, no index counted by hand); every update of an account, plan, member or
// movement is the one versioned update (common/mysql/versioned.h); lists are
// the one keyset list (common/mysql/keyset.h). Enum columns store the enum
// codec's short names (common/enum_codec.h, V004).
// Connector/C++ exceptions never leave this file.
#pragma once

#include "common/mysql/pool.h"
#include "services/membership/membership_store.h"

namespace careops::membership {

class MysqlMembershipStore final : public MembershipStore {
 public:
  explicit MysqlMembershipStore(mysql::ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<v1::ClientAccount> CreateAccount(const MutationContext& m, const v1::ClientAccount& account) override;
  absl::StatusOr<v1::ClientAccount> GetAccount(const std::string& account_id, absl::CivilDay today) override;
  absl::StatusOr<Page<v1::ClientAccount>> ListAccounts(const AccountFilter& filter,
                                                       const PageRequest& page) override;
  absl::StatusOr<v1::ClientAccount> UpdateAccount(const MutationContext& m, const std::string& account_id,
                                                  const std::string& etag,
                                                  const std::function<absl::Status(v1::ClientAccount&)>& edit,
                                                  absl::CivilDay today) override;
  absl::StatusOr<v1::ClientAccount> TransitionAccount(const MutationContext& m, const AccountTransition& t) override;
  absl::StatusOr<v1::ClientAccount> WithdrawStatusChange(const MutationContext& m, const StatusWithdrawal& w) override;
  absl::StatusOr<v1::AccountSummary> Summarize(const std::string& account_id, absl::CivilDay start,
                                               absl::CivilDay end, absl::CivilDay today) override;

  absl::StatusOr<v1::Plan> CreatePlan(const MutationContext& m, const v1::Plan& plan, absl::CivilDay today) override;
  absl::StatusOr<v1::Plan> GetPlan(const std::string& plan_id) override;
  absl::StatusOr<Page<v1::Plan>> ListPlans(const PlanFilter& filter, const PageRequest& page) override;
  absl::StatusOr<v1::Plan> RevisePlan(const MutationContext& m, const std::string& plan_id, const std::string& etag,
                                      const v1::Plan& next, absl::CivilDay today) override;

  absl::StatusOr<v1::Member> EnrollMember(const MutationContext& m, const v1::Member& member,
                                          absl::CivilDay today) override;
  absl::StatusOr<v1::Member> GetMember(const std::string& member_id) override;
  absl::StatusOr<Page<v1::Member>> ListMembers(const MemberFilter& filter, const PageRequest& page) override;
  absl::StatusOr<v1::BatchEnrollMembersResponse> BatchEnroll(const MutationContext& m, const std::string& account_id,
                                                             const std::vector<BatchRow>& rows,
                                                             const std::function<std::string()>& new_id,
                                                             absl::CivilDay today) override;

  absl::StatusOr<v1::Movement> CreateMovement(const MutationContext& m, const v1::Movement& movement,
                                              absl::CivilDay today) override;
  absl::StatusOr<v1::Movement> GetMovement(const std::string& movement_id, absl::Time as_of) override;
  absl::StatusOr<v1::Movement> ApplyMovement(const MutationContext& m, const std::string& movement_id,
                                             const std::string& etag, const std::string& new_member_id,
                                             absl::CivilDay today, MovementDecision* decision) override;
  absl::StatusOr<v1::Movement> RejectMovement(const MutationContext& m, const std::string& movement_id,
                                              const std::string& etag, const std::string& reason,
                                              MovementDecision* decision) override;
  absl::StatusOr<Page<v1::Movement>> ListMovements(const MovementFilter& filter, const PageRequest& page) override;

  absl::StatusOr<EligibilityFacts> LoadEligibilityFacts(const std::string& member_id,
                                                        const std::string& benefit_code, absl::CivilDay service_date,
                                                        std::string* account_id, std::string* plan_id) override;
  absl::StatusOr<v1::Utilization> RecordUtilization(const MutationContext& m, const v1::RecordUtilizationRequest& request,
                                                    const std::string& new_utilization_id) override;
  absl::StatusOr<v1::Utilization> ReverseUtilization(const MutationContext& m,
                                                     const v1::ReverseUtilizationRequest& request) override;
  absl::StatusOr<v1::Utilization> GetUtilization(const std::string& source_reference) override;
  absl::StatusOr<Page<v1::UtilizationLedgerEntry>> ListUtilizations(const UtilizationFilter& filter,
                                                                    const PageRequest& page) override;

  absl::StatusOr<MembershipCounts> Count(absl::Time as_of, absl::CivilDay today) override;

 private:
  absl::StatusOr<v1::Movement> DecideMovement(const MutationContext& m, const std::string& movement_id,
                                              const std::string& etag, bool apply, const std::string& new_member_id,
                                              const std::string& reason, absl::CivilDay today,
                                              MovementDecision* decision);

  mysql::ConnectionPool& pool_;
};

}  // namespace careops::membership
