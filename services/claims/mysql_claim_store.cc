#include "services/claims/mysql_claim_store.h"

#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/mysql/audit.h"
#include "common/mysql/mutation_runner.h"
#include "common/outbox.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"
#include "services/claims/claim_rules.h"

namespace careops::claims {
namespace {

// ---- SQL --------------------------------------------------------------------

#define CLAIM_COLUMNS                                                                                 \
  "claim_id, claim_type, member_id, account_id, plan_id, benefit_code, benefit_category, service_date," \
  " provider_id, currency, amount_claimed_minor, amount_approved_minor, channel, diagnosis_codes,"      \
  " procedure_codes, attachment_refs, status, rejection_reasons, possible_duplicate, duplicate_of,"     \
  " assignee, routed_role, submitted_by, submitted_at, updated_at, decided_at, settled_at,"             \
  " payment_reference, decision_due_at, settlement_due_at, decision_breached, settlement_breached,"     \
  " utilization_ref, utilization_seq, version"

constexpr char kInsertClaim[] =
    "INSERT INTO claims (" CLAIM_COLUMNS
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?)";
// Every column but claim_id, in CLAIM_COLUMNS order, then the key and the version read.
constexpr char kUpdateClaim[] =
    "UPDATE claims SET claim_type = ?, member_id = ?, account_id = ?, plan_id = ?, benefit_code = ?,"
    " benefit_category = ?, service_date = ?, provider_id = ?, currency = ?, amount_claimed_minor = ?,"
    " amount_approved_minor = ?, channel = ?, diagnosis_codes = ?, procedure_codes = ?, attachment_refs = ?,"
    " status = ?, rejection_reasons = ?, possible_duplicate = ?, duplicate_of = ?, assignee = ?,"
    " routed_role = ?, submitted_by = ?, submitted_at = ?, updated_at = ?, decided_at = ?, settled_at = ?,"
    " payment_reference = ?, decision_due_at = ?, settlement_due_at = ?, decision_breached = ?,"
    " settlement_breached = ?, utilization_ref = ?, utilization_seq = ?, version = ?"
    " WHERE claim_id = ? AND version = ?";
constexpr char kSelectClaim[] = "SELECT " CLAIM_COLUMNS " FROM claims WHERE claim_id = ?";
constexpr char kLockClaim[] = "SELECT " CLAIM_COLUMNS " FROM claims WHERE claim_id = ? FOR UPDATE";
// Duplicate detection (V003). The upsert takes the fingerprint row's exclusive
// lock (InnoDB locks a duplicate key exclusively for ON DUPLICATE KEY UPDATE, so
// waiters queue instead of deadlocking on a shared-to-exclusive upgrade) and
// holds it to commit: identical submissions run their twin lookup one at a time,
// and under READ COMMITTED each lookup sees every twin committed before it.
#define FINGERPRINT_KEY                                                                          \
  "member_id = ? AND benefit_code = ? AND provider_id = ? AND service_date = ? AND currency = ?" \
  " AND amount_claimed_minor = ?"
constexpr char kLockFingerprint[] =
    "INSERT INTO claim_fingerprints (member_id, benefit_code, provider_id, service_date, currency,"
    " amount_claimed_minor, submissions, last_claim_id) VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
    " ON DUPLICATE KEY UPDATE submissions = submissions + 1, last_claim_id = VALUES(last_claim_id)";
// The statuses excluded here are those CountsForDuplicates() rules out.
constexpr char kLiveTwins[] = "SELECT " CLAIM_COLUMNS " FROM claims WHERE " FINGERPRINT_KEY
                              " AND status NOT IN ('REJECTED', 'DENIED') ORDER BY claim_id LIMIT 1";
// ListClaims: one statement per leading filter, so that the page is a range scan
// of an index on (that column, claim_id) in claim_id order rather than a walk of
// the primary key that tests every row; the most selective filter set leads
// (the order of `leads` in ListClaims). The other filters are optional: an empty parameter
// matches every row. Parameters: the leading value (none for kListClaimsAll),
// then LIST_CLAIMS_REST's.
#define LIST_CLAIMS_REST                                                                      \
  " claim_id > ? AND (? = '' OR status = ?) AND (? = '' OR assignee = ?)"                     \
  " AND (? = '' OR member_id = ?) AND (? = '' OR account_id = ?) AND (? = '' OR channel = ?)" \
  " AND (? = 0 OR decision_breached = 1 OR settlement_breached = 1)"                          \
  " AND submitted_at >= ? AND submitted_at < ? ORDER BY claim_id LIMIT ?"
constexpr char kListClaimsByMember[] =
    "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_member_page) WHERE member_id = ? AND" LIST_CLAIMS_REST;
constexpr char kListClaimsByAccount[] =
    "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_account) WHERE account_id = ? AND" LIST_CLAIMS_REST;
constexpr char kListClaimsByAssignee[] =
    "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_assignee) WHERE assignee = ? AND" LIST_CLAIMS_REST;
constexpr char kListClaimsByStatus[] =
    "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_status) WHERE status = ? AND" LIST_CLAIMS_REST;
constexpr char kListClaimsByChannel[] =
    "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_channel_page) WHERE channel = ? AND" LIST_CLAIMS_REST;
constexpr char kListClaimsAll[] = "SELECT " CLAIM_COLUMNS " FROM claims WHERE" LIST_CLAIMS_REST;
constexpr char kInsertHistory[] =
    "INSERT INTO claim_history (claim_id, at, action, from_status, to_status, actor_user, actor_role, reason,"
    " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectHistory[] =
    "SELECT at, action, from_status, to_status, actor_user, actor_role, reason, details"
    " FROM claim_history WHERE claim_id = ? ORDER BY id";
constexpr char kClaimExists[] = "SELECT status FROM claims WHERE claim_id = ?";
// Breach scans claim their rows; a replica scanning at the same time skips them.
constexpr char kDecisionOverdue[] =
    "SELECT claim_id, status FROM claims WHERE decision_breached = 0 AND decision_due_at <= ?"
    " AND status IN ('SUBMITTED', 'ASSIGNED', 'IN_REVIEW', 'PENDING_INFO')"
    " ORDER BY claim_id LIMIT 200 FOR UPDATE SKIP LOCKED";
constexpr char kSettlementOverdue[] =
    "SELECT claim_id, status FROM claims WHERE settlement_breached = 0 AND settlement_due_at <= ?"
    " AND status IN ('APPROVED', 'PARTIALLY_APPROVED')"
    " ORDER BY claim_id LIMIT 200 FOR UPDATE SKIP LOCKED";
constexpr char kMarkDecisionBreached[] = "UPDATE claims SET decision_breached = 1 WHERE claim_id = ?";
constexpr char kMarkSettlementBreached[] = "UPDATE claims SET settlement_breached = 1 WHERE claim_id = ?";
constexpr char kCountByStatus[] = "SELECT status, COUNT(*) FROM claims GROUP BY status";
constexpr char kBordereauPage[] =
    "SELECT " CLAIM_COLUMNS
    " FROM claims WHERE decided_at >= ? AND decided_at < ? AND amount_approved_minor > 0"
    " AND status IN ('APPROVED', 'PARTIALLY_APPROVED', 'SETTLED', 'CLOSED')"
    " AND (? = '' OR account_id = ?) AND claim_id > ? ORDER BY claim_id LIMIT 500";

#define INVESTIGATION_COLUMNS                                                                       \
  "investigation_id, claim_id, category, notes, status, flagged_by, investigator, findings,"        \
  " remedial_action, flagged_at, updated_at, closed_at, version"

constexpr char kInsertInvestigation[] =
    "INSERT INTO investigations (" INVESTIGATION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kLockInvestigation[] =
    "SELECT " INVESTIGATION_COLUMNS " FROM investigations WHERE investigation_id = ? FOR UPDATE";
constexpr char kUpdateInvestigation[] =
    "UPDATE investigations SET status = ?, investigator = ?, findings = ?, remedial_action = ?,"
    " updated_at = ?, closed_at = ?, version = ? WHERE investigation_id = ? AND version = ?";
// Parameters: after id, open only (0/1), limit; one claim's list first binds its id
// and reads investigations_by_claim in key order.
#define LIST_INVESTIGATIONS_REST \
  " investigation_id > ? AND (? = 0 OR status <> 'CLOSED') ORDER BY investigation_id LIMIT ?"
constexpr char kListInvestigations[] =
    "SELECT " INVESTIGATION_COLUMNS " FROM investigations WHERE" LIST_INVESTIGATIONS_REST;
constexpr char kListClaimInvestigations[] = "SELECT " INVESTIGATION_COLUMNS
                                            " FROM investigations FORCE INDEX (investigations_by_claim)"
                                            " WHERE claim_id = ? AND" LIST_INVESTIGATIONS_REST;

constexpr int kBordereauPageSize = 500;

// ---- Row mapping ----------------------------------------------------------------

std::string JoinLines(const std::vector<std::string>& items) { return absl::StrJoin(items, "\n"); }

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  for (std::string_view s : SplitAny(text, "\n", true)) out.emplace_back(s);
  return out;
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  return s;
}

