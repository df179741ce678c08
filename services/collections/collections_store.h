// Where ledgers, installments, payments, contact history and pauses are kept.
//
// Every mutation is exactly-once by the caller's request_id and runs in one
// transaction with its audit entry (MysqlCollectionsStore::Mutate, the one place
// that picks the exactly-once runner). A ledger's mutations lock the ledger row
// first, so two payments to one ledger allocate one after the other and never
// pay the same minor unit twice. No method calls another service.
//
// The `render` callbacks run inside the transaction with what was stored, and
// fill the RPC response that is kept for replays.
//
// Updates of a ledger's contact, a payment's status, a pause's end and an
// unposted payment's posting are versioned (common/mysql/versioned.h): they
// take the version the client read (`expected`, from its etag), lock the row,
// answer ABORTED when it moved since, and bump it. The service's own changes to
// those rows (a bounce, an auto-post, a dunning episode) bump it too, so every
// row read carries its current etag.
//
// Status contract: NOT_FOUND for an unknown ledger, payment or pause;
// ALREADY_EXISTS for a second ledger of one account, a taken installment number
// or a reference posted before; INVALID_ARGUMENT from the allocation rules
// (collections_rules.h); FAILED_PRECONDITION for a payment no longer POSTED or a
// pause already ended before the new end; UNAVAILABLE when the database is down.
//
// A payment also settles the ledger's notices in its transaction: an ISSUED
// notice whose every covered installment is now paid is RESOLVED, a Notice of
// Cancellation WITHDRAWN with the account's reinstatement in the outbox
// (dunning_outbox.h).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "careops/collections/v1/collections.pb.h"
#include "common/mutation.h"
#include "common/mysql/versioned.h"
#include "services/collections/collections_rules.h"
#include "services/collections/dunning_outbox.h"
#include "services/collections/dunning_rules.h"
#include "services/collections/notice_delivery.h"
#include "services/collections/reconciliation_rules.h"

namespace careops::collections {

using Mutation = MutationContext;

// What aging needs of a ledger.
struct AgingInputs {
  std::string currency;
  std::vector<OpenItem> open_items;  // installments with a balance
  std::vector<PauseSpan> pauses;
};

struct AgingRunResult {
  int ledgers_aged = 0;
  int bucket_changes = 0;
};

// One ledger's bucket on a date, as the aging runs recorded it.
struct AgingReportEntry {
  std::string ledger_id, account_id, currency, bucket;
  absl::CivilDay since;
  int64_t outstanding_minor = 0;
};

// One validated row of the bank's report, with the id its bounce fee
// installment gets (empty: no fee).
struct BankReturn {
  v1::BankReturnRow row;
  std::string fee_installment_id;
  int64_t fee_minor = 0;
};

struct BankReturnOutcome {
  v1::ReturnOutcome outcome = v1::RETURN_OUTCOME_APPLIED;
  std::string reversed_payment_id, fee_installment_id, error;
};

// One ledger as the dunning run sees it, under its lock.
struct DunningLedger {
  std::string ledger_id, account_id, account_name, currency;
  v1::Contact contact;
  DunningInputs inputs;
};

// A notice the run issues, prepared by the adapter (ids, channel, text).
struct NoticeToIssue {
  NoticeDraft draft;
  std::string notice_id;
  std::string fee_installment_id, interest_installment_id;  // empty: no fee / no interest
  v1::Channel channel = v1::CHANNEL_LETTER;
  std::string recipient, text;
  v1::DeliveryState delivery = v1::DELIVERY_STATE_AWAITING_CHANNEL;
  std::optional<outbox::Intent> account_intent;  // a NoC's suspension
};

// What the run writes for one ledger.
struct DunningPlan {
  std::vector<NoticeTransition> transitions;
  std::vector<NoticeToIssue> issue;
  bool close_episode = false;
};

struct DunningRunResult {
  int ledgers = 0, issued = 0, resolved = 0, lapsed = 0;
  std::vector<std::string> issued_ids;
  std::vector<std::string> intent_keys;  // written by this run, to deliver after it
};

// What an ingest does with a deposit line it recorded: post it to `ledger_id`
// as payment `payment_id` (auto-post), oldest due first.
struct AutoPost {
  std::string ledger_id, payment_id;
  int score = 0;
};

struct UnpostedIngestOutcome {
  v1::UnpostedOutcome outcome = v1::UNPOSTED_OUTCOME_RECORDED;
  std::string unposted_id, ledger_id, payment_id;
};

// Decides a recorded line's auto-post from its candidates (nullopt: leave it OPEN).
using AutoPostDecision =
    std::function<std::optional<AutoPost>(const v1::UnpostedPayment&, const std::vector<MatchLedger>&)>;

// One statement row with the currency its amounts are in.
struct StatementInput {
  StatementLedger ledger;
  std::string currency;
};

struct ReconciliationRecord {
  std::string report_id, statement_reference, created_by;
  absl::CivilDay period_start, period_end;
  int ledgers = 0, difference_count = 0;
  absl::Time created_at;
  std::vector<Difference> differences;  // empty in a list
};

class CollectionsStore {
 public:
  virtual ~CollectionsStore() = default;

