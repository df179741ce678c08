#include "services/collections/mysql_collections_store.h"

#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

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
#include "common/ids.h"
#include "common/mysql/batch.h"
#include "common/mysql/mutation_runner.h"
#include "common/mysql/row.h"
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
#define LEDGER_COLUMNS \
  "ledger_id, account_id, account_name, currency, billing_email, mobile, postal_address, preferred_channel, created_at"
constexpr char kSelectLedger[] = "SELECT " LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ?";
constexpr char kLockLedger[] = "SELECT " LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ? FOR UPDATE";
constexpr char kUpdateContact[] =
    "UPDATE ledgers SET billing_email = ?, mobile = ?, postal_address = ?, preferred_channel = ?, updated_at = ?"
    " WHERE ledger_id = ?";
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
  " posted_by, posted_at"
constexpr char kInsertPayment[] =
    "INSERT INTO payments (payment_id, ledger_id, amount_minor, payment_date, method, reference, status,"
    " reversal_reason, posted_by, posted_at) VALUES (?, ?, ?, ?, ?, ?, 'POSTED', '', ?, ?)";
constexpr char kPaymentByReference[] = "SELECT payment_id FROM payments WHERE ledger_id = ? AND reference = ?";
constexpr char kSelectPaymentLedger[] = "SELECT ledger_id FROM payments WHERE payment_id = ?";
constexpr char kLockPayment[] = "SELECT " PAYMENT_COLUMNS " FROM payments WHERE payment_id = ? FOR UPDATE";
constexpr char kSelectPayments[] =
    "SELECT " PAYMENT_COLUMNS " FROM payments WHERE ledger_id = ? ORDER BY payment_id";
constexpr char kSetPaymentStatus[] =
    "UPDATE payments SET status = ?, reversal_reason = ?, reversed_at = ? WHERE payment_id = ?";
constexpr char kUnallocated[] =
    "SELECT COALESCE(SUM(amount_minor), 0) FROM payments WHERE ledger_id = ? AND status = 'UNAPPLIED'";
constexpr char kInsertAllocation[] =
    "INSERT INTO allocations (payment_id, installment_id, component, amount_minor) VALUES (?, ?, ?, ?)";
constexpr char kSelectAllocations[] =
    "SELECT installment_id, component, amount_minor, reversed FROM allocations WHERE payment_id = ? ORDER BY id";
constexpr char kMarkAllocationsReversed[] = "UPDATE allocations SET reversed = 1 WHERE payment_id = ?";

#define PAUSE_COLUMNS "pause_id, ledger_id, kind, start_date, end_date, note"
constexpr char kInsertPause[] =
    "INSERT INTO pauses (pause_id, ledger_id, kind, start_date, end_date, note, created_by, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kLockPause[] = "SELECT " PAUSE_COLUMNS " FROM pauses WHERE pause_id = ? FOR UPDATE";
constexpr char kSetPauseEnd[] = "UPDATE pauses SET end_date = ? WHERE pause_id = ?";
constexpr char kSelectPauses[] = "SELECT " PAUSE_COLUMNS " FROM pauses WHERE ledger_id = ? ORDER BY start_date";

constexpr char kLedgerPage[] = "SELECT ledger_id FROM ledgers WHERE ledger_id > ? ORDER BY ledger_id LIMIT 500";
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
    "SELECT payment_id, status, amount_minor FROM payments WHERE ledger_id = ? AND reference = ? FOR UPDATE";

// ---- Dunning (dunning_rules.h, V005__dunning.sql).
constexpr char kLedgerAccount[] = "SELECT account_id FROM ledgers WHERE ledger_id = ?";
#define DUNNING_LEDGER_COLUMNS \
  "account_id, account_name, currency, billing_email, mobile, postal_address, preferred_channel, dunning_episode"
constexpr char kLockDunningLedger[] = "SELECT " DUNNING_LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ? FOR UPDATE";
constexpr char kLockDunningLedgerSkipLocked[] =
    "SELECT " DUNNING_LEDGER_COLUMNS " FROM ledgers WHERE ledger_id = ? FOR UPDATE SKIP LOCKED";
// Every ISSUED notice of the ledger and every notice of its current episode,
// with what each covered (one row per covered installment).
constexpr char kDunningNotices[] =
    "SELECT n.notice_id, n.rung, n.episode, n.sequence, n.issued_on, n.status, n.grace_until, ni.installment_id"
    " FROM notices n LEFT JOIN notice_installments ni ON ni.notice_id = n.notice_id"
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
constexpr char kNextEpisode[] = "UPDATE ledgers SET dunning_episode = dunning_episode + 1 WHERE ledger_id = ?";
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
constexpr char kSelectNoticeCovered[] =
    "SELECT installment_id, number, balance_minor FROM notice_installments WHERE notice_id = ? ORDER BY number";
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
constexpr char kLedgerName[] = "SELECT account_name FROM ledgers WHERE ledger_id = ?";
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
  " ledger_id, payment_id, auto_posted, score"
constexpr char kInsertUnposted[] =
    "INSERT INTO unposted_payments (unposted_id, bank_reference, payer_name, reference_text, currency, amount_minor,"
    " deposit_date, status, received_by, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'OPEN', ?, ?)";
constexpr char kUnpostedByBankReference[] = "SELECT unposted_id FROM unposted_payments WHERE bank_reference = ?";
constexpr char kSelectUnposted[] = "SELECT " UNPOSTED_COLUMNS " FROM unposted_payments WHERE unposted_id = ?";
constexpr char kLockUnposted[] =
    "SELECT " UNPOSTED_COLUMNS " FROM unposted_payments WHERE unposted_id = ? FOR UPDATE";
constexpr char kListUnposted[] =
    "SELECT " UNPOSTED_COLUMNS " FROM unposted_payments WHERE (? = 1 OR status = 'OPEN')"
    " ORDER BY deposit_date, unposted_id LIMIT ?";
constexpr char kMarkUnpostedPosted[] =
    "UPDATE unposted_payments SET status = 'POSTED', ledger_id = ?, payment_id = ?, auto_posted = ?, score = ?,"
    " posted_by = ?, posted_at = ? WHERE unposted_id = ? AND status = 'OPEN'";
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
constexpr char kLedgerOutstanding[] =
    "SELECT COALESCE(SUM(fee_minor + interest_minor + principal_minor"
    " - paid_fee_minor - paid_interest_minor - paid_principal_minor), 0) FROM installments WHERE ledger_id = ?";
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

// ---- Reopening notices a given-back payment had resolved.
constexpr char kResolvedNotices[] =
    "SELECT n.notice_id, n.episode, ni.installment_id FROM notices n"
    " JOIN notice_installments ni ON ni.notice_id = n.notice_id"
    " WHERE n.ledger_id = ? AND n.status = 'RESOLVED' ORDER BY n.notice_id";
constexpr char kReopenNotice[] =
    "UPDATE notices SET status = 'ISSUED', resolved_on = NULL WHERE notice_id = ? AND status = 'RESOLVED'";
constexpr char kLedgerEpisode[] = "SELECT dunning_episode FROM ledgers WHERE ledger_id = ?";
constexpr char kEpisodeLadderNotices[] =
    "SELECT COUNT(*) FROM notices WHERE ledger_id = ? AND episode = ? AND sequence > 0";
constexpr char kSetEpisode[] = "UPDATE ledgers SET dunning_episode = ? WHERE ledger_id = ?";