std::string Str(const sql::ResultSet& rs, int col) { return std::string(rs.getString(col)); }

absl::StatusOr<std::optional<absl::Time>> OptionalTime(const sql::ResultSet& rs, int col) {
  if (rs.isNull(col)) return std::optional<absl::Time>();
  CAREOPS_ASSIGN_OR_RETURN(absl::Time t, ParseSqlDatetime(Str(rs, col)));
  return std::optional<absl::Time>(t);
}

void SetOptionalTime(sql::PreparedStatement& st, int index, const std::optional<absl::Time>& t) {
  if (t) {
    st.setString(index, ToSqlDatetime(*t));
  } else {
    st.setNull(index, sql::DataType::TIMESTAMP);
  }
}

absl::StatusOr<Claim> ReadClaim(const sql::ResultSet& rs) {
  Claim c;
  c.claim_id = Str(rs, 1);
  c.type = Str(rs, 2);
  c.member_id = Str(rs, 3);
  c.account_id = Str(rs, 4);
  c.plan_id = Str(rs, 5);
  c.benefit_code = Str(rs, 6);
  c.benefit_category = Str(rs, 7);
  CAREOPS_ASSIGN_OR_RETURN(c.service_date, ParseSqlDate(Str(rs, 8)));
  c.provider_id = Str(rs, 9);
  std::string currency = Str(rs, 10);
  c.amount_claimed = Money(currency, rs.getInt64(11));
  c.amount_approved = Money(currency, rs.getInt64(12));
  c.channel = Str(rs, 13);
  c.diagnosis_codes = SplitLines(Str(rs, 14));
  c.procedure_codes = SplitLines(Str(rs, 15));
  c.attachment_refs = SplitLines(Str(rs, 16));
  std::optional<ClaimStatus> status = ParseClaimStatus(Str(rs, 17));
  if (!status) return absl::InternalError(absl::StrCat("claim ", c.claim_id, " has unknown status ", Str(rs, 17)));
  c.status = *status;
  for (const std::string& line : SplitLines(Str(rs, 18))) {
    size_t tab = line.find('\t');
    c.rejection_reasons.push_back(
        {line.substr(0, tab), tab == std::string::npos ? std::string() : line.substr(tab + 1)});
  }
  c.possible_duplicate = rs.getInt(19) != 0;
  c.duplicate_of = Str(rs, 20);
  c.assignee = Str(rs, 21);
  c.routed_role = Str(rs, 22);
  c.submitted_by = Str(rs, 23);
  CAREOPS_ASSIGN_OR_RETURN(c.submitted_at, ParseSqlDatetime(Str(rs, 24)));
  CAREOPS_ASSIGN_OR_RETURN(c.updated_at, ParseSqlDatetime(Str(rs, 25)));
  CAREOPS_ASSIGN_OR_RETURN(c.decided_at, OptionalTime(rs, 26));
  CAREOPS_ASSIGN_OR_RETURN(c.settled_at, OptionalTime(rs, 27));
  c.payment_reference = Str(rs, 28);
  CAREOPS_ASSIGN_OR_RETURN(c.decision_due_at, ParseSqlDatetime(Str(rs, 29)));
  CAREOPS_ASSIGN_OR_RETURN(c.settlement_due_at, OptionalTime(rs, 30));
  c.decision_breached = rs.getInt(31) != 0;
  c.settlement_breached = rs.getInt(32) != 0;
  c.utilization_ref = Str(rs, 33);
  c.utilization_seq = rs.getInt(34);
  c.version = rs.getInt64(35);
  return c;
}

