#include "services/membership/mysql_membership_store.h"

#include <algorithm>
#include <memory>
#include <set>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/mysql/audit.h"
#include "common/mysql/batch.h"
#include "common/mysql/keyset.h"
#include "common/mysql/mutation_runner.h"
#include "common/mysql/row.h"
#include "common/mysql/select.h"
#include "common/mysql/versioned.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"

namespace careops::membership {
namespace {

using mysql::ForEachRowOf;
using mysql::RowReader;
using mysql::SelectOne;
using mysql::Statement;

// ---------------------------------------------------------------- SQL

// Column lists shared by a table's INSERT and SELECTs (string-literal macros so
// each statement below stays one constant); Read*() read them in this order.
#define CAREOPS_ACCOUNT_COLUMNS                                                                      \
  "account_id, name, type, status, account_officer, contact_email, start_date, status_effective_date," \
  " status_reason, version, created_at, updated_at"
#define CAREOPS_PLAN_COLUMNS \
  "plan_id, account_id, name, currency, plan_version, supersedes_plan_id, status, version, created_at"
#define CAREOPS_BENEFIT_COLUMNS \
  "code, category, unlimited, annual_limit_minor, per_visit_cap_minor, copay_basis_points, waiting_period_days"
#define CAREOPS_MEMBER_COLUMNS                                                                        \
  "member_id, account_id, plan_id, external_ref, status, given_name, family_name, birth_date, sex, email," \
  " phone, effective_date, termination_date, version, created_at, updated_at"
#define CAREOPS_UTILIZATION_COLUMNS                                                                 \
  "utilization_id, source_reference, member_id, benefit_code, amount_minor, currency, service_date," \
  " reversed, reverse_reason, recorded_at, reversed_at, reversed_minor"

constexpr char kInsertAccount[] =
    "INSERT INTO client_accounts (" CAREOPS_ACCOUNT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectAccount[] = "SELECT " CAREOPS_ACCOUNT_COLUMNS " FROM client_accounts WHERE account_id = ?";
// Taken by everything that adds a child row (plan, member, movement,
// utilisation): a transition holds the row FOR UPDATE (kAccounts), so a child
// can never be added to an account while it is being cancelled, and sees the
// cancellation once it is.
constexpr char kSelectAccountForShare[] =
    "SELECT " CAREOPS_ACCOUNT_COLUMNS " FROM client_accounts WHERE account_id = ? LOCK IN SHARE MODE";
// The one versioned update of an account (common/mysql/versioned.h).
constexpr mysql::VersionedTable kAccounts{
    .resource = "client account",
    .key_field = "account_id",
    .lock_sql = "SELECT " CAREOPS_ACCOUNT_COLUMNS " FROM client_accounts WHERE account_id = ? FOR UPDATE",
    .update_sql = "UPDATE client_accounts SET name = ?, status = ?, account_officer = ?, contact_email = ?,"
                  " status_effective_date = ?, status_reason = ?, updated_at = ?, version = ?"
                  " WHERE account_id = ? AND version = ?"};
// Every status an account takes, from the day it takes effect (V003).
constexpr char kInsertStatusHistory[] =
    "INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at)"
    " VALUES (?, ?, ?, ?, ?)";
// An account's status history in the order it was made (AccountAsOf puts it
// in force order: a transition may be dated before changes already
// scheduled), of one account or of a page of them.
constexpr char kSelectStatusHistory[] =
    "SELECT account_id, effective_date, status, reason, seq FROM account_status_history WHERE account_id = ?"
    " ORDER BY seq";
constexpr char kStatusHistoriesHead[] =
    "SELECT account_id, effective_date, status, reason, seq FROM account_status_history WHERE account_id IN (";
// A withdrawn scheduled change (DecideWithdrawal); the audit trail keeps it.
constexpr char kDeleteStatusChange[] = "DELETE FROM account_status_history WHERE seq = ? AND account_id = ?";
constexpr char kStatusHistoriesTail[] = ") ORDER BY account_id, seq";
// The status in force on a day (the one bound `?`) of the account `a`: the last
// history row dated on or before it; before the first, ACTIVE.
#define CAREOPS_ACCOUNT_STATUS_AS_OF                                                                      \
  "COALESCE((SELECT h.status FROM account_status_history h WHERE h.account_id = a.account_id"            \
  " AND h.effective_date <= ? ORDER BY h.effective_date DESC, h.seq DESC LIMIT 1), 'ACTIVE')"
constexpr char kListAccounts[] = "SELECT " CAREOPS_ACCOUNT_COLUMNS " FROM client_accounts a";
constexpr char kMaybeAccountType[] = "(? IS NULL OR type = ?)";
// Values: status, status, today.
constexpr char kMaybeAccountStatusToday[] = "(? IS NULL OR ? = " CAREOPS_ACCOUNT_STATUS_AS_OF ")";
constexpr char kMaybeAccountOfficer[] = "(? IS NULL OR account_officer = ?)";
constexpr char kTerminateAccountMembers[] =
    "UPDATE members SET status = 'TERMINATED', termination_date = ?, version = version + 1, updated_at = ?"
    " WHERE account_id = ? AND (termination_date IS NULL OR termination_date > ?)";
// The members of an account with a period beginning on or after a day (the
// one bound `?`): a cancellation from that day removes those periods
// (CancelMemberCoverage, member by member, in member id order like every
// writer that locks several members), before the statements below end the
// periods running on the day for the whole account.
constexpr char kMembersWithPeriodsFrom[] =
    "SELECT DISTINCT c.member_id FROM coverage_periods c JOIN members m ON m.member_id = c.member_id"
    " WHERE m.account_id = ? AND c.effective_date >= ? ORDER BY c.member_id";
// What the cancellation is about to end, so that withdrawing it gives it back
// (V006; run just before kEndAccountCoverage, on the same periods).
// Parameters: now, account, day x2.
constexpr char kRecordAccountCuts[] =
    "INSERT INTO coverage_cuts (member_id, effective_date, account_id, previous_end_date, recorded_at)"
    " SELECT c.member_id, c.effective_date, m.account_id, c.end_date, ? FROM coverage_periods c"
    " JOIN members m ON m.member_id = c.member_id WHERE m.account_id = ? AND c.effective_date < ?"
    " AND (c.end_date IS NULL OR c.end_date > ?)";
// ... and their coverage: every period still running on the date ends then.
// The same rule as CutCoverage for periods begun before the day, in one
// statement for the whole account. Parameters: day, account, day x2.
constexpr char kEndAccountCoverage[] =
    "UPDATE coverage_periods c JOIN members m ON m.member_id = c.member_id SET c.end_date = ?"
    " WHERE m.account_id = ? AND c.effective_date < ? AND (c.end_date IS NULL OR c.end_date > ?)";

// The periods a cancellation of the account ended (UncutCoverage), by member.
constexpr char kSelectAccountCuts[] =
    "SELECT member_id, effective_date, previous_end_date, removed_plan_id, follows_end_date FROM coverage_cuts"
    " WHERE account_id = ?"
    " ORDER BY member_id, effective_date";
constexpr char kDeleteAccountCuts[] = "DELETE FROM coverage_cuts WHERE account_id = ?";
// What a scheduled cancellation ends of coverage given while it waits (an
// enrolment, a movement) or removes of a member's later periods when it is
// made: CutCoverage's records. A period already recorded keeps the end it had
// before the cancellation.
constexpr char kInsertCutsHead[] =
    "INSERT INTO coverage_cuts (member_id, effective_date, account_id, previous_end_date, removed_plan_id,"
    " follows_end_date, recorded_at) VALUES ";
constexpr char kInsertCutRow[] = "(?, ?, ?, ?, ?, ?, ?)";
constexpr char kInsertCutsTail[] = " ON DUPLICATE KEY UPDATE member_id = member_id";

// A member's status on a day (the one bound `?`, MemberAsOf): ACTIVE while
// some coverage runs on it or later, TERMINATED once the last period has ended.
#define CAREOPS_MEMBER_STATUS_AS_OF \
  "(CASE WHEN termination_date IS NULL OR termination_date > ? THEN 'ACTIVE' ELSE 'TERMINATED' END)"

// Parameters: today x2, start x2, end x2, start and end, start and end, account x2.
constexpr char kSummary[] =
    "SELECT COALESCE(SUM(" CAREOPS_MEMBER_STATUS_AS_OF " = 'ACTIVE'), 0),"
    " COALESCE(SUM(" CAREOPS_MEMBER_STATUS_AS_OF " = 'TERMINATED'), 0),"
    " COALESCE(SUM(EXISTS(SELECT 1 FROM coverage_periods c WHERE c.member_id = m.member_id"
    "   AND c.effective_date <= ? AND (c.end_date IS NULL OR c.end_date > ?))), 0),"
    " COALESCE(SUM(EXISTS(SELECT 1 FROM coverage_periods c WHERE c.member_id = m.member_id"
    "   AND c.effective_date <= ? AND (c.end_date IS NULL OR c.end_date > ?))), 0),"
    " COALESCE(SUM(effective_date BETWEEN ? AND ?), 0),"
    " COALESCE(SUM(termination_date IS NOT NULL AND termination_date BETWEEN ? AND ?), 0)"
    " FROM members m WHERE (? = '' OR account_id = ?)";

constexpr char kInsertPlan[] =
    "INSERT INTO plans (" CAREOPS_PLAN_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kInsertBenefit[] =
    "INSERT INTO plan_benefits (plan_id, " CAREOPS_BENEFIT_COLUMNS ", position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectPlan[] = "SELECT " CAREOPS_PLAN_COLUMNS " FROM plans WHERE plan_id = ?";
// A revision supersedes the version it revises (the only change a plan row sees).
constexpr mysql::VersionedTable kPlans{
    .resource = "plan",
    .key_field = "plan_id",
    .lock_sql = "SELECT " CAREOPS_PLAN_COLUMNS " FROM plans WHERE plan_id = ? FOR UPDATE",
    .update_sql = "UPDATE plans SET status = ?, version = ? WHERE plan_id = ? AND version = ?"};
constexpr char kSelectBenefits[] =
    "SELECT plan_id, " CAREOPS_BENEFIT_COLUMNS " FROM plan_benefits WHERE plan_id = ? ORDER BY position";
constexpr char kListPlans[] = "SELECT " CAREOPS_PLAN_COLUMNS " FROM plans";
constexpr char kMaybePlanAccount[] = "(? IS NULL OR account_id = ?)";
constexpr char kMaybePlanStatus[] = "(? IS NULL OR status = ?)";
// The benefits of a whole page of plans in one query: the page's key range with
// the list's own filters, so a list never queries per plan.
constexpr char kListPlanBenefits[] =
    "SELECT plan_id, " CAREOPS_BENEFIT_COLUMNS " FROM plans JOIN plan_benefits USING (plan_id)"
    " WHERE (? IS NULL OR account_id = ?) AND (? IS NULL OR status = ?) AND plan_id > ? AND plan_id <= ?"
    " ORDER BY plan_id, position";
constexpr char kSelectAccountPlans[] = "SELECT plan_id, status FROM plans WHERE account_id = ?";

constexpr char kInsertMemberRow[] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kInsertMemberHead[] = "INSERT INTO members (" CAREOPS_MEMBER_COLUMNS ") VALUES ";
// A member with its coverage periods and their plans' versions in one round
// trip (GetMember's point read; EXPLAIN: members const by PRIMARY,
// coverage_periods ref by its PRIMARY prefix, plans eq_ref by PRIMARY). One
// row per period, the period first, then the member's columns (read from the
// first row only); a member without periods (none is written so) comes back
// as one row with NULL period columns. No ORDER BY: on the outer-joined table
// it costs a temporary table and a filesort; LoadMember orders the few periods.
constexpr char kSelectMemberWithCoverage[] =
    "SELECT c.effective_date, c.end_date, c.plan_id, p.plan_version,"
    " m.member_id, m.account_id, m.plan_id, m.external_ref, m.status, m.given_name, m.family_name, m.birth_date,"
    " m.sex, m.email, m.phone, m.effective_date, m.termination_date, m.version, m.created_at, m.updated_at"
    " FROM members m LEFT JOIN coverage_periods c ON c.member_id = m.member_id"
    " LEFT JOIN plans p ON p.plan_id = c.plan_id WHERE m.member_id = ?";
// Members change only through movements, whose own etag the caller sent: the
// member row is locked and written with its version, without a client etag.
constexpr mysql::VersionedTable kMembers{
    .resource = "member",
    .key_field = "member_id",
    .lock_sql = "SELECT " CAREOPS_MEMBER_COLUMNS " FROM members WHERE member_id = ? FOR UPDATE",
    .update_sql = "UPDATE members SET plan_id = ?, status = ?, given_name = ?, family_name = ?, birth_date = ?,"
                  " sex = ?, email = ?, phone = ?, termination_date = ?, updated_at = ?, version = ?"
                  " WHERE member_id = ? AND version = ?"};
// A member's account never changes, so reading it before the account lock is safe.
constexpr char kSelectMemberAccount[] = "SELECT account_id FROM members WHERE member_id = ?";
constexpr char kSelectMemberByRef[] = "SELECT member_id FROM members WHERE account_id = ? AND external_ref = ?";
constexpr char kListMembers[] = "SELECT " CAREOPS_MEMBER_COLUMNS " FROM members";
constexpr char kMaybeMemberAccount[] = "(? IS NULL OR account_id = ?)";
// Values: status, status, today.
constexpr char kMaybeMemberStatusToday[] = "(? IS NULL OR ? = " CAREOPS_MEMBER_STATUS_AS_OF ")";
// Values: plan, plan, today. The plan in force on the day (MemberAsOf): of the
// last period begun by then, else of the first.
constexpr char kMaybeMemberPlanToday[] =
    "(? IS NULL OR ? = COALESCE("
    "(SELECT c.plan_id FROM coverage_periods c WHERE c.member_id = members.member_id AND c.effective_date <= ?"
    " ORDER BY c.effective_date DESC LIMIT 1),"
    "(SELECT c.plan_id FROM coverage_periods c WHERE c.member_id = members.member_id"
    " ORDER BY c.effective_date LIMIT 1)))";
constexpr char kMaybeMemberExternalRef[] = "(? IS NULL OR external_ref = ?)";
// A member's coverage periods with their plans' versions, oldest first; of one
// member or of a page of them (chunked, mysql/batch.h). Written whole: the
// member's periods are replaced under the member's row lock.
#define CAREOPS_COVERAGE_SELECT                                                                      \
  "SELECT c.member_id, c.effective_date, c.end_date, c.plan_id, p.plan_version FROM coverage_periods c" \
  " JOIN plans p ON p.plan_id = c.plan_id"
constexpr char kSelectCoverage[] = CAREOPS_COVERAGE_SELECT " WHERE c.member_id = ? ORDER BY c.effective_date";
constexpr char kCoveragesHead[] = CAREOPS_COVERAGE_SELECT " WHERE c.member_id IN (";
constexpr char kCoveragesTail[] = ") ORDER BY c.member_id, c.effective_date";
constexpr char kDeleteCoverage[] = "DELETE FROM coverage_periods WHERE member_id = ?";
constexpr char kInsertCoverageHead[] =
    "INSERT INTO coverage_periods (member_id, effective_date, end_date, plan_id, recorded_at) VALUES ";
constexpr char kInsertCoverageRow[] = "(?, ?, ?, ?, ?)";
// Existing external references of a census, looked up in chunks (mysql/batch.h).
constexpr char kExistingRefsHead[] =
    "SELECT external_ref, member_id FROM members WHERE account_id = ? AND external_ref IN (";

#define CAREOPS_MOVEMENT_COLUMNS                                                                         \
  "movement_id, account_id, member_id, type, status, effective_date, new_plan_id, details, note,"      \
  " requested_by, requested_at, due_at, decided_by, decided_at, rejection_reason, version"
constexpr char kInsertMovement[] =
    "INSERT INTO movements (" CAREOPS_MOVEMENT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
// `details` is the whole Movement, serialized; the other columns are for filters.
constexpr char kSelectMovement[] = "SELECT details, version FROM movements WHERE movement_id = ?";
constexpr mysql::VersionedTable kMovements{
    .resource = "movement",
    .key_field = "movement_id",
    .lock_sql = "SELECT details, version FROM movements WHERE movement_id = ? FOR UPDATE",
    .update_sql = "UPDATE movements SET member_id = ?, status = ?, details = ?, decided_by = ?, decided_at = ?,"
                  " rejection_reason = ?, version = ? WHERE movement_id = ? AND version = ?"};
constexpr char kListMovements[] = "SELECT details, version FROM movements";
constexpr char kMaybeMovementAccount[] = "(? IS NULL OR account_id = ?)";
constexpr char kMaybeMovementStatus[] = "(? IS NULL OR status = ?)";
constexpr char kMaybeMovementType[] = "(? IS NULL OR type = ?)";
constexpr char kMovementsOverdue[] = "status = 'PENDING' AND due_at < ?";

// The account status is the one in force on the service date (the last history
// row on or before it), not the current one; before the first row, active.
// Parameters: service date x2, benefit code x2, year, member id.
constexpr char kEligibilityMember[] =
    "SELECT m.account_id, m.plan_id, m.effective_date, m.termination_date,"
    " COALESCE((SELECT h.status FROM account_status_history h WHERE h.account_id = m.account_id"
    "   AND h.effective_date <= ? ORDER BY h.effective_date DESC, h.seq DESC LIMIT 1), 'ACTIVE'),"
    " COALESCE((SELECT h.effective_date FROM account_status_history h WHERE h.account_id = m.account_id"
    "   AND h.effective_date <= ? ORDER BY h.effective_date DESC, h.seq DESC LIMIT 1), m.effective_date)"
    " FROM members m WHERE m.member_id = ?";
// The benefit of the plan in force on the service date and the year's balance.
// Parameters: benefit code, member id, benefit code, year, plan id.
constexpr char kEligibilityPlan[] =
    "SELECT p.currency, b.code, b.category, b.unlimited, b.annual_limit_minor, b.per_visit_cap_minor,"
    " b.copay_basis_points, b.waiting_period_days, COALESCE(u.used_minor, 0)"
    " FROM plans p LEFT JOIN plan_benefits b ON b.plan_id = p.plan_id AND b.code = ?"
    " LEFT JOIN benefit_balances u ON u.member_id = ? AND u.benefit_code = ? AND u.year = ?"
    " WHERE p.plan_id = ?";
// Creates the balance row a record locks, in its own autocommit statement, only
// for a benefit of a plan the member has a period on (the balance is the
// member's for the benefit and year, whichever plan version was in force);
// concurrent creators simply skip.
constexpr char kEnsureBalance[] =
    "INSERT IGNORE INTO benefit_balances (member_id, benefit_code, year, used_minor)"
    " SELECT DISTINCT c.member_id, b.code, ?, 0 FROM coverage_periods c"
    " JOIN plan_benefits b ON b.plan_id = c.plan_id AND b.code = ? WHERE c.member_id = ?";
constexpr char kLockBalance[] =
    "SELECT used_minor FROM benefit_balances WHERE member_id = ? AND benefit_code = ? AND year = ? FOR UPDATE";
constexpr char kAddToBalance[] =
    "UPDATE benefit_balances SET used_minor = used_minor + ? WHERE member_id = ? AND benefit_code = ? AND year = ?";
constexpr char kSelectUtilization[] =
    "SELECT " CAREOPS_UTILIZATION_COLUMNS " FROM utilizations WHERE source_reference = ?";
constexpr char kSelectUtilizationForUpdate[] =
    "SELECT " CAREOPS_UTILIZATION_COLUMNS " FROM utilizations WHERE source_reference = ? FOR UPDATE";
constexpr char kInsertUtilization[] =
    "INSERT INTO utilizations (" CAREOPS_UTILIZATION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kReverseUtilization[] =
    "UPDATE utilizations SET reversed = ?, reversed_minor = ?, reverse_reason = ?, reversed_at = ?"
    " WHERE utilization_id = ?";
// The record's row is locked when a reversal is added, so seq cannot collide.
constexpr char kInsertReversal[] =
    "INSERT INTO utilization_reversals (utilization_id, seq, amount_minor, reason, reversed_at)"
    " SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM utilization_reversals WHERE utilization_id = ?";
constexpr char kSelectReversalsOf[] =
    "SELECT utilization_id, amount_minor, reason, reversed_at FROM utilization_reversals WHERE utilization_id = ?"
    " ORDER BY seq";
// The reversals of a ledger page's records (its first to its last id).
constexpr char kSelectReversalsOfPage[] =
    "SELECT r.utilization_id, r.amount_minor, r.reason, r.reversed_at FROM utilization_reversals r"
    " JOIN utilizations u ON u.utilization_id = r.utilization_id"
    " WHERE u.member_id = ? AND (? IS NULL OR u.benefit_code = ?) AND u.utilization_id BETWEEN ? AND ?"
    " ORDER BY r.utilization_id, r.seq";

// The ledger: a member's records in record order (utilization_id is issued in
// time order), and what the records before a page used, per benefit and year.
constexpr char kListUtilizations[] = "SELECT " CAREOPS_UTILIZATION_COLUMNS " FROM utilizations";
constexpr char kUtilizationsOfMember[] = "member_id = ?";
constexpr char kMaybeUtilizationBenefit[] = "(? IS NULL OR benefit_code = ?)";
constexpr char kUsedBeforePage[] =
    "SELECT benefit_code, YEAR(service_date), SUM(amount_minor - reversed_minor) FROM utilizations"
    " WHERE member_id = ? AND (? IS NULL OR benefit_code = ?) AND reversed = 0 AND utilization_id <= ?"
    " GROUP BY benefit_code, YEAR(service_date)";

constexpr char kCountMembers[] =
    "SELECT " CAREOPS_MEMBER_STATUS_AS_OF " AS status_today, COUNT(*) FROM members GROUP BY status_today";
// By the status in force on the day bound.
constexpr char kCountAccounts[] =
    "SELECT type, " CAREOPS_ACCOUNT_STATUS_AS_OF " AS status_today, COUNT(*) FROM client_accounts a"
    " GROUP BY type, status_today";
constexpr char kCountOverdueMovements[] =
    "SELECT type, COUNT(*) FROM movements WHERE status = 'PENDING' AND due_at < ? GROUP BY type";

// ---------------------------------------------------------------- rows

absl::CivilDay DayOf(const common::v1::Date& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

std::optional<absl::CivilDay> TerminationOf(const v1::Member& m) {
  if (!m.has_termination_date()) return std::nullopt;
  return DayOf(m.termination_date());
}

// An enum filter: the value, or NULL (any) for UNSPECIFIED.
template <typename E>
mysql::SqlValue EnumFilter(E value) {
  if (static_cast<int>(value) == 0) return mysql::SqlValue();
  return mysql::SqlValue(value);
}

// A text filter: the value, or NULL (any) when empty.
mysql::SqlValue TextFilter(const std::string& value) {
  if (value.empty()) return mysql::SqlValue();
  return mysql::SqlValue(value);
}

absl::StatusOr<v1::ClientAccount> ReadAccount(RowReader& r) {
  v1::ClientAccount a;
  a.set_account_id(r.String());
  a.set_name(r.String());
  a.set_type(r.Enum<v1::ClientAccountType>());
  a.set_status(r.Enum<v1::ClientAccountStatus>());
  a.set_account_officer(r.String());
  a.set_contact_email(r.String());
  *a.mutable_start_date() = ToProto(r.Date());
  *a.mutable_status_effective_date() = ToProto(r.Date());
  a.set_status_reason(r.String());
  a.set_etag(mysql::EtagOf(r.Int64()));
  *a.mutable_create_time() = ToProtoTimestamp(r.Timestamp());
  *a.mutable_update_time() = ToProtoTimestamp(r.Timestamp());
  CAREOPS_RETURN_IF_ERROR(r.status());
  return a;
}

absl::StatusOr<v1::Plan> ReadPlan(RowReader& r) {
  v1::Plan p;
  p.set_plan_id(r.String());
  p.set_account_id(r.String());
  p.set_name(r.String());
  p.set_currency_code(r.String());
  p.set_version(r.Int());
  p.set_supersedes_plan_id(r.String());
  p.set_status(r.Enum<v1::PlanStatus>());
  p.set_etag(mysql::EtagOf(r.Int64()));
  *p.mutable_create_time() = ToProtoTimestamp(r.Timestamp());
  CAREOPS_RETURN_IF_ERROR(r.status());
  return p;
}

// A row of "plan_id, CAREOPS_BENEFIT_COLUMNS"; amounts in `currency`.
struct BenefitRow {
  std::string plan_id;
  v1::Benefit benefit;
};

mysql::ReadRow<BenefitRow> BenefitReader(const std::function<std::string(const std::string&)>& currency_of) {
  return [currency_of](RowReader& r) -> absl::StatusOr<BenefitRow> {
    BenefitRow out;
    out.plan_id = r.String();
    const std::string currency = currency_of(out.plan_id);
    v1::Benefit& b = out.benefit;
    b.set_code(r.String());
    b.set_category(r.String());
    b.set_unlimited(r.Bool());
    const int64_t limit = r.Int64();
    const int64_t cap = r.Int64();
    if (!b.unlimited()) {
      b.mutable_annual_limit()->set_currency_code(currency);
      b.mutable_annual_limit()->set_amount_minor(limit);
    }
    if (cap > 0) {
      b.mutable_per_visit_cap()->set_currency_code(currency);
      b.mutable_per_visit_cap()->set_amount_minor(cap);
    }
    b.set_copay_basis_points(r.Int());
    b.set_waiting_period_days(r.Int());
    CAREOPS_RETURN_IF_ERROR(r.status());
    return out;
  };
}

absl::StatusOr<v1::Member> ReadMember(RowReader& r) {
  v1::Member m;
  m.set_member_id(r.String());
  m.set_account_id(r.String());
  m.set_plan_id(r.String());
  m.set_external_ref(r.String());
  m.set_status(r.Enum<v1::MemberStatus>());
  v1::Person* p = m.mutable_person();
  p->set_given_name(r.String());
  p->set_family_name(r.String());
  *p->mutable_birth_date() = ToProto(r.Date());
  p->set_sex(r.String());
  p->set_email(r.String());
  p->set_phone(r.String());
  *m.mutable_effective_date() = ToProto(r.Date());
  if (std::optional<absl::CivilDay> end = r.OptionalDate()) *m.mutable_termination_date() = ToProto(*end);
  m.set_etag(mysql::EtagOf(r.Int64()));
  *m.mutable_create_time() = ToProtoTimestamp(r.Timestamp());
  *m.mutable_update_time() = ToProtoTimestamp(r.Timestamp());
  CAREOPS_RETURN_IF_ERROR(r.status());
  return m;
}

// A new member's row in CAREOPS_MEMBER_COLUMNS order (version 1).
void AddMemberRow(Statement& st, const v1::Member& m, absl::Time now) {
  const v1::Person& p = m.person();
  st.Add(m.member_id()).Add(m.account_id()).Add(m.plan_id()).Add(m.external_ref()).Add(m.status());
  st.Add(p.given_name()).Add(p.family_name()).Add(DayOf(p.birth_date())).Add(p.sex()).Add(p.email()).Add(p.phone());
  st.Add(DayOf(m.effective_date())).Add(TerminationOf(m)).Add(1).Add(now).Add(now);
}

// Reads "details, version": the stored Movement with the row's etag and
// `overdue` as of `as_of`.
mysql::ReadRow<v1::Movement> MovementReader(absl::Time as_of) {
  return [as_of](RowReader& r) -> absl::StatusOr<v1::Movement> {
    const std::string bytes = r.String();
    const int64_t version = r.Int64();
    CAREOPS_RETURN_IF_ERROR(r.status());
    v1::Movement mv;
    if (!mv.ParseFromString(bytes)) return absl::InternalError("movements: stored movement is unreadable");
    mv.set_etag(mysql::EtagOf(version));
    mv.set_overdue(Overdue(mv.status(), FromProto(mv.due_time()), as_of));
    return mv;
  };
}

// The stored form of a movement: the message without the etag (the row's
// version is the etag) or the as-of dependent `overdue`.
std::string MovementBytes(v1::Movement mv) {
  mv.clear_etag();
  mv.clear_overdue();
  std::string bytes;
  mv.SerializeToString(&bytes);
  return bytes;
}

absl::StatusOr<v1::Utilization> ReadUtilization(RowReader& r) {
  v1::Utilization u;
  u.set_utilization_id(r.String());
  u.set_source_reference(r.String());
  u.set_member_id(r.String());
  u.set_benefit_code(r.String());
  const int64_t amount = r.Int64();
  u.mutable_amount()->set_currency_code(r.String());
  u.mutable_amount()->set_amount_minor(amount);
  *u.mutable_service_date() = ToProto(r.Date());
  u.set_reversed(r.Bool());
  u.set_reverse_reason(r.String());
  *u.mutable_recorded_at() = ToProtoTimestamp(r.Timestamp());
  if (std::optional<absl::Time> at = r.OptionalTimestamp()) *u.mutable_reversed_at() = ToProtoTimestamp(*at);
  u.mutable_reversed_amount()->set_amount_minor(r.Int64());
  u.mutable_reversed_amount()->set_currency_code(u.amount().currency_code());
  CAREOPS_RETURN_IF_ERROR(r.status());
  return u;
}

// A reversal row, keyed by its record's id (the currency is the record's).
struct ReversalRow {
  std::string utilization_id;
  v1::UtilizationReversal reversal;
};

absl::StatusOr<ReversalRow> ReadReversal(RowReader& r) {
  ReversalRow out;
  out.utilization_id = r.String();
  out.reversal.mutable_amount()->set_amount_minor(r.Int64());
  out.reversal.set_reason(r.String());
  *out.reversal.mutable_reversed_at() = ToProtoTimestamp(r.Timestamp());
  CAREOPS_RETURN_IF_ERROR(r.status());
  return out;
}

void AddReversal(v1::Utilization& u, v1::UtilizationReversal reversal) {
  reversal.mutable_amount()->set_currency_code(u.amount().currency_code());
  *u.add_reversals() = std::move(reversal);
}

mysql::AuditEntry Audit(const MutationContext& m, std::string action, std::string type, std::string id,
                        std::string reason = "", std::string details = "{}") {
  mysql::AuditEntry e;
  e.at = m.now;
  e.actor = m.caller;
  e.action = std::move(action);
  e.resource_type = std::move(type);
  e.resource_id = std::move(id);
  e.reason = std::move(reason);
  e.details_json = std::move(details);
  e.request_id = m.request_id;
  return e;
}

std::string JsonString(std::string_view s) {
  std::string out;
  log::AppendJsonString(out, s);
  return out;
}

// RunMutation with the answer as the return value: `fn` fills `out`, which is
// what the request log stores and replays.
template <typename Response>
absl::StatusOr<Response> Idempotent(mysql::ConnectionPool& pool, const MutationContext& m,
                                    const std::function<absl::Status(mysql::Connection&, Response&)>& fn) {
  Response out;
  MutationContext with_response = m;
  with_response.response = &out;
  absl::Status s = mysql::RunMutation(pool, with_response, [&](mysql::Connection& c) { return fn(c, out); });
  if (!s.ok()) return s;
  return out;
}

// Runs one read on a pooled connection; `read`'s own status (e.g. NOT_FOUND) is the answer.
template <typename T>
absl::StatusOr<T> ReadOne(mysql::ConnectionPool& pool, const std::function<absl::StatusOr<T>(mysql::Connection&)>& read) {
  absl::StatusOr<T> out = absl::InternalError("no read ran");
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool, [&](mysql::Connection& c) {
    out = read(c);
    return absl::OkStatus();
  }));
  return out;
}

// ---------------------------------------------------------------- statements

// How a transaction reads a client account: kShare to add a child row under it.
// Changes to the account itself lock it FOR UPDATE through kAccounts. Lock order
// is always the account before its members, plans, movements and balances.
enum class AccountLock { kNone, kShare };

absl::StatusOr<v1::ClientAccount> LoadAccount(mysql::Connection& c, const std::string& id, AccountLock lock) {
  return SelectOne<v1::ClientAccount>(c, lock == AccountLock::kShare ? kSelectAccountForShare : kSelectAccount, id,
                                      ReadAccount, "account_id", "client account");
}

void AddAccountSet(Statement& st, const v1::ClientAccount& a, absl::Time now) {
  st.Add(a.name()).Add(a.status()).Add(a.account_officer()).Add(a.contact_email());
  st.Add(DayOf(a.status_effective_date())).Add(a.status_reason()).Add(now);
}

// Records that account `account_id` takes `change.status` from its date.
absl::Status AppendStatusHistory(mysql::Connection& c, const std::string& account_id, const StatusChange& change,
                                 absl::Time now) {
  Statement st(c, kInsertStatusHistory);
  st.Add(account_id).Add(change.effective_date).Add(change.status).Add(change.reason).Add(now);
  return st.Update().status();
}

absl::Status LoadBenefits(mysql::Connection& c, v1::Plan& plan) {
  Statement st(c, kSelectBenefits);
  st.Add(plan.plan_id());
  const std::string currency = plan.currency_code();
  CAREOPS_ASSIGN_OR_RETURN(std::vector<BenefitRow> rows,
                           mysql::QueryAll<BenefitRow>(st, BenefitReader([&](const std::string&) { return currency; })));
  for (BenefitRow& row : rows) *plan.add_benefits() = std::move(row.benefit);
  return absl::OkStatus();
}

absl::StatusOr<v1::Plan> LoadPlan(mysql::Connection& c, const std::string& id) {
  CAREOPS_ASSIGN_OR_RETURN(v1::Plan plan, SelectOne<v1::Plan>(c, kSelectPlan, id, ReadPlan, "plan_id", "plan"));
  CAREOPS_RETURN_IF_ERROR(LoadBenefits(c, plan));
  return plan;
}

// The status of `plan_id` when it is a plan of `account_id`; nullopt otherwise.
// Plans are never edited in place (only superseded, under the account lock the
// caller holds), so a plain read is enough.
absl::StatusOr<std::optional<v1::PlanStatus>> PlanStatusIn(mysql::Connection& c, const std::string& plan_id,
                                                           const std::string& account_id) {
  absl::StatusOr<v1::Plan> plan = SelectOne<v1::Plan>(c, kSelectPlan, plan_id, ReadPlan, "plan_id", "plan");
  if (absl::IsNotFound(plan.status())) return std::nullopt;
  CAREOPS_RETURN_IF_ERROR(plan.status());
  if (plan->account_id() != account_id) return std::nullopt;
  return plan->status();
}

absl::Status InsertPlan(mysql::Connection& c, const v1::Plan& p, absl::Time now) {
  Statement st(c, kInsertPlan);
  st.Add(p.plan_id()).Add(p.account_id()).Add(p.name()).Add(p.currency_code()).Add(p.version());
  st.Add(p.supersedes_plan_id()).Add(p.status()).Add(1).Add(now);
  CAREOPS_RETURN_IF_ERROR(st.Update().status());
  for (int i = 0; i < p.benefits_size(); ++i) {
    const v1::Benefit& b = p.benefits(i);
    Statement bs(c, kInsertBenefit);
    bs.Add(p.plan_id()).Add(b.code()).Add(b.category()).Add(b.unlimited());
    bs.Add(b.unlimited() ? int64_t{0} : b.annual_limit().amount_minor()).Add(b.per_visit_cap().amount_minor());
    bs.Add(b.copay_basis_points()).Add(b.waiting_period_days()).Add(i);
    CAREOPS_RETURN_IF_ERROR(bs.Update().status());
  }
  return absl::OkStatus();
}

// A row of CAREOPS_COVERAGE_SELECT.
struct CoverageRow {
  std::string member_id;
  v1::CoveragePeriod period;
};

absl::StatusOr<CoverageRow> ReadCoverage(RowReader& r) {
  CoverageRow out;
  out.member_id = r.String();
  *out.period.mutable_effective_date() = ToProto(r.Date());
  if (std::optional<absl::CivilDay> end = r.OptionalDate()) *out.period.mutable_end_date() = ToProto(*end);
  out.period.set_plan_id(r.String());
  out.period.set_plan_version(r.Int());
  CAREOPS_RETURN_IF_ERROR(r.status());
  return out;
}

// The member's coverage periods, oldest first.
absl::StatusOr<Coverage> LoadCoverage(mysql::Connection& c, const std::string& member_id) {
  Statement st(c, kSelectCoverage);
  st.Add(member_id);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<CoverageRow> rows, mysql::QueryAll<CoverageRow>(st, ReadCoverage));
  Coverage out;
  for (CoverageRow& row : rows) *out.Add() = std::move(row.period);
  return out;
}