// What still-POSTED payments dated after a day paid, by installment and component.
constexpr char kPaidAfter[] =
    "SELECT a.installment_id, a.component, SUM(a.amount_minor) FROM allocations a"
    " JOIN payments p ON p.payment_id = a.payment_id"
    " WHERE p.ledger_id = ? AND p.status = 'POSTED' AND a.reversed = 0 AND p.payment_date > ?"
    " GROUP BY a.installment_id, a.component";

// ---- Enum text: the value name without its prefix ("REGULAR", "BANK_TRANSFER").

std::string Str(const sql::ResultSet& rs, int col) { return std::string(rs.getString(col)); }

common::v1::Money Minor(const std::string& currency, int64_t minor) { return ToProto(Money(currency, minor)); }

absl::StatusOr<common::v1::Date> DateColumn(const sql::ResultSet& rs, int col) {
  CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay day, ParseSqlDate(Str(rs, col)));
  return ToProto(day);
}

void BindContact(sql::PreparedStatement& st, int first, const v1::Contact& c) {
  st.setString(first, c.billing_email());
  st.setString(first + 1, c.mobile());
  st.setString(first + 2, c.postal_address());
  st.setString(first + 3, c.preferred_channel() == v1::CHANNEL_UNSPECIFIED
                              ? std::string()
                              : EnumShortName(c.preferred_channel()));
}

v1::Contact ReadContact(const sql::ResultSet& rs, int first) {
  v1::Contact c;
  c.set_billing_email(Str(rs, first));
  c.set_mobile(Str(rs, first + 1));
  c.set_postal_address(Str(rs, first + 2));
  c.set_preferred_channel(
      EnumFromShortName<v1::Channel>(Str(rs, first + 3)));
  return c;
}

absl::StatusOr<v1::Ledger> ReadLedgerRow(const sql::ResultSet& rs) {
  v1::Ledger l;
  l.set_ledger_id(Str(rs, 1));
  l.set_account_id(Str(rs, 2));
  l.set_account_name(Str(rs, 3));
  l.set_currency_code(Str(rs, 4));
  *l.mutable_contact() = ReadContact(rs, 5);
  CAREOPS_ASSIGN_OR_RETURN(absl::Time created, ParseSqlDatetime(Str(rs, 9)));
  *l.mutable_create_time() = ToProtoTimestamp(created);
  return l;
}

absl::StatusOr<v1::Installment> ReadInstallment(const sql::ResultSet& rs, const std::string& currency) {
  v1::Installment i;
  i.set_installment_id(Str(rs, 1));
  i.set_ledger_id(Str(rs, 2));
  i.set_number(Str(rs, 3));
  i.set_kind(EnumFromShortName<v1::InstallmentKind>(Str(rs, 4)));
  CAREOPS_ASSIGN_OR_RETURN(*i.mutable_due_date(), DateColumn(rs, 5));
  int64_t fee = rs.getInt64(6), interest = rs.getInt64(7), principal = rs.getInt64(8);
  int64_t paid = rs.getInt64(9) + rs.getInt64(10) + rs.getInt64(11);
  *i.mutable_fee() = Minor(currency, fee);
  *i.mutable_interest() = Minor(currency, interest);
  *i.mutable_principal() = Minor(currency, principal);
  *i.mutable_amount() = Minor(currency, fee + interest + principal);
  *i.mutable_paid() = Minor(currency, paid);
  *i.mutable_balance() = Minor(currency, fee + interest + principal - paid);
  return i;
}

absl::StatusOr<OpenItem> ReadOpenItem(const sql::ResultSet& rs) {
  OpenItem item;
  item.installment_id = Str(rs, 1);
  item.number = Str(rs, 3);
  item.kind = Str(rs, 4);
  CAREOPS_ASSIGN_OR_RETURN(item.due_date, ParseSqlDate(Str(rs, 5)));
  item.outstanding = {rs.getInt64(6) - rs.getInt64(9), rs.getInt64(7) - rs.getInt64(10),
                      rs.getInt64(8) - rs.getInt64(11)};
  return item;
}

absl::StatusOr<v1::Ledger> LoadLedger(mysql::Connection& conn, const std::string& ledger_id, bool lock) {
  v1::Ledger l;
  {
    auto& st = conn.Prepare(lock ? kLockLedger : kSelectLedger);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (!rs->next()) return absl::NotFoundError(absl::StrCat("ledger_id: no ledger ", Quote(ledger_id)));
    CAREOPS_ASSIGN_OR_RETURN(l, ReadLedgerRow(*rs));
  }
  int64_t outstanding = 0;
  {
    auto& st = conn.Prepare(kSelectInstallments);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      CAREOPS_ASSIGN_OR_RETURN(v1::Installment i, ReadInstallment(*rs, l.currency_code()));
      outstanding += i.balance().amount_minor();
      *l.add_installments() = std::move(i);
    }
  }
  *l.mutable_outstanding() = Minor(l.currency_code(), outstanding);
  {
    auto& st = conn.Prepare(kUnallocated);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    rs->next();
    *l.mutable_unallocated() = Minor(l.currency_code(), rs->getInt64(1));
  }
  return l;
}

absl::StatusOr<v1::Payment> ReadPayment(mysql::Connection& conn, const sql::ResultSet& rs, const std::string& currency) {
  v1::Payment p;
  p.set_payment_id(Str(rs, 1));
  p.set_ledger_id(Str(rs, 2));
  *p.mutable_amount() = Minor(currency, rs.getInt64(3));
  CAREOPS_ASSIGN_OR_RETURN(*p.mutable_payment_date(), DateColumn(rs, 4));
  p.set_method(EnumFromShortName<v1::PaymentMethod>(Str(rs, 5)));
  if (!rs.isNull(6)) p.set_reference(Str(rs, 6));
  p.set_status(EnumFromShortName<v1::PaymentStatus>(Str(rs, 7)));
  p.set_reversal_reason(Str(rs, 8));
  p.set_posted_by(Str(rs, 9));
  CAREOPS_ASSIGN_OR_RETURN(absl::Time posted, ParseSqlDatetime(Str(rs, 10)));
  *p.mutable_post_time() = ToProtoTimestamp(posted);
  auto& st = conn.Prepare(kSelectAllocations);
  st.setString(1, p.payment_id());
  std::unique_ptr<sql::ResultSet> alloc(st.executeQuery());
  while (alloc->next()) {
    v1::Allocation* a = p.add_allocations();
    a->set_installment_id(Str(*alloc, 1));
    a->set_component(EnumFromShortName<v1::Component>(Str(*alloc, 2)));
    *a->mutable_amount() = Minor(currency, alloc->getInt64(3));
  }
  return p;
}

absl::StatusOr<std::string> LedgerCurrency(mysql::Connection& conn, const std::string& ledger_id, bool lock) {
  auto& st = conn.Prepare(lock ? kLockLedger : kSelectLedger);
  st.setString(1, ledger_id);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  if (!rs->next()) return absl::NotFoundError(absl::StrCat("ledger_id: no ledger ", Quote(ledger_id)));
  return Str(*rs, 4);
}

absl::StatusOr<v1::Pause> ReadPause(const sql::ResultSet& rs) {
  v1::Pause p;
  p.set_pause_id(Str(rs, 1));
  p.set_ledger_id(Str(rs, 2));
  p.set_kind(EnumFromShortName<v1::PauseKind>(Str(rs, 3)));
  CAREOPS_ASSIGN_OR_RETURN(*p.mutable_start_date(), DateColumn(rs, 4));
  if (!rs.isNull(5)) {
    CAREOPS_ASSIGN_OR_RETURN(*p.mutable_end_date(), DateColumn(rs, 5));
  }
  p.set_note(Str(rs, 6));
  return p;
}