// Binds every column after claim_id, in CLAIM_COLUMNS order, from parameter `first` on.
void BindClaimFields(sql::PreparedStatement& st, const Claim& c, int first) {
  int i = first;
  st.setString(i++, c.type);
  st.setString(i++, c.member_id);
  st.setString(i++, c.account_id);
  st.setString(i++, c.plan_id);
  st.setString(i++, c.benefit_code);
  st.setString(i++, c.benefit_category);
  st.setString(i++, ToSqlDate(c.service_date));
  st.setString(i++, c.provider_id);
  st.setString(i++, c.amount_claimed.currency());
  st.setInt64(i++, c.amount_claimed.minor());
  st.setInt64(i++, c.amount_approved.minor());
  st.setString(i++, c.channel);
  st.setString(i++, JoinLines(c.diagnosis_codes));
  st.setString(i++, JoinLines(c.procedure_codes));
  st.setString(i++, JoinLines(c.attachment_refs));
  st.setString(i++, std::string(ClaimStatusName(c.status)));
  std::vector<std::string> reasons;
  for (const auto& r : c.rejection_reasons) reasons.push_back(absl::StrCat(OneLine(r.code), "\t", OneLine(r.message)));
  st.setString(i++, JoinLines(reasons));
  st.setInt(i++, c.possible_duplicate ? 1 : 0);
  st.setString(i++, c.duplicate_of);
  st.setString(i++, c.assignee);
  st.setString(i++, c.routed_role);
  st.setString(i++, c.submitted_by);
  st.setString(i++, ToSqlDatetime(c.submitted_at));
  st.setString(i++, ToSqlDatetime(c.updated_at));
  SetOptionalTime(st, i++, c.decided_at);
  SetOptionalTime(st, i++, c.settled_at);
  st.setString(i++, c.payment_reference);
  st.setString(i++, ToSqlDatetime(c.decision_due_at));
  SetOptionalTime(st, i++, c.settlement_due_at);
  st.setInt(i++, c.decision_breached ? 1 : 0);
  st.setInt(i++, c.settlement_breached ? 1 : 0);
  st.setString(i++, c.utilization_ref);
  st.setInt(i++, c.utilization_seq);
  st.setInt64(i++, c.version);
}

