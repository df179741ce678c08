// CollectionsStore on MySQL/MariaDB (schema/V002__collections.sql). SQL text is
// in named constants in the .cc, every statement is prepared, and Connector/C++
// exceptions become statuses inside the pool's runners.
#pragma once

#include "common/mysql/pool.h"
#include "services/collections/collections_store.h"

namespace careops::collections {

class MysqlCollectionsStore final : public CollectionsStore {
 public:
  explicit MysqlCollectionsStore(mysql::ConnectionPool& pool) : pool_(pool) {}

  absl::Status OpenLedger(const Mutation& m, const v1::Ledger& ledger, const std::string& source,
                          const std::function<void(const v1::Ledger&)>& render) override;
  absl::StatusOr<v1::Ledger> GetLedger(const std::string& ledger_id) override;
  absl::Status AddInstallments(
      const Mutation& m, const std::string& ledger_id, const std::vector<v1::Installment>& rows,
      const std::function<absl::Status(const std::vector<std::optional<std::string>>& existing)>& render) override;
  absl::Status UpdateContact(const Mutation& m, const std::string& ledger_id, mysql::ExpectedVersion expected,
                             const v1::Contact& contact, const std::string& source,
                             const std::function<void(const v1::Ledger&)>& render) override;
  absl::StatusOr<std::vector<v1::ContactChange>> ListContactHistory(const std::string& ledger_id) override;
  absl::Status PostPayment(const Mutation& m, const v1::Payment& payment,
                           const std::vector<RequestedAllocation>& requested, const ComponentOrder& order,
                           const std::function<void(const v1::Payment&)>& render) override;
  absl::Status ReversePayment(const Mutation& m, const std::string& payment_id, mysql::ExpectedVersion expected,
                              bool unapply_only, const std::string& reason,
                              const std::function<void(const v1::Payment&)>& render) override;
  absl::Status IngestBankReturns(const Mutation& m, const std::vector<BankReturn>& rows,
                                 const std::function<void(const std::vector<BankReturnOutcome>&)>& render) override;
  absl::StatusOr<std::vector<v1::Payment>> ListPayments(const std::string& ledger_id) override;
  absl::StatusOr<AgingInputs> GetAgingInputs(const std::string& ledger_id,
                                             std::optional<absl::CivilDay> as_of) override;
  absl::Status AddPause(const Mutation& m, const v1::Pause& pause,
                        const std::function<void(const v1::Pause&)>& render) override;
  absl::StatusOr<AgingRunResult> RunAging(absl::CivilDay as_of, absl::Time now,
                                          const std::function<LedgerAging(const AgingInputs&)>& age) override;
  absl::StatusOr<std::vector<v1::AgingChange>> GetAgingHistory(const std::string& ledger_id) override;
  absl::StatusOr<std::vector<AgingReportEntry>> AgingReport(absl::CivilDay as_of) override;
  absl::StatusOr<std::map<std::string, int64_t>> PostedPaymentsByMethod() override;
  absl::StatusOr<std::map<std::string, int64_t>> BankReturnsByReason() override;
  absl::Status EndPause(const Mutation& m, const std::string& pause_id, mysql::ExpectedVersion expected,
                        absl::CivilDay end_date, const std::function<void(const v1::Pause&)>& render) override;
  absl::StatusOr<DunningRunResult> RunDunning(
      absl::CivilDay as_of, absl::Time now,
      const std::function<absl::StatusOr<DunningPlan>(const DunningLedger&)>& plan) override;
  absl::StatusOr<std::vector<v1::Notice>> ListNotices(const std::string& ledger_id) override;
  absl::StatusOr<v1::Notice> GetNotice(const std::string& notice_id) override;
  absl::StatusOr<std::map<std::pair<std::string, std::string>, int64_t>> NoticesByRungAndChannel() override;
  absl::StatusOr<int64_t> LapsesAwaitingCancellation() override;
  absl::StatusOr<std::string> LedgerOfAccount(const std::string& account_id) override;
  absl::StatusOr<std::vector<std::pair<std::string, v1::MaturingBalance>>> MaturingBalances(absl::CivilDay first,
                                                                                         absl::CivilDay last,
                                                                                         int limit) override;
  absl::StatusOr<std::map<std::string, PeriodFigures>> PeriodFiguresByCurrency(absl::CivilDay first,
                                                                               absl::CivilDay last) override;
  absl::StatusOr<std::vector<EmailToSend>> ClaimEmailNotices(absl::Time now, absl::Duration lease,
                                                             int limit) override;
  absl::StatusOr<bool> RecordDelivery(const std::string& notice_id, const std::string& token,
                                      v1::DeliveryState state, absl::Time next_attempt, const std::string& error,
                                      absl::Time now) override;