  // `ledger` carries its new id, account, name, currency and contact.
  virtual absl::Status OpenLedger(const Mutation& m, const v1::Ledger& ledger, const std::string& source,
                                  const std::function<void(const v1::Ledger&)>& render) = 0;
  virtual absl::StatusOr<v1::Ledger> GetLedger(const std::string& ledger_id) = 0;

  // Inserts `rows` (validated, ids set) into the ledger; a row whose number is
  // taken is not inserted and `existing[i]` names the installment that has it.
  virtual absl::Status AddInstallments(
      const Mutation& m, const std::string& ledger_id, const std::vector<v1::Installment>& rows,
      const std::function<absl::Status(const std::vector<std::optional<std::string>>& existing)>& render) = 0;

  virtual absl::Status UpdateContact(const Mutation& m, const std::string& ledger_id, mysql::ExpectedVersion expected,
                                     const v1::Contact& contact, const std::string& source,
                                     const std::function<void(const v1::Ledger&)>& render) = 0;
  virtual absl::StatusOr<std::vector<v1::ContactChange>> ListContactHistory(const std::string& ledger_id) = 0;

  // `payment` is validated with its id set; allocations are computed here under
  // the ledger lock: `requested` empty means oldest first.
  virtual absl::Status PostPayment(const Mutation& m, const v1::Payment& payment,
                                   const std::vector<RequestedAllocation>& requested, const ComponentOrder& order,
                                   const std::function<void(const v1::Payment&)>& render) = 0;
  virtual absl::Status ReversePayment(const Mutation& m, const std::string& payment_id, mysql::ExpectedVersion expected,
                                      bool unapply_only, const std::string& reason,
                                      const std::function<void(const v1::Payment&)>& render) = 0;
  // Applies each row at most once by bank_reference (in one transaction); a row
  // naming no ledger, no POSTED payment or another amount is INVALID and
  // changes nothing.
  virtual absl::Status IngestBankReturns(
      const Mutation& m, const std::vector<BankReturn>& rows,
      const std::function<void(const std::vector<BankReturnOutcome>&)>& render) = 0;
  virtual absl::StatusOr<std::vector<v1::Payment>> ListPayments(const std::string& ledger_id) = 0;

  // The ledger's open items and pauses; with `as_of`, the balances on that day
  // as known now (payments dated after it do not count; one given back since
  // never counted).
  virtual absl::StatusOr<AgingInputs> GetAgingInputs(const std::string& ledger_id,
                                                     std::optional<absl::CivilDay> as_of) = 0;
  virtual absl::Status AddPause(const Mutation& m, const v1::Pause& pause,
                                const std::function<void(const v1::Pause&)>& render) = 0;
  // Ages every ledger with `age` on `as_of`, each in its own transaction under
  // its row lock: ledgers another replica holds are skipped (SKIP LOCKED) and
  // tried once more, waiting, after the pass, so none is missed. A subject's row
  // is recorded only when its bucket differs from its latest row on or before
  // as_of (or it has none), so a re-run records nothing.
  virtual absl::StatusOr<AgingRunResult> RunAging(absl::CivilDay as_of, absl::Time now,
                                                  const std::function<LedgerAging(const AgingInputs&)>& age) = 0;
  virtual absl::StatusOr<std::vector<v1::AgingChange>> GetAgingHistory(const std::string& ledger_id) = 0;
  // Every aged ledger's latest account row on or before as_of, in ledger order.
  virtual absl::StatusOr<std::vector<AgingReportEntry>> AgingReport(absl::CivilDay as_of) = 0;

  // Bank returns ingested so far, by reason short name ("INSUFFICIENT_FUNDS").
  virtual absl::StatusOr<std::map<std::string, int64_t>> BankReturnsByReason() = 0;
  // Payments posted and still POSTED, by method short name ("CHECK").
  virtual absl::StatusOr<std::map<std::string, int64_t>> PostedPaymentsByMethod() = 0;

  // The dunning run on `as_of`: each ledger in its own transaction under its
  // row lock (SKIP LOCKED first, then waiting for the ones another replica
  // held, like RunAging); `plan` decides on the balances of `as_of` (as
  // GetAgingInputs gives them), the store writes the transitions (only
  // of notices still ISSUED), the notices (a subject issued before is skipped:
  // nothing twice), their fee and interest installments and covered rows, the
  // outbox intents and the episode change, with one audit entry per notice.
  virtual absl::StatusOr<DunningRunResult> RunDunning(
      absl::CivilDay as_of, absl::Time now,
      const std::function<absl::StatusOr<DunningPlan>(const DunningLedger&)>& plan) = 0;
  virtual absl::StatusOr<std::vector<v1::Notice>> ListNotices(const std::string& ledger_id) = 0;
  virtual absl::StatusOr<v1::Notice> GetNotice(const std::string& notice_id) = 0;
  // Notices by (rung, channel) short names, every status: the notices gauge.
  virtual absl::StatusOr<std::map<std::pair<std::string, std::string>, int64_t>> NoticesByRungAndChannel() = 0;
  // Notices of Cancellation LAPSED whose cancellation membership has not confirmed yet.
  virtual absl::StatusOr<int64_t> LapsesAwaitingCancellation() = 0;