absl::StatusOr<std::vector<Claim>> ReadClaims(sql::PreparedStatement& st) {
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  std::vector<Claim> out;
  while (rs->next()) {
    CAREOPS_ASSIGN_OR_RETURN(Claim c, ReadClaim(*rs));
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<Investigation> ReadInvestigation(const sql::ResultSet& rs) {
  Investigation v;
  v.investigation_id = Str(rs, 1);
  v.claim_id = Str(rs, 2);
  v.category = Str(rs, 3);
  v.notes = Str(rs, 4);
  std::optional<InvestigationStatus> status = ParseInvestigationStatus(Str(rs, 5));
  if (!status) return absl::InternalError(absl::StrCat("investigation has unknown status ", Str(rs, 5)));
  v.status = *status;
  v.flagged_by = Str(rs, 6);
  v.investigator = Str(rs, 7);
  v.findings = Str(rs, 8);
  v.remedial_action = Str(rs, 9);
  CAREOPS_ASSIGN_OR_RETURN(v.flagged_at, ParseSqlDatetime(Str(rs, 10)));
  CAREOPS_ASSIGN_OR_RETURN(v.updated_at, ParseSqlDatetime(Str(rs, 11)));
  CAREOPS_ASSIGN_OR_RETURN(v.closed_at, OptionalTime(rs, 12));
  v.version = rs.getInt64(13);
  return v;
}

std::string DetailsJson(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : fields) {
    if (!first) out += ",";
    first = false;
    log::AppendJsonString(out, k);
    out += ":";
    log::AppendJsonString(out, v);
  }
  return out + "}";
}

void InsertHistory(mysql::Connection& conn, const std::string& claim_id, const ClaimEvent& e) {
  auto& st = conn.Prepare(kInsertHistory);
  st.setString(1, claim_id);
  st.setString(2, ToSqlDatetime(e.at));
  st.setString(3, e.action);
  st.setString(4, std::string(ClaimStatusName(e.from_status)));
  st.setString(5, std::string(ClaimStatusName(e.to_status)));
  st.setString(6, e.actor_user);
  st.setString(7, e.actor_role);
  st.setString(8, e.reason.substr(0, 1024));
  st.setString(9, e.details.substr(0, 1024));
  st.executeUpdate();
}

void AuditClaim(mysql::Connection& conn, const MutationContext& m, const std::string& claim_id, const ClaimEvent& e) {
  mysql::AppendAudit(conn, {.at = m.now,
                            .actor = m.caller,
                            .action = absl::StrCat("claim.", e.action),
                            .resource_type = "claim",
                            .resource_id = claim_id,
                            .reason = e.reason.substr(0, 1024),
                            .details_json = DetailsJson({{"from", ClaimStatusName(e.from_status)},
                                                         {"to", ClaimStatusName(e.to_status)},
                                                         {"details", e.details}}),
                            .request_id = m.request_id});
}

absl::StatusOr<Claim> LockClaim(mysql::Connection& conn, const std::string& claim_id) {
  auto& st = conn.Prepare(kLockClaim);
  st.setString(1, claim_id);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<Claim> rows, ReadClaims(st));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("claim_id: no claim ", Quote(claim_id)));
  return std::move(rows.front());
}