// Fills the coverage of a page of members.
absl::Status AttachCoverage(mysql::Connection& c, std::vector<v1::Member>& members) {
  std::unordered_map<std::string, v1::Member*> by_id;
  std::vector<std::string> ids;
  for (v1::Member& m : members) {
    by_id[m.member_id()] = &m;
    ids.push_back(m.member_id());
  }
  return ForEachRowOf<CoverageRow>(c, ids, kCoveragesHead, kCoveragesTail, ReadCoverage, [&](CoverageRow& row) {
    auto it = by_id.find(row.member_id);
    if (it != by_id.end()) *it->second->add_coverage() = std::move(row.period);
  });
}

// Inserts the periods of `members` (each member's coverage, which may be
// empty: coverage a cancellation removed whole), in multi-row statements.
absl::Status InsertCoverage(mysql::Connection& c, const std::vector<const v1::Member*>& members, absl::Time now) {
  std::vector<std::pair<const std::string*, v1::CoveragePeriod>> rows;
  for (const v1::Member* m : members) {
    if (absl::Status proper = RequireProperCoverage(m->coverage()); !proper.ok()) {
      return absl::InternalError(absl::StrCat("member ", m->member_id(), ": ", proper.message()));
    }
    for (const v1::CoveragePeriod& p : m->coverage()) rows.emplace_back(&m->member_id(), p);
  }
  absl::Status status = absl::OkStatus();
  mysql::ForEachChunk(rows.size(), [&](size_t start, int n) {
    if (!status.ok()) return;
    const std::string sql = mysql::MultiRowSql(kInsertCoverageHead, kInsertCoverageRow, n);
    Statement st(c, sql.c_str());
    for (int i = 0; i < n; ++i) {
      const auto& [member_id, p] = rows[start + i];
      std::optional<absl::CivilDay> end;
      if (p.has_end_date()) end = DayOf(p.end_date());
      st.Add(*member_id).Add(DayOf(p.effective_date())).Add(end).Add(p.plan_id()).Add(now);
    }
    status = st.Update().status();
  });
  return status;
}

