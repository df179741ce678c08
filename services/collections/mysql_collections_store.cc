#include "services/collections/mysql_collections_store.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/mysql/audit.h"
#include "common/enum_codec.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/mysql/batch.h"
#include "common/mysql/keyset.h"
#include "common/mysql/mutation_runner.h"
#include "common/mysql/row.h"
#include "common/mysql/select.h"
#include "common/mysql/versioned.h"
#include "common/outbox.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/validation.h"
#include "common/text.h"

namespace careops::collections {
namespace {

// ---- SQL --------------------------------------------------------------------

constexpr char kInsertLedger[] =
    "INSERT INTO ledgers (ledger_id, account_id, account_name, currency, billing_email, mobile, postal_address,"
    " preferred_channel, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kLedgerByAccount[] = "SELECT ledger_id FROM ledgers WHERE account_id = ?";
#define LEDGER_COLUMNS                                                                                    \
  "ledger_id, account_id, account_name, currency, billing_email, mobile, postal_address, preferred_channel," \
  " created_at, version"
constexpr char kSelectLedger[] = "SELECT " LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ?";
// The versioned update of a ledger row (common/mysql/versioned.h): its contact.
// The lock is every ledger mutation's first step, so lock order stays one.
constexpr mysql::VersionedTable kLedgers{
    .resource = "ledger",
    .key_field = "ledger_id",
    .lock_sql = "SELECT " LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ? FOR UPDATE",
    .update_sql = "UPDATE ledgers SET billing_email = ?, mobile = ?, postal_address = ?, preferred_channel = ?,"
                  " updated_at = ?, version = ? WHERE ledger_id = ? AND version = ?"};
constexpr char kInsertContactHistory[] =
    "INSERT INTO contact_history (ledger_id, billing_email, mobile, postal_address, preferred_channel, changed_by,"
    " source, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectContactHistory[] =
    "SELECT billing_email, mobile, postal_address, preferred_channel, changed_by, source, changed_at"
    " FROM contact_history WHERE ledger_id = ? ORDER BY id";

#define INSTALLMENT_COLUMNS                                                                          \
  "installment_id, ledger_id, number, kind, due_date, fee_minor, interest_minor, principal_minor," \
  " paid_fee_minor, paid_interest_minor, paid_principal_minor"
constexpr char kInsertInstallment[] =
    "INSERT INTO installments (installment_id, ledger_id, number, kind, due_date, fee_minor, interest_minor,"
    " principal_minor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kInstallmentsByNumberHead[] =
    "SELECT number, installment_id FROM installments WHERE ledger_id = ? AND number IN (";
constexpr char kInstallmentsByNumberTail[] = ")";
constexpr char kSelectInstallments[] =
    "SELECT " INSTALLMENT_COLUMNS " FROM installments WHERE ledger_id = ? ORDER BY due_date, number";
// Open items under the ledger lock (taken first), so balances cannot move.
constexpr char kOpenInstallments[] =
    "SELECT " INSTALLMENT_COLUMNS " FROM installments WHERE ledger_id = ?"
    " AND fee_minor + interest_minor + principal_minor > paid_fee_minor + paid_interest_minor + paid_principal_minor"
    " ORDER BY due_date, number FOR UPDATE";
constexpr char kPayInstallment[] =
    "UPDATE installments SET paid_fee_minor = paid_fee_minor + ?, paid_interest_minor = paid_interest_minor + ?,"
    " paid_principal_minor = paid_principal_minor + ? WHERE installment_id = ?";

#define PAYMENT_COLUMNS                                                                          \
  "payment_id, ledger_id, amount_minor, payment_date, method, reference, status, reversal_reason," \
  " posted_by, posted_at, version"
constexpr char kInsertPayment[] =
    "INSERT INTO payments (payment_id, ledger_id, amount_minor, payment_date, method, reference, status,"
    " reversal_reason, posted_by, posted_at) VALUES (?, ?, ?, ?, ?, ?, 'POSTED', '', ?, ?)";
constexpr char kPaymentByReference[] = "SELECT payment_id FROM payments WHERE ledger_id = ? AND reference = ?";
constexpr char kSelectPaymentLedger[] = "SELECT ledger_id FROM payments WHERE payment_id = ?";
// A payment's status change (reversed, un-applied), by the client or a bounce;
// the caller holds the ledger's lock.
constexpr mysql::VersionedTable kPayments{
    .resource = "payment",
    .key_field = "payment_id",
    .lock_sql = "SELECT " PAYMENT_COLUMNS " FROM payments WHERE payment_id = ? FOR UPDATE",
    .update_sql = "UPDATE payments SET status = ?, reversal_reason = ?, reversed_at = ?, version = ?"
                  " WHERE payment_id = ? AND version = ?"};
constexpr char kSelectPayments[] =
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE ledger_id = ? ORDER BY payment_id";
constexpr char kUnallocated[] =
    "SELECT COALESCE(SUM(amount_minor), 0) FROM payments WHERE ledger_id = ? AND status = 'UNAPPLIED'";
constexpr char kInsertAllocation[] =
    "INSERT INTO allocations (payment_id, installment_id, component, amount_minor) VALUES (?, ?, ?, ?)";
constexpr char kSelectAllocations[] =
    "SELECT installment_id, component, amount_minor, reversed FROM allocations WHERE payment_id = ? ORDER BY id";
// The allocations of a list of payments (mysql/select.h ForEachRowOf).
constexpr char kAllocationsOfHead[] =
    "SELECT payment_id, installment_id, component, amount_minor FROM allocations WHERE payment_id IN (";
constexpr char kAllocationsOfTail[] = ") ORDER BY id";
constexpr char kMarkAllocationsReversed[] = "UPDATE allocations SET reversed = 1 WHERE payment_id = ?";

#define PAUSE_COLUMNS "pause_id, ledger_id, kind, start_date, end_date, note, version"
constexpr char kInsertPause[] =
    "INSERT INTO pauses (pause_id, ledger_id, kind, start_date, end_date, note, created_by, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectPause[] = "SELECT " PAUSE_COLUMNS " FROM pauses WHERE pause_id = ?";
constexpr mysql::VersionedTable kPauses{
    .resource = "pause",
    .key_field = "pause_id",
    .lock_sql = "SELECT " PAUSE_COLUMNS " FROM pauses WHERE pause_id = ? FOR UPDATE",
    .update_sql = "UPDATE pauses SET end_date = ?, version = ? WHERE pause_id = ? AND version = ?"};
// The spans aging and dunning skip (PauseSpan).
constexpr char kSelectPauseSpans[] = "SELECT start_date, end_date FROM pauses WHERE ledger_id = ? ORDER BY start_date";

// Batch runs walk every ledger in keyset pages of this size.
constexpr char kLedgerIds[] = "SELECT ledger_id FROM ledgers";
constexpr int kLedgerPageSize = 500;
constexpr char kLockLedgerSkipLocked[] = "SELECT currency FROM ledgers WHERE ledger_id = ? FOR UPDATE SKIP LOCKED";
constexpr char kLatestAging[] =
    "SELECT bucket FROM aging_history WHERE ledger_id = ? AND installment_id = ? AND as_of <= ?"
    " ORDER BY as_of DESC LIMIT 1";
constexpr char kInsertAging[] =
    "INSERT INTO aging_history (ledger_id, installment_id, as_of, bucket, days_past_due, balance_minor, recorded_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE bucket = VALUES(bucket),"
    " days_past_due = VALUES(days_past_due), balance_minor = VALUES(balance_minor)";
constexpr char kSelectAgingHistory[] =
    "SELECT installment_id, as_of, bucket, days_past_due, balance_minor FROM aging_history WHERE ledger_id = ?"
    " ORDER BY as_of, installment_id";
// The latest account row (installment_id '') of every ledger on or before a date.
constexpr char kAgingReport[] =
    "SELECT h.ledger_id, l.account_id, l.currency, h.bucket, h.as_of, h.balance_minor FROM aging_history h"
    " JOIN ledgers l ON l.ledger_id = h.ledger_id"
    " JOIN (SELECT ledger_id, MAX(as_of) AS as_of FROM aging_history WHERE installment_id = '' AND as_of <= ?"
    " GROUP BY ledger_id) latest ON latest.ledger_id = h.ledger_id AND latest.as_of = h.as_of"
    " WHERE h.installment_id = '' ORDER BY h.ledger_id";

constexpr char kPaymentsByMethod[] =
    "SELECT method, COUNT(*) FROM payments WHERE status = 'POSTED' GROUP BY method";

constexpr char kReturnsByReason[] = "SELECT reason, COUNT(*) FROM bank_returns GROUP BY reason";
constexpr char kBankReturnExists[] = "SELECT ledger_id FROM bank_returns WHERE bank_reference = ?";
constexpr char kInsertBankReturn[] =
    "INSERT INTO bank_returns (bank_reference, ledger_id, kind, reason, amount_minor, return_date, payment_id,"
    " fee_installment_id, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kLockPaymentByReference[] =
    "SELECT payment_id, status, amount_minor, version FROM payments WHERE ledger_id = ? AND reference = ? FOR UPDATE";

// ---- Dunning (dunning_rules.h, V005__dunning.sql).
constexpr char kLedgerAccount[] = "SELECT account_id FROM ledgers WHERE ledger_id = ?";
#define DUNNING_LEDGER_COLUMNS                                                                                 \
  "account_id, account_name, currency, billing_email, mobile, postal_address, preferred_channel, dunning_episode," \
  " dunning_episode_since"
constexpr char kLockDunningLedger[] = "SELECT " DUNNING_LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ? FOR UPDATE";
constexpr char kLockDunningLedgerSkipLocked[] =
    "SELECT " DUNNING_LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ? FOR UPDATE SKIP LOCKED";
// Every ISSUED notice of the ledger and every notice of its current episode,
// with what each covered (one row per covered installment).
#define NOTICE_RECORD_COLUMNS                                                                            \
  "n.notice_id, n.rung, n.episode, n.sequence, n.issued_on, n.status, n.grace_until, n.account_round," \
  " ni.installment_id"
constexpr char kDunningNotices[] =
    "SELECT " NOTICE_RECORD_COLUMNS " FROM notices n LEFT JOIN notice_installments ni ON ni.notice_id = n.notice_id"
    " WHERE n.ledger_id = ? AND (n.status = 'ISSUED' OR n.episode = ?) ORDER BY n.issued_on, n.notice_id";
constexpr char kNoticeSubjects[] = "SELECT subject FROM notices WHERE ledger_id = ?";
constexpr char kInsertNotice[] =
    "INSERT INTO notices (notice_id, ledger_id, subject, rung, rung_name, episode, sequence, issued_on,"
    " days_past_due, currency, outstanding_minor, fee_minor, interest_minor, fee_installment_id,"
    " interest_installment_id, channel, recipient, body, status, resolved_on, grace_until, delivery_state,"
    " account_action, account_action_state, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ISSUED', NULL, ?, ?, ?, ?, ?)";
constexpr char kInsertNoticeInstallment[] =
    "INSERT INTO notice_installments (notice_id, installment_id, number, balance_minor) VALUES (?, ?, ?, ?)";
constexpr char kSetNoticeStatus[] =
    "UPDATE notices SET status = ?, resolved_on = ? WHERE notice_id = ? AND status = 'ISSUED'";
constexpr char kSetNoticeAction[] =
    "UPDATE notices SET account_action = ?, account_action_state = 'PENDING', account_action_error = ''"
    " WHERE notice_id = ?";
constexpr char kRecordAccountAction[] =
    "UPDATE notices SET account_action_state = ?, account_action_error = ? WHERE notice_id = ? AND account_action = ?";
// The run's own change to the ledger row (locked): the ledger's etag goes stale.
constexpr char kNextEpisode[] =
    "UPDATE ledgers SET dunning_episode = dunning_episode + 1, dunning_episode_since = ?, version = version + 1"
    " WHERE ledger_id = ?";
#define NOTICE_COLUMNS                                                                                          \
  "n.notice_id, n.ledger_id, l.account_id, n.rung, n.rung_name, n.episode, n.sequence, n.issued_on,"             \
  " n.days_past_due, n.currency, n.outstanding_minor, n.fee_minor, n.interest_minor, n.fee_installment_id,"     \
  " n.interest_installment_id, n.channel, n.recipient, n.body, n.status, n.resolved_on, n.grace_until,"         \
  " n.delivery_state, n.delivery_attempts, n.delivery_error, n.delivered_at, n.account_action,"                  \
  " n.account_action_state, n.account_action_error, n.created_at"
constexpr char kSelectNotice[] =
    "SELECT " NOTICE_COLUMNS " FROM notices n JOIN ledgers l ON l.ledger_id = n.ledger_id WHERE n.notice_id = ?";
constexpr char kSelectNoticesByLedger[] =
    "SELECT " NOTICE_COLUMNS " FROM notices n JOIN ledgers l ON l.ledger_id = n.ledger_id WHERE n.ledger_id = ?"
    " ORDER BY n.issued_on, n.created_at, n.notice_id";
// What a list of notices covered (mysql/select.h ForEachRowOf).
constexpr char kNoticesCoveredHead[] =
    "SELECT notice_id, installment_id, number, balance_minor FROM notice_installments WHERE notice_id IN (";
constexpr char kNoticesCoveredTail[] = ") ORDER BY number";
constexpr char kNoticesByRungAndChannel[] = "SELECT rung, channel, COUNT(*) FROM notices GROUP BY rung, channel";
constexpr char kLapsesAwaitingCancellation[] =
    "SELECT COUNT(*) FROM notices WHERE status = 'LAPSED' AND account_action = 'CANCEL'"
    " AND account_action_state <> 'DONE'";

// ---- Email delivery (notice_delivery.h, V006__notice_delivery.sql).
constexpr char kDueEmailNotices[] =
    "SELECT notice_id, recipient, rung, ledger_id, body, delivery_attempts FROM notices"
    " WHERE delivery_state = 'PENDING' AND channel = 'EMAIL'"
    " AND (delivery_next_at IS NULL OR delivery_next_at <= ?)"
    " AND (delivery_claimed_until IS NULL OR delivery_claimed_until < ?)"
    " ORDER BY delivery_next_at, notice_id LIMIT ? FOR UPDATE SKIP LOCKED";
// The account names of a batch's ledgers (mysql/select.h ForEachRowOf).
constexpr char kLedgerNamesHead[] = "SELECT ledger_id, account_name FROM ledgers WHERE ledger_id IN (";
constexpr char kLedgerNamesTail[] = ")";
constexpr char kClaimEmailNotice[] =
    "UPDATE notices SET delivery_claimed_until = ?, delivery_token = ?, delivery_attempts = delivery_attempts + 1"
    " WHERE notice_id = ?";
constexpr char kRecordDelivery[] =
    "UPDATE notices SET delivery_state = ?, delivery_next_at = ?, delivery_error = ?, delivered_at = ?,"
    " delivery_claimed_until = NULL, delivery_token = '' WHERE notice_id = ? AND delivery_token = ?"
    " AND delivery_state = 'PENDING'";

// ---- Summaries for retention and reporting.
constexpr char kMaturingBalances[] =
    "SELECT i.ledger_id, l.account_id, l.account_name, l.currency, i.installment_id, i.number, i.kind, i.due_date,"
    " (i.fee_minor + i.interest_minor + i.principal_minor)"
    " - (i.paid_fee_minor + i.paid_interest_minor + i.paid_principal_minor) AS balance"
    " FROM installments i JOIN ledgers l ON l.ledger_id = i.ledger_id"
    " WHERE i.kind IN ('BALLOON', 'RETENTION') AND i.due_date BETWEEN ? AND ?"
    " AND i.fee_minor + i.interest_minor + i.principal_minor"
    " > i.paid_fee_minor + i.paid_interest_minor + i.paid_principal_minor"
    " ORDER BY i.due_date, i.installment_id LIMIT ?";
constexpr char kDueInPeriod[] =
    "SELECT l.currency, COALESCE(SUM(i.fee_minor + i.interest_minor + i.principal_minor), 0) FROM installments i"
    " JOIN ledgers l ON l.ledger_id = i.ledger_id WHERE i.due_date BETWEEN ? AND ? GROUP BY l.currency";
constexpr char kCollectedInPeriod[] =
    "SELECT l.currency, COALESCE(SUM(p.amount_minor), 0) FROM payments p JOIN ledgers l ON l.ledger_id = p.ledger_id"
    " WHERE p.status = 'POSTED' AND p.payment_date BETWEEN ? AND ? GROUP BY l.currency";

// ---- Unposted payments (V007__unposted_payments.sql).
#define UNPOSTED_COLUMNS                                                                                    \
  "unposted_id, bank_reference, payer_name, reference_text, currency, amount_minor, deposit_date, status," \
  " ledger_id, payment_id, auto_posted, score, version"
constexpr char kInsertUnposted[] =
    "INSERT INTO unposted_payments (unposted_id, bank_reference, payer_name, reference_text, currency, amount_minor,"
    " deposit_date, status, received_by, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'OPEN', ?, ?)";
// V011's DEFAULT for unposted_payments.version: a line's version as kInsertUnposted records it.
constexpr int64_t kRecordedUnpostedVersion = 1;
constexpr char kUnpostedByBankReference[] = "SELECT unposted_id FROM unposted_payments WHERE bank_reference = ?";
constexpr char kSelectUnposted[] = "SELECT " UNPOSTED_COLUMNS " FROM unposted_payments WHERE unposted_id = ?";
// Posting a line, by a clerk (PostUnpostedPayment) or by the ingest (auto-post).
constexpr mysql::VersionedTable kUnposted{
    .resource = "unposted payment",
    .key_field = "unposted_id",
    .lock_sql = "SELECT " UNPOSTED_COLUMNS " FROM unposted_payments WHERE unposted_id = ? FOR UPDATE",
    .update_sql = "UPDATE unposted_payments SET status = 'POSTED', ledger_id = ?, payment_id = ?, auto_posted = ?,"
                  " score = ?, posted_by = ?, posted_at = ?, version = ? WHERE unposted_id = ? AND version = ?"};
constexpr char kListUnposted[] =
    "SELECT " UNPOSTED_COLUMNS " FROM unposted_payments WHERE (? = 1 OR status = 'OPEN')"
    " ORDER BY deposit_date, unposted_id LIMIT ?";
constexpr char kOpenUnpostedCount[] = "SELECT COUNT(*) FROM unposted_payments WHERE status = 'OPEN'";
// Candidate ledgers: named by the reference (ledger id or installment number),
// the payer's name (letters and digits, lower case), or an installment whose
// balance is the amount.
constexpr char kCandidatesByIdHead[] = "SELECT ledger_id FROM ledgers WHERE ledger_id IN (";
constexpr char kCandidatesByNumberHead[] = "SELECT DISTINCT ledger_id FROM installments WHERE number IN (";
constexpr char kCandidatesByName[] =
    "SELECT ledger_id FROM ledgers WHERE currency = ? AND REGEXP_REPLACE(LOWER(account_name), '[^a-z0-9]', '') = ?"
    " ORDER BY ledger_id LIMIT ?";
constexpr char kCandidatesByAmount[] =
    "SELECT DISTINCT i.ledger_id FROM installments i JOIN ledgers l ON l.ledger_id = i.ledger_id"
    " WHERE l.currency = ? AND (i.fee_minor + i.interest_minor + i.principal_minor)"
    " - (i.paid_fee_minor + i.paid_interest_minor + i.paid_principal_minor) = ? ORDER BY i.ledger_id LIMIT ?";
constexpr char kMatchLedger[] = "SELECT account_id, account_name, currency FROM ledgers WHERE ledger_id = ?";
constexpr char kMatchOpenItems[] =
    "SELECT installment_id, number, kind, due_date, fee_minor - paid_fee_minor, interest_minor - paid_interest_minor,"
    " principal_minor - paid_principal_minor FROM installments WHERE ledger_id = ?"
    " AND fee_minor + interest_minor + principal_minor > paid_fee_minor + paid_interest_minor + paid_principal_minor"
    " ORDER BY due_date, number";

// ---- Reconciliation (V008__reconciliation.sql).
constexpr char kPostedWithReference[] =
    "SELECT reference, amount_minor, payment_date FROM payments WHERE ledger_id = ? AND status = 'POSTED'"
    " AND reference IS NOT NULL ORDER BY payment_date, reference";
constexpr char kInsertReconciliation[] =
    "INSERT INTO reconciliation_reports (report_id, statement_reference, period_start, period_end, ledgers,"
    " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
constexpr char kInsertDifference[] =
    "INSERT INTO reconciliation_differences (report_id, seq, ledger_id, kind, subject, reference, currency,"
    " statement_minor, ledger_minor, statement_date, ledger_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
#define RECONCILIATION_COLUMNS                                                                          \
  "r.report_id, r.statement_reference, r.period_start, r.period_end, r.ledgers, r.created_by, r.created_at," \
  " (SELECT COUNT(*) FROM reconciliation_differences d WHERE d.report_id = r.report_id)"
constexpr char kSelectReconciliation[] =
    "SELECT " RECONCILIATION_COLUMNS " FROM reconciliation_reports r WHERE r.report_id = ?";
constexpr char kListReconciliations[] =
    "SELECT " RECONCILIATION_COLUMNS " FROM reconciliation_reports r ORDER BY r.created_at DESC, r.report_id DESC"
    " LIMIT ?";
constexpr char kSelectDifferences[] =
    "SELECT ledger_id, kind, subject, reference, currency, statement_minor, ledger_minor, statement_date,"
    " ledger_date FROM reconciliation_differences WHERE report_id = ? ORDER BY seq";
constexpr char kLatestDifferencesByKind[] =
    "SELECT d.kind, COUNT(*) FROM reconciliation_differences d JOIN (SELECT report_id FROM reconciliation_reports"
    " ORDER BY created_at DESC, report_id DESC LIMIT 1) latest ON latest.report_id = d.report_id GROUP BY d.kind";

// ---- Reopening notices a given-back payment had resolved or withdrawn.
constexpr char kSettledNotices[] =
    "SELECT " NOTICE_RECORD_COLUMNS " FROM notices n JOIN notice_installments ni ON ni.notice_id = n.notice_id"
    " WHERE n.ledger_id = ? AND n.status IN ('RESOLVED', 'WITHDRAWN') ORDER BY n.issued_on, n.notice_id";
constexpr char kReopenNotice[] =
    "UPDATE notices SET status = 'ISSUED', resolved_on = NULL WHERE notice_id = ? AND status = 'RESOLVED'";
// A withdrawn Notice of Cancellation starts its next round of account changes.
constexpr char kReopenWithdrawnNotice[] =
    "UPDATE notices SET status = 'ISSUED', resolved_on = NULL, account_round = account_round + 1"
    " WHERE notice_id = ? AND status = 'WITHDRAWN'";
constexpr char kLedgerEpisode[] = "SELECT dunning_episode FROM ledgers WHERE ledger_id = ?";
constexpr char kEpisodeLadderNotices[] =
    "SELECT COUNT(*) FROM notices WHERE ledger_id = ? AND episode = ? AND sequence > 0";
constexpr char kSetEpisode[] =
    "UPDATE ledgers SET dunning_episode = ?, version = version + 1 WHERE ledger_id = ?";

// What still-POSTED payments dated after a day paid, by installment and component.
constexpr char kPaidAfter[] =
    "SELECT a.installment_id, a.component, SUM(a.amount_minor) FROM allocations a"
    " JOIN payments p ON p.payment_id = a.payment_id"
    " WHERE p.ledger_id = ? AND p.status = 'POSTED' AND a.reversed = 0 AND p.payment_date > ?"
    " GROUP BY a.installment_id, a.component";

// ---- Rows ----------------------------------------------------------------------

using mysql::RowReader;
using mysql::Rows;
using mysql::Statement;

common::v1::Money Minor(const std::string& currency, int64_t minor) { return ToProto(Money(currency, minor)); }

// An optional id column: NULL when empty.
std::optional<std::string> IdOrNull(const std::string& id) {
  if (id.empty()) return std::nullopt;
  return id;
}

// The four contact columns, in the order every contact statement lists them;
// no preferred channel is stored as ''.
void AddContact(Statement& st, const v1::Contact& c) {
  st.Add(c.billing_email())
      .Add(c.mobile())
      .Add(c.postal_address())
      .Add(c.preferred_channel() == v1::CHANNEL_UNSPECIFIED ? std::string() : EnumShortName(c.preferred_channel()));
}

v1::Contact ReadContact(RowReader& r) {
  v1::Contact c;
  c.set_billing_email(r.String());
  c.set_mobile(r.String());
  c.set_postal_address(r.String());
  c.set_preferred_channel(EnumFromShortName<v1::Channel>(r.String()));  // '' is none
  return c;
}

absl::StatusOr<v1::Ledger> ReadLedgerRow(RowReader& r) {
  v1::Ledger l;
  l.set_ledger_id(r.String());
  l.set_account_id(r.String());
  l.set_account_name(r.String());
  l.set_currency_code(r.String());
  *l.mutable_contact() = ReadContact(r);
  *l.mutable_create_time() = ToProtoTimestamp(r.Timestamp());
  l.set_etag(mysql::EtagOf(r.Int64()));
  return l;
}

// One row of INSTALLMENT_COLUMNS; a Ledger shows it as an Installment, the
// rules see what it still owes as an OpenItem.
struct InstallmentRow {
  std::string installment_id, ledger_id, number, kind;
  absl::CivilDay due_date;
  int64_t fee = 0, interest = 0, principal = 0;
  int64_t paid_fee = 0, paid_interest = 0, paid_principal = 0;
};

absl::StatusOr<InstallmentRow> ReadInstallmentRow(RowReader& r) {
  InstallmentRow i;
  i.installment_id = r.String();
  i.ledger_id = r.String();
  i.number = r.String();
  i.kind = r.String();
  i.due_date = r.Date();
  i.fee = r.Int64();
  i.interest = r.Int64();
  i.principal = r.Int64();
  i.paid_fee = r.Int64();
  i.paid_interest = r.Int64();
  i.paid_principal = r.Int64();
  return i;
}

v1::Installment ToInstallment(const InstallmentRow& row, const std::string& currency) {
  v1::Installment i;
  i.set_installment_id(row.installment_id);
  i.set_ledger_id(row.ledger_id);
  i.set_number(row.number);
  i.set_kind(EnumFromShortName<v1::InstallmentKind>(row.kind));
  *i.mutable_due_date() = ToProto(row.due_date);
  const int64_t amount = row.fee + row.interest + row.principal;
  const int64_t paid = row.paid_fee + row.paid_interest + row.paid_principal;
  *i.mutable_fee() = Minor(currency, row.fee);
  *i.mutable_interest() = Minor(currency, row.interest);
  *i.mutable_principal() = Minor(currency, row.principal);
  *i.mutable_amount() = Minor(currency, amount);
  *i.mutable_paid() = Minor(currency, paid);
  *i.mutable_balance() = Minor(currency, amount - paid);
  return i;
}

OpenItem ToOpenItem(const InstallmentRow& row) {
  OpenItem item;
  item.installment_id = row.installment_id;
  item.number = row.number;
  item.kind = row.kind;
  item.due_date = row.due_date;
  item.outstanding = {row.fee - row.paid_fee, row.interest - row.paid_interest, row.principal - row.paid_principal};
  return item;
}

absl::StatusOr<std::vector<InstallmentRow>> InstallmentRows(mysql::Connection& conn, const char* sql,
                                                            const std::string& ledger_id) {
  Statement st(conn, sql);
  st.Add(ledger_id);
  return mysql::QueryAll<InstallmentRow>(st, ReadInstallmentRow);
}

// The first column of the first row of `st` (nullopt: no row).
absl::StatusOr<std::optional<std::string>> FirstString(Statement& st) {
  CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
  if (!rows.Next()) return std::optional<std::string>();
  std::string value = rows.row().String();
  CAREOPS_RETURN_IF_ERROR(rows.row().status());
  return std::optional<std::string>(std::move(value));
}

// The first column of the first row of `st` as a number (0: no row).
absl::StatusOr<int64_t> FirstInt64(Statement& st) {
  CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
  if (!rows.Next()) return 0;
  const int64_t value = rows.row().Int64();
  CAREOPS_RETURN_IF_ERROR(rows.row().status());
  return value;
}

// (text, count) rows of a GROUP BY.
absl::StatusOr<std::map<std::string, int64_t>> CountsByText(mysql::Connection& conn, const char* sql) {
  Statement st(conn, sql);
  using TextCount = std::pair<std::string, int64_t>;
  CAREOPS_ASSIGN_OR_RETURN(std::vector<TextCount> rows,
                           mysql::QueryAll<TextCount>(st, [](RowReader& r) -> absl::StatusOr<TextCount> {
                             std::string text = r.String();
                             return TextCount(std::move(text), r.Int64());
                           }));
  return std::map<std::string, int64_t>(rows.begin(), rows.end());
}

// The ledger's own row (no installments), locked when `lock`.
absl::StatusOr<v1::Ledger> LedgerRow(mysql::Connection& conn, const std::string& ledger_id, bool lock) {
  return mysql::SelectOne<v1::Ledger>(conn, lock ? kLedgers.lock_sql : kSelectLedger, ledger_id, ReadLedgerRow,
                                      "ledger_id", "ledger");
}

absl::StatusOr<v1::Ledger> LoadLedger(mysql::Connection& conn, const std::string& ledger_id, bool lock) {
  CAREOPS_ASSIGN_OR_RETURN(v1::Ledger l, LedgerRow(conn, ledger_id, lock));
  CAREOPS_ASSIGN_OR_RETURN(std::vector<InstallmentRow> installments,
                           InstallmentRows(conn, kSelectInstallments, ledger_id));
  int64_t outstanding = 0;
  for (const InstallmentRow& row : installments) {
    v1::Installment i = ToInstallment(row, l.currency_code());
    outstanding += i.balance().amount_minor();
    *l.add_installments() = std::move(i);
  }
  *l.mutable_outstanding() = Minor(l.currency_code(), outstanding);
  Statement st(conn, kUnallocated);
  st.Add(ledger_id);
  CAREOPS_ASSIGN_OR_RETURN(int64_t unallocated, FirstInt64(st));
  *l.mutable_unallocated() = Minor(l.currency_code(), unallocated);
  return l;
}

// A payment row (PAYMENT_COLUMNS), without its allocations (AttachAllocations).
absl::StatusOr<v1::Payment> ReadPaymentRow(RowReader& r, const std::string& currency) {
  v1::Payment p;
  p.set_payment_id(r.String());
  p.set_ledger_id(r.String());
  *p.mutable_amount() = ToProto(r.Amount(currency));
  *p.mutable_payment_date() = ToProto(r.Date());
  p.set_method(r.Enum<v1::PaymentMethod>());
  p.set_reference(r.OptionalString().value_or(""));
  p.set_status(r.Enum<v1::PaymentStatus>());
  p.set_reversal_reason(r.String());
  p.set_posted_by(r.String());
  *p.mutable_post_time() = ToProtoTimestamp(r.Timestamp());
  p.set_etag(mysql::EtagOf(r.Int64()));
  return p;
}

// Fills the allocations of `payments` (all of one ledger, in `currency`) in a
// few chunked reads, not one per payment.
absl::Status AttachAllocations(mysql::Connection& conn, std::vector<v1::Payment>& payments,
                               const std::string& currency) {
  struct Line {
    std::string payment_id;
    v1::Allocation allocation;
  };
  std::map<std::string, v1::Payment*> by_id;
  std::vector<std::string> ids;
  for (v1::Payment& p : payments) {
    by_id[p.payment_id()] = &p;
    ids.push_back(p.payment_id());
  }
  return mysql::ForEachRowOf<Line>(
      conn, ids, kAllocationsOfHead, kAllocationsOfTail,
      [&](RowReader& r) -> absl::StatusOr<Line> {
        Line line;
        line.payment_id = r.String();
        line.allocation.set_installment_id(r.String());
        line.allocation.set_component(r.Enum<v1::Component>());
        *line.allocation.mutable_amount() = ToProto(r.Amount(currency));
        return line;
      },
      [&](Line& line) { *by_id[line.payment_id]->add_allocations() = std::move(line.allocation); });
}

// Every payment `sql` selects by `key`, with its allocations.
absl::StatusOr<std::vector<v1::Payment>> LoadPayments(mysql::Connection& conn, const char* sql, const std::string& key,
                                                      const std::string& currency) {
  Statement st(conn, sql);
  st.Add(key);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Payment> payments,
                           mysql::QueryAll<v1::Payment>(st, [&](RowReader& r) -> absl::StatusOr<v1::Payment> {
                             return ReadPaymentRow(r, currency);
                           }));
  CAREOPS_RETURN_IF_ERROR(AttachAllocations(conn, payments, currency));
  return payments;
}

// The payment under its lock (the caller holds the ledger's), with its allocations.
absl::StatusOr<v1::Payment> LockPayment(mysql::Connection& conn, const std::string& payment_id,
                                        const std::string& currency) {
  CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Payment> found,
                           LoadPayments(conn, kPayments.lock_sql, payment_id, currency));
  if (found.empty()) return absl::NotFoundError(absl::StrCat("payment_id: no payment ", Quote(payment_id)));
  return std::move(found.front());
}