  // Claims up to `limit` PENDING email notices due at `now` that nobody holds
  // (SKIP LOCKED), each with a fresh token, a lease until now + lease and one
  // more attempt counted, in one short transaction.
  virtual absl::StatusOr<std::vector<EmailToSend>> ClaimEmailNotices(absl::Time now, absl::Duration lease,
                                                                     int limit) = 0;
  // The outcome of one attempt, only under the token that claimed it (false
  // when the claim was lost): `state` SENT or FAILED, or PENDING again with
  // `next_attempt`.
  virtual absl::StatusOr<bool> RecordDelivery(const std::string& notice_id, const std::string& token,
                                              v1::DeliveryState state, absl::Time next_attempt,
                                              const std::string& error, absl::Time now) = 0;

  // Balloon / remaining and retention installments with a balance due in
  // [first, last], soonest first, at most `limit`.
  virtual absl::StatusOr<std::vector<std::pair<std::string, v1::MaturingBalance>>> MaturingBalances(
      absl::CivilDay first, absl::CivilDay last, int limit) = 0;  // (currency, row)
  // The ledger of a membership account; NOT_FOUND naming account_id when none.
  virtual absl::StatusOr<std::string> LedgerOfAccount(const std::string& account_id) = 0;
  // Per currency: what fell due in [first, last] and the POSTED payments dated in it.
  struct PeriodFigures {
    int64_t due_minor = 0, collected_minor = 0;
  };
  virtual absl::StatusOr<std::map<std::string, PeriodFigures>> PeriodFiguresByCurrency(absl::CivilDay first,
                                                                                       absl::CivilDay last) = 0;

  virtual absl::Status EndPause(const Mutation& m, const std::string& pause_id, mysql::ExpectedVersion expected,
                                absl::CivilDay end_date, const std::function<void(const v1::Pause&)>& render) = 0;

  // ---- Unposted payments.
  // Records each line (validated, id set) unless its bank_reference is known
  // (DUPLICATE, naming the line recorded before), all in one transaction; then
  // asks `decide` with the line's candidates (MatchCandidates) and, when it
  // says so, posts it under the ledger's lock like PostPayment. A line the
  // ledger cannot take (it owes less now) stays OPEN.
  virtual absl::Status IngestUnposted(const Mutation& m, const std::vector<v1::UnpostedPayment>& rows,
                                      const ComponentOrder& order, const AutoPostDecision& decide,
                                      const std::function<void(const std::vector<UnpostedIngestOutcome>&)>& render) = 0;
  virtual absl::StatusOr<v1::UnpostedPayment> GetUnposted(const std::string& unposted_id) = 0;
  virtual absl::StatusOr<std::vector<v1::UnpostedPayment>> ListUnposted(bool include_posted, int limit) = 0;
  // The ledgers a line may belong to (see ListMatchCandidates in the proto),
  // each with its open installments; at most `limit`.
  virtual absl::StatusOr<std::vector<MatchLedger>> MatchCandidates(const v1::UnpostedPayment& line, int limit) = 0;
  // Posts an OPEN line to `payment.ledger_id()` as `payment` (id, ledger and
  // method set; amount, date and reference come from the line). NOT_FOUND for
  // an unknown line or ledger; FAILED_PRECONDITION for a line already POSTED;
  // INVALID_ARGUMENT for a ledger in another currency or the allocation rules.
  virtual absl::Status PostUnposted(const Mutation& m, const std::string& unposted_id, mysql::ExpectedVersion expected,
                                    v1::Payment payment, const std::vector<RequestedAllocation>& requested,
                                    const ComponentOrder& order,
                                    const std::function<void(const v1::UnpostedPayment&)>& render) = 0;
  // OPEN lines: the unposted payments gauge.
  virtual absl::StatusOr<int64_t> OpenUnpostedCount() = 0;

  // ---- Reconciliation.
  // Compares each row with its ledger as it is in this transaction
  // (ReconcileLedger), stores the report with its differences and renders it
  // as stored. INVALID_ARGUMENT naming rows[i] for amounts in another currency
  // than the ledger's (nothing is stored).
  virtual absl::Status Reconcile(const Mutation& m, const ReconciliationRecord& header,
                                 const std::vector<StatementInput>& rows,
                                 const std::function<absl::Status(const ReconciliationRecord&)>& render) = 0;
  virtual absl::StatusOr<ReconciliationRecord> GetReconciliation(const std::string& report_id) = 0;
  // Newest first, without differences.
  virtual absl::StatusOr<std::vector<ReconciliationRecord>> ListReconciliations(int limit) = 0;
  // The latest report's differences by kind name: the reconciliation gauge.
  virtual absl::StatusOr<std::map<std::string, int64_t>> LatestDifferencesByKind() = 0;
};

}  // namespace careops::collections
