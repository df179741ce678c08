#include "services/membership/mysql_membership_store.h"

#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <set>
#include <sstream>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/enum_codec.h"
#include "common/mysql/audit.h"
#include "common/log.h"
#include "common/mysql/batch.h"
#include "common/mysql/mutation_runner.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"

namespace careops::membership {
namespace {

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
  " reversed, reverse_reason, recorded_at, reversed_at"

constexpr char kAccountColumns[] = CAREOPS_ACCOUNT_COLUMNS;
constexpr char kInsertAccount[] =
    "INSERT INTO client_accounts (" CAREOPS_ACCOUNT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectAccount[] = "SELECT " CAREOPS_ACCOUNT_COLUMNS " FROM client_accounts WHERE account_id = ?";
constexpr char kSelectAccountForUpdate[] =
    "SELECT " CAREOPS_ACCOUNT_COLUMNS " FROM client_accounts WHERE account_id = ? FOR UPDATE";
// Taken by everything that adds a child row (plan, member, movement,
// utilisation): a transition holds FOR UPDATE, so a child can never be added to
// an account while it is being cancelled, and sees the cancellation once it is.
constexpr char kSelectAccountForShare[] =
    "SELECT " CAREOPS_ACCOUNT_COLUMNS " FROM client_accounts WHERE account_id = ? LOCK IN SHARE MODE";
// Every status an account takes, from the day it takes effect (V003).
constexpr char kInsertStatusHistory[] =
    "INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at)"
    " VALUES (?, ?, ?, ?, ?)";
constexpr char kUpdateAccount[] =
    "UPDATE client_accounts SET name = ?, status = ?, account_officer = ?, contact_email = ?,"
    " status_effective_date = ?, status_reason = ?, version = ?, updated_at = ? WHERE account_id = ?";
// List queries: the base, then one fixed clause per filter given, then the page.
constexpr char kListAccountsBase[] = " FROM client_accounts WHERE account_id > ?";
constexpr char kAccountsByType[] = " AND type = ?";
constexpr char kAccountsByStatus[] = " AND status = ?";
constexpr char kAccountsByOfficer[] = " AND account_officer = ?";
constexpr char kListAccountsPage[] = " ORDER BY account_id LIMIT ?";
constexpr char kTerminateAccountMembers[] =
    "UPDATE members SET status = 'TERMINATED', termination_date = ?, version = version + 1, updated_at = ?"
    " WHERE account_id = ? AND (termination_date IS NULL OR termination_date > ?)";

constexpr char kSummary[] =
    "SELECT COALESCE(SUM(status = 'ACTIVE'), 0), COALESCE(SUM(status = 'TERMINATED'), 0),"
    " COALESCE(SUM(effective_date <= ? AND (termination_date IS NULL OR termination_date > ?)), 0),"
    " COALESCE(SUM(effective_date <= ? AND (termination_date IS NULL OR termination_date > ?)), 0),"
    " COALESCE(SUM(effective_date BETWEEN ? AND ?), 0),"
    " COALESCE(SUM(termination_date IS NOT NULL AND termination_date BETWEEN ? AND ?), 0)"
    " FROM members WHERE (? = '' OR account_id = ?)";

constexpr char kInsertPlan[] =
    "INSERT INTO plans (plan_id, account_id, name, currency, plan_version, supersedes_plan_id, status, version,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kInsertBenefit[] =
    "INSERT INTO plan_benefits (plan_id, code, category, unlimited, annual_limit_minor, per_visit_cap_minor,"
    " copay_basis_points, waiting_period_days, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kPlanColumns[] = CAREOPS_PLAN_COLUMNS;
constexpr char kSelectPlan[] = "SELECT " CAREOPS_PLAN_COLUMNS " FROM plans WHERE plan_id = ?";
constexpr char kSelectPlanForUpdate[] = "SELECT " CAREOPS_PLAN_COLUMNS " FROM plans WHERE plan_id = ? FOR UPDATE";
constexpr char kSelectBenefits[] =
    "SELECT plan_id, " CAREOPS_BENEFIT_COLUMNS " FROM plan_benefits WHERE plan_id = ? ORDER BY position";
constexpr char kSupersedePlan[] =
    "UPDATE plans SET status = 'SUPERSEDED', version = version + 1 WHERE plan_id = ?";
constexpr char kListPlansBase[] = " FROM plans WHERE plan_id > ?";
constexpr char kPlansByAccount[] = " AND account_id = ?";
constexpr char kPlansByStatus[] = " AND status = ?";
constexpr char kListPlansPage[] = " ORDER BY plan_id LIMIT ?";
// The benefits of a whole page of plans in one query: the page's key range with
// the list's own filter clauses (kPlansBy*), so a list never queries per plan.
constexpr char kListPlanBenefitsBase[] =
    "SELECT plan_id, " CAREOPS_BENEFIT_COLUMNS " FROM plans JOIN plan_benefits USING (plan_id)"
    " WHERE plan_id > ? AND plan_id <= ?";
constexpr char kListPlanBenefitsOrder[] = " ORDER BY plan_id, position";
constexpr char kSelectAccountPlans[] = "SELECT plan_id, status FROM plans WHERE account_id = ?";

constexpr char kMemberColumns[] = CAREOPS_MEMBER_COLUMNS;
constexpr char kInsertMemberRow[] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr int kMemberColumnCount = 16;
constexpr char kInsertMemberHead[] = "INSERT INTO members (" CAREOPS_MEMBER_COLUMNS ") VALUES ";
constexpr char kSelectMember[] = "SELECT " CAREOPS_MEMBER_COLUMNS " FROM members WHERE member_id = ?";
constexpr char kSelectMemberForUpdate[] =
    "SELECT " CAREOPS_MEMBER_COLUMNS " FROM members WHERE member_id = ? FOR UPDATE";
// A member's account never changes, so reading it before the account lock is safe.
constexpr char kSelectMemberAccount[] = "SELECT account_id FROM members WHERE member_id = ?";
constexpr char kSelectMemberByRef[] = "SELECT member_id FROM members WHERE account_id = ? AND external_ref = ?";
constexpr char kUpdateMember[] =
    "UPDATE members SET plan_id = ?, status = ?, given_name = ?, family_name = ?, birth_date = ?, sex = ?,"
    " email = ?, phone = ?, termination_date = ?, version = ?, updated_at = ? WHERE member_id = ?";
constexpr char kListMembersBase[] = " FROM members WHERE member_id > ?";
constexpr char kMembersByAccount[] = " AND account_id = ?";
constexpr char kMembersByStatus[] = " AND status = ?";
constexpr char kMembersByPlan[] = " AND plan_id = ?";
constexpr char kListMembersPage[] = " ORDER BY member_id LIMIT ?";
// Existing external references of a census, looked up in chunks (see ChunkSizes).
constexpr char kExistingRefsHead[] =
    "SELECT external_ref, member_id FROM members WHERE account_id = ? AND external_ref IN (";

constexpr char kInsertMovement[] =
    "INSERT INTO movements (movement_id, account_id, member_id, type, status, effective_date, new_plan_id,"
    " details, note, requested_by, requested_at, due_at, decided_by, decided_at, rejection_reason, version)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '', 1)";
constexpr char kSelectMovement[] = "SELECT details FROM movements WHERE movement_id = ?";
constexpr char kSelectMovementForUpdate[] = "SELECT details FROM movements WHERE movement_id = ? FOR UPDATE";
constexpr char kUpdateMovement[] =
    "UPDATE movements SET member_id = ?, status = ?, details = ?, decided_by = ?, decided_at = ?,"
    " rejection_reason = ?, version = ? WHERE movement_id = ?";
constexpr char kListMovementsBase[] = "SELECT details FROM movements WHERE movement_id > ?";
constexpr char kMovementsByAccount[] = " AND account_id = ?";
constexpr char kMovementsByStatus[] = " AND status = ?";
constexpr char kMovementsByType[] = " AND type = ?";
constexpr char kMovementsOverdue[] = " AND status = 'PENDING' AND due_at < ?";
constexpr char kListMovementsPage[] = " ORDER BY movement_id LIMIT ?";

// The account status is the one in force on the service date (the last history
// row on or before it), not the current one; before the first row, active.
constexpr char kEligibilityFacts[] =
    "SELECT m.account_id, m.plan_id, m.effective_date, m.termination_date,"
    " COALESCE((SELECT h.status FROM account_status_history h WHERE h.account_id = m.account_id"
    "   AND h.effective_date <= ? ORDER BY h.effective_date DESC, h.seq DESC LIMIT 1), 'ACTIVE'),"
    " COALESCE((SELECT h.effective_date FROM account_status_history h WHERE h.account_id = m.account_id"
    "   AND h.effective_date <= ? ORDER BY h.effective_date DESC, h.seq DESC LIMIT 1), m.effective_date),"
    " p.currency, b.code, b.category, b.unlimited, b.annual_limit_minor, b.per_visit_cap_minor,"
    " b.copay_basis_points, b.waiting_period_days, COALESCE(u.used_minor, 0)"
    " FROM members m JOIN plans p ON p.plan_id = m.plan_id"
    " LEFT JOIN plan_benefits b ON b.plan_id = m.plan_id AND b.code = ?"
    " LEFT JOIN benefit_balances u ON u.member_id = m.member_id AND u.benefit_code = ? AND u.year = ?"
    " WHERE m.member_id = ?";
// Creates the balance row a record locks, in its own autocommit statement, only
// for a benefit of the member's plan; concurrent creators simply skip.
constexpr char kEnsureBalance[] =
    "INSERT IGNORE INTO benefit_balances (member_id, benefit_code, year, used_minor)"
    " SELECT m.member_id, b.code, ?, 0 FROM members m"
    " JOIN plan_benefits b ON b.plan_id = m.plan_id AND b.code = ? WHERE m.member_id = ?";
constexpr char kLockBalance[] =
    "SELECT used_minor FROM benefit_balances WHERE member_id = ? AND benefit_code = ? AND year = ? FOR UPDATE";
constexpr char kAddToBalance[] =
    "UPDATE benefit_balances SET used_minor = used_minor + ? WHERE member_id = ? AND benefit_code = ? AND year = ?";
constexpr char kSelectUtilization[] =
    "SELECT " CAREOPS_UTILIZATION_COLUMNS " FROM utilizations WHERE source_reference = ?";
constexpr char kSelectUtilizationForUpdate[] =
    "SELECT " CAREOPS_UTILIZATION_COLUMNS " FROM utilizations WHERE source_reference = ? FOR UPDATE";
constexpr char kInsertUtilization[] =
    "INSERT INTO utilizations (" CAREOPS_UTILIZATION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, 0, '', ?, NULL)";
constexpr char kReverseUtilization[] =
    "UPDATE utilizations SET reversed = 1, reverse_reason = ?, reversed_at = ? WHERE utilization_id = ?";

constexpr char kCountMembers[] = "SELECT status, COUNT(*) FROM members GROUP BY status";
constexpr char kCountAccounts[] = "SELECT type, status, COUNT(*) FROM client_accounts GROUP BY type, status";
constexpr char kCountOverdueMovements[] =
    "SELECT type, COUNT(*) FROM movements WHERE status = 'PENDING' AND due_at < ? GROUP BY type";

// ---------------------------------------------------------------- row helpers

std::string Str(sql::ResultSet& rs, int col) { return std::string(rs.getString(col)); }

absl::CivilDay Day(sql::ResultSet& rs, int col) {
  auto d = ParseSqlDate(Str(rs, col));
  return d.ok() ? *d : absl::CivilDay();
}

absl::Time Instant(sql::ResultSet& rs, int col) {
  auto t = ParseSqlDatetime(Str(rs, col));
  return t.ok() ? *t : absl::UnixEpoch();
}

std::string Blob(sql::ResultSet& rs, int col) {
  std::unique_ptr<std::istream> in(rs.getBlob(col));
  std::stringstream ss;
  if (in) ss << in->rdbuf();
  return ss.str();
}

std::string Etag(int64_t version) { return std::to_string(version); }

// Etags are required (the adapter refuses an empty one first); compared as
// versions, so "07" and "7" name the same one.
absl::Status CheckEtag(const std::string& given, const std::string& current, std::string_view what) {
  CAREOPS_ASSIGN_OR_RETURN(int64_t version, ParseEtag(given));
  if (Etag(version) != current) {
    return absl::AbortedError(absl::StrCat("etag: the ", Abs(what), " changed since it was read (etag ",
                                           current, " now); read it again and retry"));
  }
  return absl::OkStatus();
}

// Enum columns hold the codec's short names ("ACTIVE", "PLAN_CHANGE"; V004).
template <typename E>
std::string Code(E value) {
  return EnumShortName(value);
}

template <typename E>
E ParseCode(sql::ResultSet& rs, int col) {
  return EnumFromShortName<E>(Str(rs, col));
}

v1::ClientAccount ReadAccount(sql::ResultSet& rs) {
  v1::ClientAccount a;
  a.set_account_id(Str(rs, 1));
  a.set_name(Str(rs, 2));
  a.set_type(ParseCode<v1::ClientAccountType>(rs, 3));
  a.set_status(ParseCode<v1::ClientAccountStatus>(rs, 4));
  a.set_account_officer(Str(rs, 5));
  a.set_contact_email(Str(rs, 6));
  *a.mutable_start_date() = ToProto(Day(rs, 7));
  *a.mutable_status_effective_date() = ToProto(Day(rs, 8));
  a.set_status_reason(Str(rs, 9));
  a.set_etag(Etag(rs.getInt64(10)));
  *a.mutable_create_time() = ToProtoTimestamp(Instant(rs, 11));
  *a.mutable_update_time() = ToProtoTimestamp(Instant(rs, 12));
  return a;
}

v1::Plan ReadPlan(sql::ResultSet& rs) {
  v1::Plan p;
  p.set_plan_id(Str(rs, 1));
  p.set_account_id(Str(rs, 2));
  p.set_name(Str(rs, 3));
  p.set_currency_code(Str(rs, 4));
  p.set_version(rs.getInt(5));
  p.set_supersedes_plan_id(Str(rs, 6));
  p.set_status(ParseCode<v1::PlanStatus>(rs, 7));
  p.set_etag(Etag(rs.getInt64(8)));
  *p.mutable_create_time() = ToProtoTimestamp(Instant(rs, 9));
  return p;
}

v1::Member ReadMember(sql::ResultSet& rs) {
  v1::Member m;
  m.set_member_id(Str(rs, 1));
  m.set_account_id(Str(rs, 2));
  m.set_plan_id(Str(rs, 3));
  m.set_external_ref(Str(rs, 4));
  m.set_status(ParseCode<v1::MemberStatus>(rs, 5));
  v1::Person* p = m.mutable_person();
  p->set_given_name(Str(rs, 6));
  p->set_family_name(Str(rs, 7));
  *p->mutable_birth_date() = ToProto(Day(rs, 8));
  p->set_sex(Str(rs, 9));
  p->set_email(Str(rs, 10));
  p->set_phone(Str(rs, 11));
  *m.mutable_effective_date() = ToProto(Day(rs, 12));
  if (!rs.isNull(13)) *m.mutable_termination_date() = ToProto(Day(rs, 13));
  m.set_etag(Etag(rs.getInt64(14)));
  *m.mutable_create_time() = ToProtoTimestamp(Instant(rs, 15));
  *m.mutable_update_time() = ToProtoTimestamp(Instant(rs, 16));
  return m;
}

v1::Utilization ReadUtilization(sql::ResultSet& rs) {
  v1::Utilization u;
  u.set_utilization_id(Str(rs, 1));
  u.set_source_reference(Str(rs, 2));
  u.set_member_id(Str(rs, 3));
  u.set_benefit_code(Str(rs, 4));
  u.mutable_amount()->set_amount_minor(rs.getInt64(5));
  u.mutable_amount()->set_currency_code(Str(rs, 6));
  *u.mutable_service_date() = ToProto(Day(rs, 7));
  u.set_reversed(rs.getBoolean(8));
  u.set_reverse_reason(Str(rs, 9));
  *u.mutable_recorded_at() = ToProtoTimestamp(Instant(rs, 10));
  if (!rs.isNull(11)) *u.mutable_reversed_at() = ToProtoTimestamp(Instant(rs, 11));
  return u;
}

absl::CivilDay DayOf(const common::v1::Date& d) { return absl::CivilDay(d.year(), d.month(), d.day()); }

std::optional<absl::CivilDay> OptionalDay(const v1::Member& m) {
  if (!m.has_termination_date()) return std::nullopt;
  return DayOf(m.termination_date());
}

void SetOptionalDate(sql::PreparedStatement& st, int idx, std::optional<absl::CivilDay> day) {
  if (day) {
    st.setString(idx, ToSqlDate(*day));
  } else {
    st.setNull(idx, sql::DataType::DATE);
  }
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

// ---------------------------------------------------------------- statements

// How a transaction reads a client account: kUpdate to change it (transitions,
// updates), kShare to add a child row under it; lock order is always the account
// before its members, plans, movements and balances.
enum class AccountLock { kNone, kShare, kUpdate };

absl::StatusOr<v1::ClientAccount> LoadAccount(mysql::Connection& c, const std::string& id, AccountLock lock) {
  auto& st = c.Prepare(lock == AccountLock::kUpdate  ? kSelectAccountForUpdate
                       : lock == AccountLock::kShare ? kSelectAccountForShare
                                                     : kSelectAccount);
  st.setString(1, id);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  if (!rs->next()) return absl::NotFoundError(absl::StrCat("account_id: no client account ", Quote(id)));
  return ReadAccount(*rs);
}

void StoreAccount(mysql::Connection& c, const v1::ClientAccount& a, int64_t version, absl::Time now) {
  auto& st = c.Prepare(kUpdateAccount);
  st.setString(1, a.name());
  st.setString(2, Code(a.status()));
  st.setString(3, a.account_officer());
  st.setString(4, a.contact_email());
  st.setString(5, ToSqlDate(DayOf(a.status_effective_date())));
  st.setString(6, a.status_reason());
  st.setInt64(7, version);
  st.setString(8, ToSqlDatetime(now));
  st.setString(9, a.account_id());
  st.executeUpdate();
}

// A row of "plan_id, CAREOPS_BENEFIT_COLUMNS", added to `plan`.
void ReadBenefit(sql::ResultSet& rs, v1::Plan& plan) {
  v1::Benefit* b = plan.add_benefits();
  b->set_code(Str(rs, 2));
  b->set_category(Str(rs, 3));
  b->set_unlimited(rs.getBoolean(4));
  if (!b->unlimited()) {
    b->mutable_annual_limit()->set_currency_code(plan.currency_code());
    b->mutable_annual_limit()->set_amount_minor(rs.getInt64(5));
  }
  if (rs.getInt64(6) > 0) {
    b->mutable_per_visit_cap()->set_currency_code(plan.currency_code());
    b->mutable_per_visit_cap()->set_amount_minor(rs.getInt64(6));
  }
  b->set_copay_basis_points(rs.getInt(7));
  b->set_waiting_period_days(rs.getInt(8));
}

// Records that `a` takes its current status from its status_effective_date.
void AppendStatusHistory(mysql::Connection& c, const v1::ClientAccount& a, absl::Time now) {
  auto& st = c.Prepare(kInsertStatusHistory);
  st.setString(1, a.account_id());
  st.setString(2, ToSqlDate(DayOf(a.status_effective_date())));
  st.setString(3, Code(a.status()));
  st.setString(4, a.status_reason());
  st.setString(5, ToSqlDatetime(now));
  st.executeUpdate();
}

void LoadBenefits(mysql::Connection& c, v1::Plan& plan) {
  auto& st = c.Prepare(kSelectBenefits);
  st.setString(1, plan.plan_id());
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  while (rs->next()) ReadBenefit(*rs, plan);
}

absl::StatusOr<v1::Plan> LoadPlan(mysql::Connection& c, const std::string& id, bool lock) {
  v1::Plan plan;
  {
    auto& st = c.Prepare(lock ? kSelectPlanForUpdate : kSelectPlan);
    st.setString(1, id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (!rs->next()) return absl::NotFoundError(absl::StrCat("plan_id: no plan ", Quote(id)));
    plan = ReadPlan(*rs);
  }
  LoadBenefits(c, plan);
  return plan;
}

void InsertPlan(mysql::Connection& c, const v1::Plan& p, absl::Time now) {
  auto& st = c.Prepare(kInsertPlan);
  st.setString(1, p.plan_id());
  st.setString(2, p.account_id());
  st.setString(3, p.name());
  st.setString(4, p.currency_code());
  st.setInt(5, p.version());
  st.setString(6, p.supersedes_plan_id());
  st.setString(7, Code(p.status()));
  st.setInt64(8, 1);
  st.setString(9, ToSqlDatetime(now));
  st.executeUpdate();
  for (int i = 0; i < p.benefits_size(); ++i) {
    const v1::Benefit& b = p.benefits(i);
    auto& bs = c.Prepare(kInsertBenefit);
    bs.setString(1, p.plan_id());
    bs.setString(2, b.code());
    bs.setString(3, b.category());
    bs.setBoolean(4, b.unlimited());
    bs.setInt64(5, b.unlimited() ? 0 : b.annual_limit().amount_minor());
    bs.setInt64(6, b.per_visit_cap().amount_minor());
    bs.setInt(7, b.copay_basis_points());
    bs.setInt(8, b.waiting_period_days());
    bs.setInt(9, i);
    bs.executeUpdate();
  }
}

absl::StatusOr<v1::Member> LoadMember(mysql::Connection& c, const std::string& id, bool lock) {
  auto& st = c.Prepare(lock ? kSelectMemberForUpdate : kSelectMember);
  st.setString(1, id);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  if (!rs->next()) return absl::NotFoundError(absl::StrCat("member_id: no member ", Quote(id)));
  return ReadMember(*rs);
}

// Binds one member's 16 columns starting at parameter `base`.
void BindMember(sql::PreparedStatement& st, int base, const v1::Member& m, absl::Time now) {
  const v1::Person& p = m.person();
  st.setString(base + 0, m.member_id());
  st.setString(base + 1, m.account_id());
  st.setString(base + 2, m.plan_id());
  st.setString(base + 3, m.external_ref());
  st.setString(base + 4, Code(m.status()));
  st.setString(base + 5, p.given_name());
  st.setString(base + 6, p.family_name());
  st.setString(base + 7, ToSqlDate(DayOf(p.birth_date())));
  st.setString(base + 8, p.sex());
  st.setString(base + 9, p.email());
  st.setString(base + 10, p.phone());
  st.setString(base + 11, ToSqlDate(DayOf(m.effective_date())));
  SetOptionalDate(st, base + 12, OptionalDay(m));
  st.setInt64(base + 13, 1);
  st.setString(base + 14, ToSqlDatetime(now));
  st.setString(base + 15, ToSqlDatetime(now));
}

void StoreMember(mysql::Connection& c, v1::Member& m, absl::Time now) {
  int64_t version = 0;
  ParseInt(m.etag(), &version);
  ++version;
  const v1::Person& p = m.person();
  auto& st = c.Prepare(kUpdateMember);
  st.setString(1, m.plan_id());
  st.setString(2, Code(m.status()));
  st.setString(3, p.given_name());
  st.setString(4, p.family_name());
  st.setString(5, ToSqlDate(DayOf(p.birth_date())));
  st.setString(6, p.sex());
  st.setString(7, p.email());
  st.setString(8, p.phone());
  SetOptionalDate(st, 9, OptionalDay(m));
  st.setInt64(10, version);
  st.setString(11, ToSqlDatetime(now));
  st.setString(12, m.member_id());
  st.executeUpdate();
  m.set_etag(Etag(version));
  *m.mutable_update_time() = ToProtoTimestamp(now);
}

// The status of `plan_id` when it is a plan of `account_id`; nullopt otherwise.
// Plans are never edited in place (only superseded, under the account lock the
// caller holds), so a plain read is enough.
std::optional<v1::PlanStatus> PlanStatusIn(mysql::Connection& c, const std::string& plan_id,
                                           const std::string& account_id) {
  auto plan = LoadPlan(c, plan_id, false);
  if (!plan.ok() || plan->account_id() != account_id) return std::nullopt;
  return plan->status();
}

// Inserts `m` into `account`, which the caller holds locked (AccountLock::kShare
// at least), after DecideEnrolable and the external_ref check.
absl::Status InsertOneMember(mysql::Connection& c, const v1::ClientAccount& account, const v1::Member& m,
                             absl::Time now) {
  CAREOPS_RETURN_IF_ERROR(DecideEnrolable(account, PlanStatusIn(c, m.plan_id(), account.account_id()), m, ""));
  {
    auto& st = c.Prepare(kSelectMemberByRef);
    st.setString(1, m.account_id());
    st.setString(2, m.external_ref());
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (rs->next()) {
      return absl::AlreadyExistsError(absl::StrCat("external_ref: ", Quote(m.external_ref()), " is already member ",
                                                   Quote(Str(*rs, 1)), " of the account"));
    }
  }
  auto& st = c.Prepare(mysql::MultiRowSql(kInsertMemberHead, kInsertMemberRow, 1));
  BindMember(st, 1, m, now);
  st.executeUpdate();
  return absl::OkStatus();
}

void WriteMovement(mysql::Connection& c, const v1::Movement& mv, int64_t version, absl::Time decided_at) {
  auto& st = c.Prepare(kUpdateMovement);
  std::string bytes;
  mv.SerializeToString(&bytes);
  std::istringstream in(bytes);
  st.setString(1, mv.member_id());
  st.setString(2, Code(mv.status()));
  st.setBlob(3, &in);
  st.setString(4, mv.decided_by());
  st.setString(5, ToSqlDatetime(decided_at));
  st.setString(6, mv.rejection_reason());
  st.setInt64(7, version);
  st.setString(8, mv.movement_id());
  st.executeUpdate();
}

absl::StatusOr<v1::Movement> ParseMovement(const std::string& bytes, absl::Time as_of) {
  v1::Movement mv;
  if (!mv.ParseFromString(bytes)) return absl::InternalError("movements: stored movement is unreadable");
  mv.set_overdue(Overdue(mv.status(), FromProto(mv.due_time()), as_of));
  return mv;
}

absl::StatusOr<v1::Movement> LoadMovement(mysql::Connection& c, const std::string& id, bool lock, absl::Time as_of) {
  auto& st = c.Prepare(lock ? kSelectMovementForUpdate : kSelectMovement);
  st.setString(1, id);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  if (!rs->next()) return absl::NotFoundError(absl::StrCat("movement_id: no movement ", Quote(id)));
  return ParseMovement(Blob(*rs, 1), as_of);
}

absl::StatusOr<EligibilityFacts> QueryFacts(mysql::Connection& c, const std::string& member_id,
                                            const std::string& benefit_code, absl::CivilDay service_date,
                                            std::string* account_id, std::string* plan_id) {
  auto& st = c.Prepare(kEligibilityFacts);
  const std::string day = ToSqlDate(service_date);
  st.setString(1, day);
  st.setString(2, day);
  st.setString(3, benefit_code);
  st.setString(4, benefit_code);
  st.setInt(5, static_cast<int>(service_date.year()));
  st.setString(6, member_id);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  EligibilityFacts f;
  if (!rs->next()) return f;
  f.member_found = true;
  if (account_id) *account_id = Str(*rs, 1);
  if (plan_id) *plan_id = Str(*rs, 2);
  f.effective_date = Day(*rs, 3);
  if (!rs->isNull(4)) f.termination_date = Day(*rs, 4);
  f.account_status = ParseCode<v1::ClientAccountStatus>(*rs, 5);
  f.account_status_effective_date = Day(*rs, 6);
  f.currency = Str(*rs, 7);
  if (!rs->isNull(8)) {
    BenefitTerms b;
    b.code = Str(*rs, 8);
    b.category = Str(*rs, 9);
    b.unlimited = rs->getBoolean(10);
    b.annual_limit_minor = rs->getInt64(11);
    b.per_visit_cap_minor = rs->getInt64(12);
    b.copay_basis_points = rs->getInt(13);
    b.waiting_period_days = rs->getInt(14);
    f.benefit = b;
  }
  f.used_minor = rs->getInt64(15);
  return f;
}

// Locks the member's balance row for the year: concurrent records and reversals
// for one member, benefit and year queue here.
void LockBalance(mysql::Connection& c, const std::string& member_id, const std::string& benefit_code, int year) {
  auto& st = c.Prepare(kLockBalance);
  st.setString(1, member_id);
  st.setString(2, benefit_code);
  st.setInt(3, year);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
}

void AddToBalance(mysql::Connection& c, const std::string& member_id, const std::string& benefit_code, int year,
                  int64_t delta_minor) {
  auto& st = c.Prepare(kAddToBalance);
  st.setInt64(1, delta_minor);
  st.setString(2, member_id);
  st.setString(3, benefit_code);
  st.setInt(4, year);
  st.executeUpdate();
}

void SetRemaining(v1::Utilization& u, const EligibilityFacts& f) {
  u.set_unlimited(f.benefit && f.benefit->unlimited);
  u.mutable_remaining_limit()->set_currency_code(f.currency);
  u.mutable_remaining_limit()->set_amount_minor(f.benefit ? RemainingLimit(*f.benefit, f.currency, f.used_minor) : 0);
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

// The optional filters of a list: for each filter given, its clause (a named
// constant with one '?') and the value bound to it, kept together so the SQL and
// its parameters cannot disagree.
class Filters {
 public:
  void Add(bool given, const char* clause, std::string value) {
    if (given) clauses_.emplace_back(clause, std::move(value));
  }
  std::string AppendTo(std::string sql) const {
    for (const auto& c : clauses_) sql += c.first;
    return sql;
  }
  // Binds the values from parameter `first` on; returns the next free index.
  int Bind(sql::PreparedStatement& st, int first) const {
    for (const auto& c : clauses_) st.setString(first++, c.second);
    return first;
  }

 private:
  std::vector<std::pair<const char*, std::string>> clauses_;
};

// One keyset page: `base` (its first parameter is the key to start after), the
// filters, `tail` (ORDER BY key LIMIT ?), one row more than the page to know
// whether another follows.
template <typename T>
absl::StatusOr<Page<T>> ListPage(mysql::ConnectionPool& pool, const std::string& base, const Filters& where,
                                 const char* tail, const PageRequest& page,
                                 const std::function<absl::StatusOr<T>(sql::ResultSet&)>& read) {
  Page<T> out;
  absl::Status row_status = absl::OkStatus();
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool, [&](mysql::Connection& c) {
    auto& st = c.Prepare(where.AppendTo(base) + tail);
    st.setString(1, page.after_id);
    st.setInt(where.Bind(st, 2), page.limit + 1);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (row_status.ok() && rs->next()) {
      absl::StatusOr<T> item = read(*rs);
      if (item.ok()) {
        out.items.push_back(*std::move(item));
      } else {
        row_status = item.status();
      }
    }
    return absl::OkStatus();
  }));
  CAREOPS_RETURN_IF_ERROR(row_status);
  if (static_cast<int>(out.items.size()) > page.limit) {
    out.items.resize(page.limit);
    out.more = true;
  }
  return out;
}

}  // namespace

// ================================================================ accounts

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::CreateAccount(const MutationContext& m,
                                                                      const v1::ClientAccount& account) {
  return Idempotent<v1::ClientAccount>(pool_, m, [&](mysql::Connection& c, v1::ClientAccount& out) {
    auto& st = c.Prepare(kInsertAccount);
    st.setString(1, account.account_id());
    st.setString(2, account.name());
    st.setString(3, Code(account.type()));
    st.setString(4, Code(account.status()));
    st.setString(5, account.account_officer());
    st.setString(6, account.contact_email());
    st.setString(7, ToSqlDate(DayOf(account.start_date())));
    st.setString(8, ToSqlDate(DayOf(account.status_effective_date())));
    st.setString(9, account.status_reason());
    st.setInt64(10, 1);
    st.setString(11, ToSqlDatetime(m.now));
    st.setString(12, ToSqlDatetime(m.now));
    st.executeUpdate();
    AppendStatusHistory(c, account, m.now);
    mysql::AppendAudit(c, Audit(m, "account.create", "account", account.account_id()));
    out = account;
    out.set_etag(Etag(1));
    *out.mutable_create_time() = ToProtoTimestamp(m.now);
    *out.mutable_update_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::GetAccount(const std::string& account_id) {
  return ReadOne<v1::ClientAccount>(pool_,
                                    [&](mysql::Connection& c) { return LoadAccount(c, account_id, AccountLock::kNone); });
}

absl::StatusOr<Page<v1::ClientAccount>> MysqlMembershipStore::ListAccounts(const AccountFilter& f,
                                                                           const PageRequest& page) {
  Filters where;
  where.Add(f.type != v1::CLIENT_ACCOUNT_TYPE_UNSPECIFIED, kAccountsByType, Code(f.type));
  where.Add(f.status != v1::CLIENT_ACCOUNT_STATUS_UNSPECIFIED, kAccountsByStatus, Code(f.status));
  where.Add(!f.account_officer.empty(), kAccountsByOfficer, f.account_officer);
  return ListPage<v1::ClientAccount>(pool_, absl::StrCat("SELECT ", kAccountColumns, kListAccountsBase), where,
                                     kListAccountsPage, page, [](sql::ResultSet& rs) { return ReadAccount(rs); });
}

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::UpdateAccount(
    const MutationContext& m, const std::string& account_id, const std::string& etag,
    const std::function<absl::Status(v1::ClientAccount&)>& edit) {
  return Idempotent<v1::ClientAccount>(pool_, m, [&](mysql::Connection& c, v1::ClientAccount& out) {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, account_id, AccountLock::kUpdate));
    CAREOPS_RETURN_IF_ERROR(CheckEtag(etag, account.etag(), "client account"));
    CAREOPS_RETURN_IF_ERROR(edit(account));
    int64_t version = 0;
    ParseInt(account.etag(), &version);
    StoreAccount(c, account, version + 1, m.now);
    mysql::AppendAudit(c, Audit(m, "account.update", "account", account_id));
    account.set_etag(Etag(version + 1));
    *account.mutable_update_time() = ToProtoTimestamp(m.now);
    out = account;
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ClientAccount> MysqlMembershipStore::TransitionAccount(const MutationContext& m,
                                                                          const AccountTransition& t) {
  return Idempotent<v1::ClientAccount>(pool_, m, [&](mysql::Connection& c, v1::ClientAccount& out) {
    CAREOPS_ASSIGN_OR_RETURN(const v1::ClientAccount current, LoadAccount(c, t.account_id, AccountLock::kUpdate));
    CAREOPS_RETURN_IF_ERROR(CheckEtag(t.etag, current.etag(), "client account"));
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account,
                             DecideAccountTransition(current, t.action, t.effective_date, t.reason));
    int64_t version = 0;
    ParseInt(account.etag(), &version);
    StoreAccount(c, account, version + 1, m.now);
    AppendStatusHistory(c, account, m.now);
    int64_t terminated = 0;
    if (t.action == AccountAction::kCancel) {
      auto& st = c.Prepare(kTerminateAccountMembers);
      st.setString(1, ToSqlDate(t.effective_date));
      st.setString(2, ToSqlDatetime(m.now));
      st.setString(3, t.account_id);
      st.setString(4, ToSqlDate(t.effective_date));
      terminated = st.executeUpdate();
    }
    mysql::AppendAudit(
        c, Audit(m, absl::StrCat("account.", Abs(ActionName(t.action))), "account", t.account_id, t.reason,
                 absl::StrCat("{\"from\":", JsonString(EnumLabel(current.status())),
                              ",\"to\":", JsonString(EnumLabel(account.status())),
                              ",\"effective_date\":", JsonString(ToSqlDate(t.effective_date)),
                              ",\"members_terminated\":", terminated, "}")));
    account.set_etag(Etag(version + 1));
    *account.mutable_update_time() = ToProtoTimestamp(m.now);
    out = account;
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::AccountSummary> MysqlMembershipStore::Summarize(const std::string& account_id,
                                                                   absl::CivilDay start, absl::CivilDay end) {
  v1::AccountSummary out;
  absl::Status s = mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    if (!account_id.empty()) {
      CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, account_id, AccountLock::kNone));
      out.set_account_status(account.status());
    }
    auto& st = c.Prepare(kSummary);
    const std::string s_day = ToSqlDate(start), e_day = ToSqlDate(end);
    st.setString(1, s_day);
    st.setString(2, s_day);
    st.setString(3, e_day);
    st.setString(4, e_day);
    st.setString(5, s_day);
    st.setString(6, e_day);
    st.setString(7, s_day);
    st.setString(8, e_day);
    st.setString(9, account_id);
    st.setString(10, account_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    if (rs->next()) {
      auto* active = out.add_members_by_status();
      active->set_status(v1::MEMBER_STATUS_ACTIVE);
      active->set_count(rs->getInt64(1));
      auto* terminated = out.add_members_by_status();
      terminated->set_status(v1::MEMBER_STATUS_TERMINATED);
      terminated->set_count(rs->getInt64(2));
      out.set_covered_at_period_start(rs->getInt64(3));
      out.set_covered_at_period_end(rs->getInt64(4));
      out.set_enrolled_in_period(rs->getInt64(5));
      out.set_terminated_in_period(rs->getInt64(6));
      out.set_net_change(out.covered_at_period_end() - out.covered_at_period_start());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  out.set_account_id(account_id);
  *out.mutable_period_start() = ToProto(start);
  *out.mutable_period_end() = ToProto(end);
  return out;
}

// ================================================================ plans

absl::StatusOr<v1::Plan> MysqlMembershipStore::CreatePlan(const MutationContext& m, const v1::Plan& plan) {
  return Idempotent<v1::Plan>(pool_, m, [&](mysql::Connection& c, v1::Plan& out) {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, plan.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, "plan.account_id"));
    InsertPlan(c, plan, m.now);
    mysql::AppendAudit(c, Audit(m, "plan.create", "plan", plan.plan_id()));
    out = plan;
    out.set_etag(Etag(1));
    *out.mutable_create_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Plan> MysqlMembershipStore::GetPlan(const std::string& plan_id) {
  return ReadOne<v1::Plan>(pool_, [&](mysql::Connection& c) { return LoadPlan(c, plan_id, false); });
}

absl::StatusOr<Page<v1::Plan>> MysqlMembershipStore::ListPlans(const PlanFilter& f, const PageRequest& page) {
  Filters where;
  where.Add(!f.account_id.empty(), kPlansByAccount, f.account_id);
  where.Add(f.status != v1::PLAN_STATUS_UNSPECIFIED, kPlansByStatus, Code(f.status));
  CAREOPS_ASSIGN_OR_RETURN(Page<v1::Plan> out,
                           ListPage<v1::Plan>(pool_, absl::StrCat("SELECT ", kPlanColumns, kListPlansBase), where,
                                              kListPlansPage, page, [](sql::ResultSet& rs) { return ReadPlan(rs); }));
  if (out.items.empty()) return out;
  // A plan's benefits never change once written, so reading them apart is safe.
  std::unordered_map<std::string, v1::Plan*> by_id;
  for (v1::Plan& p : out.items) by_id[p.plan_id()] = &p;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) {
    auto& st = c.Prepare(where.AppendTo(kListPlanBenefitsBase) + kListPlanBenefitsOrder);
    st.setString(1, page.after_id);
    st.setString(2, out.items.back().plan_id());
    where.Bind(st, 3);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      auto it = by_id.find(Str(*rs, 1));
      if (it != by_id.end()) ReadBenefit(*rs, *it->second);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Plan> MysqlMembershipStore::RevisePlan(const MutationContext& m, const std::string& plan_id,
                                                          const std::string& etag, const v1::Plan& next) {
  return Idempotent<v1::Plan>(pool_, m, [&](mysql::Connection& c, v1::Plan& out) {
    // The account before the plan (lock order), read through the plan's account_id,
    // which never changes.
    CAREOPS_ASSIGN_OR_RETURN(const v1::Plan unlocked, LoadPlan(c, plan_id, false));
    CAREOPS_ASSIGN_OR_RETURN(const v1::ClientAccount account,
                             LoadAccount(c, unlocked.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, "plan_id"));
    CAREOPS_ASSIGN_OR_RETURN(v1::Plan current, LoadPlan(c, plan_id, true));
    CAREOPS_RETURN_IF_ERROR(CheckEtag(etag, current.etag(), "plan"));
    CAREOPS_ASSIGN_OR_RETURN(v1::Plan plan, DecidePlanRevision(current, next));
    InsertPlan(c, plan, m.now);
    auto& st = c.Prepare(kSupersedePlan);
    st.setString(1, plan_id);
    st.executeUpdate();
    mysql::AppendAudit(c, Audit(m, "plan.revise", "plan", plan.plan_id(), "",
                                absl::StrCat("{\"supersedes\":", JsonString(plan_id), "}")));
    out = plan;
    out.set_etag(Etag(1));
    *out.mutable_create_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

// ================================================================ members

absl::StatusOr<v1::Member> MysqlMembershipStore::EnrollMember(const MutationContext& m, const v1::Member& member) {
  return Idempotent<v1::Member>(pool_, m, [&](mysql::Connection& c, v1::Member& out) {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, member.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(InsertOneMember(c, account, member, m.now));
    mysql::AppendAudit(c, Audit(m, "member.enroll", "member", member.member_id()));
    out = member;
    out.set_etag(Etag(1));
    *out.mutable_create_time() = ToProtoTimestamp(m.now);
    *out.mutable_update_time() = ToProtoTimestamp(m.now);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Member> MysqlMembershipStore::GetMember(const std::string& member_id) {
  return ReadOne<v1::Member>(pool_, [&](mysql::Connection& c) { return LoadMember(c, member_id, false); });
}

absl::StatusOr<Page<v1::Member>> MysqlMembershipStore::ListMembers(const MemberFilter& f, const PageRequest& page) {
  Filters where;
  where.Add(!f.account_id.empty(), kMembersByAccount, f.account_id);
  where.Add(f.status != v1::MEMBER_STATUS_UNSPECIFIED, kMembersByStatus, Code(f.status));
  where.Add(!f.plan_id.empty(), kMembersByPlan, f.plan_id);
  return ListPage<v1::Member>(pool_, absl::StrCat("SELECT ", kMemberColumns, kListMembersBase), where,
                              kListMembersPage, page, [](sql::ResultSet& rs) { return ReadMember(rs); });
}

absl::StatusOr<v1::BatchEnrollMembersResponse> MysqlMembershipStore::BatchEnroll(
    const MutationContext& m, const std::string& account_id, const std::vector<BatchRow>& rows,
    const std::function<std::string()>& new_id) {
  return Idempotent<v1::BatchEnrollMembersResponse>(pool_, m, [&](mysql::Connection& c,
                                                                  v1::BatchEnrollMembersResponse& out) {
    out.Clear();
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, account_id, AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, "account_id"));
    std::unordered_map<std::string, v1::PlanStatus> plans;
    {
      auto& st = c.Prepare(kSelectAccountPlans);
      st.setString(1, account_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) plans[Str(*rs, 1)] = ParseCode<v1::PlanStatus>(*rs, 2);
    }
    // External references already in the account, looked up in a few chunked queries.
    std::vector<std::string> refs;
    for (const BatchRow& r : rows) {
      if (r.invalid.empty()) refs.push_back(r.row.external_ref());
    }
    std::unordered_map<std::string, std::string> existing;
    mysql::ForEachChunk(refs.size(), [&](size_t start, int n) {
      auto& st = c.Prepare(mysql::MultiRowSql(kExistingRefsHead, "?", n, ")"));
      st.setString(1, account_id);
      for (int i = 0; i < n; ++i) st.setString(2 + i, refs[start + i]);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) existing[Str(*rs, 1)] = Str(*rs, 2);
    });
    // Decide every row, then insert the good ones in multi-row statements.
    std::vector<v1::Member> good;
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
          account, plan == plans.end() ? std::nullopt : std::optional<v1::PlanStatus>(plan->second), member, prefix);
      if (!ok.ok()) {
        res->set_outcome(v1::BATCH_ROW_OUTCOME_INVALID);
        res->set_error(std::string(ok.message()));
        continue;
      }
      res->set_outcome(v1::BATCH_ROW_OUTCOME_CREATED);
      res->set_member_id(member.member_id());
      seen[member.external_ref()] = member.member_id();
      good.push_back(std::move(member));
    }
    mysql::ForEachChunk(good.size(), [&](size_t start, int n) {
      auto& st = c.Prepare(mysql::MultiRowSql(kInsertMemberHead, kInsertMemberRow, n));
      for (int i = 0; i < n; ++i) BindMember(st, 1 + kMemberColumnCount * i, good[start + i], m.now);
      st.executeUpdate();
    });
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

absl::StatusOr<v1::Movement> MysqlMembershipStore::CreateMovement(const MutationContext& m, const v1::Movement& movement) {
  return Idempotent<v1::Movement>(pool_, m, [&](mysql::Connection& c, v1::Movement& out) {
    CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, movement.account_id(), AccountLock::kShare));
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, "account_id"));
    CAREOPS_RETURN_IF_ERROR(ValidateNotBeforeStart(DayOf(movement.effective_date()), DayOf(account.start_date()),
                                                   "effective_date"));
    if (movement.type() != v1::MOVEMENT_TYPE_ENROLLMENT) {
      CAREOPS_ASSIGN_OR_RETURN(v1::Member member, LoadMember(c, movement.member_id(), false));
      if (member.account_id() != movement.account_id()) {
        return absl::InvalidArgumentError(absl::StrCat("member_id: member ", Quote(movement.member_id()),
                                                       " is not in account ", Quote(movement.account_id())));
      }
    }
    v1::Movement mv = movement;
    mv.set_etag(Etag(1));
    std::string bytes;
    mv.SerializeToString(&bytes);
    std::istringstream in(bytes);
    auto& st = c.Prepare(kInsertMovement);
    st.setString(1, mv.movement_id());
    st.setString(2, mv.account_id());
    st.setString(3, mv.member_id());
    st.setString(4, Code(mv.type()));
    st.setString(5, Code(mv.status()));
    st.setString(6, ToSqlDate(DayOf(mv.effective_date())));
    st.setString(7, mv.new_plan_id());
    st.setBlob(8, &in);
    st.setString(9, mv.note());
    st.setString(10, mv.requested_by());
    st.setString(11, ToSqlDatetime(FromProto(mv.request_time())));
    st.setString(12, ToSqlDatetime(FromProto(mv.due_time())));
    st.setString(13, "");
    st.executeUpdate();
    mysql::AppendAudit(c, Audit(m, absl::StrCat("movement.request.", EnumLabel(mv.type())), "movement",
                                mv.movement_id(), mv.note()));
    out = mv;
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Movement> MysqlMembershipStore::GetMovement(const std::string& movement_id, absl::Time as_of) {
  return ReadOne<v1::Movement>(pool_, [&](mysql::Connection& c) {
    return LoadMovement(c, movement_id, false, as_of);
  });
}

absl::StatusOr<v1::Movement> MysqlMembershipStore::ApplyMovement(const MutationContext& m, const std::string& movement_id,
                                                                 const std::string& etag,
                                                                 const std::string& new_member_id,
                                                                 MovementDecision* decision) {
  return DecideMovement(m, movement_id, etag, true, new_member_id, "", decision);
}

absl::StatusOr<v1::Movement> MysqlMembershipStore::RejectMovement(const MutationContext& m, const std::string& movement_id,
                                                                  const std::string& etag, const std::string& reason,
                                                                  MovementDecision* decision) {
  return DecideMovement(m, movement_id, etag, false, "", reason, decision);
}

namespace {

// Makes an APPLIED movement's change to the member (or creates it): locks the
// account (share: it is not changed, but must not be cancelled meanwhile) and
// then the member, loads what the rules need, and writes what they decided.
absl::Status ApplyToMember(mysql::Connection& c, const MutationContext& m, v1::Movement& mv,
                           const std::string& new_member_id) {
  CAREOPS_ASSIGN_OR_RETURN(v1::ClientAccount account, LoadAccount(c, mv.account_id(), AccountLock::kShare));
  const std::string movement_json = absl::StrCat("{\"movement_id\":", JsonString(mv.movement_id()), "}");
  if (mv.type() == v1::MOVEMENT_TYPE_ENROLLMENT) {
    CAREOPS_RETURN_IF_ERROR(RequireOpenAccount(account, "account_id"));
    absl::Status s = InsertOneMember(c, account, MemberFromEnrollment(mv, new_member_id), m.now);
    if (absl::IsAlreadyExists(s)) return absl::FailedPreconditionError(s.message());
    CAREOPS_RETURN_IF_ERROR(s);
    mv.set_member_id(new_member_id);
    mysql::AppendAudit(c, Audit(m, std::string(MemberActionOf(mv.type())), "member", new_member_id, "", movement_json));
    return absl::OkStatus();
  }
  CAREOPS_ASSIGN_OR_RETURN(v1::Member current, LoadMember(c, mv.member_id(), true));
  std::optional<v1::PlanStatus> new_plan;
  if (mv.type() == v1::MOVEMENT_TYPE_PLAN_CHANGE) new_plan = PlanStatusIn(c, mv.new_plan_id(), mv.account_id());
  CAREOPS_ASSIGN_OR_RETURN(v1::Member member, ApplyMovementToMember(mv, account, current, new_plan));
  StoreMember(c, member, m.now);
  mysql::AppendAudit(c, Audit(m, std::string(MemberActionOf(mv.type())), "member", member.member_id(), "",
                              movement_json));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Movement> MysqlMembershipStore::DecideMovement(const MutationContext& m, const std::string& movement_id,
                                                                  const std::string& etag, bool apply,
                                                                  const std::string& new_member_id,
                                                                  const std::string& reason,
                                                                  MovementDecision* decision) {
  decision->decided_now = false;
  return Idempotent<v1::Movement>(pool_, m, [&](mysql::Connection& c, v1::Movement& out) {
    decision->decided_now = false;
    // The account before the movement (lock order), read through the movement's
    // account_id, which never changes.
    CAREOPS_ASSIGN_OR_RETURN(const v1::Movement unlocked, LoadMovement(c, movement_id, false, m.now));
    CAREOPS_RETURN_IF_ERROR(LoadAccount(c, unlocked.account_id(), AccountLock::kShare).status());
    CAREOPS_ASSIGN_OR_RETURN(v1::Movement mv, LoadMovement(c, movement_id, true, m.now));
    // One etag policy: checked first, also when the movement is already decided.
    CAREOPS_RETURN_IF_ERROR(CheckEtag(etag, mv.etag(), "movement"));
    const v1::MovementStatus target = apply ? v1::MOVEMENT_STATUS_APPLIED : v1::MOVEMENT_STATUS_REJECTED;
    CAREOPS_ASSIGN_OR_RETURN(const bool needed, MovementNeedsDecision(mv, target));
    if (!needed) {  // already decided this way: the same answer again
      out = mv;
      return absl::OkStatus();
    }
    if (apply) CAREOPS_RETURN_IF_ERROR(ApplyToMember(c, m, mv, new_member_id));
    int64_t version = 0;
    ParseInt(mv.etag(), &version);
    ++version;
    mv = DecidedMovement(std::move(mv), target, m.caller.user, reason, m.now);
    mv.set_etag(Etag(version));
    WriteMovement(c, mv, version, m.now);
    mysql::AppendAudit(c, Audit(m, apply ? "movement.apply" : "movement.reject", "movement", movement_id, reason,
                                absl::StrCat("{\"tat_met\":", mv.tat_met() ? "true" : "false", "}")));
    decision->decided_now = true;
    out = mv;
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<v1::Movement>> MysqlMembershipStore::ListMovements(const MovementFilter& f,
                                                                       const PageRequest& page) {
  Filters where;
  where.Add(!f.account_id.empty(), kMovementsByAccount, f.account_id);
  where.Add(f.status != v1::MOVEMENT_STATUS_UNSPECIFIED, kMovementsByStatus, Code(f.status));
  where.Add(f.type != v1::MOVEMENT_TYPE_UNSPECIFIED, kMovementsByType, Code(f.type));
  where.Add(f.overdue_only, kMovementsOverdue, ToSqlDatetime(f.as_of));
  return ListPage<v1::Movement>(pool_, kListMovementsBase, where, kListMovementsPage, page,
                                [&](sql::ResultSet& rs) { return ParseMovement(Blob(rs, 1), f.as_of); });
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
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) {
    auto& st = c.Prepare(kEnsureBalance);
    st.setInt(1, year);
    st.setString(2, r.benefit_code());
    st.setString(3, r.member_id());
    st.executeUpdate();
    auto& member = c.Prepare(kSelectMemberAccount);
    member.setString(1, r.member_id());
    std::unique_ptr<sql::ResultSet> rs(member.executeQuery());
    if (rs->next()) account_id = Str(*rs, 1);
    return absl::OkStatus();
  }));
  v1::Utilization out;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& c) -> absl::Status {
    out.Clear();
    // The account first (share), so a cancellation in progress finishes before the
    // facts are read, and none can start until this record commits; then the
    // balance, so the balance read below is the one the update builds on.
    if (!account_id.empty()) CAREOPS_RETURN_IF_ERROR(LoadAccount(c, account_id, AccountLock::kShare).status());
    LockBalance(c, r.member_id(), r.benefit_code(), year);
    {
      auto& st = c.Prepare(kSelectUtilization);
      st.setString(1, r.source_reference());
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (rs->next()) {
        v1::Utilization existing = ReadUtilization(*rs);
        CAREOPS_RETURN_IF_ERROR(RequireSameUtilization(existing, r));
        CAREOPS_ASSIGN_OR_RETURN(
            EligibilityFacts facts,
            QueryFacts(c, existing.member_id(), existing.benefit_code(), DayOf(existing.service_date()), nullptr,
                       nullptr));
        out = existing;
        SetRemaining(out, facts);
        return absl::OkStatus();
      }
    }
    CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts,
                             QueryFacts(c, r.member_id(), r.benefit_code(), service_day, nullptr, nullptr));
    CAREOPS_ASSIGN_OR_RETURN(const int64_t used_after,
                             DecideUtilization(facts, service_day, r.amount().amount_minor(),
                                               r.amount().currency_code(), r.member_id()));
    {
      auto& st = c.Prepare(kInsertUtilization);
      st.setString(1, new_utilization_id);
      st.setString(2, r.source_reference());
      st.setString(3, r.member_id());
      st.setString(4, r.benefit_code());
      st.setInt64(5, r.amount().amount_minor());
      st.setString(6, r.amount().currency_code());
      st.setString(7, ToSqlDate(service_day));
      st.setString(8, ToSqlDatetime(m.now));
      st.executeUpdate();
    }
    AddToBalance(c, r.member_id(), r.benefit_code(), year, r.amount().amount_minor());
    mysql::AppendAudit(c, Audit(m, "utilization.record", "utilization", new_utilization_id, "",
                                absl::StrCat("{\"source_reference\":", JsonString(r.source_reference()),
                                             ",\"member_id\":", JsonString(r.member_id()),
                                             ",\"benefit_code\":", JsonString(r.benefit_code()),
                                             ",\"amount_minor\":", r.amount().amount_minor(), "}")));
    out.set_utilization_id(new_utilization_id);
    out.set_member_id(r.member_id());
    out.set_benefit_code(r.benefit_code());
    *out.mutable_amount() = r.amount();
    *out.mutable_service_date() = r.service_date();
    out.set_source_reference(r.source_reference());
    *out.mutable_recorded_at() = ToProtoTimestamp(m.now);
    facts.used_minor = used_after;
    SetRemaining(out, facts);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Utilization> MysqlMembershipStore::ReverseUtilization(const MutationContext& m,
                                                                         const v1::ReverseUtilizationRequest& r) {
  v1::Utilization out;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& c) -> absl::Status {
    out.Clear();
    {
      auto& st = c.Prepare(kSelectUtilizationForUpdate);
      st.setString(1, r.source_reference());
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (!rs->next()) {
        return absl::NotFoundError(
            absl::StrCat("source_reference: no utilisation was recorded for ", Quote(r.source_reference())));
      }
      out = ReadUtilization(*rs);
    }
    const int year = static_cast<int>(DayOf(out.service_date()).year());
    if (!out.reversed()) {
      LockBalance(c, out.member_id(), out.benefit_code(), year);
      AddToBalance(c, out.member_id(), out.benefit_code(), year, -out.amount().amount_minor());
      {
        auto& st = c.Prepare(kReverseUtilization);
        st.setString(1, r.reason());
        st.setString(2, ToSqlDatetime(m.now));
        st.setString(3, out.utilization_id());
        st.executeUpdate();
      }
      mysql::AppendAudit(c, Audit(m, "utilization.reverse", "utilization", out.utilization_id(), r.reason(),
                                  absl::StrCat("{\"source_reference\":", JsonString(r.source_reference()), "}")));
      out.set_reversed(true);
      out.set_reverse_reason(r.reason());
      *out.mutable_reversed_at() = ToProtoTimestamp(m.now);
    }
    CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts,
                             QueryFacts(c, out.member_id(), out.benefit_code(), DayOf(out.service_date()), nullptr,
                                        nullptr));
    SetRemaining(out, facts);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Utilization> MysqlMembershipStore::GetUtilization(const std::string& source_reference) {
  std::optional<v1::Utilization> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) -> absl::Status {
    {
      auto& st = c.Prepare(kSelectUtilization);
      st.setString(1, source_reference);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      if (!rs->next()) return absl::OkStatus();
      out = ReadUtilization(*rs);
    }
    CAREOPS_ASSIGN_OR_RETURN(EligibilityFacts facts,
                             QueryFacts(c, out->member_id(), out->benefit_code(), DayOf(out->service_date()), nullptr,
                                        nullptr));
    SetRemaining(*out, facts);
    return absl::OkStatus();
  }));
  if (!out) {
    return absl::NotFoundError(absl::StrCat("source_reference: no utilisation was recorded for '", source_reference, "'"));
  }
  return std::move(*out);
}

absl::StatusOr<MembershipCounts> MysqlMembershipStore::Count(absl::Time as_of) {
  MembershipCounts out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& c) {
    {
      auto& st = c.Prepare(kCountMembers);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) {
        out.members[ParseCode<v1::MemberStatus>(*rs, 1)] += rs->getInt64(2);
      }
    }
    {
      auto& st = c.Prepare(kCountAccounts);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      while (rs->next()) {
        auto key = std::make_pair(ParseCode<v1::ClientAccountType>(*rs, 1), ParseCode<v1::ClientAccountStatus>(*rs, 2));
        out.accounts[key] += rs->getInt64(3);
      }
    }
    auto& st = c.Prepare(kCountOverdueMovements);
    st.setString(1, ToSqlDatetime(as_of));
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      out.overdue_movements[ParseCode<v1::MovementType>(*rs, 1)] += rs->getInt64(2);
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace careops::membership