absl::StatusOr<std::string> LedgerCurrency(mysql::Connection& conn, const std::string& ledger_id, bool lock) {
  CAREOPS_ASSIGN_OR_RETURN(v1::Ledger l, LedgerRow(conn, ledger_id, lock));
  return l.currency_code();
}

absl::StatusOr<v1::Pause> ReadPause(RowReader& r) {
  v1::Pause p;
  p.set_pause_id(r.String());
  p.set_ledger_id(r.String());
  p.set_kind(r.Enum<v1::PauseKind>());
  *p.mutable_start_date() = ToProto(r.Date());
  if (std::optional<absl::CivilDay> end = r.OptionalDate()) *p.mutable_end_date() = ToProto(*end);
  p.set_note(r.String());
  p.set_etag(mysql::EtagOf(r.Int64()));
  return p;
}

absl::StatusOr<PauseSpan> ReadPauseSpan(RowReader& r) {
  PauseSpan span{r.Date(), std::nullopt};
  span.end = r.OptionalDate();
  return span;
}

// The installments with a balance. `paid_by` set: the balances as they were on
// that day, as known now: what still-POSTED payments dated after it paid is
// owed again (a payment given back since never paid, so a bounced check does
// not count on any day).
absl::StatusOr<std::vector<OpenItem>> LoadOpenItems(mysql::Connection& conn, const std::string& ledger_id,
                                                    std::optional<absl::CivilDay> paid_by = std::nullopt) {
  std::vector<OpenItem> out;
  std::map<std::string, std::array<int64_t, kComponents>> paid_later;
  if (paid_by) {
    Statement st(conn, kPaidAfter);
    st.Add(ledger_id).Add(*paid_by);
    CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
    while (rows.Next()) {
      RowReader& r = rows.row();
      const std::string installment_id = r.String();
      const Component component = r.Mapped<Component>(ParseComponent);
      const int64_t amount = r.Int64();
      CAREOPS_RETURN_IF_ERROR(r.status());
      paid_later[installment_id][static_cast<int>(component)] += amount;
    }
  }
  CAREOPS_ASSIGN_OR_RETURN(std::vector<InstallmentRow> installments,
                           InstallmentRows(conn, kSelectInstallments, ledger_id));
  for (const InstallmentRow& row : installments) {
    OpenItem item = ToOpenItem(row);
    if (auto it = paid_later.find(item.installment_id); it != paid_later.end()) {
      for (int c = 0; c < kComponents; ++c) item.outstanding[c] += it->second[c];
    }
    if (item.total() > 0) out.push_back(std::move(item));
  }
  return out;
}