// `paid_by` set: the balances as they were on that day, as known now: what
// still-POSTED payments dated after it paid is owed again (a payment given back
// since never paid, so a bounced check does not count on any day).
absl::StatusOr<AgingInputs> LoadAgingInputs(mysql::Connection& conn, const std::string& ledger_id,
                                            const std::string& currency,
                                            std::optional<absl::CivilDay> paid_by = std::nullopt) {
  AgingInputs out;
  out.currency = currency;
  std::map<std::string, std::array<int64_t, kComponents>> paid_later;
  if (paid_by) {
    mysql::Statement st(conn, kPaidAfter);
    st.Add(ledger_id).Add(*paid_by);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    while (rows.Next()) {
      mysql::RowReader& r = rows.row();
      const std::string installment_id = r.String();
      const Component component = r.Mapped<Component>(ParseComponent);
      const int64_t amount = r.Int64();
      CAREOPS_RETURN_IF_ERROR(r.status());
      paid_later[installment_id][static_cast<int>(component)] += amount;
    }
  }
  {
    auto& st = conn.Prepare(kSelectInstallments);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      CAREOPS_ASSIGN_OR_RETURN(OpenItem item, ReadOpenItem(*rs));
      if (auto it = paid_later.find(item.installment_id); it != paid_later.end()) {
        for (int c = 0; c < kComponents; ++c) item.outstanding[c] += it->second[c];
      }
      if (item.total() > 0) out.open_items.push_back(std::move(item));
    }
  }
  auto& st = conn.Prepare(kSelectPauses);
  st.setString(1, ledger_id);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  while (rs->next()) {
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay start, ParseSqlDate(Str(*rs, 4)));
    PauseSpan span{start, std::nullopt};
    if (!rs->isNull(5)) {
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay end, ParseSqlDate(Str(*rs, 5)));
      span.end = end;
    }
    out.pauses.push_back(span);
  }
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

void InsertContactHistory(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id,
                          const v1::Contact& contact, const std::string& source) {
  auto& st = conn.Prepare(kInsertContactHistory);
  st.setString(1, ledger_id);
  BindContact(st, 2, contact);
  st.setString(6, m.caller.user);
  st.setString(7, source);
  st.setString(8, ToSqlDatetime(m.now));
  st.executeUpdate();
}


// ---- Dunning helpers ---------------------------------------------------------

const Principal kDunningRun{"dunning-run", "system", "collections"};

void SetOptionalDate(sql::PreparedStatement& st, int col, const std::optional<absl::CivilDay>& day) {
  if (day) {
    st.setString(col, ToSqlDate(*day));
  } else {
    st.setNull(col, sql::DataType::DATE);
  }
}

void SetOptionalId(sql::PreparedStatement& st, int col, const std::string& id) {
  if (id.empty()) {
    st.setNull(col, sql::DataType::CHAR);
  } else {
    st.setString(col, id);
  }
}

// Every ISSUED notice of the ledger and every notice of `episode` (-1: none).
absl::StatusOr<std::vector<NoticeRecord>> LoadNoticeRecords(mysql::Connection& conn, const std::string& ledger_id,
                                                            int episode) {
  std::vector<NoticeRecord> out;
  std::map<std::string, size_t> index;
  auto& st = conn.Prepare(kDunningNotices);
  st.setString(1, ledger_id);
  st.setInt(2, episode);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  while (rs->next()) {
    const std::string id = Str(*rs, 1);
    auto it = index.find(id);
    if (it == index.end()) {
      NoticeRecord n;
      n.notice_id = id;
      n.kind = ParseRungKind(Str(*rs, 2)).value_or(RungKind::kFirst);
      n.episode = rs->getInt(3);
      n.sequence = rs->getInt(4);
      CAREOPS_ASSIGN_OR_RETURN(n.issued_on, ParseSqlDate(Str(*rs, 5)));
      n.state = ParseNoticeState(Str(*rs, 6)).value_or(NoticeState::kIssued);
      if (!rs->isNull(7)) {
        CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay grace, ParseSqlDate(Str(*rs, 7)));
        n.grace_until = grace;
      }
      it = index.emplace(id, out.size()).first;
      out.push_back(std::move(n));
    }
    if (!rs->isNull(8)) out[it->second].covered.push_back(Str(*rs, 8));
  }
  return out;
}

// Applies `t` to a notice still ISSUED (false when it no longer is), with its
// intent and audit entry.
bool ApplyTransition(mysql::Connection& conn, const Mutation& m, const NoticeTransition& t) {
  auto& st = conn.Prepare(kSetNoticeStatus);
  st.setString(1, std::string(NoticeStateName(t.to)));
  st.setString(2, ToSqlDate(t.on));
  st.setString(3, t.notice_id);
  if (st.executeUpdate() == 0) return false;
  if (t.action && t.intent) {
    auto& action = conn.Prepare(kSetNoticeAction);
    action.setString(1, std::string(AccountChangeName(*t.action)));
    action.setString(2, t.notice_id);
    action.executeUpdate();
    outbox::Enqueue(conn, m, *t.intent);
  }
  Audit(conn, m, absl::StrCat("notice.", absl::AsciiStrToLower(Abs(NoticeStateName(t.to)))), "notice", t.notice_id);
  return true;
}

// A payment's part of the ladder: the ledger's ISSUED notices it paid in full.
absl::Status SettlePaidNotices(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id,
                               absl::CivilDay on) {
  CAREOPS_ASSIGN_OR_RETURN(std::vector<NoticeRecord> notices, LoadNoticeRecords(conn, ledger_id, -1));
  if (notices.empty()) return absl::OkStatus();
  CAREOPS_ASSIGN_OR_RETURN(AgingInputs in, LoadAgingInputs(conn, ledger_id, ""));
  std::string account_id;
  {
    auto& st = conn.Prepare(kLedgerAccount);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (rs->next()) account_id = Str(*rs, 1);
  }
  for (const std::string& id : PaidNotices(notices, in.open_items)) {
    for (const NoticeRecord& n : notices) {
      if (n.notice_id == id) ApplyTransition(conn, m, PaidTransition(n, account_id, on));
    }
  }
  return absl::OkStatus();
}

// Inserts one FEE or INTEREST installment a notice charges, due on `due`.
void InsertChargeInstallment(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id,
                             const std::string& installment_id, const std::string& number, bool fee, int64_t minor,
                             absl::CivilDay due) {
  auto& st = conn.Prepare(kInsertInstallment);
  st.setString(1, installment_id);
  st.setString(2, ledger_id);
  st.setString(3, number);
  st.setString(4, fee ? "FEE" : "INTEREST");
  st.setString(5, ToSqlDate(due));
  st.setInt64(6, fee ? minor : 0);
  st.setInt64(7, fee ? 0 : minor);
  st.setInt64(8, 0);
  st.setString(9, ToSqlDatetime(m.now));
  st.executeUpdate();
  Audit(conn, m, "installment.add", "installment", installment_id, fee ? "notice fee" : "notice interest");
}

void InsertCovered(mysql::Connection& conn, const std::string& notice_id, const std::string& installment_id,
                   const std::string& number, int64_t balance_minor) {
  auto& st = conn.Prepare(kInsertNoticeInstallment);
  st.setString(1, notice_id);
  st.setString(2, installment_id);
  st.setString(3, number);
  st.setInt64(4, balance_minor);
  st.executeUpdate();
}