// Binds the fingerprint of `c` (FINGERPRINT_KEY order) from parameter 1 on.
void BindFingerprint(sql::PreparedStatement& st, const Claim& c) {
  st.setString(1, c.member_id);
  st.setString(2, c.benefit_code);
  st.setString(3, c.provider_id);
  st.setString(4, ToSqlDate(c.service_date));
  st.setString(5, c.amount_claimed.currency());
  st.setInt64(6, c.amount_claimed.minor());
}

// The earliest live claim with the fingerprint of `incoming`, after taking the
// fingerprint's lock for the rest of the transaction.
absl::StatusOr<std::optional<std::string>> FindLiveTwin(mysql::Connection& conn, const Claim& incoming) {
  auto& lock = conn.Prepare(kLockFingerprint);
  BindFingerprint(lock, incoming);
  lock.setString(7, incoming.claim_id);
  lock.executeUpdate();
  auto& twins = conn.Prepare(kLiveTwins);
  BindFingerprint(twins, incoming);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<Claim> candidates, ReadClaims(twins));
  return FindLikelyDuplicate(incoming, candidates);
}

absl::Status StaleEtag(std::string_view what, int64_t current) {
  return absl::AbortedError(absl::StrCat("etag: the ", Abs(what), " changed since it was read (etag is now \"",
                                         current, "\"); read it again and retry"));
}

// Writes `change` over the locked `current` (next version), its history line,
// its audit entry and its outbox intent, all on the caller's transaction.
absl::StatusOr<Claim> StoreChange(mysql::Connection& conn, const Mutation& m, const Claim& current,
                                  ClaimChange& change) {
  Claim& next = change.claim;
  next.claim_id = current.claim_id;
  next.version = current.version + 1;
  next.updated_at = m.now;
  auto& st = conn.Prepare(kUpdateClaim);
  BindClaimFields(st, next, 1);
  st.setString(35, current.claim_id);
  st.setInt64(36, current.version);
  if (st.executeUpdate() != 1) return StaleEtag("claim", current.version);
  InsertHistory(conn, next.claim_id, change.event);
  AuditClaim(conn, m, next.claim_id, change.event);
  if (change.intent) {
    outbox::Enqueue(conn, m, *change.intent);
  }
  return next;
}

}  // namespace

absl::Status MysqlClaimStore::CreateClaim(const MutationContext& m, Claim claim, const ClaimEvent& event,
                                          const RenderClaim& render) {
  return mysql::RunMutation(pool_, m,
                              [&](mysql::Connection& conn) -> absl::Status {
                                Claim c = claim;
                                if (c.status != ClaimStatus::kRejected) {
                                  CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> original, FindLiveTwin(conn, c));
                                  if (original) {
                                    c.possible_duplicate = true;
                                    c.duplicate_of = *original;
                                  }
                                }
                                auto& st = conn.Prepare(kInsertClaim);
                                st.setString(1, c.claim_id);
                                BindClaimFields(st, c, 2);
                                st.executeUpdate();
                                ClaimEvent e = event;
                                if (c.possible_duplicate) {
                                  e.details = absl::StrCat(e.details, e.details.empty() ? "" : "; ",
                                                           "possible duplicate of ", c.duplicate_of);
                                }
                                InsertHistory(conn, c.claim_id, e);
                                AuditClaim(conn, m, c.claim_id, e);
                                render(c);
                                return absl::OkStatus();
                              });
}