// What aging and dunning decide on: the open items (LoadOpenItems, as of
// `paid_by` when set) and the pauses.
absl::StatusOr<AgingInputs> LoadAgingInputs(mysql::Connection& conn, const std::string& ledger_id,
                                            const std::string& currency, std::optional<absl::CivilDay> paid_by) {
  AgingInputs out;
  out.currency = currency;
  CAREOPS_ASSIGN_OR_RETURN(out.open_items, LoadOpenItems(conn, ledger_id, paid_by));
  Statement st(conn, kSelectPauseSpans);
  st.Add(ledger_id);
  CAREOPS_ASSIGN_OR_RETURN(out.pauses, mysql::QueryAll<PauseSpan>(st, ReadPauseSpan));
  return out;
}

void Audit(mysql::Connection& conn, const Mutation& m, std::string action, std::string type, std::string id,
           std::string reason = "") {
  mysql::AppendAudit(conn, {.at = m.now,
                            .actor = m.caller,
                            .action = std::move(action),
                            .resource_type = std::move(type),
                            .resource_id = std::move(id),
                            .reason = reason.substr(0, 1024),
                            .details_json = "{}",
                            .request_id = m.request_id});
}

absl::Status InsertContactHistory(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id,
                                  const v1::Contact& contact, const std::string& source) {
  Statement st(conn, kInsertContactHistory);
  st.Add(ledger_id);
  AddContact(st, contact);
  st.Add(m.caller.user).Add(source).Add(m.now);
  return st.Update().status();
}

// One installment row: the billing download's, a notice's fee or interest, a bounce fee.
struct NewInstallment {
  std::string installment_id, ledger_id, number, kind;
  absl::CivilDay due;
  int64_t fee = 0, interest = 0, principal = 0;
};

absl::Status InsertInstallment(mysql::Connection& conn, const NewInstallment& i, absl::Time now) {
  Statement st(conn, kInsertInstallment);
  st.Add(i.installment_id)
      .Add(i.ledger_id)
      .Add(i.number)
      .Add(i.kind)
      .Add(i.due)
      .Add(i.fee)
      .Add(i.interest)
      .Add(i.principal)
      .Add(now);
  return st.Update().status();
}

// ---- Dunning helpers ---------------------------------------------------------

const Principal kDunningRun{"dunning-run", "system", "collections"};

// The notices of `st` (NOTICE_RECORD_COLUMNS, one row per covered installment).
absl::StatusOr<std::vector<NoticeRecord>> QueryNoticeRecords(Statement& st) {
  std::vector<NoticeRecord> out;
  std::map<std::string, size_t> index;
  CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
  while (rows.Next()) {
    RowReader& r = rows.row();
    NoticeRecord n;
    n.notice_id = r.String();
    n.kind = ParseRungKind(r.String()).value_or(RungKind::kFirst);
    n.episode = r.Int();
    n.sequence = r.Int();
    n.issued_on = r.Date();
    n.state = ParseNoticeState(r.String()).value_or(NoticeState::kIssued);
    n.grace_until = r.OptionalDate();
    n.account_round = r.Int();
    std::optional<std::string> covered = r.OptionalString();
    CAREOPS_RETURN_IF_ERROR(r.status());
    auto it = index.find(n.notice_id);
    if (it == index.end()) {
      it = index.emplace(n.notice_id, out.size()).first;
      out.push_back(std::move(n));
    }
    if (covered) out[it->second].covered.push_back(std::move(*covered));
  }
  return out;
}

// Every ISSUED notice of the ledger and every notice of `episode` (-1: none).
absl::StatusOr<std::vector<NoticeRecord>> LoadNoticeRecords(mysql::Connection& conn, const std::string& ledger_id,
                                                            int episode) {
  Statement st(conn, kDunningNotices);
  st.Add(ledger_id).Add(episode);
  return QueryNoticeRecords(st);
}

// The notice asks membership for `change`: its account action is PENDING
// until the relay has delivered `intent` and recorded the answer
// (dunning_outbox.h).
absl::Status RequestAccountChange(mysql::Connection& conn, const Mutation& m, const std::string& notice_id,
                                  AccountChange change, const outbox::Intent& intent) {
  Statement action(conn, kSetNoticeAction);
  action.Add(AccountChangeName(change)).Add(notice_id);
  CAREOPS_RETURN_IF_ERROR(action.Update().status());
  outbox::Enqueue(conn, m, intent);
  return absl::OkStatus();
}

