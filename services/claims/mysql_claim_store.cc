#include "services/claims/mysql_claim_store.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/mysql/audit.h"
#include "common/mysql/keyset.h"
#include "common/mysql/mutation_runner.h"
#include "common/mysql/row.h"
#include "common/mysql/versioned.h"
#include "common/outbox.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"
#include "services/claims/claim_rules.h"

namespace careops::claims {
namespace {

using mysql::Statement;

// ---- SQL --------------------------------------------------------------------

#define CLAIM_COLUMNS                                                                                 \
  "claim_id, claim_type, member_id, account_id, plan_id, benefit_code, benefit_category, service_date," \
  " provider_id, currency, amount_claimed_minor, amount_approved_minor, channel, diagnosis_codes,"      \
  " procedure_codes, attachment_refs, status, rejection_reasons, possible_duplicate, duplicate_of,"     \
  " assignee, routed_role, submitted_by, submitted_at, updated_at, decided_at, settled_at,"             \
  " payment_reference, decision_due_at, settlement_due_at, decision_breached, settlement_breached,"     \
  " utilization_ref, utilization_seq, copay_basis_points, per_visit_cap_minor, payable_minor,"             \
  " original_claim_id, clawback_ref, clawback_rest_minor, clawback_given, clawback_rest_recorded, version"

constexpr char kInsertClaim[] =
    "INSERT INTO claims (" CLAIM_COLUMNS
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectClaim[] = "SELECT " CLAIM_COLUMNS " FROM claims WHERE claim_id = ?";
// An original's adjustments (V005 claims_by_original); the lock on the original
// (kClaims.lock_sql) orders their submissions.
constexpr char kSelectAdjustments[] =
    "SELECT " CLAIM_COLUMNS " FROM claims WHERE original_claim_id = ? ORDER BY claim_id";
// The versioned update (common/mysql/versioned.h): every column but claim_id and
// version in CLAIM_COLUMNS order (BindClaimFields), then the version, the key
// and the version locked.
constexpr mysql::VersionedTable kClaims{
    .resource = "claim",
    .key_field = "claim_id",
    .lock_sql = "SELECT " CLAIM_COLUMNS " FROM claims WHERE claim_id = ? FOR UPDATE",
    .update_sql =
        "UPDATE claims SET claim_type = ?, member_id = ?, account_id = ?, plan_id = ?, benefit_code = ?,"
        " benefit_category = ?, service_date = ?, provider_id = ?, currency = ?, amount_claimed_minor = ?,"
        " amount_approved_minor = ?, channel = ?, diagnosis_codes = ?, procedure_codes = ?, attachment_refs = ?,"
        " status = ?, rejection_reasons = ?, possible_duplicate = ?, duplicate_of = ?, assignee = ?,"
        " routed_role = ?, submitted_by = ?, submitted_at = ?, updated_at = ?, decided_at = ?, settled_at = ?,"
        " payment_reference = ?, decision_due_at = ?, settlement_due_at = ?, decision_breached = ?,"
        " settlement_breached = ?, utilization_ref = ?, utilization_seq = ?, copay_basis_points = ?,"
        " per_visit_cap_minor = ?, payable_minor = ?, original_claim_id = ?, clawback_ref = ?,"
        " clawback_rest_minor = ?, clawback_given = ?, clawback_rest_recorded = ?, version = ?"
        " WHERE claim_id = ? AND version = ?"};
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
// ListClaims (common/mysql/keyset.h): one select per leading filter, so that the
// page is a range scan of an index on (that column, claim_id) in claim_id order
// rather than a walk of the primary key that tests every row; the most selective
// filter given leads (the order of `leads` in ListClaims). Every filter is also
// an optional clause, so each lead has one statement text.
constexpr char kListClaimsByMember[] = "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_member_page)";
constexpr char kListClaimsByAccount[] = "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_account)";
constexpr char kListClaimsByAssignee[] = "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_assignee)";
constexpr char kListClaimsByStatus[] = "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_status)";
constexpr char kListClaimsByChannel[] = "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_channel_page)";
constexpr char kListClaimsByRoutedRole[] =
    "SELECT " CLAIM_COLUMNS " FROM claims FORCE INDEX (claims_by_routed_role)";
constexpr char kListClaimsAll[] = "SELECT " CLAIM_COLUMNS " FROM claims";
constexpr char kMemberIs[] = "member_id = ?";
constexpr char kAccountIs[] = "account_id = ?";
constexpr char kAssigneeIs[] = "assignee = ?";
constexpr char kStatusIs[] = "status = ?";
constexpr char kChannelIs[] = "channel = ?";
constexpr char kRoutedRoleIs[] = "routed_role = ?";
constexpr char kMaybeRoutedRole[] = "(? IS NULL OR routed_role = ?)";
constexpr char kMaybeMember[] = "(? IS NULL OR member_id = ?)";
constexpr char kMaybeAccount[] = "(? IS NULL OR account_id = ?)";
constexpr char kMaybeAssignee[] = "(? IS NULL OR assignee = ?)";
constexpr char kMaybeStatus[] = "(? IS NULL OR status = ?)";
constexpr char kMaybeChannel[] = "(? IS NULL OR channel = ?)";
constexpr char kMaybeBreached[] = "(? = 0 OR decision_breached = 1 OR settlement_breached = 1)";
constexpr char kMaybeSubmittedFrom[] = "(? IS NULL OR submitted_at >= ?)";
constexpr char kMaybeSubmittedBefore[] = "(? IS NULL OR submitted_at < ?)";
constexpr char kInsertHistory[] =
    "INSERT INTO claim_history (claim_id, at, action, from_status, to_status, actor_user, actor_role, reason,"
    " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelectHistory[] =
    "SELECT at, action, from_status, to_status, actor_user, actor_role, reason, details"
    " FROM claim_history WHERE claim_id = ? ORDER BY id";
constexpr char kClaimExists[] = "SELECT status FROM claims WHERE claim_id = ?";
// Breach scans: a keyset page of overdue claims, claimed FOR UPDATE SKIP LOCKED
// (a replica scanning at the same time skips them); the statuses are those
// AwaitsDecision() and AwaitsSettlement() name. Both ? are the scan's as_of.
constexpr char kOverdueSelect[] =
    "SELECT claim_id, account_id, status, decision_breached, decision_due_at, settlement_breached,"
    " settlement_due_at FROM claims";
constexpr char kOverdue[] =
    "((decision_breached = 0 AND decision_due_at <= ?"
    " AND status IN ('SUBMITTED', 'ASSIGNED', 'IN_REVIEW', 'PENDING_INFO'))"
    " OR (settlement_breached = 0 AND settlement_due_at <= ? AND status IN ('APPROVED', 'PARTIALLY_APPROVED')))";
constexpr char kClaimRows[] = " FOR UPDATE SKIP LOCKED";
constexpr char kMarkDecisionBreached[] = "UPDATE claims SET decision_breached = 1 WHERE claim_id = ?";
constexpr char kMarkSettlementBreached[] = "UPDATE claims SET settlement_breached = 1 WHERE claim_id = ?";
constexpr char kCountByStatus[] = "SELECT status, COUNT(*) FROM claims GROUP BY status";
constexpr char kBordereauSelect[] = "SELECT " CLAIM_COLUMNS " FROM claims";
constexpr char kDecidedFrom[] = "decided_at >= ?";
constexpr char kDecidedBefore[] = "decided_at < ?";
constexpr char kBordereauRows[] =
    "amount_approved_minor <> 0 AND status IN ('APPROVED', 'PARTIALLY_APPROVED', 'SETTLED', 'CLOSED')";

#define INVESTIGATION_COLUMNS                                                                       \
  "investigation_id, claim_id, category, notes, status, flagged_by, investigator, findings,"        \
  " remedial_action, flagged_at, updated_at, closed_at, version"

constexpr char kInsertInvestigation[] =
    "INSERT INTO investigations (" INVESTIGATION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr mysql::VersionedTable kInvestigations{
    .resource = "investigation",
    .key_field = "investigation_id",
    .lock_sql = "SELECT " INVESTIGATION_COLUMNS " FROM investigations WHERE investigation_id = ? FOR UPDATE",
    .update_sql = "UPDATE investigations SET status = ?, investigator = ?, findings = ?, remedial_action = ?,"
                  " updated_at = ?, closed_at = ?, version = ? WHERE investigation_id = ? AND version = ?"};
// One claim's investigations read investigations_by_claim in key order.
constexpr char kListInvestigations[] = "SELECT " INVESTIGATION_COLUMNS " FROM investigations";
constexpr char kListClaimInvestigations[] =
    "SELECT " INVESTIGATION_COLUMNS " FROM investigations FORCE INDEX (investigations_by_claim)";
constexpr char kInvestigationOfClaim[] = "claim_id = ?";
constexpr char kMaybeOpenOnly[] = "(? = 0 OR status <> 'CLOSED')";

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

const std::function<std::optional<ClaimStatus>(std::string_view)> kClaimStatus = ParseClaimStatus;
const std::function<std::optional<InvestigationStatus>(std::string_view)> kInvestigationStatus =
    ParseInvestigationStatus;

// A claim in CLAIM_COLUMNS order.
absl::StatusOr<Claim> ReadClaim(mysql::RowReader& r) {
  Claim c;
  c.claim_id = r.String();
  c.type = r.String();
  c.member_id = r.String();
  c.account_id = r.String();
  c.plan_id = r.String();
  c.benefit_code = r.String();
  c.benefit_category = r.String();
  c.service_date = r.Date();
  c.provider_id = r.String();
  const std::string currency = r.String();
  c.amount_claimed = r.Amount(currency);
  c.amount_approved = r.Amount(currency);
  c.channel = r.String();
  c.diagnosis_codes = SplitLines(r.String());
  c.procedure_codes = SplitLines(r.String());
  c.attachment_refs = SplitLines(r.String());
  c.status = r.Mapped(kClaimStatus);
  for (const std::string& line : SplitLines(r.String())) {
    size_t tab = line.find('\t');
    c.rejection_reasons.push_back(
        {line.substr(0, tab), tab == std::string::npos ? std::string() : line.substr(tab + 1)});
  }
  c.possible_duplicate = r.Bool();
  c.duplicate_of = r.String();
  c.assignee = r.String();
  c.routed_role = r.String();
  c.submitted_by = r.String();
  c.submitted_at = r.Timestamp();
  c.updated_at = r.Timestamp();
  c.decided_at = r.OptionalTimestamp();
  c.settled_at = r.OptionalTimestamp();
  c.payment_reference = r.String();
  c.decision_due_at = r.Timestamp();
  c.settlement_due_at = r.OptionalTimestamp();
  c.decision_breached = r.Bool();
  c.settlement_breached = r.Bool();
  c.utilization_ref = r.String();
  c.utilization_seq = r.Int();
  c.copay_basis_points = r.Int();
  if (std::optional<int64_t> cap = r.OptionalInt64()) c.per_visit_cap = Money(currency, *cap);
  c.payable = r.Amount(currency);
  c.original_claim_id = r.OptionalString().value_or("");
  c.clawback_refs = absl::StrSplit(r.String(), ' ', absl::SkipEmpty());
  c.clawback_rest_minor = r.Int64();
  c.clawback_given = r.Int();
  c.clawback_rest_recorded = r.Bool();
  c.version = r.Int64();
  CAREOPS_RETURN_IF_ERROR(r.status());
  return c;
}

// Every column after claim_id and before version, in CLAIM_COLUMNS order.
void BindClaimFields(Statement& st, const Claim& c) {
  std::vector<std::string> reasons;
  for (const auto& r : c.rejection_reasons) reasons.push_back(absl::StrCat(OneLine(r.code), "\t", OneLine(r.message)));
  st.Add(c.type).Add(c.member_id).Add(c.account_id).Add(c.plan_id).Add(c.benefit_code).Add(c.benefit_category);
  st.Add(c.service_date).Add(c.provider_id).Add(c.amount_claimed.currency()).Add(c.amount_claimed.minor());
  st.Add(c.amount_approved.minor()).Add(c.channel).Add(JoinLines(c.diagnosis_codes));
  st.Add(JoinLines(c.procedure_codes)).Add(JoinLines(c.attachment_refs)).Add(ClaimStatusName(c.status));
  st.Add(JoinLines(reasons)).Add(c.possible_duplicate).Add(c.duplicate_of).Add(c.assignee).Add(c.routed_role);
  st.Add(c.submitted_by).Add(c.submitted_at).Add(c.updated_at).Add(c.decided_at).Add(c.settled_at);
  st.Add(c.payment_reference).Add(c.decision_due_at).Add(c.settlement_due_at).Add(c.decision_breached);
  st.Add(c.settlement_breached).Add(c.utilization_ref).Add(c.utilization_seq).Add(c.copay_basis_points);
  st.Add(c.per_visit_cap ? mysql::SqlValue(c.per_visit_cap->minor()) : mysql::SqlValue()).Add(c.payable.minor());
  st.Add(c.original_claim_id.empty() ? mysql::SqlValue() : mysql::SqlValue(c.original_claim_id));
  st.Add(absl::StrJoin(c.clawback_refs, " ")).Add(c.clawback_rest_minor).Add(c.clawback_given);
  st.Add(c.clawback_rest_recorded);
}

absl::StatusOr<Investigation> ReadInvestigation(mysql::RowReader& r) {
  Investigation v;
  v.investigation_id = r.String();
  v.claim_id = r.String();
  v.category = r.String();
  v.notes = r.String();
  v.status = r.Mapped(kInvestigationStatus);
  v.flagged_by = r.String();
  v.investigator = r.String();
  v.findings = r.String();
  v.remedial_action = r.String();
  v.flagged_at = r.Timestamp();
  v.updated_at = r.Timestamp();
  v.closed_at = r.OptionalTimestamp();
  v.version = r.Int64();
  CAREOPS_RETURN_IF_ERROR(r.status());
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

absl::Status InsertHistory(mysql::Connection& conn, const std::string& claim_id, const ClaimEvent& e) {
  Statement st(conn, kInsertHistory);
  st.Add(claim_id).Add(e.at).Add(e.action).Add(ClaimStatusName(e.from_status)).Add(ClaimStatusName(e.to_status));
  st.Add(e.actor_user).Add(e.actor_role).Add(e.reason.substr(0, 1024)).Add(e.details.substr(0, 1024));
  return st.Update().status();
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

// The fingerprint of `c`, in FINGERPRINT_KEY order.
void AddFingerprint(Statement& st, const Claim& c) {
  st.Add(c.member_id).Add(c.benefit_code).Add(c.provider_id).Add(c.service_date);
  st.Add(c.amount_claimed.currency()).Add(c.amount_claimed.minor());
}

// The earliest live claim with the fingerprint of `incoming`, after taking the
// fingerprint's lock for the rest of the transaction.
absl::StatusOr<std::optional<std::string>> FindLiveTwin(mysql::Connection& conn, const Claim& incoming) {
  Statement lock(conn, kLockFingerprint);
  AddFingerprint(lock, incoming);
  lock.Add(incoming.claim_id);
  CAREOPS_RETURN_IF_ERROR(lock.Update().status());
  Statement twins(conn, kLiveTwins);
  AddFingerprint(twins, incoming);
  CAREOPS_ASSIGN_OR_RETURN(std::vector<Claim> candidates, mysql::QueryAll<Claim>(twins, ReadClaim));
  return FindLikelyDuplicate(incoming, candidates);
}

// The claim as `change` leaves it, written at `now` (its version comes from the write).
Claim Next(const Claim& current, const ClaimChange& change, absl::Time now) {
  Claim next = change.claim;
  next.claim_id = current.claim_id;
  next.updated_at = now;
  return next;
}

// What goes with every claim write, on the same transaction: its history
// line, its audit entry and its outbox intent.
absl::Status RecordChange(mysql::Connection& conn, const Mutation& m, const std::string& claim_id,
                          const ClaimChange& change) {
  CAREOPS_RETURN_IF_ERROR(InsertHistory(conn, claim_id, change.event));
  AuditClaim(conn, m, claim_id, change.event);
  if (change.intent) outbox::Enqueue(conn, m, *change.intent);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<bool> MysqlClaimStore::AnswerIfReplayed(const Mutation& m) { return mysql::AnswerIfReplayed(pool_, m); }

absl::Status MysqlClaimStore::CreateClaim(const MutationContext& m, Claim claim, const ClaimEvent& event,
                                          const RenderClaim& render) {
  return mysql::RunMutation(pool_, m, [&](mysql::Connection& conn) -> absl::Status {
    Claim c = claim;
    if (c.status != ClaimStatus::kRejected) {
      CAREOPS_ASSIGN_OR_RETURN(std::optional<std::string> original, FindLiveTwin(conn, c));
      if (original) {
        c.possible_duplicate = true;
        c.duplicate_of = *original;
      }
    }
    Statement st(conn, kInsertClaim);
    st.Add(c.claim_id);
    BindClaimFields(st, c);
    st.Add(c.version);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    ClaimEvent e = event;
    if (c.possible_duplicate) {
      e.details = absl::StrCat(e.details, e.details.empty() ? "" : "; ", "possible duplicate of ", c.duplicate_of);
    }
    CAREOPS_RETURN_IF_ERROR(InsertHistory(conn, c.claim_id, e));
    AuditClaim(conn, m, c.claim_id, e);
    render(c);
    return absl::OkStatus();
  });
}

absl::StatusOr<Claim> MysqlClaimStore::GetClaim(const std::string& claim_id) {
  std::vector<Claim> rows;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kSelectClaim);
    st.Add(claim_id);
    CAREOPS_ASSIGN_OR_RETURN(rows, mysql::QueryAll<Claim>(st, ReadClaim));
    return absl::OkStatus();
  }));
  if (rows.empty()) return mysql::NoSuchRow(kClaims, claim_id);
  return std::move(rows.front());
}

absl::Status MysqlClaimStore::CreateAdjustment(const Mutation& m, const std::string& original_id,
                                               const AdjustmentMaker& make, const RenderClaim& render) {
  return mysql::RunMutation(pool_, m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(mysql::LockedRow<Claim> original,
                             mysql::LockVersioned<Claim>(conn, kClaims, original_id, ReadClaim));
    Statement list(conn, kSelectAdjustments);
    list.Add(original_id);
    CAREOPS_ASSIGN_OR_RETURN(std::vector<Claim> adjustments, mysql::QueryAll<Claim>(list, ReadClaim));
    CAREOPS_ASSIGN_OR_RETURN(auto made, make(original.row, adjustments));
    const Claim& c = made.first;
    Statement st(conn, kInsertClaim);
    st.Add(c.claim_id);
    BindClaimFields(st, c);
    st.Add(c.version);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    CAREOPS_RETURN_IF_ERROR(InsertHistory(conn, c.claim_id, made.second));
    AuditClaim(conn, m, c.claim_id, made.second);
    render(c);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Claim>> MysqlClaimStore::ListAdjustments(const std::string& original_id) {
  std::vector<Claim> rows;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kSelectAdjustments);
    st.Add(original_id);
    CAREOPS_ASSIGN_OR_RETURN(rows, mysql::QueryAll<Claim>(st, ReadClaim));
    return absl::OkStatus();
  }));
  return rows;
}