void InsertNotice(mysql::Connection& conn, const Mutation& m, const DunningLedger& ledger, absl::CivilDay as_of,
                  const NoticeToIssue& n) {
  const NoticeDraft& d = n.draft;
  const std::string charge_prefix = absl::StrCat("DUN-", d.episode, "-", d.sequence);
  if (!n.fee_installment_id.empty()) {
    InsertChargeInstallment(conn, m, ledger.ledger_id, n.fee_installment_id, charge_prefix + "-FEE", true,
                            d.fee_minor, as_of);
  }
  if (!n.interest_installment_id.empty()) {
    InsertChargeInstallment(conn, m, ledger.ledger_id, n.interest_installment_id, charge_prefix + "-INT", false,
                            d.interest_minor, as_of);
  }
  auto& st = conn.Prepare(kInsertNotice);
  st.setString(1, n.notice_id);
  st.setString(2, ledger.ledger_id);
  st.setString(3, d.subject);
  st.setString(4, std::string(RungKindName(d.rung.kind)));
  st.setString(5, d.rung.name());
  st.setInt(6, d.episode);
  st.setInt(7, d.sequence);
  st.setString(8, ToSqlDate(as_of));
  st.setInt64(9, d.days_past_due);
  st.setString(10, ledger.currency);
  st.setInt64(11, d.outstanding_minor);
  st.setInt64(12, d.fee_minor);
  st.setInt64(13, d.interest_minor);
  SetOptionalId(st, 14, n.fee_installment_id);
  SetOptionalId(st, 15, n.interest_installment_id);
  st.setString(16, EnumShortName(n.channel));
  st.setString(17, n.recipient);
  st.setString(18, n.text);
  SetOptionalDate(st, 19, d.grace_until);
  st.setString(20, EnumShortName(n.delivery));
  st.setString(21, n.account_intent ? "SUSPEND" : "");
  st.setString(22, n.account_intent ? "PENDING" : "");
  st.setString(23, ToSqlDatetime(m.now));
  st.executeUpdate();
  for (const OpenItem& item : d.covered) InsertCovered(conn, n.notice_id, item.installment_id, item.number, item.total());
  if (!n.fee_installment_id.empty()) {
    InsertCovered(conn, n.notice_id, n.fee_installment_id, charge_prefix + "-FEE", d.fee_minor);
  }
  if (!n.interest_installment_id.empty()) {
    InsertCovered(conn, n.notice_id, n.interest_installment_id, charge_prefix + "-INT", d.interest_minor);
  }
  if (n.account_intent) outbox::Enqueue(conn, m, *n.account_intent);
  Audit(conn, m, "notice.issue", "notice", n.notice_id, d.rung.name());
}

absl::StatusOr<v1::Notice> ReadNotice(mysql::Connection& conn, const sql::ResultSet& rs) {
  v1::Notice n;
  n.set_notice_id(Str(rs, 1));
  n.set_ledger_id(Str(rs, 2));
  n.set_account_id(Str(rs, 3));
  n.set_rung(EnumFromShortName<v1::NoticeRung>(Str(rs, 4)));
  n.set_rung_name(Str(rs, 5));
  n.set_episode(rs.getInt(6));
  n.set_sequence(rs.getInt(7));
  CAREOPS_ASSIGN_OR_RETURN(*n.mutable_issued_on(), DateColumn(rs, 8));
  n.set_days_past_due(rs.getInt(9));
  const std::string currency = Str(rs, 10);
  const int64_t outstanding = rs.getInt64(11), fee = rs.getInt64(12), interest = rs.getInt64(13);
  *n.mutable_outstanding() = Minor(currency, outstanding);
  *n.mutable_fee() = Minor(currency, fee);
  *n.mutable_interest() = Minor(currency, interest);
  *n.mutable_total() = Minor(currency, outstanding + fee + interest);
  if (!rs.isNull(14)) n.set_fee_installment_id(Str(rs, 14));
  if (!rs.isNull(15)) n.set_interest_installment_id(Str(rs, 15));
  n.set_channel(EnumFromShortName<v1::Channel>(Str(rs, 16)));
  n.set_recipient(Str(rs, 17));
  n.set_text(Str(rs, 18));
  n.set_status(EnumFromShortName<v1::NoticeStatus>(Str(rs, 19)));
  if (!rs.isNull(20)) {
    CAREOPS_ASSIGN_OR_RETURN(*n.mutable_resolved_on(), DateColumn(rs, 20));
  }
  if (!rs.isNull(21)) {
    CAREOPS_ASSIGN_OR_RETURN(*n.mutable_grace_until(), DateColumn(rs, 21));
  }
  n.set_delivery_state(EnumFromShortName<v1::DeliveryState>(Str(rs, 22)));
  n.set_delivery_attempts(rs.getInt(23));
  n.set_delivery_error(Str(rs, 24));
  if (!rs.isNull(25)) {
    CAREOPS_ASSIGN_OR_RETURN(absl::Time delivered, ParseSqlDatetime(Str(rs, 25)));
    *n.mutable_delivered_time() = ToProtoTimestamp(delivered);
  }
  n.set_account_action(EnumFromShortName<v1::AccountAction>(Str(rs, 26)));
  n.set_account_action_state(EnumFromShortName<v1::AccountActionState>(Str(rs, 27)));
  n.set_account_action_error(Str(rs, 28));
  CAREOPS_ASSIGN_OR_RETURN(absl::Time created, ParseSqlDatetime(Str(rs, 29)));
  *n.mutable_create_time() = ToProtoTimestamp(created);
  auto& st = conn.Prepare(kSelectNoticeCovered);
  st.setString(1, n.notice_id());
  std::unique_ptr<sql::ResultSet> covered(st.executeQuery());
  while (covered->next()) {
    v1::CoveredInstallment* c = n.add_covered();
    c->set_installment_id(Str(*covered, 1));
    c->set_number(Str(*covered, 2));
    *c->mutable_balance() = Minor(currency, covered->getInt64(3));
  }
  return n;
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
      auto& st = conn.Prepare(kLedgerByAccount);
      st.setString(1, ledger.account_id());
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (rs->next()) {
        return absl::AlreadyExistsError(
            absl::StrCat("account_id: account ", Quote(ledger.account_id()), " already has ledger ", Str(*rs, 1)));
      }
    }
    auto& st = conn.Prepare(kInsertLedger);
    st.setString(1, ledger.ledger_id());
    st.setString(2, ledger.account_id());
    st.setString(3, ledger.account_name());
    st.setString(4, ledger.currency_code());
    BindContact(st, 5, ledger.contact());
    st.setString(9, ToSqlDatetime(m.now));
    st.setString(10, ToSqlDatetime(m.now));
    st.executeUpdate();
    InsertContactHistory(conn, m, ledger.ledger_id(), ledger.contact(), source);
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
    mysql::ForEachChunk(rows.size(), [&](size_t start, int n) {
      auto& st = conn.Prepare(mysql::MultiRowSql(kInstallmentsByNumberHead, "?", n, ")"));
      st.setString(1, ledger_id);
      for (int i = 0; i < n; ++i) st.setString(2 + i, rows[start + i].number());
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) taken[Str(*rs, 1)] = Str(*rs, 2);
    });
    std::vector<std::optional<std::string>> existing(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const v1::Installment& row = rows[i];
      if (auto it = taken.find(row.number()); it != taken.end()) {
        existing[i] = it->second;
        continue;
      }
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay due, FromProto(row.due_date(), "due_date"));
      auto& st = conn.Prepare(kInsertInstallment);
      st.setString(1, row.installment_id());
      st.setString(2, ledger_id);
      st.setString(3, row.number());
      st.setString(4, EnumShortName(row.kind()));
      st.setString(5, ToSqlDate(due));
      st.setInt64(6, row.fee().amount_minor());
      st.setInt64(7, row.interest().amount_minor());
      st.setInt64(8, row.principal().amount_minor());
      st.setString(9, ToSqlDatetime(m.now));
      st.executeUpdate();
      Audit(conn, m, "installment.add", "installment", row.installment_id());
    }
    return render(existing);
  });
}