// Applies `t` to a notice still ISSUED (false when it no longer is), with its
// intent and audit entry.
absl::StatusOr<bool> ApplyTransition(mysql::Connection& conn, const Mutation& m, const NoticeTransition& t) {
  Statement st(conn, kSetNoticeStatus);
  st.Add(NoticeStateName(t.to)).Add(t.on).Add(t.notice_id);
  CAREOPS_ASSIGN_OR_RETURN(int64_t changed, st.Update());
  if (changed == 0) return false;
  if (t.action && t.intent) CAREOPS_RETURN_IF_ERROR(RequestAccountChange(conn, m, t.notice_id, *t.action, *t.intent));
  Audit(conn, m, absl::StrCat("notice.", absl::AsciiStrToLower(Abs(NoticeStateName(t.to)))), "notice", t.notice_id);
  return true;
}

absl::StatusOr<std::string> AccountOfLedger(mysql::Connection& conn, const std::string& ledger_id) {
  Statement st(conn, kLedgerAccount);
  st.Add(ledger_id);
  CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> account_id, FirstString(st));
  return account_id.value_or("");
}

// A payment's part of the ladder: the ledger's ISSUED notices it paid in full.
absl::Status SettlePaidNotices(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id,
                               absl::CivilDay on) {
  CAREOPS_ASSIGN_OR_RETURN(std::vector<NoticeRecord> notices, LoadNoticeRecords(conn, ledger_id, -1));
  if (notices.empty()) return absl::OkStatus();
  CAREOPS_ASSIGN_OR_RETURN(const std::vector<OpenItem> open_items, LoadOpenItems(conn, ledger_id));
  CAREOPS_ASSIGN_OR_RETURN(const std::string account_id, AccountOfLedger(conn, ledger_id));
  for (const std::string& id : PaidNotices(notices, open_items)) {
    for (const NoticeRecord& n : notices) {
      if (n.notice_id == id) CAREOPS_RETURN_IF_ERROR(ApplyTransition(conn, m, PaidTransition(n, account_id, on)).status());
    }
  }
  return absl::OkStatus();
}

// Inserts one FEE or INTEREST installment a notice charges, due on `due`.
absl::Status InsertChargeInstallment(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id,
                                     const std::string& installment_id, const std::string& number, bool fee,
                                     int64_t minor, absl::CivilDay due) {
  CAREOPS_RETURN_IF_ERROR(InsertInstallment(conn,
                                            {.installment_id = installment_id,
                                             .ledger_id = ledger_id,
                                             .number = number,
                                             .kind = fee ? "FEE" : "INTEREST",
                                             .due = due,
                                             .fee = fee ? minor : 0,
                                             .interest = fee ? 0 : minor},
                                            m.now));
  Audit(conn, m, "installment.add", "installment", installment_id, fee ? "notice fee" : "notice interest");
  return absl::OkStatus();
}

absl::Status InsertCovered(mysql::Connection& conn, const std::string& notice_id, const std::string& installment_id,
                           const std::string& number, int64_t balance_minor) {
  Statement st(conn, kInsertNoticeInstallment);
  st.Add(notice_id).Add(installment_id).Add(number).Add(balance_minor);
  return st.Update().status();
}

absl::Status InsertNotice(mysql::Connection& conn, const Mutation& m, const DunningLedger& ledger,
                          absl::CivilDay as_of, const NoticeToIssue& n) {
  const NoticeDraft& d = n.draft;
  const std::string charge_prefix = absl::StrCat("DUN-", d.episode, "-", d.sequence);
  if (!n.fee_installment_id.empty()) {
    CAREOPS_RETURN_IF_ERROR(InsertChargeInstallment(conn, m, ledger.ledger_id, n.fee_installment_id,
                                                    charge_prefix + "-FEE", true, d.fee_minor, as_of));
  }
  if (!n.interest_installment_id.empty()) {
    CAREOPS_RETURN_IF_ERROR(InsertChargeInstallment(conn, m, ledger.ledger_id, n.interest_installment_id,
                                                    charge_prefix + "-INT", false, d.interest_minor, as_of));
  }
  {
    Statement st(conn, kInsertNotice);
    st.Add(n.notice_id)
        .Add(ledger.ledger_id)
        .Add(d.subject)
        .Add(RungKindName(d.rung.kind))
        .Add(d.rung.name())
        .Add(d.episode)
        .Add(d.sequence)
        .Add(as_of)
        .Add(static_cast<int64_t>(d.days_past_due))
        .Add(ledger.currency)
        .Add(d.outstanding_minor)
        .Add(d.fee_minor)
        .Add(d.interest_minor)
        .Add(IdOrNull(n.fee_installment_id))
        .Add(IdOrNull(n.interest_installment_id))
        .Add(n.channel)
        .Add(n.recipient)
        .Add(n.text)
        .Add(d.grace_until)
        .Add(n.delivery)
        .Add(n.account_intent ? AccountChangeName(AccountChange::kSuspend) : "")
        .Add(n.account_intent ? "PENDING" : "")
        .Add(m.now);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
  }
  for (const OpenItem& item : d.covered) {
    CAREOPS_RETURN_IF_ERROR(InsertCovered(conn, n.notice_id, item.installment_id, item.number, item.total()));
  }
  if (!n.fee_installment_id.empty()) {
    CAREOPS_RETURN_IF_ERROR(
        InsertCovered(conn, n.notice_id, n.fee_installment_id, charge_prefix + "-FEE", d.fee_minor));
  }
  if (!n.interest_installment_id.empty()) {
    CAREOPS_RETURN_IF_ERROR(
        InsertCovered(conn, n.notice_id, n.interest_installment_id, charge_prefix + "-INT", d.interest_minor));
  }
  if (n.account_intent) outbox::Enqueue(conn, m, *n.account_intent);
  Audit(conn, m, "notice.issue", "notice", n.notice_id, d.rung.name());
  return absl::OkStatus();
}

// A notice row (NOTICE_COLUMNS), without what it covers (LoadNotices).
absl::StatusOr<v1::Notice> ReadNoticeRow(RowReader& r) {
  v1::Notice n;
  n.set_notice_id(r.String());
  n.set_ledger_id(r.String());
  n.set_account_id(r.String());
  n.set_rung(r.Enum<v1::NoticeRung>());
  n.set_rung_name(r.String());
  n.set_episode(r.Int());
  n.set_sequence(r.Int());
  *n.mutable_issued_on() = ToProto(r.Date());
  n.set_days_past_due(r.Int());
  const std::string currency = r.String();
  const Money outstanding = r.Amount(currency), fee = r.Amount(currency), interest = r.Amount(currency);
  *n.mutable_outstanding() = ToProto(outstanding);
  *n.mutable_fee() = ToProto(fee);
  *n.mutable_interest() = ToProto(interest);
  *n.mutable_total() = Minor(currency, outstanding.minor() + fee.minor() + interest.minor());
  n.set_fee_installment_id(r.OptionalString().value_or(""));
  n.set_interest_installment_id(r.OptionalString().value_or(""));
  n.set_channel(r.Enum<v1::Channel>());
  n.set_recipient(r.String());
  n.set_text(r.String());
  n.set_status(r.Enum<v1::NoticeStatus>());
  if (std::optional<absl::CivilDay> resolved = r.OptionalDate()) *n.mutable_resolved_on() = ToProto(*resolved);
  if (std::optional<absl::CivilDay> grace = r.OptionalDate()) *n.mutable_grace_until() = ToProto(*grace);
  n.set_delivery_state(r.Enum<v1::DeliveryState>());
  n.set_delivery_attempts(r.Int());
  n.set_delivery_error(r.String());
  if (std::optional<absl::Time> delivered = r.OptionalTimestamp()) {
    *n.mutable_delivered_time() = ToProtoTimestamp(*delivered);
  }
  // '' for a notice that asks nothing of membership.
  n.set_account_action(EnumFromShortName<v1::AccountAction>(r.String()));
  n.set_account_action_state(EnumFromShortName<v1::AccountActionState>(r.String()));
  n.set_account_action_error(r.String());
  *n.mutable_create_time() = ToProtoTimestamp(r.Timestamp());
  return n;
}

// Every notice `sql` selects by `key`, with the installments each covers (read
// for the whole list in a few chunked statements, not one per notice).
absl::StatusOr<std::vector<v1::Notice>> LoadNotices(mysql::Connection& conn, const char* sql, const std::string& key) {
  Statement st(conn, sql);
  st.Add(key);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Notice> notices, mysql::QueryAll<v1::Notice>(st, ReadNoticeRow));
  struct Covered {
    std::string notice_id, installment_id, number;
    int64_t balance_minor = 0;
  };
  std::map<std::string, v1::Notice*> by_id;
  std::vector<std::string> ids;
  for (v1::Notice& n : notices) {
    by_id[n.notice_id()] = &n;
    ids.push_back(n.notice_id());
  }
  CAREOPS_RETURN_IF_ERROR(mysql::ForEachRowOf<Covered>(
      conn, ids, kNoticesCoveredHead, kNoticesCoveredTail,
      [](RowReader& r) -> absl::StatusOr<Covered> {
        Covered c;
        c.notice_id = r.String();
        c.installment_id = r.String();
        c.number = r.String();
        c.balance_minor = r.Int64();
        return c;
      },
      [&](Covered& c) {
        v1::Notice& n = *by_id[c.notice_id];
        v1::CoveredInstallment* covered = n.add_covered();
        covered->set_installment_id(std::move(c.installment_id));
        covered->set_number(std::move(c.number));
        *covered->mutable_balance() = Minor(n.total().currency_code(), c.balance_minor);
      }));
  return notices;
}

}  // namespace

absl::Status MysqlCollectionsStore::Mutate(const Mutation& m,
                                           const std::function<absl::Status(mysql::Connection&)>& fn) {
  return mysql::RunMutation(pool_, m, fn);
}

absl::Status MysqlCollectionsStore::OpenLedger(const Mutation& m, const v1::Ledger& ledger, const std::string& source,
                                               const std::function<void(const v1::Ledger&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    {
      Statement st(conn, kLedgerByAccount);
      st.Add(ledger.account_id());
      CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> existing, FirstString(st));
      if (existing) {
        return absl::AlreadyExistsError(
            absl::StrCat("account_id: account ", Quote(ledger.account_id()), " already has ledger ", *existing));
      }
    }
    Statement st(conn, kInsertLedger);
    st.Add(ledger.ledger_id()).Add(ledger.account_id()).Add(ledger.account_name()).Add(ledger.currency_code());
    AddContact(st, ledger.contact());
    st.Add(m.now).Add(m.now);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    CAREOPS_RETURN_IF_ERROR(InsertContactHistory(conn, m, ledger.ledger_id(), ledger.contact(), source));
    Audit(conn, m, "ledger.open", "ledger", ledger.ledger_id());
    CAREOPS_ASSIGN_OR_RETURN(v1::Ledger stored, LoadLedger(conn, ledger.ledger_id(), false));
    render(stored);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Ledger> MysqlCollectionsStore::GetLedger(const std::string& ledger_id) {
  v1::Ledger out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(out, LoadLedger(conn, ledger_id, false));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MysqlCollectionsStore::AddInstallments(
    const Mutation& m, const std::string& ledger_id, const std::vector<v1::Installment>& rows,
    const std::function<absl::Status(const std::vector<std::optional<std::string>>& existing)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(LedgerCurrency(conn, ledger_id, true).status());
    // Numbers already in the ledger, in a few chunked lookups (not one per row).
    std::map<std::string, std::string> taken;  // number -> installment_id
    std::vector<std::string> numbers;
    for (const v1::Installment& row : rows) numbers.push_back(row.number());
    using NumberId = std::pair<std::string, std::string>;
    CAREOPS_RETURN_IF_ERROR(mysql::ForEachRowOf<NumberId>(
        conn, numbers, kInstallmentsByNumberHead, kInstallmentsByNumberTail,
        [](RowReader& r) -> absl::StatusOr<NumberId> {
          std::string number = r.String();
          return NumberId(std::move(number), r.String());
        },
        [&](NumberId& found) { taken[std::move(found.first)] = std::move(found.second); }, {ledger_id}));
    std::vector<std::optional<std::string>> existing(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const v1::Installment& row = rows[i];
      if (auto it = taken.find(row.number()); it != taken.end()) {
        existing[i] = it->second;
        continue;
      }
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay due, FromProto(row.due_date(), "due_date"));
      CAREOPS_RETURN_IF_ERROR(InsertInstallment(conn,
                                                {.installment_id = row.installment_id(),
                                                 .ledger_id = ledger_id,
                                                 .number = row.number(),
                                                 .kind = EnumShortName(row.kind()),
                                                 .due = due,
                                                 .fee = row.fee().amount_minor(),
                                                 .interest = row.interest().amount_minor(),
                                                 .principal = row.principal().amount_minor()},
                                                m.now));
      Audit(conn, m, "installment.add", "installment", row.installment_id());
    }
    return render(existing);
  });
}