absl::StatusOr<mysql::KeysetPage<Claim>> MysqlClaimStore::ListClaims(const ClaimFilter& f, const PageRequest& page) {
  auto given = [](const std::string& v) { return v.empty() ? std::optional<std::string>() : v; };
  const std::optional<std::string> status =
      f.status ? std::optional<std::string>(ClaimStatusName(*f.status)) : std::nullopt;
  const std::optional<std::string> member = given(f.member_id), account = given(f.account_id),
                                   assignee = given(f.assignee), channel = given(f.channel),
                                   routed_role = given(f.routed_role);
  struct Lead {
    const char* select;
    const char* clause;
    const std::optional<std::string>* value;
  };
  // The most selective filter given leads.
  const Lead leads[] = {{kListClaimsByMember, kMemberIs, &member},
                        {kListClaimsByAccount, kAccountIs, &account},
                        {kListClaimsByAssignee, kAssigneeIs, &assignee},
                        {kListClaimsByRoutedRole, kRoutedRoleIs, &routed_role},
                        {kListClaimsByStatus, kStatusIs, &status},
                        {kListClaimsByChannel, kChannelIs, &channel}};
  const Lead* lead = nullptr;
  for (const Lead& l : leads) {
    if (l.value->has_value()) {
      lead = &l;
      break;
    }
  }
  mysql::KeysetQuery q(lead ? lead->select : kListClaimsAll, "claim_id");
  if (lead) q.Where(lead->clause, *lead->value);
  q.Where(kMaybeStatus, status)
      .Where(kMaybeAssignee, assignee)
      .Where(kMaybeMember, member)
      .Where(kMaybeAccount, account)
      .Where(kMaybeChannel, channel)
      .Where(kMaybeRoutedRole, routed_role)
      .Where(kMaybeBreached, f.breached_only)
      .Where(kMaybeSubmittedFrom, f.submitted_from)
      .Where(kMaybeSubmittedBefore, f.submitted_before);
  return q.Fetch<Claim>(pool_, page, ReadClaim);
}