// Replaces the member's periods with member.coverage(); the caller holds the member's row lock.
absl::Status ReplaceCoverage(mysql::Connection& c, const v1::Member& member, absl::Time now) {
  Statement st(c, kDeleteCoverage);
  st.Add(member.member_id());
  CAREOPS_RETURN_IF_ERROR(st.Update().status());
  return InsertCoverage(c, {&member}, now);
}

// The member with its coverage periods, in one statement.
absl::StatusOr<v1::Member> LoadMember(mysql::Connection& c, const std::string& id) {
  Statement st(c, kSelectMemberWithCoverage);
  st.Add(id);
  CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
  std::optional<v1::Member> member;
  std::vector<std::pair<absl::CivilDay, v1::CoveragePeriod>> periods;
  while (rows.Next()) {
    RowReader& r = rows.row();
    v1::CoveragePeriod period;
    const std::optional<absl::CivilDay> start = r.OptionalDate();
    const std::optional<absl::CivilDay> end = r.OptionalDate();
    const std::optional<std::string> plan_id = r.OptionalString();
    const std::optional<int64_t> plan_version = r.OptionalInt64();
    if (!member) {
      CAREOPS_ASSIGN_OR_RETURN(member, ReadMember(r));
    }
    CAREOPS_RETURN_IF_ERROR(r.status());
    if (!start) continue;
    *period.mutable_effective_date() = ToProto(*start);
    if (end) *period.mutable_end_date() = ToProto(*end);
    period.set_plan_id(plan_id.value_or(""));
    period.set_plan_version(static_cast<int32_t>(plan_version.value_or(0)));
    periods.emplace_back(*start, std::move(period));
  }
  if (!member) return absl::NotFoundError(absl::StrCat("member_id: no member ", Quote(id)));
  std::sort(periods.begin(), periods.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [start, period] : periods) *member->add_coverage() = std::move(period);
  return std::move(*member);
}