absl::StatusOr<Claim> MysqlClaimStore::GetClaim(const std::string& claim_id) {
  std::vector<Claim> rows;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kSelectClaim);
    st.setString(1, claim_id);
    CAREOPS_ASSIGN_OR_RETURN(rows, ReadClaims(st));
    return absl::OkStatus();
  }));
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("claim_id: no claim ", Quote(claim_id)));
  return std::move(rows.front());
}

absl::StatusOr<std::vector<Claim>> MysqlClaimStore::ListClaims(const ClaimFilter& f, const std::string& after_id,
                                                               int limit) {
  std::vector<Claim> rows;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    std::string status = f.status ? std::string(ClaimStatusName(*f.status)) : "";
    // The most selective filter given leads.
    const std::pair<const char*, const std::string*> leads[] = {{kListClaimsByMember, &f.member_id},
                                                                {kListClaimsByAccount, &f.account_id},
                                                                {kListClaimsByAssignee, &f.assignee},
                                                                {kListClaimsByStatus, &status},
                                                                {kListClaimsByChannel, &f.channel}};
    const char* sql = kListClaimsAll;
    const std::string* lead = nullptr;
    for (const auto& [query, value] : leads) {
      if (!value->empty()) {
        sql = query;
        lead = value;
        break;
      }
    }
    auto& st = conn.Prepare(sql);
    int i = 1;
    if (lead) st.setString(i++, *lead);
    st.setString(i++, after_id);
    for (const std::string* v : std::initializer_list<const std::string*>{&status, &f.assignee, &f.member_id,
                                                                     &f.account_id, &f.channel}) {
      st.setString(i++, *v);
      st.setString(i++, *v);
    }
    st.setInt(i++, f.breached_only ? 1 : 0);
    st.setString(i++, ToSqlDatetime(f.submitted_from.value_or(absl::UnixEpoch())));
    st.setString(i++, ToSqlDatetime(f.submitted_before.value_or(absl::FromCivil(absl::CivilDay(9999, 12, 31),
                                                                                   absl::UTCTimeZone()))));
    st.setInt(i++, limit);
    CAREOPS_ASSIGN_OR_RETURN(rows, ReadClaims(st));
    return absl::OkStatus();
  }));
  return rows;
}

absl::Status MysqlClaimStore::TransitionClaim(const MutationContext& m, const std::string& claim_id,
                                              int64_t expected_version, const ClaimDecider& decide,
                                              const RenderClaim& render) {
  return mysql::RunMutation(pool_, m,
                              [&](mysql::Connection& conn) -> absl::Status {
                                CAREOPS_ASSIGN_OR_RETURN(Claim current, LockClaim(conn, claim_id));
                                if (current.version != expected_version) return StaleEtag("claim", current.version);
                                CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, decide(current));
                                CAREOPS_ASSIGN_OR_RETURN(Claim next, StoreChange(conn, m, current, change));
                                render(next);
                                return absl::OkStatus();
                              });
}

absl::StatusOr<Claim> MysqlClaimStore::SettleInTransaction(mysql::Connection& conn, const Mutation& m,
                                                           const std::string& claim_id,
                                                           const SettleDecider& decide) {
  CAREOPS_ASSIGN_OR_RETURN(Claim current, LockClaim(conn, claim_id));
  CAREOPS_ASSIGN_OR_RETURN(std::optional<ClaimChange> change, decide(current));
  if (!change) return current;
  return StoreChange(conn, m, current, *change);
}