absl::Status MysqlClaimStore::TransitionClaim(const MutationContext& m, const std::string& claim_id,
                                              mysql::ExpectedVersion expected, const ClaimDecider& decide,
                                              const RenderClaim& render) {
  return mysql::RunMutation(pool_, m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<Claim, ClaimChange>(
                       conn, kClaims, claim_id, expected, ReadClaim, decide,
                       [&](Statement& st, const ClaimChange& change) {
                         BindClaimFields(st, Next(change.claim, change, m.now));
                       })));
    CAREOPS_RETURN_IF_ERROR(RecordChange(conn, m, claim_id, done.decision));
    Claim next = Next(done.before, done.decision, m.now);
    next.version = done.version;
    render(next);
    return absl::OkStatus();
  });
}

absl::StatusOr<Claim> MysqlClaimStore::SettleInTransaction(mysql::Connection& conn, const Mutation& m,
                                                           const std::string& claim_id,
                                                           const SettleDecider& decide) {
  // The relay's own follow-up: no client etag, the lock is the check.
  CAREOPS_ASSIGN_OR_RETURN(mysql::LockedRow<Claim> locked, mysql::LockVersioned<Claim>(conn, kClaims, claim_id, ReadClaim));
  CAREOPS_ASSIGN_OR_RETURN(std::optional<ClaimChange> change, decide(locked.row));
  if (!change) return locked.row;
  Claim next = Next(locked.row, *change, m.now);
  CAREOPS_ASSIGN_OR_RETURN(next.version, mysql::WriteVersioned(conn, kClaims, claim_id, locked.version,
                                                               [&](Statement& st) { BindClaimFields(st, next); }));
  CAREOPS_RETURN_IF_ERROR(RecordChange(conn, m, claim_id, *change));
  return next;
}