absl::Status MysqlCollectionsStore::UpdateContact(const Mutation& m, const std::string& ledger_id,
                                                  const v1::Contact& contact, const std::string& source,
                                                  const std::function<void(const v1::Ledger&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(LedgerCurrency(conn, ledger_id, true).status());
    auto& st = conn.Prepare(kUpdateContact);
    BindContact(st, 1, contact);
    st.setString(5, ToSqlDatetime(m.now));
    st.setString(6, ledger_id);
    st.executeUpdate();
    InsertContactHistory(conn, m, ledger_id, contact, source);
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
    auto& st = conn.Prepare(kSelectContactHistory);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      v1::ContactChange c;
      *c.mutable_contact() = ReadContact(*rs, 1);
      c.set_changed_by(Str(*rs, 5));
      c.set_source(Str(*rs, 6));
      CAREOPS_ASSIGN_OR_RETURN(absl::Time at, ParseSqlDatetime(Str(*rs, 7)));
      *c.mutable_change_time() = ToProtoTimestamp(at);
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  }));
  return out;
}

namespace {

// Posts and allocates `payment` under the ledger's lock (taken here), settles
// the notices it paid, and returns it as stored: PostPayment and the posting of
// an unposted payment share it.
absl::StatusOr<v1::Payment> PostPaymentIn(mysql::Connection& conn, const Mutation& m, const v1::Payment& payment,
                                          const std::vector<RequestedAllocation>& requested,
                                          const ComponentOrder& order) {
  CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, payment.ledger_id(), true));
  if (!payment.reference().empty()) {
    auto& st = conn.Prepare(kPaymentByReference);
    st.setString(1, payment.ledger_id());
    st.setString(2, payment.reference());
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (rs->next()) {
      return absl::AlreadyExistsError(
          absl::StrCat("reference: ", Quote(payment.reference()), " was already posted as payment ", Str(*rs, 1)));
    }
  }
  std::vector<OpenItem> items;
  {
    auto& st = conn.Prepare(kOpenInstallments);
    st.setString(1, payment.ledger_id());
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      CAREOPS_ASSIGN_OR_RETURN(OpenItem item, ReadOpenItem(*rs));
      items.push_back(std::move(item));
    }
  }
  const int64_t amount = payment.amount().amount_minor();
  CAREOPS_ASSIGN_OR_RETURN(std::vector<AllocationLine> lines,
                           requested.empty() ? AllocateOldestFirst(items, amount, order)
                                             : AllocateAsRequested(items, requested, amount, order));
  CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay paid_on, FromProto(payment.payment_date(), "payment_date"));
  {
    auto& st = conn.Prepare(kInsertPayment);
    st.setString(1, payment.payment_id());
    st.setString(2, payment.ledger_id());
    st.setInt64(3, amount);
    st.setString(4, ToSqlDate(paid_on));
    st.setString(5, EnumShortName(payment.method()));
    if (payment.reference().empty()) {
      st.setNull(6, sql::DataType::VARCHAR);
    } else {
      st.setString(6, payment.reference());
    }
    st.setString(7, m.caller.user);
    st.setString(8, ToSqlDatetime(m.now));
    st.executeUpdate();
  }
  for (const AllocationLine& line : lines) {
    auto& ins = conn.Prepare(kInsertAllocation);
    ins.setString(1, payment.payment_id());
    ins.setString(2, line.installment_id);
    ins.setString(3, std::string(ComponentName(line.component)));
    ins.setInt64(4, line.amount_minor);
    ins.executeUpdate();
    auto& pay = conn.Prepare(kPayInstallment);
    pay.setInt64(1, line.component == Component::kFee ? line.amount_minor : 0);
    pay.setInt64(2, line.component == Component::kInterest ? line.amount_minor : 0);
    pay.setInt64(3, line.component == Component::kPrincipal ? line.amount_minor : 0);
    pay.setString(4, line.installment_id);
    pay.executeUpdate();
  }
  CAREOPS_RETURN_IF_ERROR(SettlePaidNotices(conn, m, payment.ledger_id(), paid_on));
  Audit(conn, m, "payment.post", "payment", payment.payment_id());
  auto& st = conn.Prepare(kLockPayment);
  st.setString(1, payment.payment_id());
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  if (!rs->next()) return absl::InternalError("payment vanished after insert");
  return ReadPayment(conn, *rs, currency);
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

// Gives every live allocation of a POSTED payment back to its installment and
// sets the payment's new status; the caller holds the ledger lock.
void GiveBack(mysql::Connection& conn, const Mutation& m, const std::string& payment_id, const std::string& status,
              const std::string& reason) {
  std::vector<AllocationLine> give_back;
  {
    auto& st = conn.Prepare(kSelectAllocations);
    st.setString(1, payment_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      if (rs->getInt(4) != 0) continue;
      // Components were written from ComponentName(); anything else cannot be stored.
      Component c = ParseComponent(Str(*rs, 2)).value_or(Component::kPrincipal);
      give_back.push_back({Str(*rs, 1), c, rs->getInt64(3)});
    }
  }
  for (const AllocationLine& line : give_back) {
    auto& pay = conn.Prepare(kPayInstallment);
    pay.setInt64(1, line.component == Component::kFee ? -line.amount_minor : 0);
    pay.setInt64(2, line.component == Component::kInterest ? -line.amount_minor : 0);
    pay.setInt64(3, line.component == Component::kPrincipal ? -line.amount_minor : 0);
    pay.setString(4, line.installment_id);
    pay.executeUpdate();
  }
  {
    auto& st = conn.Prepare(kMarkAllocationsReversed);
    st.setString(1, payment_id);
    st.executeUpdate();
  }
  auto& st = conn.Prepare(kSetPaymentStatus);
  st.setString(1, status);
  st.setString(2, reason);
  st.setString(3, ToSqlDatetime(m.now));
  st.setString(4, payment_id);
  st.executeUpdate();
}

// After a payment was given back (the caller holds the ledger lock): the
// notices it had RESOLVED are ISSUED again (ReopenedNotices), and the ladder
// resumes their episode when it had moved on to an empty one (ResumeEpisode).
absl::Status ReopenUnpaidNotices(mysql::Connection& conn, const Mutation& m, const std::string& ledger_id) {
  std::vector<NoticeRecord> resolved;
  {
    mysql::Statement st(conn, kResolvedNotices);
    st.Add(ledger_id);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    while (rows.Next()) {
      mysql::RowReader& r = rows.row();
      std::string id = r.String();
      const int episode = r.Int();
      std::string installment = r.String();
      CAREOPS_RETURN_IF_ERROR(r.status());
      if (resolved.empty() || resolved.back().notice_id != id) {
        NoticeRecord n;
        n.notice_id = std::move(id);
        n.episode = episode;
        n.state = NoticeState::kResolved;
        resolved.push_back(std::move(n));
      }
      resolved.back().covered.push_back(std::move(installment));
    }
  }
  if (resolved.empty()) return absl::OkStatus();
  CAREOPS_ASSIGN_OR_RETURN(AgingInputs in, LoadAgingInputs(conn, ledger_id, ""));
  const std::vector<std::string> reopen = ReopenedNotices(resolved, in.open_items);
  if (reopen.empty()) return absl::OkStatus();
  int latest = 0;
  for (const std::string& id : reopen) {
    mysql::Statement st(conn, kReopenNotice);
    st.Add(id);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    Audit(conn, m, "notice.reopen", "notice", id, "a payment it was resolved by was given back");
    for (const NoticeRecord& n : resolved) {
      if (n.notice_id == id) latest = std::max(latest, n.episode);
    }
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
  int in_current = 0;
  {
    mysql::Statement st(conn, kEpisodeLadderNotices);
    st.Add(ledger_id).Add(current);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    if (rows.Next()) in_current = rows.row().Int();
  }
  if (!ResumeEpisode(latest, current, in_current)) return absl::OkStatus();
  mysql::Statement st(conn, kSetEpisode);
  st.Add(latest).Add(ledger_id);
  return st.Update().status();
}

}  // namespace