absl::Status MysqlCollectionsStore::UpdateContact(const Mutation& m, const std::string& ledger_id,
                                                  mysql::ExpectedVersion expected, const v1::Contact& contact,
                                                  const std::string& source,
                                                  const std::function<void(const v1::Ledger&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    // The whole contact as the request gives it: nothing of the old one decides.
    CAREOPS_RETURN_IF_ERROR((mysql::UpdateVersioned<v1::Ledger, v1::Contact>(
                                 conn, kLedgers, ledger_id, expected, ReadLedgerRow,
                                 [&](const v1::Ledger&) -> absl::StatusOr<v1::Contact> { return contact; },
                                 [&](Statement& st, const v1::Contact& c) {
                                   AddContact(st, c);
                                   st.Add(m.now);
                                 }))
                                .status());
    CAREOPS_RETURN_IF_ERROR(InsertContactHistory(conn, m, ledger_id, contact, source));
    Audit(conn, m, "ledger.contact", "ledger", ledger_id, source);
    CAREOPS_ASSIGN_OR_RETURN(v1::Ledger stored, LoadLedger(conn, ledger_id, false));
    render(stored);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::ContactChange>> MysqlCollectionsStore::ListContactHistory(const std::string& ledger_id) {
  std::vector<v1::ContactChange> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(LedgerCurrency(conn, ledger_id, false).status());
    Statement st(conn, kSelectContactHistory);
    st.Add(ledger_id);
    CAREOPS_ASSIGN_OR_RETURN(
        out, mysql::QueryAll<v1::ContactChange>(st, [](RowReader& r) -> absl::StatusOr<v1::ContactChange> {
          v1::ContactChange c;
          *c.mutable_contact() = ReadContact(r);
          c.set_changed_by(r.String());
          c.set_source(r.String());
          *c.mutable_change_time() = ToProtoTimestamp(r.Timestamp());
          return c;
        }));
    return absl::OkStatus();
  }));
  return out;
}

namespace {

// Adds (or, negative, takes back) one allocation line to its installment.
absl::Status PayInstallment(mysql::Connection& conn, const AllocationLine& line, int sign) {
  const int64_t amount = sign * line.amount_minor;
  Statement st(conn, kPayInstallment);
  st.Add(line.component == Component::kFee ? amount : int64_t{0})
      .Add(line.component == Component::kInterest ? amount : int64_t{0})
      .Add(line.component == Component::kPrincipal ? amount : int64_t{0})
      .Add(line.installment_id);
  return st.Update().status();
}

// Posts and allocates `payment` under the ledger's lock (taken here), settles
// the notices it paid, and returns it as stored: PostPayment and the posting of
// an unposted payment share it.
absl::StatusOr<v1::Payment> PostPaymentIn(mysql::Connection& conn, const Mutation& m, const v1::Payment& payment,
                                          const std::vector<RequestedAllocation>& requested,
                                          const ComponentOrder& order) {
  CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, payment.ledger_id(), true));
  if (!payment.reference().empty()) {
    Statement st(conn, kPaymentByReference);
    st.Add(payment.ledger_id()).Add(payment.reference());
    CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> posted, FirstString(st));
    if (posted) {
      return absl::AlreadyExistsError(
          absl::StrCat("reference: ", Quote(payment.reference()), " was already posted as payment ", *posted));
    }
  }
  CAREOPS_ASSIGN_OR_RETURN(std::vector<InstallmentRow> open,
                           InstallmentRows(conn, kOpenInstallments, payment.ledger_id()));
  std::vector<OpenItem> items;
  for (const InstallmentRow& row : open) items.push_back(ToOpenItem(row));
  const int64_t amount = payment.amount().amount_minor();
  CAREOPS_ASSIGN_OR_RETURN(std::vector<AllocationLine> lines,
                           requested.empty() ? AllocateOldestFirst(items, amount, order)
                                             : AllocateAsRequested(items, requested, amount, order));
  CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay paid_on, FromProto(payment.payment_date(), "payment_date"));
  {
    Statement st(conn, kInsertPayment);
    st.Add(payment.payment_id())
        .Add(payment.ledger_id())
        .Add(amount)
        .Add(paid_on)
        .Add(payment.method())
        .Add(IdOrNull(payment.reference()))
        .Add(m.caller.user)
        .Add(m.now);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
  }
  for (const AllocationLine& line : lines) {
    Statement ins(conn, kInsertAllocation);
    ins.Add(payment.payment_id()).Add(line.installment_id).Add(ComponentName(line.component)).Add(line.amount_minor);
    CAREOPS_RETURN_IF_ERROR(ins.Update().status());
    CAREOPS_RETURN_IF_ERROR(PayInstallment(conn, line, +1));
  }
  CAREOPS_RETURN_IF_ERROR(SettlePaidNotices(conn, m, payment.ledger_id(), paid_on));
  Audit(conn, m, "payment.post", "payment", payment.payment_id());
  return LockPayment(conn, payment.payment_id(), currency);
}

}  // namespace

absl::Status MysqlCollectionsStore::PostPayment(const Mutation& m, const v1::Payment& payment,
                                                const std::vector<RequestedAllocation>& requested,
                                                const ComponentOrder& order,
                                                const std::function<void(const v1::Payment&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(v1::Payment stored, PostPaymentIn(conn, m, payment, requested, order));
    render(stored);
    return absl::OkStatus();
  });
}

namespace {

// Gives every live allocation of a payment back to its installment; the caller
// holds the ledger lock and writes the payment's new status (kPayments).
absl::Status GiveBack(mysql::Connection& conn, const std::string& payment_id) {
  std::vector<AllocationLine> give_back;
  {
    Statement st(conn, kSelectAllocations);
    st.Add(payment_id);
    CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
    while (rows.Next()) {
      RowReader& r = rows.row();
      AllocationLine line;
      line.installment_id = r.String();
      line.component = r.Mapped<Component>(ParseComponent);
      line.amount_minor = r.Int64();
      const bool reversed = r.Bool();
      CAREOPS_RETURN_IF_ERROR(r.status());
      if (!reversed) give_back.push_back(std::move(line));
    }
  }
  for (const AllocationLine& line : give_back) CAREOPS_RETURN_IF_ERROR(PayInstallment(conn, line, -1));
  Statement st(conn, kMarkAllocationsReversed);
  st.Add(payment_id);
  return st.Update().status();
}

// The SET values of kPayments: the new status and why, at `now`.
struct PaymentStatusChange {
  std::string status, reason;
};

void BindPaymentStatus(Statement& st, const PaymentStatusChange& change, absl::Time now) {
  st.Add(change.status).Add(change.reason).Add(now);
}

// After a payment was given back (the caller holds the ledger lock): the
// notices it had RESOLVED are ISSUED again (ReopenedNotices), and the ladder
// resumes their episode when it had moved on to an empty one (ResumeEpisode).
absl::Status ReopenUnpaidNotices(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id) {
  std::vector<NoticeRecord> settled;
  {
    Statement st(conn, kSettledNotices);
    st.Add(ledger_id);
    CAREOPS_ASSIGN_OR_RETURN(settled, QueryNoticeRecords(st));
  }
  if (settled.empty()) return absl::OkStatus();
  CAREOPS_ASSIGN_OR_RETURN(const std::vector<OpenItem> open_items, LoadOpenItems(conn, ledger_id));
  const std::vector<std::string> reopen = ReopenedNotices(settled, open_items);
  if (reopen.empty()) return absl::OkStatus();
  int latest = 0;
  std::string account_id;  // read for the first reopened Notice of Cancellation
  for (const std::string& id : reopen) {
    auto n = std::find_if(settled.begin(), settled.end(), [&](const NoticeRecord& r) { return r.notice_id == id; });
    latest = std::max(latest, n->episode);
    if (n->state != NoticeState::kWithdrawn) {
      Statement st(conn, kReopenNotice);
      st.Add(id);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
      Audit(conn, m, "notice.reopen", "notice", id, "a payment it was resolved by was given back");
      continue;
    }
    // The reinstatement is undone: suspended again, in a new round.
    Statement st(conn, kReopenWithdrawnNotice);
    st.Add(id);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    if (account_id.empty()) {
      CAREOPS_ASSIGN_OR_RETURN(account_id, AccountOfLedger(conn, ledger_id));
    }
    CAREOPS_RETURN_IF_ERROR(
        RequestAccountChange(conn, m, id, AccountChange::kSuspend, ResuspendIntent(*n, account_id)));
    Audit(conn, m, "notice.reopen", "notice", id, "the payment it was withdrawn for was given back");
  }
  int current = 0;
  {
    mysql::Statement st(conn, kLedgerEpisode);
    st.Add(ledger_id);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    if (!rows.Next()) return absl::OkStatus();
    current = rows.row().Int();
    CAREOPS_RETURN_IF_ERROR(rows.row().status());
  }
  int64_t in_current = 0;
  {
    Statement st(conn, kEpisodeLadderNotices);
    st.Add(ledger_id).Add(current);
    CAREOPS_ASSIGN_OR_RETURN(in_current, FirstInt64(st));
  }
  if (!ResumeEpisode(latest, current, static_cast<int>(in_current))) return absl::OkStatus();
  mysql::Statement st(conn, kSetEpisode);
  st.Add(latest).Add(ledger_id);
  return st.Update().status();
}


}  // namespace

absl::Status MysqlCollectionsStore::ReversePayment(const Mutation& m, const std::string& payment_id,
                                                   mysql::ExpectedVersion expected, bool unapply_only,
                                                   const std::string& reason,
                                                   const std::function<void(const v1::Payment&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    std::string ledger_id;
    {
      Statement st(conn, kSelectPaymentLedger);
      st.Add(payment_id);
      CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> found, FirstString(st));
      if (!found) return absl::NotFoundError(absl::StrCat("payment_id: no payment ", Quote(payment_id)));
      ledger_id = *std::move(found);
    }
    // Ledger first, like every other ledger mutation, so lock order is one.
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, ledger_id, true));
    CAREOPS_RETURN_IF_ERROR((mysql::UpdateVersioned<v1::Payment, PaymentStatusChange>(
                                 conn, kPayments, payment_id, expected,
                                 [&](RowReader& r) { return ReadPaymentRow(r, currency); },
                                 [&](const v1::Payment& current) -> absl::StatusOr<PaymentStatusChange> {
                                   if (current.status() != v1::PAYMENT_STATUS_POSTED) {
                                     return absl::FailedPreconditionError(
                                         absl::StrCat("payment ", payment_id, " is ",
                                                      EnumShortName(current.status()), ", not POSTED"));
                                   }
                                   return PaymentStatusChange{unapply_only ? "UNAPPLIED" : "REVERSED", reason};
                                 },
                                 [&](Statement& st, const PaymentStatusChange& c) { BindPaymentStatus(st, c, m.now); }))
                                .status());
    CAREOPS_RETURN_IF_ERROR(GiveBack(conn, payment_id));
    CAREOPS_RETURN_IF_ERROR(ReopenUnpaidNotices(conn, m, ledger_id));
    Audit(conn, m, unapply_only ? "payment.unapply" : "payment.reverse", "payment", payment_id, reason);
    CAREOPS_ASSIGN_OR_RETURN(v1::Payment stored, LockPayment(conn, payment_id, currency));
    render(stored);
    return absl::OkStatus();
  });
}

namespace {

struct ReferencedPayment {
  std::string payment_id, status;
  int64_t amount_minor = 0;
  int64_t version = 0;
};

}  // namespace