absl::StatusOr<std::vector<ClaimEvent>> MysqlClaimStore::GetHistory(const std::string& claim_id) {
  std::vector<ClaimEvent> events;
  bool exists = false;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    {
      Statement st(conn, kClaimExists);
      st.Add(claim_id);
      CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
      exists = rows.Next();
    }
    Statement st(conn, kSelectHistory);
    st.Add(claim_id);
    CAREOPS_ASSIGN_OR_RETURN(events, mysql::QueryAll<ClaimEvent>(st, [](mysql::RowReader& r) -> absl::StatusOr<ClaimEvent> {
      ClaimEvent e;
      e.at = r.Timestamp();
      e.action = r.String();
      e.from_status = r.Mapped(kClaimStatus);
      e.to_status = r.Mapped(kClaimStatus);
      e.actor_user = r.String();
      e.actor_role = r.String();
      e.reason = r.String();
      e.details = r.String();
      CAREOPS_RETURN_IF_ERROR(r.status());
      return e;
    }));
    return absl::OkStatus();
  }));
  if (!exists) return mysql::NoSuchRow(kClaims, claim_id);
  return events;
}

absl::StatusOr<BreachScanResult> MysqlClaimStore::MarkBreaches(const BreachScanQuery& q) {
  struct Due {
    BreachMark mark;
    ClaimStatus status;
  };
  const mysql::ReadRow<Due> read = [&](mysql::RowReader& r) -> absl::StatusOr<Due> {
    Due d;
    d.mark.claim_id = r.String();
    d.mark.account_id = r.String();
    d.status = r.Mapped(kClaimStatus);
    const bool decision_marked = r.Bool();
    const absl::Time decision_due = r.Timestamp();
    const bool settlement_marked = r.Bool();
    const std::optional<absl::Time> settlement_due = r.OptionalTimestamp();
    CAREOPS_RETURN_IF_ERROR(r.status());
    d.mark.decision = !decision_marked && decision_due <= q.as_of && AwaitsDecision(d.status);
    d.mark.settlement = !settlement_marked && settlement_due && *settlement_due <= q.as_of && AwaitsSettlement(d.status);
    return d;
  };
  mysql::KeysetQuery query(kOverdueSelect, "claim_id");
  query.Where(kOverdue, q.as_of).Where(kMaybeAccount, q.account_id.empty() ? std::optional<std::string>() : q.account_id);
  if (!q.preview) query.Locking(kClaimRows);
  BreachScanResult result;
  auto scan = [&](mysql::Connection& conn) -> absl::Status {
    result = BreachScanResult();
    CAREOPS_ASSIGN_OR_RETURN(mysql::KeysetPage<Due> page, query.Fetch<Due>(conn, q.page, read));
    result.more = page.more;
    MutationContext m{.caller = q.actor, .method = "RunBreachScan", .request_id = "", .now = q.now};
    for (const Due& d : page.items) {
      result.claims.push_back(d.mark);
      result.decision_breaches += d.mark.decision;
      result.settlement_breaches += d.mark.settlement;
      if (q.preview) continue;
      const std::pair<bool, std::pair<const char*, const char*>> stages[] = {
          {d.mark.decision, {kMarkDecisionBreached, kEventDecisionBreach}},
          {d.mark.settlement, {kMarkSettlementBreached, kEventSettlementBreach}}};
      for (const auto& [missed, stage] : stages) {
        if (!missed) continue;
        Statement mark(conn, stage.first);
        mark.Add(d.mark.claim_id);
        CAREOPS_RETURN_IF_ERROR(mark.Update().status());
        // Dated when the scan made it, so the history stays in time order; the
        // claim's due time already says when it became late.
        ClaimEvent e{.at = q.now, .action = stage.second, .from_status = d.status, .to_status = d.status,
                     .actor_user = q.actor.user, .actor_role = q.actor.role, .reason = "TAT target missed",
                     .details = absl::StrCat("scan as of ", ToSqlDatetime(q.as_of))};
        CAREOPS_RETURN_IF_ERROR(InsertHistory(conn, d.mark.claim_id, e));
        AuditClaim(conn, m, d.mark.claim_id, e);
      }
    }
    return absl::OkStatus();
  };
  if (q.preview) {
    CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, scan));
  } else {
    CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, scan));
  }
  return result;
}