absl::StatusOr<std::vector<ClaimEvent>> MysqlClaimStore::GetHistory(const std::string& claim_id) {
  std::vector<ClaimEvent> events;
  bool exists = false;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    {
      auto& st = conn.Prepare(kClaimExists);
      st.setString(1, claim_id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      exists = rs->next();
    }
    auto& st = conn.Prepare(kSelectHistory);
    st.setString(1, claim_id);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      ClaimEvent e;
      CAREOPS_ASSIGN_OR_RETURN(e.at, ParseSqlDatetime(Str(*rs, 1)));
      e.action = Str(*rs, 2);
      e.from_status = ParseClaimStatus(Str(*rs, 3)).value_or(ClaimStatus::kSubmitted);
      e.to_status = ParseClaimStatus(Str(*rs, 4)).value_or(ClaimStatus::kSubmitted);
      e.actor_user = Str(*rs, 5);
      e.actor_role = Str(*rs, 6);
      e.reason = Str(*rs, 7);
      e.details = Str(*rs, 8);
      events.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  if (!exists) return absl::NotFoundError(absl::StrCat("claim_id: no claim ", Quote(claim_id)));
  return events;
}

absl::StatusOr<BreachScanResult> MysqlClaimStore::MarkBreaches(absl::Time as_of) {
  BreachScanResult result;
  const Principal system{"system", "system", "claims"};
  struct Stage {
    const char* select;
    const char* mark;
    const char* action;
    int* count;
  };
  const Stage stages[] = {
      {kDecisionOverdue, kMarkDecisionBreached, "decision_tat_breach", &result.decision_breaches},
      {kSettlementOverdue, kMarkSettlementBreached, "settlement_tat_breach", &result.settlement_breaches},
  };
  for (const Stage& stage : stages) {
    // One transaction per batch, so locks are short; a batch shorter than the
    // limit is the last.
    for (bool more = true; more;) {
      int marked = 0;
      CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
        marked = 0;
        std::vector<std::pair<std::string, ClaimStatus>> due;
        {
          auto& st = conn.Prepare(stage.select);
          st.setString(1, ToSqlDatetime(as_of));
          std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
          while (rs->next()) {
            due.emplace_back(Str(*rs, 1), ParseClaimStatus(Str(*rs, 2)).value_or(ClaimStatus::kSubmitted));
          }
        }
        MutationContext m{.caller = system, .method = "RunBreachScan", .request_id = "", .now = as_of};
        for (const auto& [claim_id, status] : due) {
          auto& st = conn.Prepare(stage.mark);
          st.setString(1, claim_id);
          st.executeUpdate();
          ClaimEvent e{.at = as_of, .action = stage.action, .from_status = status, .to_status = status,
                       .actor_user = system.user, .actor_role = system.role, .reason = "TAT target missed",
                       .details = absl::StrCat("as of ", ToSqlDatetime(as_of))};
          InsertHistory(conn, claim_id, e);
          AuditClaim(conn, m, claim_id, e);
          ++marked;
        }
        return absl::OkStatus();
      }));
      *stage.count += marked;
      more = marked == 200;
    }
  }
  return result;
}

absl::StatusOr<std::map<ClaimStatus, int64_t>> MysqlClaimStore::CountByStatus() {
  std::map<ClaimStatus, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kCountByStatus);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      if (auto s = ParseClaimStatus(Str(*rs, 1))) out[*s] = rs->getInt64(2);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MysqlClaimStore::ScanBordereau(const BordereauQuery& q,
                                            const std::function<absl::Status(const Claim&)>& row) {
  // One keyset page per pooled-connection lease: the connection goes back to the
  // pool before any row of the page reaches `row`, which writes to a client that
  // may be slow or never read, so a stalled reader holds no connection and no
  // transaction. Each page is its own autocommit read (see claim_store.h for the
  // consistency that gives).
  std::string after;
  for (;;) {
    std::vector<Claim> page;
    CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
      auto& st = conn.Prepare(kBordereauPage);
      st.setString(1, ToSqlDatetime(q.from));
      st.setString(2, ToSqlDatetime(q.until));
      st.setString(3, q.account_id);
      st.setString(4, q.account_id);
      st.setString(5, after);
      CAREOPS_ASSIGN_OR_RETURN(page, ReadClaims(st));
      return absl::OkStatus();
    }));
    for (const Claim& c : page) CAREOPS_RETURN_IF_ERROR(row(c));
    if (static_cast<int>(page.size()) < kBordereauPageSize) return absl::OkStatus();
    after = page.back().claim_id;
  }
}