// ---- account status history (AccountAsOf)

struct HistoryRow {
  std::string account_id;
  StatusChange change;
};

absl::StatusOr<HistoryRow> ReadHistory(RowReader& r) {
  HistoryRow out;
  out.account_id = r.String();
  out.change.effective_date = r.Date();
  out.change.status = r.Enum<v1::ClientAccountStatus>();
  out.change.reason = r.String();
  out.change.seq = r.Int64();
  CAREOPS_RETURN_IF_ERROR(r.status());
  return out;
}

// The status history of one account, in the order made.
absl::StatusOr<std::vector<StatusChange>> LoadHistory(mysql::Connection& c, const std::string& account_id) {
  Statement st(c, kSelectStatusHistory);
  st.Add(account_id);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<HistoryRow> rows, mysql::QueryAll<HistoryRow>(st, ReadHistory));
  std::vector<StatusChange> history;
  for (HistoryRow& row : rows) history.push_back(std::move(row.change));
  return history;
}

// `account` as it reads on `today`, from its status history.
absl::StatusOr<v1::ClientAccount> AccountOn(mysql::Connection& c, v1::ClientAccount account, absl::CivilDay today) {
  CAREOPS_ASSIGN_OR_RETURN(const std::vector<StatusChange> history, LoadHistory(c, account.account_id()));
  return AccountAsOf(std::move(account), history, today);
}

// A page of accounts as they read on `today`.
absl::Status AccountsOn(mysql::Connection& c, std::vector<v1::ClientAccount>& accounts, absl::CivilDay today) {
  std::unordered_map<std::string, std::vector<StatusChange>> histories;
  std::vector<std::string> ids;
  for (const v1::ClientAccount& a : accounts) ids.push_back(a.account_id());
  CAREOPS_RETURN_IF_ERROR(ForEachRowOf<HistoryRow>(
      c, ids, kStatusHistoriesHead, kStatusHistoriesTail, ReadHistory,
      [&](HistoryRow& row) { histories[row.account_id].push_back(std::move(row.change)); }));
  for (v1::ClientAccount& a : accounts) {
    const std::vector<StatusChange>& history = histories[a.account_id()];
    a = AccountAsOf(std::move(a), history, today);
  }
  return absl::OkStatus();
}

void AddMemberSet(Statement& st, const v1::Member& m, absl::Time now) {
  const v1::Person& p = m.person();
  st.Add(m.plan_id()).Add(m.status()).Add(p.given_name()).Add(p.family_name()).Add(DayOf(p.birth_date()));
  st.Add(p.sex()).Add(p.email()).Add(p.phone()).Add(TerminationOf(m)).Add(now);
}

// A member's coverage cut by a cancellation (CutCoverage), to record.
struct MemberCut {
  std::string member_id;
  CoverageCut cut;
};

// `member` with its coverage (the periods to write) ended on the stored
// account's cancellation date, when one is scheduled (or in force); what it
// ended or removed goes to `cuts`.
v1::Member UnderCancellation(const v1::ClientAccount& account, v1::Member member, std::vector<MemberCut>* cuts) {
  const std::optional<absl::CivilDay> cancelled = CancellationDate(account);
  if (!cancelled) {
    Coverage coverage = CoverageOf(member);
    return WithCoverage(std::move(member), std::move(coverage));
  }
  std::vector<CoverageCut> ended;
  v1::Member out = CancelMemberCoverage(std::move(member), *cancelled, &ended);
  for (CoverageCut& cut : ended) cuts->push_back({out.member_id(), cut});
  return out;
}

// Records `cuts` of members of `account_id` (coverage_cuts), in multi-row statements.
absl::Status InsertCuts(mysql::Connection& c, const std::string& account_id, const std::vector<MemberCut>& cuts,
                        absl::Time now) {
  absl::Status status = absl::OkStatus();
  mysql::ForEachChunk(cuts.size(), [&](size_t start, int n) {
    if (!status.ok()) return;
    const std::string sql = mysql::MultiRowSql(kInsertCutsHead, kInsertCutRow, n, kInsertCutsTail);
    Statement st(c, sql.c_str());
    for (int i = 0; i < n; ++i) {
      const MemberCut& cut = cuts[start + i];
      const CoverageCut& k = cut.cut;
      st.Add(cut.member_id).Add(k.period_start).Add(account_id).Add(k.previous_end);
      st.Add(k.removed_plan_id.empty() ? mysql::SqlValue() : mysql::SqlValue(k.removed_plan_id)).Add(k.follows_end);
      st.Add(now);
    }
    status = st.Update().status();
  });
  return status;
}

// Inserts `m` into `account`, which the caller holds locked (AccountLock::kShare),
// after DecideEnrolable on `today` and the external_ref check; under a
// scheduled cancellation its coverage ends on that day.
absl::Status InsertOneMember(mysql::Connection& c, const v1::ClientAccount& account, const v1::Member& enrolled,
                             absl::Time now, absl::CivilDay today) {
  CAREOPS_ASSIGN_OR_RETURN(std::optional<v1::PlanStatus> plan,
                           PlanStatusIn(c, enrolled.plan_id(), account.account_id()));
  CAREOPS_RETURN_IF_ERROR(DecideEnrolable(account, plan, enrolled, today, ""));
  std::vector<MemberCut> cuts;
  const v1::Member m = UnderCancellation(account, enrolled, &cuts);
  {
    Statement st(c, kSelectMemberByRef);
    st.Add(m.account_id()).Add(m.external_ref());
    CAREOPS_ASSIGN_OR_RETURN(std::vector<std::string> taken,
                             mysql::QueryAll<std::string>(st, [](RowReader& r) -> absl::StatusOr<std::string> {
                               return r.String();
                             }));
    if (!taken.empty()) {
      return absl::AlreadyExistsError(absl::StrCat("external_ref: ", Quote(m.external_ref()), " is already member ",
                                                   Quote(taken.front()), " of the account"));
    }
  }
  const std::string sql = mysql::MultiRowSql(kInsertMemberHead, kInsertMemberRow, 1);
  Statement st(c, sql.c_str());
  AddMemberRow(st, m, now);
  CAREOPS_RETURN_IF_ERROR(st.Update().status());
  CAREOPS_RETURN_IF_ERROR(InsertCoverage(c, {&m}, now));
  return InsertCuts(c, account.account_id(), cuts, now);
}

absl::StatusOr<EligibilityFacts> QueryFacts(mysql::Connection& c, const std::string& member_id,
                                            const std::string& benefit_code, absl::CivilDay service_date,
                                            std::string* account_id, std::string* plan_id) {
  EligibilityFacts f;
  v1::Member member;  // the columns CoverageOf falls back on
  {
    Statement st(c, kEligibilityMember);
    st.AddRepeated(service_date, 2).Add(member_id);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    if (!rows.Next()) return f;
    RowReader& r = rows.row();
    f.member_found = true;
    member.set_account_id(r.String());
    member.set_plan_id(r.String());
    f.coverage_start = r.Date();
    *member.mutable_effective_date() = ToProto(f.coverage_start);
    if (std::optional<absl::CivilDay> end = r.OptionalDate()) *member.mutable_termination_date() = ToProto(*end);
    f.account_status = r.Enum<v1::ClientAccountStatus>();
    f.account_status_effective_date = r.Date();
    CAREOPS_RETURN_IF_ERROR(r.status());
  }
  CAREOPS_ASSIGN_OR_RETURN(*member.mutable_coverage(), LoadCoverage(c, member_id));
  const Coverage coverage = CoverageOf(member);
  const v1::CoveragePeriod& period = *PeriodAsOf(coverage, service_date);
  f.period_start = DayOf(period.effective_date());
  if (period.has_end_date()) f.period_end = DayOf(period.end_date());
  f.coverage_start = DayOf(coverage[0].effective_date());
  if (account_id) *account_id = member.account_id();
  if (plan_id) *plan_id = period.plan_id();
  Statement st(c, kEligibilityPlan);
  st.Add(benefit_code).Add(member_id).Add(benefit_code).Add(static_cast<int64_t>(service_date.year()));
  st.Add(period.plan_id());
  CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
  if (!rows.Next()) return absl::InternalError("members: a coverage period's plan is missing");
  RowReader& r = rows.row();
  f.currency = r.String();
  if (std::optional<std::string> code = r.OptionalString()) {
    BenefitTerms b;
    b.code = *code;
    b.category = r.String();
    b.unlimited = r.Bool();
    b.annual_limit_minor = r.Int64();
    b.per_visit_cap_minor = r.Int64();
    b.copay_basis_points = r.Int();
    b.waiting_period_days = r.Int();
    f.benefit = b;
  } else {
    for (int i = 0; i < 6; ++i) r.OptionalString();  // the absent benefit's other columns
  }
  f.used_minor = r.Int64();
  CAREOPS_RETURN_IF_ERROR(r.status());
  return f;
}

// Locks the member's balance row for the year: concurrent records and reversals
// for one member, benefit and year queue here.
absl::Status LockBalance(mysql::Connection& c, const std::string& member_id, const std::string& benefit_code,
                         int year) {
  Statement st(c, kLockBalance);
  st.Add(member_id).Add(benefit_code).Add(year);
  return st.Query().status();
}

absl::Status AddToBalance(mysql::Connection& c, const std::string& member_id, const std::string& benefit_code,
                          int year, int64_t delta_minor) {
  Statement st(c, kAddToBalance);
  st.Add(delta_minor).Add(member_id).Add(benefit_code).Add(year);
  return st.Update().status();
}