absl::Status MysqlCollectionsStore::IngestBankReturns(
    const Mutation& m, const std::vector<BankReturn>& rows,
    const std::function<void(const std::vector<BankReturnOutcome>&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    std::vector<BankReturnOutcome> outcomes(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const v1::BankReturnRow& row = rows[i].row;
      BankReturnOutcome& out = outcomes[i];
      auto invalid = [&](std::string error) {
        out.outcome = v1::RETURN_OUTCOME_INVALID;
        out.error = std::move(error);
      };
      {
        Statement st(conn, kBankReturnExists);
        st.Add(row.bank_reference());
        CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> known, FirstString(st));
        if (known) {
          out.outcome = v1::RETURN_OUTCOME_DUPLICATE;
          continue;
        }
      }
      absl::StatusOr<std::string> currency = LedgerCurrency(conn, row.ledger_id(), true);
      if (absl::IsNotFound(currency.status())) {
        invalid(absl::StrCat("rows[", i, "].ledger_id: no ledger ", Quote(row.ledger_id())));
        continue;
      }
      CAREOPS_RETURN_IF_ERROR(currency.status());
      if (row.amount().currency_code() != *currency) {
        invalid(absl::StrCat("rows[", i, "].amount.currency_code: must be the ledger's ", *currency));
        continue;
      }
      std::string payment_id;
      int64_t payment_version = 0;  // as locked by kLockPaymentByReference
      if (!row.payment_reference().empty()) {
        Statement st(conn, kLockPaymentByReference);
        st.Add(row.ledger_id()).Add(row.payment_reference());
        CAREOPS_ASSIGN_OR_RETURN(
            std::vector<ReferencedPayment> found,
            mysql::QueryAll<ReferencedPayment>(st, [](RowReader& r) -> absl::StatusOr<ReferencedPayment> {
              ReferencedPayment p;
              p.payment_id = r.String();
              p.status = r.String();
              p.amount_minor = r.Int64();
              p.version = r.Int64();
              return p;
            }));
        if (found.empty()) {
          invalid(absl::StrCat("rows[", i, "].payment_reference: no payment ", Quote(row.payment_reference()),
                               " in the ledger"));
          continue;
        }
        const ReferencedPayment& p = found.front();
        if (p.status != "POSTED") {
          invalid(absl::StrCat("rows[", i, "].payment_reference: payment ", p.payment_id, " is ", p.status,
                               ", not POSTED"));
          continue;
        }
        if (p.amount_minor != row.amount().amount_minor()) {
          invalid(absl::StrCat("rows[", i, "].amount: differs from the payment's ", p.amount_minor, " minor units"));
          continue;
        }
        payment_id = p.payment_id;
        payment_version = p.version;
      }
      const std::string reason = EnumShortName(row.reason());
      const std::string kind = EnumShortName(row.kind());
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay returned, FromProto(row.return_date(), "return_date"));
      if (!payment_id.empty()) {
        // The bank's reversal, not a client's: no etag to check, but the
        // version moves, so a ReversePayment with the etag read before is stale.
        const PaymentStatusChange bounced{"REVERSED",
                                          absl::StrCat(kind, ": ", reason, " (", row.bank_reference(), ")")};
        CAREOPS_RETURN_IF_ERROR(mysql::WriteVersioned(conn, kPayments, payment_id, payment_version,
                                                      [&](Statement& st) { BindPaymentStatus(st, bounced, m.now); })
                                    .status());
        CAREOPS_RETURN_IF_ERROR(GiveBack(conn, payment_id));
        Audit(conn, m, "payment.return", "payment", payment_id, reason);
        out.reversed_payment_id = payment_id;
        CAREOPS_RETURN_IF_ERROR(ReopenUnpaidNotices(conn, m, row.ledger_id()));
      }
      if (!rows[i].fee_installment_id.empty()) {
        CAREOPS_RETURN_IF_ERROR(
            InsertInstallment(conn,
                              {.installment_id = rows[i].fee_installment_id,
                               .ledger_id = row.ledger_id(),
                               .number = absl::StrCat("BOUNCE-", row.bank_reference()).substr(0, 64),
                               .kind = "FEE",
                               .due = returned,
                               .fee = rows[i].fee_minor},
                              m.now));
        out.fee_installment_id = rows[i].fee_installment_id;
      }
      Statement st(conn, kInsertBankReturn);
      st.Add(row.bank_reference())
          .Add(row.ledger_id())
          .Add(kind)
          .Add(reason)
          .Add(row.amount().amount_minor())
          .Add(returned)
          .Add(IdOrNull(payment_id))
          .Add(IdOrNull(out.fee_installment_id))
          .Add(m.caller.user)
          .Add(m.now);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
      Audit(conn, m, "bank_return.ingest", "ledger", row.ledger_id(), row.bank_reference());
    }
    render(outcomes);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::Payment>> MysqlCollectionsStore::ListPayments(const std::string& ledger_id) {
  std::vector<v1::Payment> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, ledger_id, false));
    CAREOPS_ASSIGN_OR_RETURN(out, LoadPayments(conn, kSelectPayments, ledger_id, currency));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<AgingInputs> MysqlCollectionsStore::GetAgingInputs(const std::string& ledger_id,
                                                                   std::optional<absl::CivilDay> as_of) {
  AgingInputs out;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, ledger_id, false));
    CAREOPS_ASSIGN_OR_RETURN(out, LoadAgingInputs(conn, ledger_id, currency, as_of));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<bool> MysqlCollectionsStore::AgeOne(const std::string& ledger_id, bool skip_locked,
                                                   absl::CivilDay as_of, absl::Time now,
                                                   const std::function<LedgerAging(const AgingInputs&)>& age,
                                                   AgingRunResult& result) {
  bool aged = false;
  int changes = 0;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
    aged = false;
    changes = 0;
    std::string currency;
    if (skip_locked) {
      Statement st(conn, kLockLedgerSkipLocked);
      st.Add(ledger_id);
      CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> locked, FirstString(st));
      if (!locked) return absl::OkStatus();  // another replica has it now
      currency = *std::move(locked);
    } else {
      CAREOPS_ASSIGN_OR_RETURN(currency, LedgerCurrency(conn, ledger_id, true));
    }
    CAREOPS_ASSIGN_OR_RETURN(AgingInputs in, LoadAgingInputs(conn, ledger_id, currency, as_of));
    LedgerAging a = age(in);
    std::vector<InstallmentAging> subjects = {{"", a.days_past_due, a.bucket, a.outstanding_minor}};
    subjects.insert(subjects.end(), a.installments.begin(), a.installments.end());
    for (const InstallmentAging& subject : subjects) {
      {
        Statement st(conn, kLatestAging);
        st.Add(ledger_id).Add(subject.installment_id).Add(as_of);
        CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> bucket, FirstString(st));
        if (bucket == subject.bucket) continue;
      }
      Statement st(conn, kInsertAging);
      st.Add(ledger_id)
          .Add(subject.installment_id)
          .Add(as_of)
          .Add(subject.bucket)
          .Add(static_cast<int64_t>(subject.days_past_due))
          .Add(subject.balance_minor)
          .Add(now);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
      ++changes;
    }
    aged = true;
    return absl::OkStatus();
  }));
  if (aged) {
    ++result.ledgers_aged;
    result.bucket_changes += changes;
  }
  return aged;
}

absl::Status MysqlCollectionsStore::ForEachLedger(
    const std::function<absl::StatusOr<bool>(const std::string&, bool)>& visit) {
  std::vector<std::string> skipped;
  PageRequest page{.after_id = "", .limit = kLedgerPageSize};
  const mysql::KeysetQuery ledgers(kLedgerIds, "ledger_id");
  while (true) {
    CAREOPS_ASSIGN_OR_RETURN(mysql::KeysetPage<std::string> ids,
                             ledgers.Fetch<std::string>(pool_, page, [](RowReader& r) -> absl::StatusOr<std::string> {
                               return r.String();
                             }));
    for (const std::string& id : ids.items) {
      CAREOPS_ASSIGN_OR_RETURN(bool visited, visit(id, true));
      if (!visited) skipped.push_back(id);
    }
    if (!ids.more) break;
    page.after_id = ids.items.back();
  }
  // Held by a payment or another replica a moment ago: wait for it this time
  // (a replica that already did it leaves nothing to do).
  for (const std::string& id : skipped) {
    CAREOPS_RETURN_IF_ERROR(visit(id, false).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<AgingRunResult> MysqlCollectionsStore::RunAging(
    absl::CivilDay as_of, absl::Time now, const std::function<LedgerAging(const AgingInputs&)>& age) {
  AgingRunResult result;
  CAREOPS_RETURN_IF_ERROR(ForEachLedger([&](const std::string& id, bool skip_locked) {
    return AgeOne(id, skip_locked, as_of, now, age, result);
  }));
  return result;
}

absl::StatusOr<std::vector<v1::AgingChange>> MysqlCollectionsStore::GetAgingHistory(const std::string& ledger_id) {
  std::vector<v1::AgingChange> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, ledger_id, false));
    Statement st(conn, kSelectAgingHistory);
    st.Add(ledger_id);
    CAREOPS_ASSIGN_OR_RETURN(
        out, mysql::QueryAll<v1::AgingChange>(st, [&](RowReader& r) -> absl::StatusOr<v1::AgingChange> {
          v1::AgingChange c;
          c.set_installment_id(r.String());
          *c.mutable_as_of() = ToProto(r.Date());
          c.set_bucket(r.String());
          c.set_days_past_due(r.Int());
          *c.mutable_balance() = ToProto(r.Amount(currency));
          return c;
        }));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<AgingReportEntry>> MysqlCollectionsStore::AgingReport(absl::CivilDay as_of) {
  std::vector<AgingReportEntry> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kAgingReport);
    st.Add(as_of);
    CAREOPS_ASSIGN_OR_RETURN(
        out, mysql::QueryAll<AgingReportEntry>(st, [](RowReader& r) -> absl::StatusOr<AgingReportEntry> {
          AgingReportEntry e;
          e.ledger_id = r.String();
          e.account_id = r.String();
          e.currency = r.String();
          e.bucket = r.String();
          e.since = r.Date();
          e.outstanding_minor = r.Int64();
          return e;
        }));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> MysqlCollectionsStore::PostedPaymentsByMethod() {
  std::map<std::string, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(out, CountsByText(conn, kPaymentsByMethod));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> MysqlCollectionsStore::BankReturnsByReason() {
  std::map<std::string, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(out, CountsByText(conn, kReturnsByReason));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MysqlCollectionsStore::AddPause(const Mutation& m, const v1::Pause& pause,
                                             const std::function<void(const v1::Pause&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(LedgerCurrency(conn, pause.ledger_id(), true).status());
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay start, FromProto(pause.start_date(), "pause.start_date"));
    std::optional<absl::CivilDay> end;
    if (pause.has_end_date()) {
      CAREOPS_ASSIGN_OR_RETURN(end, FromProto(pause.end_date(), "pause.end_date"));
    }
    Statement st(conn, kInsertPause);
    st.Add(pause.pause_id())
        .Add(pause.ledger_id())
        .Add(pause.kind())
        .Add(start)
        .Add(end)
        .Add(pause.note())
        .Add(m.caller.user)
        .Add(m.now);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    Audit(conn, m, "pause.add", "pause", pause.pause_id(), pause.note());
    CAREOPS_ASSIGN_OR_RETURN(v1::Pause stored, mysql::SelectOne<v1::Pause>(conn, kSelectPause, pause.pause_id(),
                                                                         ReadPause, "pause_id", "pause"));
    render(stored);
    return absl::OkStatus();
  });
}

absl::Status MysqlCollectionsStore::EndPause(const Mutation& m, const std::string& pause_id,
                                             mysql::ExpectedVersion expected, absl::CivilDay end_date,
                                             const std::function<void(const v1::Pause&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<v1::Pause, absl::CivilDay>(
                       conn, kPauses, pause_id, expected, ReadPause,
                       [&](const v1::Pause& current) -> absl::StatusOr<absl::CivilDay> {
                         CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay start, FromProto(current.start_date(), "start_date"));
                         if (end_date <= start) {
                           return InvalidArgument("end_date", "must be after the pause's start_date");
                         }
                         if (current.has_end_date()) {
                           CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay old_end, FromProto(current.end_date(), "end_date"));
                           if (end_date > old_end) {
                             return absl::FailedPreconditionError(absl::StrCat("pause ", pause_id, " already ends on ",
                                                                               ToSqlDate(old_end),
                                                                               "; it can only end earlier"));
                           }
                         }
                         return end_date;
                       },
                       [](Statement& st, const absl::CivilDay& end) { st.Add(end); })));
    Audit(conn, m, "pause.end", "pause", pause_id);
    v1::Pause ended = std::move(done.before);
    *ended.mutable_end_date() = ToProto(done.decision);
    ended.set_etag(mysql::EtagOf(done.version));
    render(ended);
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> MysqlCollectionsStore::DunOne(
    const std::string& ledger_id, bool skip_locked, absl::CivilDay as_of, absl::Time now,
    const std::function<absl::StatusOr<DunningPlan>(const DunningLedger&)>& plan, DunningRunResult& result) {
  bool visited = false;
  DunningRunResult local;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
    visited = false;
    local = DunningRunResult{};
    DunningLedger ledger;
    ledger.ledger_id = ledger_id;
    {
      Statement st(conn, skip_locked ? kLockDunningLedgerSkipLocked : kLockDunningLedger);
      st.Add(ledger_id);
      CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
      if (!rows.Next()) return absl::OkStatus();  // another replica has it now
      RowReader& r = rows.row();
      ledger.account_id = r.String();
      ledger.account_name = r.String();
      ledger.currency = r.String();
      ledger.contact = ReadContact(r);
      ledger.inputs.episode = r.Int();
      ledger.inputs.episode_since = r.OptionalDate();
      CAREOPS_RETURN_IF_ERROR(r.status());
    }
    // A test holds a replica here, the ledger locked, to show another replica
    // passes it by and waits for it rather than dunning it too.
    CAREOPS_RETURN_IF_ERROR(Failpoint("collections.dunning.ledger_locked"));
    // The balances of the run's day, as aging sees them: a back-filled run
    // issues, resolves and lapses what the run on that day would have.
    CAREOPS_ASSIGN_OR_RETURN(AgingInputs aging, LoadAgingInputs(conn, ledger_id, ledger.currency, as_of));
    ledger.inputs.open_items = std::move(aging.open_items);
    ledger.inputs.pauses = std::move(aging.pauses);
    CAREOPS_ASSIGN_OR_RETURN(ledger.inputs.notices, LoadNoticeRecords(conn, ledger_id, ledger.inputs.episode));
    {
      Statement st(conn, kNoticeSubjects);
      st.Add(ledger_id);
      CAREOPS_ASSIGN_OR_RETURN(std::vector<std::string> subjects,
                               mysql::QueryAll<std::string>(st, [](RowReader& r) -> absl::StatusOr<std::string> {
                                 return r.String();
                               }));
      ledger.inputs.subjects_sent.insert(subjects.begin(), subjects.end());
    }
    CAREOPS_ASSIGN_OR_RETURN(DunningPlan decided, plan(ledger));
    const Mutation m{.caller = kDunningRun,
                     .method = "RunDunning",
                     .request_id = absl::StrCat("dunning-", ToSqlDate(as_of)),
                     .now = now};
    for (const NoticeTransition& t : decided.transitions) {
      CAREOPS_ASSIGN_OR_RETURN(bool applied, ApplyTransition(conn, m, t));
      if (!applied) continue;
      if (t.to == NoticeState::kLapsed) {
        ++local.lapsed;
      } else {
        ++local.resolved;
      }
      if (t.intent) local.intent_keys.push_back(t.intent->key);
    }
    for (const NoticeToIssue& n : decided.issue) {
      if (ledger.inputs.subjects_sent.count(n.draft.subject) > 0) continue;
      CAREOPS_RETURN_IF_ERROR(InsertNotice(conn, m, ledger, as_of, n));
      ++local.issued;
      local.issued_ids.push_back(n.notice_id);
      if (n.account_intent) local.intent_keys.push_back(n.account_intent->key);
    }
    if (decided.close_episode) {
      Statement st(conn, kNextEpisode);
      st.Add(as_of).Add(ledger_id);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
    }
    visited = true;
    return absl::OkStatus();
  }));
  if (visited) {
    ++result.ledgers;
    result.issued += local.issued;
    result.resolved += local.resolved;
    result.lapsed += local.lapsed;
    result.issued_ids.insert(result.issued_ids.end(), local.issued_ids.begin(), local.issued_ids.end());
    result.intent_keys.insert(result.intent_keys.end(), local.intent_keys.begin(), local.intent_keys.end());
  }
  return visited;
}