absl::Status MysqlCollectionsStore::ReversePayment(const Mutation& m, const std::string& payment_id, bool unapply_only,
                                                   const std::string& reason,
                                                   const std::function<void(const v1::Payment&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    std::string ledger_id;
    {
      auto& st = conn.Prepare(kSelectPaymentLedger);
      st.setString(1, payment_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (!rs->next()) return absl::NotFoundError(absl::StrCat("payment_id: no payment ", Quote(payment_id)));
      ledger_id = Str(*rs, 1);
    }
    // Ledger first, like every other ledger mutation, so lock order is one.
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, ledger_id, true));
    v1::Payment current;
    {
      auto& st = conn.Prepare(kLockPayment);
      st.setString(1, payment_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (!rs->next()) return absl::NotFoundError(absl::StrCat("payment_id: no payment ", Quote(payment_id)));
      CAREOPS_ASSIGN_OR_RETURN(current, ReadPayment(conn, *rs, currency));
    }
    if (current.status() != v1::PAYMENT_STATUS_POSTED) {
      return absl::FailedPreconditionError(absl::StrCat("payment ", payment_id, " is ",
                                                        EnumShortName(current.status()),
                                                        ", not POSTED"));
    }
    GiveBack(conn, m, payment_id, unapply_only ? "UNAPPLIED" : "REVERSED", reason);
    CAREOPS_RETURN_IF_ERROR(ReopenUnpaidNotices(conn, m, ledger_id));
    Audit(conn, m, unapply_only ? "payment.unapply" : "payment.reverse", "payment", payment_id, reason);
    auto& st = conn.Prepare(kLockPayment);
    st.setString(1, payment_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (!rs->next()) return absl::InternalError("payment vanished after update");
    CAREOPS_ASSIGN_OR_RETURN(v1::Payment stored, ReadPayment(conn, *rs, currency));
    render(stored);
    return absl::OkStatus();
  });
}

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
        auto& st = conn.Prepare(kBankReturnExists);
        st.setString(1, row.bank_reference());
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        if (rs->next()) {
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
      if (!row.payment_reference().empty()) {
        auto& st = conn.Prepare(kLockPaymentByReference);
        st.setString(1, row.ledger_id());
        st.setString(2, row.payment_reference());
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        if (!rs->next()) {
          invalid(absl::StrCat("rows[", i, "].payment_reference: no payment ", Quote(row.payment_reference()),
                               " in the ledger"));
          continue;
        }
        if (Str(*rs, 2) != "POSTED") {
          invalid(absl::StrCat("rows[", i, "].payment_reference: payment ", Str(*rs, 1), " is ", Str(*rs, 2),
                               ", not POSTED"));
          continue;
        }
        if (rs->getInt64(3) != row.amount().amount_minor()) {
          invalid(absl::StrCat("rows[", i, "].amount: differs from the payment's ", rs->getInt64(3),
                               " minor units"));
          continue;
        }
        payment_id = Str(*rs, 1);
      }
      const std::string reason = EnumShortName(row.reason());
      const std::string kind = EnumShortName(row.kind());
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay returned, FromProto(row.return_date(), "return_date"));
      if (!payment_id.empty()) {
        GiveBack(conn, m, payment_id, "REVERSED", absl::StrCat(kind, ": ", reason, " (", row.bank_reference(), ")"));
        Audit(conn, m, "payment.return", "payment", payment_id, reason);
        out.reversed_payment_id = payment_id;
        CAREOPS_RETURN_IF_ERROR(ReopenUnpaidNotices(conn, m, row.ledger_id()));
      }
      if (!rows[i].fee_installment_id.empty()) {
        auto& st = conn.Prepare(kInsertInstallment);
        st.setString(1, rows[i].fee_installment_id);
        st.setString(2, row.ledger_id());
        st.setString(3, absl::StrCat("BOUNCE-", row.bank_reference()).substr(0, 64));
        st.setString(4, "FEE");
        st.setString(5, ToSqlDate(returned));
        st.setInt64(6, rows[i].fee_minor);
        st.setInt64(7, 0);
        st.setInt64(8, 0);
        st.setString(9, ToSqlDatetime(m.now));
        st.executeUpdate();
        out.fee_installment_id = rows[i].fee_installment_id;
      }
      auto& st = conn.Prepare(kInsertBankReturn);
      st.setString(1, row.bank_reference());
      st.setString(2, row.ledger_id());
      st.setString(3, kind);
      st.setString(4, reason);
      st.setInt64(5, row.amount().amount_minor());
      st.setString(6, ToSqlDate(returned));
      if (payment_id.empty()) {
        st.setNull(7, sql::DataType::CHAR);
      } else {
        st.setString(7, payment_id);
      }
      if (out.fee_installment_id.empty()) {
        st.setNull(8, sql::DataType::CHAR);
      } else {
        st.setString(8, out.fee_installment_id);
      }
      st.setString(9, m.caller.user);
      st.setString(10, ToSqlDatetime(m.now));
      st.executeUpdate();
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
    std::vector<std::string> ids;
    auto& st = conn.Prepare(kSelectPayments);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      CAREOPS_ASSIGN_OR_RETURN(v1::Payment p, ReadPayment(conn, *rs, currency));
      out.push_back(std::move(p));
    }
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
      auto& st = conn.Prepare(kLockLedgerSkipLocked);
      st.setString(1, ledger_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (!rs->next()) return absl::OkStatus();  // another replica has it now
      currency = Str(*rs, 1);
    } else {
      CAREOPS_ASSIGN_OR_RETURN(currency, LedgerCurrency(conn, ledger_id, true));
    }
    CAREOPS_ASSIGN_OR_RETURN(AgingInputs in, LoadAgingInputs(conn, ledger_id, currency, as_of));
    LedgerAging a = age(in);
    std::vector<InstallmentAging> subjects = {{"", a.days_past_due, a.bucket, a.outstanding_minor}};
    subjects.insert(subjects.end(), a.installments.begin(), a.installments.end());
    for (const InstallmentAging& subject : subjects) {
      {
        auto& st = conn.Prepare(kLatestAging);
        st.setString(1, ledger_id);
        st.setString(2, subject.installment_id);
        st.setString(3, ToSqlDate(as_of));
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        if (rs->next() && Str(*rs, 1) == subject.bucket) continue;
      }
      auto& st = conn.Prepare(kInsertAging);
      st.setString(1, ledger_id);
      st.setString(2, subject.installment_id);
      st.setString(3, ToSqlDate(as_of));
      st.setString(4, subject.bucket);
      st.setInt64(5, subject.days_past_due);
      st.setInt64(6, subject.balance_minor);
      st.setString(7, ToSqlDatetime(now));
      st.executeUpdate();
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
  std::string after;
  while (true) {
    std::vector<std::string> ids;
    CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
      auto& st = conn.Prepare(kLedgerPage);
      st.setString(1, after);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) ids.push_back(Str(*rs, 1));
      return absl::OkStatus();
    }));
    if (ids.empty()) break;
    for (const std::string& id : ids) {
      CAREOPS_ASSIGN_OR_RETURN(bool visited, visit(id, true));
      if (!visited) skipped.push_back(id);
    }
    after = ids.back();
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
    auto& st = conn.Prepare(kSelectAgingHistory);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      v1::AgingChange c;
      c.set_installment_id(Str(*rs, 1));
      CAREOPS_ASSIGN_OR_RETURN(*c.mutable_as_of(), DateColumn(*rs, 2));
      c.set_bucket(Str(*rs, 3));
      c.set_days_past_due(rs->getInt(4));
      *c.mutable_balance() = Minor(currency, rs->getInt64(5));
      out.push_back(std::move(c));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<AgingReportEntry>> MysqlCollectionsStore::AgingReport(absl::CivilDay as_of) {
  std::vector<AgingReportEntry> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kAgingReport);
    st.setString(1, ToSqlDate(as_of));
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      AgingReportEntry e;
      e.ledger_id = Str(*rs, 1);
      e.account_id = Str(*rs, 2);
      e.currency = Str(*rs, 3);
      e.bucket = Str(*rs, 4);
      CAREOPS_ASSIGN_OR_RETURN(e.since, ParseSqlDate(Str(*rs, 5)));
      e.outstanding_minor = rs->getInt64(6);
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> MysqlCollectionsStore::PostedPaymentsByMethod() {
  std::map<std::string, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kPaymentsByMethod);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) out[Str(*rs, 1)] = rs->getInt64(2);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> MysqlCollectionsStore::BankReturnsByReason() {
  std::map<std::string, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kReturnsByReason);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) out[Str(*rs, 1)] = rs->getInt64(2);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MysqlCollectionsStore::AddPause(const Mutation& m, const v1::Pause& pause,
                                             const std::function<void(const v1::Pause&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_RETURN_IF_ERROR(LedgerCurrency(conn, pause.ledger_id(), true).status());
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay start, FromProto(pause.start_date(), "pause.start_date"));
    auto& st = conn.Prepare(kInsertPause);
    st.setString(1, pause.pause_id());
    st.setString(2, pause.ledger_id());
    st.setString(3, EnumShortName(pause.kind()));
    st.setString(4, ToSqlDate(start));
    if (pause.has_end_date()) {
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay end, FromProto(pause.end_date(), "pause.end_date"));
      st.setString(5, ToSqlDate(end));
    } else {
      st.setNull(5, sql::DataType::DATE);
    }
    st.setString(6, pause.note());
    st.setString(7, m.caller.user);
    st.setString(8, ToSqlDatetime(m.now));
    st.executeUpdate();
    Audit(conn, m, "pause.add", "pause", pause.pause_id(), pause.note());
    render(pause);
    return absl::OkStatus();
  });
}