void SetRemaining(v1::Utilization& u, const EligibilityFacts& f) {
  u.set_unlimited(f.benefit && f.benefit->unlimited);
  u.mutable_remaining_limit()->set_currency_code(f.currency);
  u.mutable_remaining_limit()->set_amount_minor(f.benefit ? RemainingLimit(*f.benefit, f.currency, f.used_minor) : 0);
}

absl::StatusOr<std::optional<v1::Utilization>> FindUtilization(mysql::Connection& c, const char* sql,
                                                                const std::string& source_reference) {
  Statement st(c, sql);
  st.Add(source_reference);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<v1::Utilization> rows, mysql::QueryAll<v1::Utilization>(st, ReadUtilization));
  if (rows.empty()) return std::nullopt;
  v1::Utilization u = std::move(rows.front());
  Statement reversals(c, kSelectReversalsOf);
  reversals.Add(u.utilization_id());
  CAREOPS_ASSIGN_OR_RETURN(std::vector<ReversalRow> found, mysql::QueryAll<ReversalRow>(reversals, ReadReversal));
  for (ReversalRow& row : found) AddReversal(u, std::move(row.reversal));
  return u;
}

template <typename T>
Page<T> ToPage(mysql::KeysetPage<T> in) {
  return Page<T>{std::move(in.items), in.more};
}

}  // namespace

// ================================================================ accounts

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::CreateAccount(const MutationContext& m,
                                                                      const v1::ClientAccount& account) {
  return Idempotent<v1::ClientAccount>(pool_, m, [&](mysql::Connection& c, v1::ClientAccount& out) {
    Statement st(c, kInsertAccount);
    st.Add(account.account_id()).Add(account.name()).Add(account.type()).Add(account.status());
    st.Add(account.account_officer()).Add(account.contact_email()).Add(DayOf(account.start_date()));
    st.Add(DayOf(account.status_effective_date())).Add(account.status_reason()).Add(1).Add(m.now).Add(m.now);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    CAREOPS_RETURN_IF_ERROR(AppendStatusHistory(
        c, account.account_id(), {DayOf(account.status_effective_date()), account.status(), account.status_reason()},
        m.now));
    mysql::AppendAudit(c, Audit(m, "account.create", "account", account.account_id()));
    out = account;
    out.set_etag(mysql::EtagOf(1));
    *out.mutable_create_time() = ToProtoTimestamp(m.now);
    *out.mutable_update_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::GetAccount(const std::string& account_id,
                                                                   absl::CivilDay today) {
  return ReadOne<v1::ClientAccount>(pool_, [&](mysql::Connection& c) -> absl::StatusOr<v1::ClientAccount> {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, account_id, AccountLock::kNone));
    return AccountOn(c, std::move(account), today);
  });
}

absl::StatusOr<Page<v1::ClientAccount>> MysqlMembershipStore::ListAccounts(const AccountFilter& f,
                                                                           const PageRequest& page) {
  mysql::KeysetQuery q(kListAccounts, "account_id");
  q.Where(kMaybeAccountType, EnumFilter(f.type))
      .WhereEach(kMaybeAccountStatusToday, {EnumFilter(f.status), EnumFilter(f.status), f.today})
      .Where(kMaybeAccountOfficer, TextFilter(f.account_officer));
  Page<v1::ClientAccount> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(auto fetched, q.Fetch<v1::ClientAccount>(c, page, ReadAccount));
    out = ToPage(std::move(fetched));
    return AccountsOn(c, out.items, f.today);
  }));
  return out;
}

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::UpdateAccount(
    const MutationContext& m, const std::string& account_id, const std::string& etag,
    const std::function<absl::Status(v1::ClientAccount&)>& edit, absl::CivilDay today) {
  CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(etag, "account.etag"));
  return Idempotent<v1::ClientAccount>(pool_, m, [&](mysql::Connection& c, v1::ClientAccount& out) {
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<v1::ClientAccount, v1::ClientAccount>(
                       c, kAccounts, account_id, expected, ReadAccount,
                       [&](const v1::ClientAccount& current) -> absl::StatusOr<v1::ClientAccount> {
                         v1::ClientAccount next = current;
                         CAREOPS_RETURN_IF_ERROR(edit(next));
                         return next;
                       },
                       [&](Statement& st, const v1::ClientAccount& next) { AddAccountSet(st, next, m.now); })));
    mysql::AppendAudit(c, Audit(m, "account.update", "account", account_id));
    CAREOPS_ASSIGN_OR_RETURN(out, AccountOn(c, done.decision, today));
    out.set_etag(mysql::EtagOf(done.version));
    *out.mutable_update_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

namespace {

// Removes the periods of `account_id`'s members that begin on or after
// `cancel_date` (plan changes, reinstatements or enrolments scheduled for the
// day or later), recording them so a withdrawal gives them back; each member
// is locked, decided (CancelMemberCoverage) and rewritten. The caller holds
// the account lock. The number of members changed (each of them loses
// coverage it would have had from the day on).
absl::StatusOr<int64_t> RemoveCoverageFrom(mysql::Connection& c, const MutationContext& m,
                                           const std::string& account_id, absl::CivilDay cancel_date) {
  Statement select(c, kMembersWithPeriodsFrom);
  select.Add(account_id).Add(cancel_date);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                           mysql::QueryAll<std::string>(select, [](RowReader& r) -> absl::StatusOr<std::string> {
                             return r.String();
                           }));
  std::vector<MemberCut> cuts;
  for (const std::string& member_id : ids) {
    CAREOPS_ASSIGN_OR_RETURN(mysql::LockedRow<v1::Member> locked,
                             mysql::LockVersioned<v1::Member>(c, kMembers, member_id, ReadMember));
    CAREOPS_ASSIGN_OR_RETURN(*locked.row.mutable_coverage(), LoadCoverage(c, member_id));
    std::vector<CoverageCut> ended;
    const v1::Member member = CancelMemberCoverage(std::move(locked.row), cancel_date, &ended);
    for (CoverageCut& cut : ended) cuts.push_back({member_id, std::move(cut)});
    CAREOPS_RETURN_IF_ERROR(mysql::WriteVersioned(c, kMembers, member_id, locked.version,
                                                  [&](Statement& st) { AddMemberSet(st, member, m.now); })
                                .status());
    CAREOPS_RETURN_IF_ERROR(ReplaceCoverage(c, member, m.now));
  }
  CAREOPS_RETURN_IF_ERROR(InsertCuts(c, account_id, cuts, m.now));
  return static_cast<int64_t>(ids.size());
}

}  // namespace

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::TransitionAccount(const MutationContext& m,
                                                                          const AccountTransition& t) {
  CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(t.etag));
  return Idempotent<v1::ClientAccount>(pool_, m, [&](mysql::Connection& c, v1::ClientAccount& out) {
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<v1::ClientAccount, AccountTransitionDecision>(
                       c, kAccounts, t.account_id, expected, ReadAccount,
                       [&](const v1::ClientAccount& current) -> absl::StatusOr<AccountTransitionDecision> {
                         CAREOPS_ASSIGN_OR_RETURN(const std::vector<StatusChange> history,
                                                  LoadHistory(c, t.account_id));
                         return DecideAccountTransition(current, history, t.action, t.effective_date, t.reason,
                                                        t.today);
                       },
                       [&](Statement& st, const AccountTransitionDecision& d) {
                         AddAccountSet(st, d.account, m.now);
                       })));
    const AccountTransitionDecision& decision = done.decision;
    CAREOPS_RETURN_IF_ERROR(AppendStatusHistory(c, t.account_id, decision.change, m.now));
    int64_t terminated = 0;
    if (t.action == AccountAction::kCancel) {
      CAREOPS_ASSIGN_OR_RETURN(terminated, RemoveCoverageFrom(c, m, t.account_id, t.effective_date));
      Statement st(c, kTerminateAccountMembers);
      st.Add(t.effective_date).Add(m.now).Add(t.account_id).Add(t.effective_date);
      CAREOPS_ASSIGN_OR_RETURN(const int64_t ended, st.Update());
      terminated += ended;
      Statement cuts(c, kRecordAccountCuts);
      cuts.Add(m.now).Add(t.account_id).AddRepeated(t.effective_date, 2);
      CAREOPS_RETURN_IF_ERROR(cuts.Update().status());
      Statement periods(c, kEndAccountCoverage);
      periods.Add(t.effective_date).Add(t.account_id).AddRepeated(t.effective_date, 2);
      CAREOPS_RETURN_IF_ERROR(periods.Update().status());
    }
    mysql::AppendAudit(
        c, Audit(m, absl::StrCat("account.", Abs(ActionName(t.action))), "account", t.account_id, t.reason,
                 absl::StrCat("{\"from\":", JsonString(EnumLabel(decision.from)),
                              ",\"to\":", JsonString(EnumLabel(decision.change.status)),
                              ",\"effective_date\":", JsonString(ToSqlDate(t.effective_date)),
                              ",\"members_terminated\":", terminated, "}")));
    CAREOPS_ASSIGN_OR_RETURN(out, AccountOn(c, decision.account, t.today));
    out.set_etag(mysql::EtagOf(done.version));
    *out.mutable_update_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

namespace {

// Gives the members of `account_id` back the coverage its cancellation from
// `cancel_date` ended (coverage_cuts, UncutCoverage), under the account lock
// the caller holds: each member is locked, decided and rewritten, then the
// account's cuts are removed. The number of members whose coverage changed.
absl::StatusOr<int64_t> RestoreCoverage(mysql::Connection& c, const MutationContext& m, const std::string& account_id,
                                        absl::CivilDay cancel_date) {
  std::map<std::string, CoverageCuts> cuts;
  {
    Statement st(c, kSelectAccountCuts);
    st.Add(account_id);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    while (rows.Next()) {
      RowReader& r = rows.row();
      std::string member_id = r.String();
      CoverageCut cut;
      cut.period_start = r.Date();
      cut.previous_end = r.OptionalDate();
      cut.removed_plan_id = r.OptionalString().value_or("");
      cut.follows_end = r.OptionalDate();
      CAREOPS_RETURN_IF_ERROR(r.status());
      cuts[std::move(member_id)][cut.period_start] = cut;
    }
  }
  int64_t restored = 0;
  for (const auto& [member_id, periods] : cuts) {  // member id order: one lock order for every writer
    CAREOPS_ASSIGN_OR_RETURN(mysql::LockedRow<v1::Member> locked,
                             mysql::LockVersioned<v1::Member>(c, kMembers, member_id, ReadMember));
    CAREOPS_ASSIGN_OR_RETURN(Coverage coverage, LoadCoverage(c, member_id));
    Coverage uncut = UncutCoverage(coverage, cancel_date, periods);
    bool same = uncut.size() == coverage.size();
    for (int i = 0; same && i < uncut.size(); ++i) same = uncut[i].SerializeAsString() == coverage[i].SerializeAsString();
    if (same) continue;
    const v1::Member member = WithCoverage(std::move(locked.row), std::move(uncut));
    CAREOPS_RETURN_IF_ERROR(mysql::WriteVersioned(c, kMembers, member_id, locked.version,
                                                  [&](Statement& st) { AddMemberSet(st, member, m.now); })
                                .status());
    CAREOPS_RETURN_IF_ERROR(ReplaceCoverage(c, member, m.now));
    ++restored;
  }
  Statement st(c, kDeleteAccountCuts);
  st.Add(account_id);
  CAREOPS_RETURN_IF_ERROR(st.Update().status());
  return restored;
}

}  // namespace

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::WithdrawStatusChange(const MutationContext& m,
                                                                             const StatusWithdrawal& w) {
  CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(w.etag));
  return Idempotent<v1::ClientAccount>(pool_, m, [&](mysql::Connection& c, v1::ClientAccount& out) {
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<v1::ClientAccount, WithdrawalDecision>(
                       c, kAccounts, w.account_id, expected, ReadAccount,
                       [&](const v1::ClientAccount& current) -> absl::StatusOr<WithdrawalDecision> {
                         CAREOPS_ASSIGN_OR_RETURN(const std::vector<StatusChange> history,
                                                  LoadHistory(c, w.account_id));
                         return DecideWithdrawal(current, history, w.status, w.effective_date, w.today);
                       },
                       [&](Statement& st, const WithdrawalDecision& d) { AddAccountSet(st, d.account, m.now); })));
    const WithdrawalDecision& decision = done.decision;
    std::string withdrawn_json;
    std::optional<absl::CivilDay> cancellation;
    for (const StatusChange& change : decision.withdrawn) {
      Statement st(c, kDeleteStatusChange);
      st.Add(change.seq).Add(w.account_id);
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
      if (change.status == v1::CLIENT_ACCOUNT_STATUS_CANCELLED) cancellation = change.effective_date;
      absl::StrAppend(&withdrawn_json, withdrawn_json.empty() ? "" : ",", "{\"status\":",
                      JsonString(EnumLabel(change.status)), ",\"effective_date\":",
                      JsonString(ToSqlDate(change.effective_date)), ",\"reason\":", JsonString(change.reason), "}");
    }
    int64_t restored = 0;
    if (cancellation) {
      CAREOPS_ASSIGN_OR_RETURN(restored, RestoreCoverage(c, m, w.account_id, *cancellation));
    }
    mysql::AppendAudit(c, Audit(m, "account.withdraw", "account", w.account_id, w.reason,
                                absl::StrCat("{\"withdrawn\":[", withdrawn_json,
                                             "],\"members_restored\":", restored, "}")));
    CAREOPS_ASSIGN_OR_RETURN(out, AccountOn(c, decision.account, w.today));
    out.set_etag(mysql::EtagOf(done.version));
    *out.mutable_update_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::AccountSummary> MysqlMembershipStore::Summarize(const std::string& account_id,
                                                                   absl::CivilDay start, absl::CivilDay end,
                                                                   absl::CivilDay today) {
  v1::AccountSummary out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    if (!account_id.empty()) {
      CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, account_id, AccountLock::kNone));
      CAREOPS_ASSIGN_OR_RETURN(account, AccountOn(c, std::move(account), today));
      out.set_account_status(account.status());
    }
    Statement st(c, kSummary);
    st.AddRepeated(today, 2).AddRepeated(start, 2).AddRepeated(end, 2).Add(start).Add(end).Add(start).Add(end);
    st.AddRepeated(account_id, 2);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    if (rows.Next()) {
      RowReader& r = rows.row();
      auto* active = out.add_members_by_status();
      active->set_status(v1::MEMBER_STATUS_ACTIVE);
      active->set_count(r.Int64());
      auto* terminated = out.add_members_by_status();
      terminated->set_status(v1::MEMBER_STATUS_TERMINATED);
      terminated->set_count(r.Int64());
      out.set_covered_at_period_start(r.Int64());
      out.set_covered_at_period_end(r.Int64());
      out.set_enrolled_in_period(r.Int64());
      out.set_terminated_in_period(r.Int64());
      out.set_net_change(out.covered_at_period_end() - out.covered_at_period_start());
      CAREOPS_RETURN_IF_ERROR(r.status());
    }
    return absl::OkStatus();
  }));
  out.set_account_id(account_id);
  *out.mutable_period_start() = ToProto(start);
  *out.mutable_period_end() = ToProto(end);
  return out;
}