absl::StatusOr<DunningRunResult> MysqlCollectionsStore::RunDunning(
    absl::CivilDay as_of, absl::Time now,
    const std::function<absl::StatusOr<DunningPlan>(const DunningLedger&)>& plan) {
  DunningRunResult result;
  CAREOPS_RETURN_IF_ERROR(ForEachLedger([&](const std::string& id, bool skip_locked) {
    return DunOne(id, skip_locked, as_of, now, plan, result);
  }));
  return result;
}

absl::StatusOr<std::vector<v1::Notice>> MysqlCollectionsStore::ListNotices(const std::string& ledger_id) {
  std::vector<v1::Notice> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(LedgerCurrency(conn, ledger_id, false).status());
    CAREOPS_ASSIGN_OR_RETURN(out, LoadNotices(conn, kSelectNoticesByLedger, ledger_id));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Notice> MysqlCollectionsStore::GetNotice(const std::string& notice_id) {
  v1::Notice out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Notice> found, LoadNotices(conn, kSelectNotice, notice_id));
    if (found.empty()) return absl::NotFoundError(absl::StrCat("notice_id: no notice ", Quote(notice_id)));
    out = std::move(found.front());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::pair<std::string, std::string>, int64_t>>
MysqlCollectionsStore::NoticesByRungAndChannel() {
  std::map<std::pair<std::string, std::string>, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kNoticesByRungAndChannel);
    CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
    while (rows.Next()) {
      RowReader& r = rows.row();
      std::string rung = r.String();
      std::string channel = r.String();
      const int64_t n = r.Int64();
      CAREOPS_RETURN_IF_ERROR(r.status());
      out[{std::move(rung), std::move(channel)}] = n;
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> MysqlCollectionsStore::LapsesAwaitingCancellation() {
  int64_t out = 0;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kLapsesAwaitingCancellation);
    CAREOPS_ASSIGN_OR_RETURN(out, FirstInt64(st));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MysqlCollectionsStore::RecordAccountAction(mysql::Connection& conn, const std::string& notice_id,
                                                        const std::string& action, bool done,
                                                        const std::string& error) {
  Statement st(conn, kRecordAccountAction);
  st.Add(done ? "DONE" : "REFUSED").Add(error).Add(notice_id).Add(action);
  return st.Update().status();
}

absl::StatusOr<std::vector<EmailToSend>> MysqlCollectionsStore::ClaimEmailNotices(absl::Time now,
                                                                                  absl::Duration lease, int limit) {
  std::vector<EmailToSend> out;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
    {
      Statement st(conn, kDueEmailNotices);
      st.Add(now).Add(now).Add(limit);
      CAREOPS_ASSIGN_OR_RETURN(out, mysql::QueryAll<EmailToSend>(st, [](RowReader& r) -> absl::StatusOr<EmailToSend> {
                                 EmailToSend e;
                                 e.notice_id = r.String();
                                 e.recipient = r.String();
                                 e.rung = r.String();
                                 e.ledger_id = r.String();
                                 e.body = r.String();
                                 e.attempts = r.Int() + 1;
                                 e.token = NewId();
                                 return e;
                               }));
    }
    // The batch's account names in a few chunked reads, not one per notice.
    std::map<std::string, std::string> names;  // ledger_id -> account_name
    for (const EmailToSend& e : out) names.emplace(e.ledger_id, "");
    std::vector<std::string> ledger_ids;
    for (const auto& [ledger_id, unused] : names) ledger_ids.push_back(ledger_id);
    using LedgerName = std::pair<std::string, std::string>;
    CAREOPS_RETURN_IF_ERROR(mysql::ForEachRowOf<LedgerName>(
        conn, ledger_ids, kLedgerNamesHead, kLedgerNamesTail,
        [](RowReader& r) -> absl::StatusOr<LedgerName> {
          std::string ledger_id = r.String();
          return LedgerName(std::move(ledger_id), r.String());
        },
        [&](LedgerName& found) { names[found.first] = std::move(found.second); }));
    for (EmailToSend& e : out) {
      e.account_name = names[e.ledger_id];
      Statement st(conn, kClaimEmailNotice);
      st.Add(now + lease).Add(e.token).Add(e.notice_id);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<bool> MysqlCollectionsStore::RecordDelivery(const std::string& notice_id, const std::string& token,
                                                           v1::DeliveryState state, absl::Time next_attempt,
                                                           const std::string& error, absl::Time now) {
  bool recorded = false;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kRecordDelivery);
    st.Add(state)
        .Add(next_attempt)
        .Add(error.substr(0, 500))
        .Add(state == v1::DELIVERY_STATE_SENT ? std::optional<absl::Time>(now) : std::nullopt)
        .Add(notice_id)
        .Add(token);
    CAREOPS_ASSIGN_OR_RETURN(int64_t changed, st.Update());
    recorded = changed > 0;
    return absl::OkStatus();
  }));
  return recorded;
}

absl::StatusOr<std::string> MysqlCollectionsStore::LedgerOfAccount(const std::string& account_id) {
  std::string out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kLedgerByAccount);
    st.Add(account_id);
    CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> ledger_id, FirstString(st));
    if (!ledger_id) {
      return absl::NotFoundError(absl::StrCat("account_id: account ", Quote(account_id), " has no ledger"));
    }
    out = *std::move(ledger_id);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::string, CollectionsStore::PeriodFigures>> MysqlCollectionsStore::PeriodFiguresByCurrency(
    absl::CivilDay first, absl::CivilDay last) {
  std::map<std::string, PeriodFigures> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    for (bool due : {true, false}) {
      Statement st(conn, due ? kDueInPeriod : kCollectedInPeriod);
      st.Add(first).Add(last);
      CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
      while (rows.Next()) {
        RowReader& r = rows.row();
        const std::string currency = r.String();
        const int64_t minor = r.Int64();
        CAREOPS_RETURN_IF_ERROR(r.status());
        PeriodFigures& f = out[currency];
        (due ? f.due_minor : f.collected_minor) = minor;
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, v1::MaturingBalance>>> MysqlCollectionsStore::MaturingBalances(
    absl::CivilDay first, absl::CivilDay last, int limit) {
  using Entry = std::pair<std::string, v1::MaturingBalance>;
  std::vector<Entry> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kMaturingBalances);
    st.Add(first).Add(last).Add(limit);
    CAREOPS_ASSIGN_OR_RETURN(out, mysql::QueryAll<Entry>(st, [](RowReader& r) -> absl::StatusOr<Entry> {
                               v1::MaturingBalance b;
                               b.set_ledger_id(r.String());
                               b.set_account_id(r.String());
                               b.set_account_name(r.String());
                               std::string currency = r.String();
                               b.set_installment_id(r.String());
                               b.set_number(r.String());
                               b.set_kind(r.Enum<v1::InstallmentKind>());
                               *b.mutable_due_date() = ToProto(r.Date());
                               *b.mutable_balance() = ToProto(r.Amount(currency));
                               return Entry(std::move(currency), std::move(b));
                             }));
    return absl::OkStatus();
  }));
  return out;
}

// ---- Unposted payments ---------------------------------------------------------

namespace {

constexpr int kMaxReferenceWords = 20;

absl::StatusOr<v1::UnpostedPayment> ReadUnposted(mysql::RowReader& r) {
  v1::UnpostedPayment u;
  u.set_unposted_id(r.String());
  u.set_bank_reference(r.String());
  u.set_payer_name(r.String());
  u.set_reference_text(r.String());
  const std::string currency = r.String();
  *u.mutable_amount() = ToProto(r.Amount(currency));
  *u.mutable_deposit_date() = ToProto(r.Date());
  u.set_status(r.Enum<v1::UnpostedStatus>());
  u.set_ledger_id(r.OptionalString().value_or(""));
  u.set_payment_id(r.OptionalString().value_or(""));
  u.set_auto_posted(r.Bool());
  u.set_score(r.Int());
  u.set_etag(mysql::EtagOf(r.Int64()));
  return u;
}

absl::StatusOr<v1::UnpostedPayment> LoadUnposted(mysql::Connection& conn, const std::string& unposted_id, bool lock) {
  mysql::Statement st(conn, lock ? kUnposted.lock_sql : kSelectUnposted);
  st.Add(unposted_id);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::UnpostedPayment> rows,
                           mysql::QueryAll<v1::UnpostedPayment>(st, ReadUnposted));
  if (rows.empty()) {
    return absl::NotFoundError(absl::StrCat("unposted_id: no unposted payment ", Quote(unposted_id)));
  }
  return rows.front();
}

// The SET values of kUnposted: posted as `post`, by the ingest or by a clerk.
void BindPosted(mysql::Statement& st, const Mutation& m, const AutoPost& post, bool automatic) {
  st.Add(post.ledger_id).Add(post.payment_id).Add(automatic).Add(post.score).Add(m.caller.user).Add(m.now);
}

void AuditPosted(mysql::Connection& conn, const Mutation& m, const std::string& unposted_id, const AutoPost& post,
                 bool automatic) {
  Audit(conn, m, automatic ? "unposted.auto_post" : "unposted.post", "unposted_payment", unposted_id,
        absl::StrCat("payment ", post.payment_id, " to ledger ", post.ledger_id));
}