  absl::Status IngestUnposted(const Mutation& m, const std::vector<v1::UnpostedPayment>& rows,
                              const ComponentOrder& order, const AutoPostDecision& decide,
                              const std::function<void(const std::vector<UnpostedIngestOutcome>&)>& render) override;
  absl::StatusOr<v1::UnpostedPayment> GetUnposted(const std::string& unposted_id) override;
  absl::StatusOr<std::vector<v1::UnpostedPayment>> ListUnposted(bool include_posted, int limit) override;
  absl::StatusOr<std::vector<MatchLedger>> MatchCandidates(const v1::UnpostedPayment& line, int limit) override;
  absl::Status PostUnposted(const Mutation& m, const std::string& unposted_id, mysql::ExpectedVersion expected,
                            v1::Payment payment, const std::vector<RequestedAllocation>& requested,
                            const ComponentOrder& order,
                            const std::function<void(const v1::UnpostedPayment&)>& render) override;
  absl::StatusOr<int64_t> OpenUnpostedCount() override;

  absl::Status Reconcile(const Mutation& m, const ReconciliationRecord& header, const std::vector<StatementInput>& rows,
                         const std::function<absl::Status(const ReconciliationRecord&)>& render) override;
  absl::StatusOr<ReconciliationRecord> GetReconciliation(const std::string& report_id) override;
  absl::StatusOr<std::vector<ReconciliationRecord>> ListReconciliations(int limit) override;
  absl::StatusOr<std::map<std::string, int64_t>> LatestDifferencesByKind() override;

  // For the outbox completion handlers (dunning_outbox.cc), inside the relay's
  // completion transaction: membership's answer to the notice's `action`
  // ("SUSPEND", ...); left alone when the notice now waits on another action.
  absl::Status RecordAccountAction(mysql::Connection& conn, const std::string& notice_id, const std::string& action,
                                   bool done, const std::string& error);

 private:
  // Runs a mutation exactly once in one transaction: the single switch point to
  // the kit's exactly-once runner.
  absl::Status Mutate(const Mutation& m, const std::function<absl::Status(mysql::Connection&)>& fn);

  // Visits every ledger: `visit(id, skip_locked)` returns false when it
  // skipped a ledger another transaction holds; those are visited once more,
  // waiting for the lock, after the pass, so none is missed.
  absl::Status ForEachLedger(const std::function<absl::StatusOr<bool>(const std::string&, bool)>& visit);
  // Runs the dunning of one ledger (see RunDunning); false when skipped.
  absl::StatusOr<bool> DunOne(const std::string& ledger_id, bool skip_locked, absl::CivilDay as_of, absl::Time now,
                              const std::function<absl::StatusOr<DunningPlan>(const DunningLedger&)>& plan,
                              DunningRunResult& result);

  // Ages one ledger under its lock; false when another transaction holds it
  // and `skip_locked` is set.
  absl::StatusOr<bool> AgeOne(const std::string& ledger_id, bool skip_locked, absl::CivilDay as_of, absl::Time now,
                              const std::function<LedgerAging(const AgingInputs&)>& age, AgingRunResult& result);

  mysql::ConnectionPool& pool_;
};

}  // namespace careops::collections