// ================================================================ plans

absl::StatusOr<v1::Plan> MysqlMembershipStore::CreatePlan(const MutationContext& m, const v1::Plan& plan,
                                                          absl::CivilDay today) {
  return Idempotent<v1::Plan>(pool_, m, [&](mysql::Connection& c, v1::Plan& out) {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, plan.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, today, "plan.account_id"));
    CAREOPS_RETURN_IF_ERROR(InsertPlan(c, plan, m.now));
    mysql::AppendAudit(c, Audit(m, "plan.create", "plan", plan.plan_id()));
    out = plan;
    out.set_etag(mysql::EtagOf(1));
    *out.mutable_create_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Plan> MysqlMembershipStore::GetPlan(const std::string& plan_id) {
  return ReadOne<v1::Plan>(pool_, [&](mysql::Connection& c) { return LoadPlan(c, plan_id); });
}

absl::StatusOr<Page<v1::Plan>> MysqlMembershipStore::ListPlans(const PlanFilter& f, const PageRequest& page) {
  mysql::KeysetQuery q(kListPlans, "plan_id");
  q.Where(kMaybePlanAccount, TextFilter(f.account_id)).Where(kMaybePlanStatus, EnumFilter(f.status));
  CAREOPS_ASSIGN_OR_RETURN(auto plans, q.Fetch<v1::Plan>(pool_, page, ReadPlan));
  Page<v1::Plan> out = ToPage(std::move(plans));
  if (out.items.empty()) return out;
  // A plan's benefits never change once written, so reading them apart is safe.
  std::unordered_map<std::string, v1::Plan*> by_id;
  for (v1::Plan& p : out.items) by_id[p.plan_id()] = &p;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    Statement st(c, kListPlanBenefits);
    st.AddRepeated(TextFilter(f.account_id), 2).AddRepeated(EnumFilter(f.status), 2);
    st.Add(page.after_id).Add(out.items.back().plan_id());
    CAREOPS_ASSIGN_OR_RETURN(std::vector<BenefitRow> rows,
                             mysql::QueryAll<BenefitRow>(st, BenefitReader([&](const std::string& plan_id) {
                               auto it = by_id.find(plan_id);
                               return it == by_id.end() ? std::string() : it->second->currency_code();
                             })));
    for (BenefitRow& row : rows) {
      auto it = by_id.find(row.plan_id);
      if (it != by_id.end()) *it->second->add_benefits() = std::move(row.benefit);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Plan> MysqlMembershipStore::RevisePlan(const MutationContext& m, const std::string& plan_id,
                                                          const std::string& etag, const v1::Plan& next,
                                                          absl::CivilDay today) {
  CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(etag));
  return Idempotent<v1::Plan>(pool_, m, [&](mysql::Connection& c, v1::Plan& out) {
    // The account before the plan (lock order), found through the plan's
    // account_id, which never changes.
    CAREOPS_ASSIGN_OR_RETURN(const v1::Plan unlocked,
                             SelectOne<v1::Plan>(c, kSelectPlan, plan_id, ReadPlan, "plan_id", "plan"));
    CAREOPS_ASSIGN_OR_RETURN(const v1::ClientAccount account,
                             LoadAccount(c, unlocked.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, today, "plan_id"));
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<v1::Plan, v1::Plan>(
                       c, kPlans, plan_id, expected, ReadPlan,
                       [&](const v1::Plan& current) { return DecidePlanRevision(current, next); },
                       [](Statement& st, const v1::Plan&) { st.Add(v1::PLAN_STATUS_SUPERSEDED); })));
    const v1::Plan& plan = done.decision;
    CAREOPS_RETURN_IF_ERROR(InsertPlan(c, plan, m.now));
    mysql::AppendAudit(c, Audit(m, "plan.revise", "plan", plan.plan_id(), "",
                                absl::StrCat("{\"supersedes\":", JsonString(plan_id), "}")));
    out = plan;
    out.set_etag(mysql::EtagOf(1));
    *out.mutable_create_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

// ================================================================ members

absl::StatusOr<v1::Member> MysqlMembershipStore::EnrollMember(const MutationContext& m, const v1::Member& member,
                                                              absl::CivilDay today) {
  return Idempotent<v1::Member>(pool_, m, [&](mysql::Connection& c, v1::Member& out) {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, member.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(InsertOneMember(c, account, member, m.now, today));
    mysql::AppendAudit(c, Audit(m, "member.enroll", "member", member.member_id()));
    CAREOPS_ASSIGN_OR_RETURN(out, LoadMember(c, member.member_id()));
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Member> MysqlMembershipStore::GetMember(const std::string& member_id) {
  return ReadOne<v1::Member>(pool_, [&](mysql::Connection& c) { return LoadMember(c, member_id); });
}

absl::StatusOr<Page<v1::Member>> MysqlMembershipStore::ListMembers(const MemberFilter& f, const PageRequest& page) {
  mysql::KeysetQuery q(kListMembers, "member_id");
  q.Where(kMaybeMemberAccount, TextFilter(f.account_id))
      .WhereEach(kMaybeMemberStatusToday, {EnumFilter(f.status), EnumFilter(f.status), f.today})
      .WhereEach(kMaybeMemberPlanToday, {TextFilter(f.plan_id), TextFilter(f.plan_id), f.today})
      .Where(kMaybeMemberExternalRef, TextFilter(f.external_ref));
  // One snapshot for the page and its periods.
  mysql::TransactionOptions snapshot;
  snapshot.isolation = "REPEATABLE READ";
  Page<v1::Member> out;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(
      pool_,
      [&](mysql::Connection& c) -> absl::Status {
        CAREOPS_ASSIGN_OR_RETURN(auto fetched, q.Fetch<v1::Member>(c, page, ReadMember));
        out = ToPage(std::move(fetched));
        return AttachCoverage(c, out.items);
      },
      snapshot));
  return out;
}

absl::StatusOr<v1::BatchEnrollMembersResponse> MysqlMembershipStore::BatchEnroll(
    const MutationContext& m, const std::string& account_id, const std::vector<BatchRow>& rows,
    const std::function<std::string()>& new_id, absl::CivilDay today) {
  return Idempotent<v1::BatchEnrollMembersResponse>(pool_, m, [&](mysql::Connection& c,
                                                                  v1::BatchEnrollMembersResponse& out) -> absl::Status {
    out.Clear();
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, account_id, AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, today, "account_id"));
    std::unordered_map<std::string, v1::PlanStatus> plans;
    {
      Statement st(c, kSelectAccountPlans);
      st.Add(account_id);
      using PlanOfAccount = std::pair<std::string, v1::PlanStatus>;
      CAREOPS_ASSIGN_OR_RETURN(std::vector<PlanOfAccount> found,
                               mysql::QueryAll<PlanOfAccount>(st, [](RowReader& r) -> absl::StatusOr<PlanOfAccount> {
                                 std::string id = r.String();
                                 return PlanOfAccount{std::move(id), r.Enum<v1::PlanStatus>()};
                               }));
      for (auto& [id, status] : found) plans[id] = status;
    }
    // External references already in the account, looked up in a few chunked queries.
    std::vector<std::string> refs;
    for (const BatchRow& r : rows) {
      if (r.invalid.empty()) refs.push_back(r.row.external_ref());
    }
    std::unordered_map<std::string, std::string> existing;
    absl::Status chunks = absl::OkStatus();
    mysql::ForEachChunk(refs.size(), [&](size_t start, int n) {
      if (!chunks.ok()) return;
      const std::string sql = mysql::MultiRowSql(kExistingRefsHead, "?", n, ")");
      Statement st(c, sql.c_str());
      st.Add(account_id);
      for (int i = 0; i < n; ++i) st.Add(refs[start + i]);
      using RefOwner = std::pair<std::string, std::string>;
      absl::StatusOr<std::vector<RefOwner>> found =
          mysql::QueryAll<RefOwner>(st, [](RowReader& r) -> absl::StatusOr<RefOwner> {
            std::string ref = r.String();
            return RefOwner{std::move(ref), r.String()};
          });
      if (!found.ok()) {
        chunks = found.status();
        return;
      }
      for (auto& [ref, member_id] : *found) existing[ref] = member_id;
    });
    CAREOPS_RETURN_IF_ERROR(chunks);
    // Decide every row, then insert the good ones in multi-row statements.
    std::vector<v1::Member> good;
    std::vector<MemberCut> cuts;  // under a scheduled cancellation
    std::unordered_map<std::string, std::string> seen;  // external_ref -> member_id in this batch
    for (size_t i = 0; i < rows.size(); ++i) {
      v1::BatchEnrollResult* res = out.add_results();
      res->set_row_index(static_cast<int>(i));
      const BatchRow& r = rows[i];
      std::string prefix = absl::StrCat("rows[", i, "].");
      if (!r.invalid.empty()) {
        res->set_outcome(v1::BATCH_ROW_OUTCOME_INVALID);
        res->set_error(r.invalid);
        continue;
      }
      if (auto it = existing.find(r.row.external_ref()); it != existing.end()) {
        res->set_outcome(v1::BATCH_ROW_OUTCOME_DUPLICATE);
        res->set_member_id(it->second);
        res->set_error(
            absl::StrCat(prefix, "external_ref: ", Quote(r.row.external_ref()), " is already in the account"));
        continue;
      }
      if (auto it = seen.find(r.row.external_ref()); it != seen.end()) {
        res->set_outcome(v1::BATCH_ROW_OUTCOME_DUPLICATE);
        res->set_member_id(it->second);
        res->set_error(
            absl::StrCat(prefix, "external_ref: ", Quote(r.row.external_ref()), " appears earlier in the batch"));
        continue;
      }
      v1::Member member;
      member.set_member_id(new_id());
      member.set_account_id(account_id);
      member.set_plan_id(r.row.plan_id());
      member.set_external_ref(r.row.external_ref());
      member.set_status(v1::MEMBER_STATUS_ACTIVE);
      *member.mutable_person() = r.row.person();
      *member.mutable_effective_date() = r.row.effective_date();
      auto plan = plans.find(r.row.plan_id());
      absl::Status ok = DecideEnrolable(
          account, plan == plans.end() ? std::nullopt : std::optional<v1::PlanStatus>(plan->second), member, today,
          prefix);
      if (!ok.ok()) {
        res->set_outcome(v1::BATCH_ROW_OUTCOME_INVALID);
        res->set_error(std::string(ok.message()));
        continue;
      }
      res->set_outcome(v1::BATCH_ROW_OUTCOME_CREATED);
      res->set_member_id(member.member_id());
      seen[member.external_ref()] = member.member_id();
      good.push_back(UnderCancellation(account, std::move(member), &cuts));
    }
    absl::Status inserts = absl::OkStatus();
    mysql::ForEachChunk(good.size(), [&](size_t start, int n) {
      if (!inserts.ok()) return;
      const std::string sql = mysql::MultiRowSql(kInsertMemberHead, kInsertMemberRow, n);
      Statement st(c, sql.c_str());
      for (int i = 0; i < n; ++i) AddMemberRow(st, good[start + i], m.now);
      inserts = st.Update().status();
    });
    CAREOPS_RETURN_IF_ERROR(inserts);
    std::vector<const v1::Member*> enrolled;
    for (const v1::Member& member : good) enrolled.push_back(&member);
    CAREOPS_RETURN_IF_ERROR(InsertCoverage(c, enrolled, m.now));
    CAREOPS_RETURN_IF_ERROR(InsertCuts(c, account_id, cuts, m.now));
    int created = 0, duplicate = 0, invalid = 0;
    for (const auto& r : out.results()) {
      created += r.outcome() == v1::BATCH_ROW_OUTCOME_CREATED;
      duplicate += r.outcome() == v1::BATCH_ROW_OUTCOME_DUPLICATE;
      invalid += r.outcome() == v1::BATCH_ROW_OUTCOME_INVALID;
    }
    out.set_created_count(created);
    out.set_duplicate_count(duplicate);
    out.set_invalid_count(invalid);
    // One entry for the census; each member row carries its own creation time.
    mysql::AppendAudit(c, Audit(m, "member.batch_enroll", "account", account_id, "",
                                absl::StrCat("{\"rows\":", rows.size(), ",\"created\":", created,
                                             ",\"duplicate\":", duplicate, ",\"invalid\":", invalid, "}")));
    return absl::OkStatus();
  });
}

// ================================================================ movements

absl::StatusOr<v1::Movement> MysqlMembershipStore::CreateMovement(const MutationContext& m, const v1::Movement& movement,
                                                                  absl::CivilDay today) {
  return Idempotent<v1::Movement>(pool_, m, [&](mysql::Connection& c, v1::Movement& out) {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, movement.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, today, "account_id"));
    CAREOPS_RETURN_IF_ERROR(ValidateNotBeforeStart(DayOf(movement.effective_date()), DayOf(account.start_date()),
                                                   "effective_date"));
    CAREOPS_RETURN_IF_ERROR(RequireBeforeCancellation(account, DayOf(movement.effective_date()), "effective_date"));
    if (movement.type() != v1::MOVEMENT_TYPE_ENROLLMENT) {
      CAREOPS_ASSIGN_OR_RETURN(v1::Member member, LoadMember(c, movement.member_id()));
      if (member.account_id() != movement.account_id()) {
        return absl::InvalidArgumentError(absl::StrCat("member_id: member ", Quote(movement.member_id()),
                                                       " is not in account ", Quote(movement.account_id())));
      }
      CAREOPS_RETURN_IF_ERROR(ValidateMovementDates(movement, member));
    }
    const v1::Movement& mv = movement;
    Statement st(c, kInsertMovement);
    st.Add(mv.movement_id()).Add(mv.account_id()).Add(mv.member_id()).Add(mv.type()).Add(mv.status());
    st.Add(DayOf(mv.effective_date())).Add(mv.new_plan_id()).Add(MovementBytes(mv)).Add(mv.note());
    st.Add(mv.requested_by()).Add(FromProto(mv.request_time())).Add(FromProto(mv.due_time())).Add("");
    st.Add(std::nullopt).Add("").Add(1);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    mysql::AppendAudit(c, Audit(m, absl::StrCat("movement.request.", EnumLabel(mv.type())), "movement",
                                mv.movement_id(), mv.note()));
    out = mv;
    out.set_etag(mysql::EtagOf(1));
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Movement> MysqlMembershipStore::GetMovement(const std::string& movement_id, absl::Time as_of) {
  return ReadOne<v1::Movement>(pool_, [&](mysql::Connection& c) {
    return SelectOne<v1::Movement>(c, kSelectMovement, movement_id, MovementReader(as_of), "movement_id", "movement");
  });
}

absl::StatusOr<v1::Movement> MysqlMembershipStore::ApplyMovement(const MutationContext& m, const std::string& movement_id,
                                                                 const std::string& etag,
                                                                 const std::string& new_member_id,
                                                                 absl::CivilDay today, MovementDecision* decision) {
  return DecideMovement(m, movement_id, etag, true, new_member_id, "", today, decision);
}

absl::StatusOr<v1::Movement> MysqlMembershipStore::RejectMovement(const MutationContext& m, const std::string& movement_id,
                                                                  const std::string& etag, const std::string& reason,
                                                                  MovementDecision* decision) {
  return DecideMovement(m, movement_id, etag, false, "", reason, absl::CivilDay(), decision);
}

namespace {

// Makes an APPLIED movement's change to the member (or creates it). The caller
// holds the account (share: it is not changed, but must not be cancelled
// meanwhile); the member is locked next, the rules decide, the store writes.
absl::Status ApplyToMember(mysql::Connection& c, const MutationContext& m, const v1::ClientAccount& account,
                           v1::Movement& mv, const std::string& new_member_id, absl::CivilDay today) {
  const std::string movement_json = absl::StrCat("{\"movement_id\":", JsonString(mv.movement_id()), "}");
  if (mv.type() == v1::MOVEMENT_TYPE_ENROLLMENT) {
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, today, "account_id"));
    absl::Status s = InsertOneMember(c, account, MemberFromEnrollment(mv, new_member_id), m.now, today);
    if (absl::IsAlreadyExists(s)) return absl::FailedPreconditionError(s.message());
    CAREOPS_RETURN_IF_ERROR(s);
    mv.set_member_id(new_member_id);
    mysql::AppendAudit(c, Audit(m, std::string(MemberActionOf(mv.type())), "member", new_member_id, "", movement_json));
    return absl::OkStatus();
  }
  CAREOPS_ASSIGN_OR_RETURN(mysql::LockedRow<v1::Member> locked,
                           mysql::LockVersioned<v1::Member>(c, kMembers, mv.member_id(), ReadMember));
  CAREOPS_ASSIGN_OR_RETURN(*locked.row.mutable_coverage(), LoadCoverage(c, mv.member_id()));
  std::optional<v1::PlanStatus> new_plan;
  if (mv.type() == v1::MOVEMENT_TYPE_PLAN_CHANGE) {
    CAREOPS_ASSIGN_OR_RETURN(new_plan, PlanStatusIn(c, mv.new_plan_id(), mv.account_id()));
  }
  CAREOPS_ASSIGN_OR_RETURN(v1::Member applied, ApplyMovementToMember(mv, account, locked.row, new_plan, today));
  std::vector<MemberCut> cuts;  // a reinstatement's new period under a scheduled cancellation
  const v1::Member member = UnderCancellation(account, std::move(applied), &cuts);
  CAREOPS_RETURN_IF_ERROR(mysql::WriteVersioned(c, kMembers, member.member_id(), locked.version,
                                                [&](Statement& st) { AddMemberSet(st, member, m.now); })
                              .status());
  CAREOPS_RETURN_IF_ERROR(ReplaceCoverage(c, member, m.now));
  CAREOPS_RETURN_IF_ERROR(InsertCuts(c, account.account_id(), cuts, m.now));
  mysql::AppendAudit(c, Audit(m, std::string(MemberActionOf(mv.type())), "member", member.member_id(), "",
                              movement_json));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Movement> MysqlMembershipStore::DecideMovement(const MutationContext& m, const std::string& movement_id,
                                                                  const std::string& etag, bool apply,
                                                                  const std::string& new_member_id,
                                                                  const std::string& reason, absl::CivilDay today,
                                                                  MovementDecision* decision) {
  decision->decided_now = false;
  CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(etag));
  const v1::MovementStatus target = apply ? v1::MOVEMENT_STATUS_APPLIED : v1::MOVEMENT_STATUS_REJECTED;
  return Idempotent<v1::Movement>(pool_, m, [&](mysql::Connection& c, v1::Movement& out) -> absl::Status {
    decision->decided_now = false;
    // The account before the movement (lock order), found through the
    // movement's account_id, which never changes.
    CAREOPS_ASSIGN_OR_RETURN(const v1::Movement unlocked,
                             SelectOne<v1::Movement>(c, kSelectMovement, movement_id, MovementReader(m.now),
                                                     "movement_id", "movement"));
    CAREOPS_ASSIGN_OR_RETURN(const v1::ClientAccount account,
                             LoadAccount(c, unlocked.account_id(), AccountLock::kShare));
    // The versioned update's two steps, with the etag checked first, also when
    // the movement is already decided this way (then nothing is written).
    CAREOPS_ASSIGN_OR_RETURN(mysql::LockedRow<v1::Movement> locked,
                             mysql::LockVersioned<v1::Movement>(c, kMovements, movement_id, MovementReader(m.now)));
    if (locked.version != expected.value()) return mysql::StaleEtag(kMovements.resource, locked.version);
    CAREOPS_ASSIGN_OR_RETURN(const bool needed, MovementNeedsDecision(locked.row, target));
    if (!needed) {  // the same answer again
      out = locked.row;
      return absl::OkStatus();
    }
    v1::Movement mv = locked.row;
    if (apply) CAREOPS_RETURN_IF_ERROR(ApplyToMember(c, m, account, mv, new_member_id, today));
    mv = DecidedMovement(std::move(mv), target, m.caller.user, reason, m.now);
    CAREOPS_ASSIGN_OR_RETURN(const int64_t version,
                             mysql::WriteVersioned(c, kMovements, movement_id, locked.version, [&](Statement& st) {
                               st.Add(mv.member_id()).Add(mv.status()).Add(MovementBytes(mv)).Add(mv.decided_by());
                               st.Add(m.now).Add(mv.rejection_reason());
                             }));
    mv.set_etag(mysql::EtagOf(version));
    mysql::AppendAudit(c, Audit(m, apply ? "movement.apply" : "movement.reject", "movement", movement_id, reason,
                                absl::StrCat("{\"tat_met\":", mv.tat_met() ? "true" : "false", "}")));
    decision->decided_now = true;
    out = mv;
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<v1::Movement>> MysqlMembershipStore::ListMovements(const MovementFilter& f,
                                                                       const PageRequest& page) {
  mysql::KeysetQuery q(kListMovements, "movement_id");
  q.Where(kMaybeMovementAccount, TextFilter(f.account_id))
      .Where(kMaybeMovementStatus, EnumFilter(f.status))
      .Where(kMaybeMovementType, EnumFilter(f.type))
      .WhereIf(f.overdue_only, kMovementsOverdue, f.as_of);
  CAREOPS_ASSIGN_OR_RETURN(auto out, q.Fetch<v1::Movement>(pool_, page, MovementReader(f.as_of)));
  return ToPage(std::move(out));
}

// ================================================================ eligibility and utilisation

absl::StatusOr<EligibilityFacts> MysqlMembershipStore::LoadEligibilityFacts(const std::string& member_id,
                                                                            const std::string& benefit_code,
                                                                            absl::CivilDay service_date,
                                                                            std::string* account_id,
                                                                            std::string* plan_id) {
  return ReadOne<EligibilityFacts>(pool_, [&](mysql::Connection& c) {
    return QueryFacts(c, member_id, benefit_code, service_date, account_id, plan_id);
  });
}

absl::StatusOr<v1::Utilization> MysqlMembershipStore::RecordUtilization(const MutationContext& m,
                                                                        const v1::RecordUtilizationRequest& r,
                                                                        const std::string& new_utilization_id) {
  const absl::CivilDay service_day = DayOf(r.service_date());
  const int year = static_cast<int>(service_day.year());
  std::string account_id;  // "" for an unknown member (the decision says NOT_FOUND)
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    Statement ensure(c, kEnsureBalance);
    ensure.Add(year).Add(r.benefit_code()).Add(r.member_id());
    CAREOPS_RETURN_IF_ERROR(ensure.Update().status());
    Statement member(c, kSelectMemberAccount);
    member.Add(r.member_id());
    CAREOPS_ASSIGN_OR_RETURN(std::vector<std::string> accounts,
                             mysql::QueryAll<std::string>(member, [](RowReader& row) -> absl::StatusOr<std::string> {
                               return row.String();
                             }));
    if (!accounts.empty()) account_id = accounts.front();
    return absl::OkStatus();
  }));
  v1::Utilization out;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& c) -> absl::Status {
    out.Clear();
    // The account first (share), so a cancellation in progress finishes before the
    // facts are read, and none can start until this record commits; then the
    // balance, so the balance read below is the one the update builds on.
    if (!account_id.empty()) CAREOPS_RETURN_IF_ERROR(LoadAccount(c, account_id, AccountLock::kShare).status());
    CAREOPS_RETURN_IF_ERROR(LockBalance(c, r.member_id(), r.benefit_code(), year));
    CAREOPS_ASSIGN_OR_RETURN(std::optional<v1::Utilization> existing,
                             FindUtilization(c, kSelectUtilization, r.source_reference()));
    if (existing) {
      CAREOPS_RETURN_IF_ERROR(RequireSameUtilization(*existing, r));
      CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts, QueryFacts(c, existing->member_id(), existing->benefit_code(),
                                                                  DayOf(existing->service_date()), nullptr, nullptr));
      out = *existing;
      SetRemaining(out, facts);
      return absl::OkStatus();
    }
    CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts,
                             QueryFacts(c, r.member_id(), r.benefit_code(), service_day, nullptr, nullptr));
    CAREOPS_ASSIGN_OR_RETURN(const int64_t used_after,
                             DecideUtilization(facts, service_day, r.amount().amount_minor(),
                                               r.amount().currency_code(), r.member_id()));
    out.set_utilization_id(new_utilization_id);
    out.set_member_id(r.member_id());
    out.set_benefit_code(r.benefit_code());
    *out.mutable_amount() = r.amount();
    *out.mutable_service_date() = r.service_date();
    out.set_source_reference(r.source_reference());
    *out.mutable_recorded_at() = ToProtoTimestamp(m.now);
    {
      Statement st(c, kInsertUtilization);
      st.Add(new_utilization_id).Add(r.source_reference()).Add(r.member_id()).Add(r.benefit_code());
      st.Add(r.amount().amount_minor()).Add(r.amount().currency_code()).Add(service_day).Add(false).Add("");
      st.Add(m.now).Add(std::nullopt).Add(int64_t{0});
      CAREOPS_RETURN_IF_ERROR(st.Update().status());
    }
    CAREOPS_RETURN_IF_ERROR(AddToBalance(c, r.member_id(), r.benefit_code(), year, r.amount().amount_minor()));
    mysql::AppendAudit(c, Audit(m, "utilization.record", "utilization", new_utilization_id, "",
                                absl::StrCat("{\"source_reference\":", JsonString(r.source_reference()),
                                             ",\"member_id\":", JsonString(r.member_id()),
                                             ",\"benefit_code\":", JsonString(r.benefit_code()),
                                             ",\"amount_minor\":", r.amount().amount_minor(), "}")));
    facts.used_minor = used_after;
    SetRemaining(out, facts);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Utilization> MysqlMembershipStore::ReverseUtilization(const MutationContext& m,
                                                                         const v1::ReverseUtilizationRequest& r) {
  auto reverse = [&](mysql::Connection& c, v1::Utilization& out) -> absl::Status {
    out.Clear();
    CAREOPS_ASSIGN_OR_RETURN(std::optional<v1::Utilization> found,
                             FindUtilization(c, kSelectUtilizationForUpdate, r.source_reference()));
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("source_reference: no utilisation was recorded for ", Quote(r.source_reference())));
    }
    out = *std::move(found);
    const int year = static_cast<int>(DayOf(out.service_date()).year());
    std::optional<Money> requested;
    if (r.has_amount()) requested = FromProto(r.amount());
    CAREOPS_ASSIGN_OR_RETURN(const ReversalDecision d,
                             DecideReversal({out.amount().currency_code(), out.amount().amount_minor(),
                                             out.reversed() ? out.amount().amount_minor()
                                                            : out.reversed_amount().amount_minor()},
                                            requested));
    if (d.give_back_minor > 0) {
      CAREOPS_RETURN_IF_ERROR(LockBalance(c, out.member_id(), out.benefit_code(), year));
      CAREOPS_RETURN_IF_ERROR(AddToBalance(c, out.member_id(), out.benefit_code(), year, -d.give_back_minor));
      {
        Statement st(c, kReverseUtilization);
        st.Add(d.wholly_reversed).Add(d.reversed_after_minor).Add(r.reason()).Add(m.now).Add(out.utilization_id());
        CAREOPS_RETURN_IF_ERROR(st.Update().status());
      }
      {
        Statement st(c, kInsertReversal);
        st.Add(out.utilization_id()).Add(d.give_back_minor).Add(r.reason()).Add(m.now).Add(out.utilization_id());
        CAREOPS_RETURN_IF_ERROR(st.Update().status());
      }
      mysql::AppendAudit(c, Audit(m, "utilization.reverse", "utilization", out.utilization_id(), r.reason(),
                                  absl::StrCat("{\"source_reference\":", JsonString(r.source_reference()),
                                               ",\"amount_minor\":", d.give_back_minor,
                                               ",\"remaining_minor\":", d.remaining_after_minor, "}")));
      out.set_reversed(d.wholly_reversed);
      out.set_reverse_reason(r.reason());
      *out.mutable_reversed_at() = ToProtoTimestamp(m.now);
      out.mutable_reversed_amount()->set_amount_minor(d.reversed_after_minor);
      v1::UtilizationReversal added;
      added.mutable_amount()->set_amount_minor(d.give_back_minor);
      added.set_reason(r.reason());
      *added.mutable_reversed_at() = ToProtoTimestamp(m.now);
      AddReversal(out, std::move(added));
    }
    CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts, QueryFacts(c, out.member_id(), out.benefit_code(),
                                                                DayOf(out.service_date()), nullptr, nullptr));
    SetRemaining(out, facts);
    return absl::OkStatus();
  };
  // A partial reversal is keyed by its request_id (the request log replays its
  // first answer); a whole one by source_reference, as it always was, so the
  // callers' request ids for it keep meaning nothing here.
  if (r.has_amount()) return Idempotent<v1::Utilization>(pool_, m, reverse);
  v1::Utilization out;
  CAREOPS_RETURN_IF_ERROR(
      mysql::RunInTransaction(pool_, [&](mysql::Connection& c) -> absl::Status { return reverse(c, out); }));
  return out;
}