// The words of a reference that could be a ledger id or an installment number:
// split at spaces and punctuation other than - _ / ., trailing dots dropped,
// 3..64 characters, as written and upper-cased.
std::vector<std::string> ReferenceWords(const std::string& text) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::string cur;
  auto flush = [&] {
    while (!cur.empty() && cur.back() == '.') cur.pop_back();
    if (cur.size() >= 3 && cur.size() <= 64 && static_cast<int>(seen.size()) < 2 * kMaxReferenceWords) {
      for (std::string w : {cur, absl::AsciiStrToUpper(cur)}) {
        if (seen.insert(w).second) out.push_back(std::move(w));
      }
    }
    cur.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '/' || c == '.') {
      cur.push_back(c);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

absl::Status CollectLedgerIds(mysql::Statement& st, std::vector<std::string>& ids, std::set<std::string>& seen) {
  CAREOPS_ASSIGN_OR_RETURN(std::vector<std::string> found,
                           mysql::QueryAll<std::string>(st, [](mysql::RowReader& r) -> absl::StatusOr<std::string> {
                             return r.String();
                           }));
  for (std::string& id : found) {
    if (seen.insert(id).second) ids.push_back(std::move(id));
  }
  return absl::OkStatus();
}

absl::StatusOr<OpenItem> ReadMatchItem(mysql::RowReader& r) {
  OpenItem item;
  item.installment_id = r.String();
  item.number = r.String();
  item.kind = r.String();
  item.due_date = r.Date();
  const int64_t fee = r.Int64(), interest = r.Int64(), principal = r.Int64();
  item.outstanding = {fee, interest, principal};
  return item;
}

absl::StatusOr<std::vector<MatchLedger>> CandidatesIn(mysql::Connection& conn, const v1::UnpostedPayment& line,
                                                      int limit) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  const std::vector<std::string> words = ReferenceWords(line.reference_text());
  if (!words.empty()) {
    for (const char* head : {kCandidatesByIdHead, kCandidatesByNumberHead}) {
      absl::Status status;
      mysql::ForEachChunk(words.size(), [&](size_t start, int n) {
        if (!status.ok()) return;
        const std::string sql = mysql::MultiRowSql(head, "?", n, ")");
        mysql::Statement st(conn, sql.c_str());
        for (int i = 0; i < n; ++i) st.Add(words[start + i]);
        status = CollectLedgerIds(st, ids, seen);
      });
      CAREOPS_RETURN_IF_ERROR(status);
    }
  }
  std::string name;
  for (char c : line.payer_name()) {
    if (std::isalnum(static_cast<unsigned char>(c))) name.push_back(static_cast<char>(std::tolower(c)));
  }
  if (!name.empty()) {
    mysql::Statement st(conn, kCandidatesByName);
    st.Add(line.amount().currency_code()).Add(name).Add(limit);
    CAREOPS_RETURN_IF_ERROR(CollectLedgerIds(st, ids, seen));
  }
  {
    mysql::Statement st(conn, kCandidatesByAmount);
    st.Add(line.amount().currency_code()).Add(line.amount().amount_minor()).Add(limit);
    CAREOPS_RETURN_IF_ERROR(CollectLedgerIds(st, ids, seen));
  }
  if (static_cast<int>(ids.size()) > limit) ids.resize(limit);
  std::vector<MatchLedger> out;
  for (const std::string& id : ids) {
    MatchLedger l;
    l.ledger_id = id;
    {
      mysql::Statement st(conn, kMatchLedger);
      st.Add(id);
      CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
      if (!rows.Next()) continue;
      mysql::RowReader& r = rows.row();
      l.account_id = r.String();
      l.account_name = r.String();
      l.currency = r.String();
      CAREOPS_RETURN_IF_ERROR(r.status());
    }
    mysql::Statement st(conn, kMatchOpenItems);
    st.Add(id);
    CAREOPS_ASSIGN_OR_RETURN(l.open_items, mysql::QueryAll<OpenItem>(st, ReadMatchItem));
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace

absl::Status MysqlCollectionsStore::IngestUnposted(
    const Mutation& m, const std::vector<v1::UnpostedPayment>& rows, const ComponentOrder& order,
    const AutoPostDecision& decide, const std::function<void(const std::vector<UnpostedIngestOutcome>&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    std::vector<UnpostedIngestOutcome> outcomes(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const v1::UnpostedPayment& row = rows[i];
      UnpostedIngestOutcome& out = outcomes[i];
      {
        mysql::Statement st(conn, kUnpostedByBankReference);
        st.Add(row.bank_reference());
        CAREOPS_ASSIGN_OR_RETURN(mysql::Rows known, st.Query());
        if (known.Next()) {
          out.outcome = v1::UNPOSTED_OUTCOME_DUPLICATE;
          out.unposted_id = known.row().String();
          CAREOPS_RETURN_IF_ERROR(known.row().status());
          continue;
        }
      }
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay deposited, FromProto(row.deposit_date(), "deposit_date"));
      mysql::Statement ins(conn, kInsertUnposted);
      ins.Add(row.unposted_id())
          .Add(row.bank_reference())
          .Add(row.payer_name())
          .Add(row.reference_text())
          .Add(row.amount().currency_code())
          .Add(row.amount().amount_minor())
          .Add(deposited)
          .Add(m.caller.user)
          .Add(m.now);
      CAREOPS_RETURN_IF_ERROR(ins.Update().status());
      Audit(conn, m, "unposted.record", "unposted_payment", row.unposted_id(), row.bank_reference());
      out.unposted_id = row.unposted_id();
      if (!decide) continue;
      CAREOPS_ASSIGN_OR_RETURN(std::vector<MatchLedger> candidates, CandidatesIn(conn, row, 50));
      std::optional<AutoPost> post = decide(row, candidates);
      if (!post) continue;
      v1::Payment payment;
      payment.set_payment_id(post->payment_id);
      payment.set_ledger_id(post->ledger_id);
      *payment.mutable_amount() = row.amount();
      *payment.mutable_payment_date() = row.deposit_date();
      payment.set_method(v1::PAYMENT_METHOD_BANK_TRANSFER);
      payment.set_reference(row.bank_reference());
      // Refused before anything is written (more than the ledger owes now, the
      // reference already posted there): the line stays OPEN for a clerk.
      absl::StatusOr<v1::Payment> posted = PostPaymentIn(conn, m, payment, {}, order);
      if (absl::IsInvalidArgument(posted.status()) || absl::IsAlreadyExists(posted.status())) continue;
      CAREOPS_RETURN_IF_ERROR(posted.status());
      // The service's own change to the line this transaction recorded (and
      // so holds locked, at the version a line is recorded with): no client
      // etag, and no second read of it; the version moves past the recorded one.
      CAREOPS_RETURN_IF_ERROR(mysql::WriteVersioned(conn, kUnposted, row.unposted_id(), kRecordedUnpostedVersion,
                                                    [&](mysql::Statement& st) { BindPosted(st, m, *post, true); })
                                  .status());
      AuditPosted(conn, m, row.unposted_id(), *post, true);
      out.outcome = v1::UNPOSTED_OUTCOME_AUTO_POSTED;
      out.ledger_id = post->ledger_id;
      out.payment_id = post->payment_id;
    }
    render(outcomes);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::UnpostedPayment> MysqlCollectionsStore::GetUnposted(const std::string& unposted_id) {
  v1::UnpostedPayment out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(out, LoadUnposted(conn, unposted_id, false));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<v1::UnpostedPayment>> MysqlCollectionsStore::ListUnposted(bool include_posted, int limit) {
  std::vector<v1::UnpostedPayment> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    mysql::Statement st(conn, kListUnposted);
    st.Add(include_posted).Add(limit);
    CAREOPS_ASSIGN_OR_RETURN(out, mysql::QueryAll<v1::UnpostedPayment>(st, ReadUnposted));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<MatchLedger>> MysqlCollectionsStore::MatchCandidates(const v1::UnpostedPayment& line,
                                                                                int limit) {
  std::vector<MatchLedger> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(out, CandidatesIn(conn, line, limit));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MysqlCollectionsStore::PostUnposted(const Mutation& m, const std::string& unposted_id,
                                                 mysql::ExpectedVersion expected, v1::Payment payment,
                                                 const std::vector<RequestedAllocation>& requested,
                                                 const ComponentOrder& order,
                                                 const std::function<void(const v1::UnpostedPayment&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    // The line is marked first (its lock before the ledger's, as the ingest
    // takes them); a refusal of the payment below rolls the mark back with it.
    const AutoPost post{.ledger_id = payment.ledger_id(), .payment_id = payment.payment_id()};
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<v1::UnpostedPayment, AutoPost>(
                       conn, kUnposted, unposted_id, expected, ReadUnposted,
                       [&](const v1::UnpostedPayment& line) -> absl::StatusOr<AutoPost> {
                         if (line.status() == v1::UNPOSTED_STATUS_POSTED) {
                           return absl::FailedPreconditionError(
                               absl::StrCat("unposted_id: ", Quote(unposted_id), " was already posted as payment ",
                                            line.payment_id(), " to ledger ", line.ledger_id()));
                         }
                         return post;
                       },
                       [&](mysql::Statement& st, const AutoPost& p) { BindPosted(st, m, p, false); })));
    const v1::UnpostedPayment& line = done.before;
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, payment.ledger_id(), true));
    if (currency != line.amount().currency_code()) {
      return InvalidArgument("ledger_id", absl::StrCat("ledger ", payment.ledger_id(), " is in ", currency,
                                                       ", the deposit in ", line.amount().currency_code()));
    }
    *payment.mutable_amount() = line.amount();
    *payment.mutable_payment_date() = line.deposit_date();
    payment.set_reference(line.bank_reference());
    CAREOPS_ASSIGN_OR_RETURN(v1::Payment stored, PostPaymentIn(conn, m, payment, requested, order));
    AuditPosted(conn, m, unposted_id, post, false);
    CAREOPS_ASSIGN_OR_RETURN(v1::UnpostedPayment posted, LoadUnposted(conn, unposted_id, false));
    *posted.mutable_payment() = std::move(stored);
    render(posted);
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> MysqlCollectionsStore::OpenUnpostedCount() {
  int64_t out = 0;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    mysql::Statement st(conn, kOpenUnpostedCount);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    if (!rows.Next()) return absl::OkStatus();
    out = rows.row().Int64();
    return rows.row().status();
  }));
  return out;
}

// ---- Reconciliation ----------------------------------------------------------------

namespace {

absl::StatusOr<ReconciliationRecord> ReadReconciliation(mysql::RowReader& r) {
  ReconciliationRecord rec;
  rec.report_id = r.String();
  rec.statement_reference = r.String();
  rec.period_start = r.Date();
  rec.period_end = r.Date();
  rec.ledgers = r.Int();
  rec.created_by = r.String();
  rec.created_at = r.Timestamp();
  rec.difference_count = r.Int();
  return rec;
}

absl::StatusOr<Difference> ReadDifference(mysql::RowReader& r) {
  Difference d;
  d.ledger_id = r.String();
  d.kind = r.Mapped<DifferenceKind>(ParseDifferenceKind);
  d.subject = r.String();
  d.reference = r.String();
  d.currency = r.String();
  d.statement_minor = r.Int64();
  d.ledger_minor = r.Int64();
  d.statement_date = r.OptionalDate();
  d.ledger_date = r.OptionalDate();
  return d;
}

absl::StatusOr<ReconciliationRecord> LoadReconciliation(mysql::Connection& conn, const std::string& report_id) {
  mysql::Statement st(conn, kSelectReconciliation);
  st.Add(report_id);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<ReconciliationRecord> found,
                           mysql::QueryAll<ReconciliationRecord>(st, ReadReconciliation));
  if (found.empty()) return absl::NotFoundError(absl::StrCat("report_id: no reconciliation report ", Quote(report_id)));
  mysql::Statement rows(conn, kSelectDifferences);
  rows.Add(report_id);
  CAREOPS_ASSIGN_OR_RETURN(found.front().differences, mysql::QueryAll<Difference>(rows, ReadDifference));
  return found.front();
}

// The ledger as a statement ending on `period_end` sees it: its balance is what
// it owed at the end of that day (installments due by then, less what
// still-POSTED payments dated by then paid of them).
absl::StatusOr<LedgerSide> LoadLedgerSide(mysql::Connection& conn, const std::string& ledger_id,
                                          absl::CivilDay period_end) {
  LedgerSide side;
  {
    mysql::Statement st(conn, kMatchLedger);
    st.Add(ledger_id);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    if (!rows.Next()) {
      side.known = false;
      return side;
    }
    mysql::RowReader& r = rows.row();
    r.String();  // account_id
    r.String();  // account_name
    side.currency = r.String();
    CAREOPS_RETURN_IF_ERROR(r.status());
  }
  {
    CAREOPS_ASSIGN_OR_RETURN(const std::vector<OpenItem> at_end, LoadOpenItems(conn, ledger_id, period_end));
    for (const OpenItem& item : at_end) {
      if (item.due_date <= period_end) side.outstanding_minor += item.total();
    }
  }
  mysql::Statement st(conn, kPostedWithReference);
  st.Add(ledger_id);
  CAREOPS_ASSIGN_OR_RETURN(side.posted_payments,
                           mysql::QueryAll<DatedAmount>(st, [](mysql::RowReader& r) -> absl::StatusOr<DatedAmount> {
                             DatedAmount p;
                             p.reference = r.String();
                             p.amount_minor = r.Int64();
                             p.date = r.Date();
                             return p;
                           }));
  return side;
}

}  // namespace

absl::Status MysqlCollectionsStore::Reconcile(const Mutation& m, const ReconciliationRecord& header,
                                              const std::vector<StatementInput>& rows,
                                              const std::function<absl::Status(const ReconciliationRecord&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    std::vector<Difference> differences;
    for (size_t i = 0; i < rows.size(); ++i) {
      CAREOPS_ASSIGN_OR_RETURN(LedgerSide side, LoadLedgerSide(conn, rows[i].ledger.ledger_id, header.period_end));
      if (side.known && side.currency != rows[i].currency) {
        return InvalidArgument(absl::StrCat("rows[", i, "]"),
                               absl::StrCat("amounts must be in the ledger's currency ", side.currency));
      }
      for (Difference& d : ReconcileLedger(rows[i].ledger, side, rows[i].currency, header.period_start,
                                           header.period_end)) {
        differences.push_back(std::move(d));
      }
    }
    {
      mysql::Statement st(conn, kInsertReconciliation);
      st.Add(header.report_id)
          .Add(header.statement_reference)
          .Add(header.period_start)
          .Add(header.period_end)
          .Add(static_cast<int64_t>(rows.size()))
          .Add(m.caller.user)
          .Add(m.now);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
    }
    for (size_t seq = 0; seq < differences.size(); ++seq) {
      const Difference& d = differences[seq];
      mysql::Statement st(conn, kInsertDifference);
      st.Add(header.report_id)
          .Add(static_cast<int64_t>(seq))
          .Add(d.ledger_id)
          .Add(DifferenceKindName(d.kind))
          .Add(d.subject)
          .Add(d.reference)
          .Add(d.currency)
          .Add(d.statement_minor)
          .Add(d.ledger_minor)
          .Add(d.statement_date)
          .Add(d.ledger_date);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
    }
    Audit(conn, m, "reconciliation.report", "reconciliation_report", header.report_id, header.statement_reference);
    CAREOPS_ASSIGN_OR_RETURN(ReconciliationRecord stored, LoadReconciliation(conn, header.report_id));
    return render(stored);
  });
}

absl::StatusOr<ReconciliationRecord> MysqlCollectionsStore::GetReconciliation(const std::string& report_id) {
  ReconciliationRecord out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(out, LoadReconciliation(conn, report_id));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<ReconciliationRecord>> MysqlCollectionsStore::ListReconciliations(int limit) {
  std::vector<ReconciliationRecord> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    mysql::Statement st(conn, kListReconciliations);
    st.Add(limit);
    CAREOPS_ASSIGN_OR_RETURN(out, mysql::QueryAll<ReconciliationRecord>(st, ReadReconciliation));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> MysqlCollectionsStore::LatestDifferencesByKind() {
  std::map<std::string, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    mysql::Statement st(conn, kLatestDifferencesByKind);
    using KindCount = std::pair<std::string, int64_t>;
    const mysql::ReadRow<KindCount> read = [](mysql::RowReader& r) -> absl::StatusOr<KindCount> {
      std::string kind = r.String();
      return KindCount(std::move(kind), r.Int64());
    };
    CAREOPS_ASSIGN_OR_RETURN(std::vector<KindCount> rows, mysql::QueryAll<KindCount>(st, read));
    for (auto& [kind, n] : rows) out[kind] = n;
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace careops::collections