absl::Status MysqlCollectionsStore::EndPause(const Mutation& m, const std::string& pause_id, absl::CivilDay end_date,
                                             const std::function<void(const v1::Pause&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    v1::Pause current;
    {
      auto& st = conn.Prepare(kLockPause);
      st.setString(1, pause_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (!rs->next()) return absl::NotFoundError(absl::StrCat("pause_id: no pause ", Quote(pause_id)));
      CAREOPS_ASSIGN_OR_RETURN(current, ReadPause(*rs));
    }
    CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay start, FromProto(current.start_date(), "start_date"));
    if (end_date <= start) return InvalidArgument("end_date", "must be after the pause's start_date");
    if (current.has_end_date()) {
      CAREOPS_ASSIGN_OR_RETURN(absl::CivilDay old_end, FromProto(current.end_date(), "end_date"));
      if (end_date > old_end) {
        return absl::FailedPreconditionError(
            absl::StrCat("pause ", pause_id, " already ends on ", ToSqlDate(old_end), "; it can only end earlier"));
      }
    }
    auto& st = conn.Prepare(kSetPauseEnd);
    st.setString(1, ToSqlDate(end_date));
    st.setString(2, pause_id);
    st.executeUpdate();
    Audit(conn, m, "pause.end", "pause", pause_id);
    *current.mutable_end_date() = ToProto(end_date);
    render(current);
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
      auto& st = conn.Prepare(skip_locked ? kLockDunningLedgerSkipLocked : kLockDunningLedger);
      st.setString(1, ledger_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (!rs->next()) return absl::OkStatus();  // another replica has it now
      ledger.account_id = Str(*rs, 1);
      ledger.account_name = Str(*rs, 2);
      ledger.currency = Str(*rs, 3);
      ledger.contact = ReadContact(*rs, 4);
      ledger.inputs.episode = rs->getInt(8);
    }
    CAREOPS_ASSIGN_OR_RETURN(AgingInputs aging, LoadAgingInputs(conn, ledger_id, ledger.currency));
    ledger.inputs.open_items = std::move(aging.open_items);
    ledger.inputs.pauses = std::move(aging.pauses);
    CAREOPS_ASSIGN_OR_RETURN(ledger.inputs.notices, LoadNoticeRecords(conn, ledger_id, ledger.inputs.episode));
    {
      auto& st = conn.Prepare(kNoticeSubjects);
      st.setString(1, ledger_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) ledger.inputs.subjects_sent.insert(Str(*rs, 1));
    }
    CAREOPS_ASSIGN_OR_RETURN(DunningPlan decided, plan(ledger));
    const Mutation m{.caller = kDunningRun,
                     .method = "RunDunning",
                     .request_id = absl::StrCat("dunning-", ToSqlDate(as_of)),
                     .now = now};
    for (const NoticeTransition& t : decided.transitions) {
      if (!ApplyTransition(conn, m, t)) continue;
      if (t.to == NoticeState::kLapsed) {
        ++local.lapsed;
      } else {
        ++local.resolved;
      }
      if (t.intent) local.intent_keys.push_back(t.intent->key);
    }
    for (const NoticeToIssue& n : decided.issue) {
      if (ledger.inputs.subjects_sent.count(n.draft.subject) > 0) continue;
      InsertNotice(conn, m, ledger, as_of, n);
      ++local.issued;
      local.issued_ids.push_back(n.notice_id);
      if (n.account_intent) local.intent_keys.push_back(n.account_intent->key);
    }
    if (decided.close_episode) {
      auto& st = conn.Prepare(kNextEpisode);
      st.setString(1, ledger_id);
      st.executeUpdate();
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
    auto& st = conn.Prepare(kSelectNoticesByLedger);
    st.setString(1, ledger_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      CAREOPS_ASSIGN_OR_RETURN(v1::Notice n, ReadNotice(conn, *rs));
      out.push_back(std::move(n));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Notice> MysqlCollectionsStore::GetNotice(const std::string& notice_id) {
  v1::Notice out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kSelectNotice);
    st.setString(1, notice_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (!rs->next()) return absl::NotFoundError(absl::StrCat("notice_id: no notice ", Quote(notice_id)));
    CAREOPS_ASSIGN_OR_RETURN(out, ReadNotice(conn, *rs));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::pair<std::string, std::string>, int64_t>>
MysqlCollectionsStore::NoticesByRungAndChannel() {
  std::map<std::pair<std::string, std::string>, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kNoticesByRungAndChannel);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) out[{Str(*rs, 1), Str(*rs, 2)}] = rs->getInt64(3);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> MysqlCollectionsStore::LapsesAwaitingCancellation() {
  int64_t out = 0;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kLapsesAwaitingCancellation);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (rs->next()) out = rs->getInt64(1);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MysqlCollectionsStore::RecordAccountAction(mysql::Connection& conn, const std::string& notice_id,
                                                        const std::string& action, bool done,
                                                        const std::string& error) {
  auto& st = conn.Prepare(kRecordAccountAction);
  st.setString(1, done ? "DONE" : "REFUSED");
  st.setString(2, error);
  st.setString(3, notice_id);
  st.setString(4, action);
  st.executeUpdate();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EmailToSend>> MysqlCollectionsStore::ClaimEmailNotices(absl::Time now,
                                                                                  absl::Duration lease, int limit) {
  std::vector<EmailToSend> out;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
    out.clear();
    {
      auto& st = conn.Prepare(kDueEmailNotices);
      st.setString(1, ToSqlDatetime(now));
      st.setString(2, ToSqlDatetime(now));
      st.setInt(3, limit);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) {
        EmailToSend e;
        e.notice_id = Str(*rs, 1);
        e.recipient = Str(*rs, 2);
        e.rung = Str(*rs, 3);
        e.ledger_id = Str(*rs, 4);
        e.body = Str(*rs, 5);
        e.attempts = rs->getInt(6) + 1;
        e.token = NewId();
        out.push_back(std::move(e));
      }
    }
    for (EmailToSend& e : out) {
      {
        auto& name = conn.Prepare(kLedgerName);
        name.setString(1, e.ledger_id);
        std::unique_ptr<sql::ResultSet> rs(name.executeQuery());
        e.account_name = rs->next() ? Str(*rs, 1) : "";
      }
      auto& st = conn.Prepare(kClaimEmailNotice);
      st.setString(1, ToSqlDatetime(now + lease));
      st.setString(2, e.token);
      st.setString(3, e.notice_id);
      st.executeUpdate();
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
    auto& st = conn.Prepare(kRecordDelivery);
    st.setString(1, EnumShortName(state));
    st.setString(2, ToSqlDatetime(next_attempt));
    st.setString(3, error.substr(0, 500));
    if (state == v1::DELIVERY_STATE_SENT) {
      st.setString(4, ToSqlDatetime(now));
    } else {
      st.setNull(4, sql::DataType::TIMESTAMP);
    }
    st.setString(5, notice_id);
    st.setString(6, token);
    recorded = st.executeUpdate() > 0;
    return absl::OkStatus();
  }));
  return recorded;
}

absl::StatusOr<std::string> MysqlCollectionsStore::LedgerOfAccount(const std::string& account_id) {
  std::string out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kLedgerByAccount);
    st.setString(1, account_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (!rs->next()) return absl::NotFoundError(absl::StrCat("account_id: account ", Quote(account_id), " has no ledger"));
    out = Str(*rs, 1);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::map<std::string, CollectionsStore::PeriodFigures>> MysqlCollectionsStore::PeriodFiguresByCurrency(
    absl::CivilDay first, absl::CivilDay last) {
  std::map<std::string, PeriodFigures> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    for (bool due : {true, false}) {
      auto& st = conn.Prepare(due ? kDueInPeriod : kCollectedInPeriod);
      st.setString(1, ToSqlDate(first));
      st.setString(2, ToSqlDate(last));
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) {
        PeriodFigures& f = out[Str(*rs, 1)];
        (due ? f.due_minor : f.collected_minor) = rs->getInt64(2);
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, v1::MaturingBalance>>> MysqlCollectionsStore::MaturingBalances(
    absl::CivilDay first, absl::CivilDay last, int limit) {
  std::vector<std::pair<std::string, v1::MaturingBalance>> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kMaturingBalances);
    st.setString(1, ToSqlDate(first));
    st.setString(2, ToSqlDate(last));
    st.setInt(3, limit);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      v1::MaturingBalance b;
      b.set_ledger_id(Str(*rs, 1));
      b.set_account_id(Str(*rs, 2));
      b.set_account_name(Str(*rs, 3));
      const std::string currency = Str(*rs, 4);
      b.set_installment_id(Str(*rs, 5));
      b.set_number(Str(*rs, 6));
      b.set_kind(EnumFromShortName<v1::InstallmentKind>(Str(*rs, 7)));
      CAREOPS_ASSIGN_OR_RETURN(*b.mutable_due_date(), DateColumn(*rs, 8));
      *b.mutable_balance() = Minor(currency, rs->getInt64(9));
      out.emplace_back(currency, std::move(b));
    }
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
  return u;
}

absl::StatusOr<v1::UnpostedPayment> LoadUnposted(mysql::Connection& conn, const std::string& unposted_id, bool lock) {
  mysql::Statement st(conn, lock ? kLockUnposted : kSelectUnposted);
  st.Add(unposted_id);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::UnpostedPayment> rows,
                           mysql::QueryAll<v1::UnpostedPayment>(st, ReadUnposted));
  if (rows.empty()) {
    return absl::NotFoundError(absl::StrCat("unposted_id: no unposted payment ", Quote(unposted_id)));
  }
  return rows.front();
}

absl::Status MarkPosted(mysql::Connection& conn, const Mutation& m, const std::string& unposted_id,
                        const AutoPost& post, bool automatic) {
  mysql::Statement st(conn, kMarkUnpostedPosted);
  st.Add(post.ledger_id).Add(post.payment_id).Add(automatic).Add(post.score).Add(m.caller.user).Add(m.now).Add(
      unposted_id);
  CAREOPS_RETURN_IF_ERROR(st.Update().status());
  Audit(conn, m, automatic ? "unposted.auto_post" : "unposted.post", "unposted_payment", unposted_id,
        absl::StrCat("payment ", post.payment_id, " to ledger ", post.ledger_id));
  return absl::OkStatus();
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
      CAREOPS_RETURN_IF_ERROR(MarkPosted(conn, m, row.unposted_id(), *post, true));
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
                                                 v1::Payment payment, const std::vector<RequestedAllocation>& requested,
                                                 const ComponentOrder& order,
                                                 const std::function<void(const v1::UnpostedPayment&)>& render) {
  return Mutate(m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(v1::UnpostedPayment line, LoadUnposted(conn, unposted_id, true));
    if (line.status() == v1::UNPOSTED_STATUS_POSTED) {
      return absl::FailedPreconditionError(absl::StrCat("unposted_id: ", Quote(unposted_id),
                                                        " was already posted as payment ", line.payment_id(),
                                                        " to ledger ", line.ledger_id()));
    }
    CAREOPS_ASSIGN_OR_RETURN(std::string currency, LedgerCurrency(conn, payment.ledger_id(), true));
    if (currency != line.amount().currency_code()) {
      return InvalidArgument("ledger_id", absl::StrCat("ledger ", payment.ledger_id(), " is in ", currency,
                                                       ", the deposit in ", line.amount().currency_code()));
    }
    *payment.mutable_amount() = line.amount();
    *payment.mutable_payment_date() = line.deposit_date();
    payment.set_reference(line.bank_reference());
    CAREOPS_ASSIGN_OR_RETURN(v1::Payment stored, PostPaymentIn(conn, m, payment, requested, order));
    CAREOPS_RETURN_IF_ERROR(
        MarkPosted(conn, m, unposted_id, {.ledger_id = payment.ledger_id(), .payment_id = payment.payment_id()}, false));
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

absl::StatusOr<LedgerSide> LoadLedgerSide(mysql::Connection& conn, const std::string& ledger_id) {
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
    mysql::Statement st(conn, kLedgerOutstanding);
    st.Add(ledger_id);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    if (rows.Next()) {
      side.outstanding_minor = rows.row().Int64();
      CAREOPS_RETURN_IF_ERROR(rows.row().status());
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
      CAREOPS_ASSIGN_OR_RETURN(LedgerSide side, LoadLedgerSide(conn, rows[i].ledger.ledger_id));
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