absl::StatusOr<v1::Utilization> MysqlMembershipStore::GetUtilization(const std::string& source_reference) {
  std::optional<v1::Utilization> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(out, FindUtilization(c, kSelectUtilization, source_reference));
    if (!out) return absl::OkStatus();
    CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts, QueryFacts(c, out->member_id(), out->benefit_code(),
                                                                DayOf(out->service_date()), nullptr, nullptr));
    SetRemaining(*out, facts);
    return absl::OkStatus();
  }));
  if (!out) {
    return absl::NotFoundError(absl::StrCat("source_reference: no utilisation was recorded for ", Quote(source_reference)));
  }
  return std::move(*out);
}

absl::StatusOr<Page<v1::UtilizationLedgerEntry>> MysqlMembershipStore::ListUtilizations(const UtilizationFilter& f,
                                                                                        const PageRequest& page) {
  Page<v1::UtilizationLedgerEntry> out;
  // One snapshot for the page and the sums before it, so the balance adds up.
  mysql::TransactionOptions snapshot;
  snapshot.isolation = "REPEATABLE READ";
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(
      pool_,
      [&](mysql::Connection& c) -> absl::Status {
        out = {};
        CAREOPS_ASSIGN_OR_RETURN(const v1::Member member, LoadMember(c, f.member_id));
        // Each entry is judged by the plan of the period in force on its service date.
        const Coverage coverage = CoverageOf(member);
        std::map<std::string, std::map<std::string, BenefitTerms>> terms_by_plan;
        std::string currency;
        for (const v1::CoveragePeriod& p : coverage) {
          if (terms_by_plan.count(p.plan_id())) continue;
          CAREOPS_ASSIGN_OR_RETURN(const v1::Plan plan, LoadPlan(c, p.plan_id()));
          currency = plan.currency_code();  // a member's plans share the account's currency
          auto& terms = terms_by_plan[p.plan_id()];
          for (const v1::Benefit& b : plan.benefits()) terms[b.code()] = TermsFromProto(b);
        }
        auto terms_on = [&](absl::CivilDay day) -> const std::map<std::string, BenefitTerms>& {
          return terms_by_plan[PeriodAsOf(coverage, day)->plan_id()];
        };
        mysql::KeysetQuery q(kListUtilizations, "utilization_id");
        q.Where(kUtilizationsOfMember, f.member_id).Where(kMaybeUtilizationBenefit, TextFilter(f.benefit_code));
        CAREOPS_ASSIGN_OR_RETURN(auto records, q.Fetch<v1::Utilization>(c, page, ReadUtilization));
        UsedByBenefitYear used_before;
        Statement st(c, kUsedBeforePage);
        st.Add(f.member_id).AddRepeated(TextFilter(f.benefit_code), 2).Add(page.after_id);
        CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
        while (rows.Next()) {
          RowReader& r = rows.row();
          std::string benefit = r.String();
          const int year = r.Int();
          used_before[{std::move(benefit), year}] = r.Int64();
          CAREOPS_RETURN_IF_ERROR(r.status());
        }
        if (!records.items.empty()) {
          Statement rs(c, kSelectReversalsOfPage);
          rs.Add(f.member_id).AddRepeated(TextFilter(f.benefit_code), 2);
          auto [first, last] = std::minmax_element(
              records.items.begin(), records.items.end(),
              [](const v1::Utilization& a, const v1::Utilization& b) { return a.utilization_id() < b.utilization_id(); });
          rs.Add(first->utilization_id()).Add(last->utilization_id());
          CAREOPS_ASSIGN_OR_RETURN(std::vector<ReversalRow> found, mysql::QueryAll<ReversalRow>(rs, ReadReversal));
          std::map<std::string, v1::Utilization*> by_id;
          for (v1::Utilization& u : records.items) by_id[u.utilization_id()] = &u;
          for (ReversalRow& row : found) {
            auto it = by_id.find(row.utilization_id);
            if (it != by_id.end()) AddReversal(*it->second, std::move(row.reversal));
          }
        }
        google::protobuf::RepeatedPtrField<v1::UtilizationLedgerEntry> entries;
        for (v1::Utilization& u : records.items) *entries.Add()->mutable_utilization() = std::move(u);
        FillRunningBalances(std::move(used_before), terms_on, currency, &entries);
        for (v1::UtilizationLedgerEntry& e : entries) out.items.push_back(std::move(e));
        out.more = records.more;
        return absl::OkStatus();
      },
      snapshot));
  return out;
}