absl::StatusOr<std::map<ClaimStatus, int64_t>> MysqlClaimStore::CountByStatus() {
  std::map<ClaimStatus, int64_t> out;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    Statement st(conn, kCountByStatus);
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    while (rows.Next()) {
      mysql::RowReader& r = rows.row();
      const std::string name = r.String();
      const int64_t count = r.Int64();
      CAREOPS_RETURN_IF_ERROR(r.status());
      if (auto s = ParseClaimStatus(name)) out[*s] = count;
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
  mysql::KeysetQuery query(kBordereauSelect, "claim_id");
  query.Where(kDecidedFrom, q.from).Where(kDecidedBefore, q.until).Where(kBordereauRows);
  query.Where(kMaybeAccount, q.account_id.empty() ? std::optional<std::string>() : q.account_id);
  PageRequest page{.after_id = "", .limit = kBordereauPageSize};
  for (;;) {
    CAREOPS_ASSIGN_OR_RETURN(mysql::KeysetPage<Claim> claims, query.Fetch<Claim>(pool_, page, ReadClaim));
    for (const Claim& c : claims.items) CAREOPS_RETURN_IF_ERROR(row(c));
    if (!claims.more) return absl::OkStatus();
    page.after_id = claims.items.back().claim_id;
  }
}

absl::Status MysqlClaimStore::CreateInvestigation(const MutationContext& m, const Investigation& v,
                                                  const RenderInvestigation& render) {
  return mysql::RunMutation(pool_, m, [&](mysql::Connection& conn) -> absl::Status {
    ClaimStatus claim_status;
    {
      Statement st(conn, kClaimExists);
      st.Add(v.claim_id);
      CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
      if (!rows.Next()) return mysql::NoSuchRow(kClaims, v.claim_id);
      claim_status = rows.row().Mapped(kClaimStatus);
      CAREOPS_RETURN_IF_ERROR(rows.row().status());
    }
    Statement st(conn, kInsertInvestigation);
    st.Add(v.investigation_id).Add(v.claim_id).Add(v.category).Add(v.notes).Add(InvestigationStatusName(v.status));
    st.Add(v.flagged_by).Add(v.investigator).Add(v.findings).Add(v.remedial_action).Add(v.flagged_at);
    st.Add(v.updated_at).Add(v.closed_at).Add(v.version);
    CAREOPS_RETURN_IF_ERROR(st.Update().status());
    // The claim's own history shows it was flagged.
    ClaimEvent e{.at = m.now, .action = kEventFlagNonConformance, .from_status = claim_status,
                 .to_status = claim_status, .actor_user = m.caller.user, .actor_role = m.caller.role,
                 .reason = v.notes.substr(0, 1024),
                 .details = absl::StrCat(v.category, "; investigation ", v.investigation_id)};
    CAREOPS_RETURN_IF_ERROR(InsertHistory(conn, v.claim_id, e));
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
                                                      mysql::ExpectedVersion expected,
                                                      const InvestigationDecider& decide,
                                                      const RenderInvestigation& render) {
  return mysql::RunMutation(pool_, m, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(
        auto done, (mysql::UpdateVersioned<Investigation, InvestigationChange>(
                       conn, kInvestigations, investigation_id, expected, ReadInvestigation, decide,
                       [&](Statement& st, const InvestigationChange& change) {
                         const Investigation& next = change.investigation;
                         st.Add(InvestigationStatusName(next.status)).Add(next.investigator).Add(next.findings);
                         st.Add(next.remedial_action).Add(m.now).Add(next.closed_at);
                       })));
    Investigation next = done.decision.investigation;
    next.version = done.version;
    next.updated_at = m.now;
    mysql::AppendAudit(conn, {.at = m.now,
                              .actor = m.caller,
                              .action = absl::StrCat("investigation.", done.decision.action),
                              .resource_type = "investigation",
                              .resource_id = investigation_id,
                              .reason = "",
                              .details_json = DetailsJson({{"from", InvestigationStatusName(done.before.status)},
                                                           {"to", InvestigationStatusName(next.status)}}),
                              .request_id = m.request_id});
    render(next);
    return absl::OkStatus();
  });
}

absl::StatusOr<mysql::KeysetPage<Investigation>> MysqlClaimStore::ListInvestigations(bool open_only,
                                                                                     const std::string& claim_id,
                                                                                     const PageRequest& page) {
  mysql::KeysetQuery q(claim_id.empty() ? kListInvestigations : kListClaimInvestigations, "investigation_id");
  q.WhereIf(!claim_id.empty(), kInvestigationOfClaim, claim_id).Where(kMaybeOpenOnly, open_only);
  return q.Fetch<Investigation>(pool_, page, ReadInvestigation);
}

}  // namespace careops::claims