absl::Status MysqlClaimStore::CreateInvestigation(const MutationContext& m, const Investigation& v,
                                                  const RenderInvestigation& render) {
  return mysql::RunMutation(
      pool_, m, [&](mysql::Connection& conn) -> absl::Status {
        ClaimStatus claim_status;
        {
          auto& st = conn.Prepare(kClaimExists);
          st.setString(1, v.claim_id);
          std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
          if (!rs->next()) return absl::NotFoundError(absl::StrCat("claim_id: no claim ", Quote(v.claim_id)));
          claim_status = ParseClaimStatus(Str(*rs, 1)).value_or(ClaimStatus::kSubmitted);
        }
        auto& st = conn.Prepare(kInsertInvestigation);
        st.setString(1, v.investigation_id);
        st.setString(2, v.claim_id);
        st.setString(3, v.category);
        st.setString(4, v.notes);
        st.setString(5, std::string(InvestigationStatusName(v.status)));
        st.setString(6, v.flagged_by);
        st.setString(7, v.investigator);
        st.setString(8, v.findings);
        st.setString(9, v.remedial_action);
        st.setString(10, ToSqlDatetime(v.flagged_at));
        st.setString(11, ToSqlDatetime(v.updated_at));
        SetOptionalTime(st, 12, v.closed_at);
        st.setInt64(13, v.version);
        st.executeUpdate();
        // The claim's own history shows it was flagged.
        ClaimEvent e{.at = m.now, .action = "flag_non_conformance", .from_status = claim_status,
                     .to_status = claim_status, .actor_user = m.caller.user, .actor_role = m.caller.role,
                     .reason = v.notes.substr(0, 1024),
                     .details = absl::StrCat(v.category, "; investigation ", v.investigation_id)};
        InsertHistory(conn, v.claim_id, e);
        mysql::AppendAudit(conn, {.at = m.now,
                                  .actor = m.caller,
                                  .action = "investigation.flag",
                                  .resource_type = "investigation",
                                  .resource_id = v.investigation_id,
                                  .reason = v.notes.substr(0, 1024),
                                  .details_json = DetailsJson({{"claim_id", v.claim_id}, {"category", v.category}}),
                                  .request_id = m.request_id});
        render(v);
        return absl::OkStatus();
      });
}

absl::Status MysqlClaimStore::TransitionInvestigation(const MutationContext& m, const std::string& investigation_id,
                                                      int64_t expected_version, const InvestigationDecider& decide,
                                                      const RenderInvestigation& render) {
  return mysql::RunMutation(
      pool_, m, [&](mysql::Connection& conn) -> absl::Status {
        Investigation current;
        {
          auto& st = conn.Prepare(kLockInvestigation);
          st.setString(1, investigation_id);
          std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
          if (!rs->next()) {
            return absl::NotFoundError(absl::StrCat("investigation_id: no investigation ", Quote(investigation_id)));
          }
          CAREOPS_ASSIGN_OR_RETURN(current, ReadInvestigation(*rs));
        }
        if (current.version != expected_version) return StaleEtag("investigation", current.version);
        CAREOPS_ASSIGN_OR_RETURN(InvestigationChange change, decide(current));
        Investigation& next = change.investigation;
        next.version = current.version + 1;
        next.updated_at = m.now;
        auto& st = conn.Prepare(kUpdateInvestigation);
        st.setString(1, std::string(InvestigationStatusName(next.status)));
        st.setString(2, next.investigator);
        st.setString(3, next.findings);
        st.setString(4, next.remedial_action);
        st.setString(5, ToSqlDatetime(next.updated_at));
        SetOptionalTime(st, 6, next.closed_at);
        st.setInt64(7, next.version);
        st.setString(8, investigation_id);
        st.setInt64(9, current.version);
        if (st.executeUpdate() != 1) return StaleEtag("investigation", current.version);
        mysql::AppendAudit(conn, {.at = m.now,
                                  .actor = m.caller,
                                  .action = absl::StrCat("investigation.", change.action),
                                  .resource_type = "investigation",
                                  .resource_id = investigation_id,
                                  .reason = "",
                                  .details_json = DetailsJson({{"from", InvestigationStatusName(current.status)},
                                                               {"to", InvestigationStatusName(next.status)}}),
                                  .request_id = m.request_id});
        render(next);
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<Investigation>> MysqlClaimStore::ListInvestigations(bool open_only,
                                                                               const std::string& claim_id,
                                                                               const std::string& after_id,
                                                                               int limit) {
  std::vector<Investigation> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(claim_id.empty() ? kListInvestigations : kListClaimInvestigations);
    int i = 1;
    if (!claim_id.empty()) st.setString(i++, claim_id);
    st.setString(i++, after_id);
    st.setInt(i++, open_only ? 1 : 0);
    st.setInt(i++, limit);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      CAREOPS_ASSIGN_OR_RETURN(Investigation v, ReadInvestigation(*rs));
      out.push_back(std::move(v));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace careops::claims