absl::StatusOr<MembershipCounts> MysqlMembershipStore::Count(absl::Time as_of, absl::CivilDay today) {
  MembershipCounts out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    {
      Statement st(c, kCountMembers);
      st.Add(today);
      CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
      while (rows.Next()) {
        RowReader& r = rows.row();
        const v1::MemberStatus status = r.Enum<v1::MemberStatus>();
        out.members[status] += r.Int64();
        CAREOPS_RETURN_IF_ERROR(r.status());
      }
    }
    {
      Statement st(c, kCountAccounts);
      st.Add(today);
      CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
      while (rows.Next()) {
        RowReader& r = rows.row();
        const v1::ClientAccountType type = r.Enum<v1::ClientAccountType>();
        const v1::ClientAccountStatus status = r.Enum<v1::ClientAccountStatus>();
        out.accounts[{type, status}] += r.Int64();
        CAREOPS_RETURN_IF_ERROR(r.status());
      }
    }
    Statement st(c, kCountOverdueMovements);
    st.Add(as_of);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    while (rows.Next()) {
      RowReader& r = rows.row();
      const v1::MovementType type = r.Enum<v1::MovementType>();
      out.overdue_movements[type] += r.Int64();
      CAREOPS_RETURN_IF_ERROR(r.status());
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace careops::membership
