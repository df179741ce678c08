#include "services/claims/claims_outbox.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "careops/membership/v1/membership.pb.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "services/claims/claims_service.h"

namespace careops::claims {
namespace {

namespace mv1 = ::careops::membership::v1;

// Who settles a claim after membership answered: the relay, for the service.
const Principal kRelay{"outbox-relay", "system", "claims"};

std::string KeyFor(const std::string& claim_id, int64_t version) {
  return absl::StrCat("claim/", claim_id, "/", version);
}

// A history entry written by the relay; `action` a ClaimActionName or one of
// kOtherClaimEvents.
ClaimEvent Event(const Claim& from, ClaimStatus to, std::string action, absl::Time now, std::string reason,
                 std::string details) {
  return ClaimEvent{.at = now,
                    .action = std::move(action),
                    .from_status = from.status,
                    .to_status = to,
                    .actor_user = kRelay.user,
                    .actor_role = kRelay.role,
                    .reason = std::move(reason),
                    .details = std::move(details)};
}

ClaimEvent Event(const Claim& from, ClaimStatus to, ClaimAction action, absl::Time now, std::string reason,
                 std::string details) {
  return Event(from, to, std::string(ClaimActionName(action)), now, std::move(reason), std::move(details));
}

// The intent that gives back the record membership holds under `ref` for the
// claim `claim_id`, stored as version `version`.
outbox::Intent GiveBackIntent(const std::string& claim_id, const std::string& ref, int64_t version,
                              const std::string& reason) {
  mv1::ReverseUtilizationRequest req;
  req.set_request_id(absl::StrCat("reverse-", ref));
  req.set_source_reference(ref);
  req.set_reason(reason.substr(0, 1024));
  return outbox::Intent{.key = KeyFor(claim_id, version),
                        .peer_method = kReverseUtilizationMethod,
                        .request = req.SerializeAsString(),
                        .idempotency_key = req.request_id(),
                        .resource_kind = "claim",
                        .resource_id = claim_id};
}

// Membership's refusal as the history shows it: its message without our prefix.
std::string Refusal(const outbox::PeerReply& reply) { return std::string(reply.status.message()).substr(0, 1024); }

// The source_reference an intent's request carries ("" when unreadable).
template <typename Request>
std::string ReferenceOf(const outbox::IntentRecord& r) {
  Request req;
  return req.ParseFromString(r.intent.request) ? req.source_reference() : "";
}

using Settle = std::function<absl::StatusOr<std::optional<ClaimChange>>(const Claim&, const outbox::IntentRecord&,
                                                                         const outbox::PeerReply&, absl::Time)>;

// A completion handler that settles the intent's claim with `settle` and
// stores the settled claim as the intent's result.
outbox::CompletionHandler Completion(MysqlClaimStore& store, Settle settle) {
  return [&store, settle = std::move(settle)](mysql::Connection& conn, const outbox::IntentRecord& r,
                                              const outbox::PeerReply& reply,
                                              absl::Time now) -> absl::StatusOr<std::string> {
    Mutation m{.caller = kRelay, .method = "OutboxCompletion", .request_id = r.request_id, .now = now};
    CAREOPS_ASSIGN_OR_RETURN(Claim settled,
                             store.SettleInTransaction(conn, m, r.intent.resource_id, [&](const Claim& current) {
                               return settle(current, r, reply, now);
                             }));
    return ToProto(settled).SerializeAsString();
  };
}

}  // namespace

std::string IntentKeyFor(const v1::Claim& claim) {
  if (claim.status() != v1::CLAIM_STATUS_APPROVAL_PENDING && claim.status() != v1::CLAIM_STATUS_REOPEN_PENDING) {
    return "";
  }
  int64_t version = 0;
  if (!ParseInt(claim.etag(), &version)) return "";
  return KeyFor(claim.claim_id(), version);
}

outbox::Intent RecordUtilizationIntent(const Claim& pending, int64_t version) {
  mv1::RecordUtilizationRequest req;
  req.set_request_id(absl::StrCat("util-", pending.utilization_ref));
  req.set_member_id(pending.member_id);
  req.set_benefit_code(pending.benefit_code);
  *req.mutable_amount() = careops::ToProto(pending.amount_approved);
  *req.mutable_service_date() = careops::ToProto(pending.service_date);
  req.set_source_reference(pending.utilization_ref);
  return outbox::Intent{.key = KeyFor(pending.claim_id, version),
                        .peer_method = kRecordUtilizationMethod,
                        .request = req.SerializeAsString(),
                        .idempotency_key = req.request_id(),
                        .resource_kind = "claim",
                        .resource_id = pending.claim_id};
}

outbox::Intent ReverseUtilizationIntent(const Claim& claim, int64_t version, const std::string& reason) {
  return GiveBackIntent(claim.claim_id, claim.utilization_ref, version, reason);
}

std::optional<outbox::Intent> ClawbackIntent(const Claim& pending, int64_t version) {
  switch (NextClawbackStep(pending)) {
    case ClawbackStep::kRecordRest: {
      Claim rest = pending;
      rest.amount_approved = Money(pending.amount_claimed.currency(), pending.clawback_rest_minor);
      return RecordUtilizationIntent(rest, version);
    }
    case ClawbackStep::kGiveBack:
      return GiveBackIntent(pending.claim_id, pending.clawback_refs[pending.clawback_given], version,
                            absl::StrCat("claw-back by adjustment ", pending.claim_id));
    case ClawbackStep::kDone: break;
  }
  return std::nullopt;
}

namespace {

// What a claw-back's answer `r` settles (claim_rules.h NextClawbackStep): the
// record of its rest, the give-back of its next record, or the give-back of its
// own rest that undoes it after a refused give-back.
enum class ClawbackAnswer { kNone, kRest, kGiveBack, kUndoRest };

ClawbackAnswer ClawbackAnswerOf(const Claim& cur, const outbox::IntentRecord& r) {
  // Only the intent the claim waits on now: each step is keyed by the version it wrote.
  if (!IsClawback(cur) || cur.status != ClaimStatus::kApprovalPending ||
      r.intent.key != KeyFor(cur.claim_id, cur.version)) {
    return ClawbackAnswer::kNone;
  }
  if (r.intent.peer_method == kRecordUtilizationMethod) {
    return ReferenceOf<mv1::RecordUtilizationRequest>(r) == cur.utilization_ref && !cur.utilization_ref.empty()
               ? ClawbackAnswer::kRest
               : ClawbackAnswer::kNone;
  }
  const std::string ref = ReferenceOf<mv1::ReverseUtilizationRequest>(r);
  if (ref.empty()) return ClawbackAnswer::kNone;
  if (cur.clawback_given < static_cast<int>(cur.clawback_refs.size()) && ref == cur.clawback_refs[cur.clawback_given]) {
    return ClawbackAnswer::kGiveBack;
  }
  if (cur.clawback_rest_recorded && ref == cur.utilization_ref) return ClawbackAnswer::kUndoRest;
  return ClawbackAnswer::kNone;
}

// The membership reference the answer is about.
const std::string& AnsweredRef(const Claim& cur, ClawbackAnswer answer) {
  return answer == ClawbackAnswer::kGiveBack ? cur.clawback_refs[cur.clawback_given] : cur.utilization_ref;
}

// Back in review with nothing of the claw-back in membership.
void ForgetClawback(Claim& c) {
  c.amount_approved = Money(c.amount_claimed.currency(), 0);
  c.utilization_ref.clear();  // utilization_seq stays: the next approval uses a new reference
  c.clawback_refs.clear();
  c.clawback_rest_minor = 0;
  c.clawback_given = 0;
  c.clawback_rest_recorded = false;
}

// The confirmed approval of any claim: stamps the decision and counts the KPIs.
ClaimChange ConfirmApproval(const Claim& cur, ClaimStatus to, absl::Time now, const TatTargets& tat,
                            ClaimsMetrics* metrics, std::string details) {
  ClaimChange change{cur, Event(cur, to, ClaimAction::kConfirmApproval, now, "", std::move(details))};
  Claim& c = change.claim;
  c.status = to;
  const bool late = StampDecision(c, now);
  c.settlement_due_at = tat.SettlementDue(now);
  c.settlement_breached = false;
  // The KPIs count here: this is where the decision takes effect.
  if (metrics != nullptr) {
    metrics->Decided(to);
    metrics->Turnaround("decision", now - c.submitted_at);
    if (late) metrics->Breaches("decision", 1);
    if (!c.amount_approved.is_negative()) metrics->ApprovedAmount(c.amount_approved);
  }
  return change;
}

// A step of the claw-back done (kRest or kGiveBack delivered): the next step's
// intent, or the confirmation once every step is done.
absl::StatusOr<ClaimChange> ClawbackStepDone(const Claim& cur, ClawbackAnswer answer, absl::Time now,
                                             const TatTargets& tat, ClaimsMetrics* metrics) {
  const bool rest = answer == ClawbackAnswer::kRest;
  Claim next = cur;
  if (rest) {
    next.clawback_rest_recorded = true;
  } else {
    ++next.clawback_given;
  }
  const std::string done =
      rest ? absl::StrCat(Money(cur.amount_claimed.currency(), cur.clawback_rest_minor).ToString(),
                          " recorded in membership as ", cur.utilization_ref)
           : absl::StrCat("utilisation ", AnsweredRef(cur, answer), " given back in membership");
  if (std::optional<outbox::Intent> intent = ClawbackIntent(next, cur.version + 1)) {
    ClaimChange change{next, Event(cur, cur.status, rest ? kEventClawbackRestRecorded : kEventClawbackGivenBack,
                                   now, "", done)};
    change.intent = std::move(intent);
    return change;
  }
  CAREOPS_ASSIGN_OR_RETURN(ClaimStatus to, NextStatus(next, ClaimAction::kConfirmApproval));
  return ConfirmApproval(
      next, to, now, tat, metrics,
      absl::StrCat("approved ", cur.amount_approved.ToString(), "; ", done, "; every record of the claw-back (",
                   absl::StrJoin(cur.clawback_refs, ", "), ") given back",
                   cur.clawback_rest_minor > 0 ? absl::StrCat(", the rest recorded as ", cur.utilization_ref) : ""));
}

// A step of the claw-back refused. The first give-back refused after the rest
// was recorded: the rest is given back too, so that nothing of the claw-back
// stays. Otherwise back in review, with the claw-back forgotten when membership
// holds nothing of it, or kept as it is when it holds part (a claw-back from
// before V006 gave its record back first; or a give-back refused after others,
// which membership's contract never does), so approving again finishes it.
ClaimChange ClawbackRefused(const Claim& cur, ClawbackAnswer answer, const outbox::PeerReply& reply,
                            absl::Time now) {
  const std::string why = Refusal(reply);
  const std::string& ref = AnsweredRef(cur, answer);
  if (answer == ClawbackAnswer::kGiveBack && cur.clawback_given == 0 && cur.clawback_rest_recorded) {
    ClaimChange change{cur, Event(cur, cur.status, kEventClawbackGiveBackRefused, now, why,
                                  absl::StrCat("membership refused to give back utilisation ", ref, "; the rest ",
                                               cur.utilization_ref, " to be given back"))};
    change.intent = ReverseUtilizationIntent(cur, cur.version + 1,
                                             absl::StrCat("claw-back by adjustment ", cur.claim_id, " undone"));
    return change;
  }
  const std::string step =
      answer == ClawbackAnswer::kRest
          ? absl::StrCat("membership refused to record the rest ",
                         Money(cur.amount_claimed.currency(), cur.clawback_rest_minor).ToString(), " as ", ref)
          : absl::StrCat("membership refused to give back utilisation ", ref);
  ClaimChange change{cur, Event(cur, ClaimStatus::kInReview, ClaimAction::kRefuseApproval, now, why, "")};
  Claim& c = change.claim;
  c.status = ClaimStatus::kInReview;
  c.amount_approved = Money(cur.amount_claimed.currency(), 0);
  if (!ClawbackPartlyHeld(cur)) {
    change.event.details = absl::StrCat(step, "; nothing of the claw-back was applied");
    ForgetClawback(c);
    return change;
  }
  change.event.details =
      absl::StrCat(step, "; membership holds ", cur.clawback_given, " of ", cur.clawback_refs.size(),
                   " record(s) given back",
                   cur.clawback_rest_recorded ? absl::StrCat(" and the rest as ", cur.utilization_ref) : "",
                   " until the adjustment is approved again");
  if (!cur.clawback_rest_recorded) c.utilization_ref.clear();
  return change;
}

// The rest given back again after a refused give-back: the claw-back is undone.
ClaimChange ClawbackUndone(const Claim& cur, absl::Time now) {
  ClaimChange change{cur, Event(cur, ClaimStatus::kInReview, ClaimAction::kRefuseApproval, now,
                                "membership refused to give back a record of the claw-back",
                                absl::StrCat("the rest ", cur.utilization_ref, " (",
                                             Money(cur.amount_claimed.currency(), cur.clawback_rest_minor).ToString(),
                                             ") given back again; nothing of the claw-back is applied"))};
  change.claim.status = ClaimStatus::kInReview;
  ForgetClawback(change.claim);
  return change;
}

// A claw-back's answer (claims_outbox.h).
absl::StatusOr<std::optional<ClaimChange>> SettleClawback(const Claim& cur, ClawbackAnswer answer, bool delivered,
                                                          const outbox::PeerReply& reply, absl::Time now,
                                                          const TatTargets& tat, ClaimsMetrics* metrics) {
  if (!delivered) return std::optional<ClaimChange>(ClawbackRefused(cur, answer, reply, now));
  if (answer == ClawbackAnswer::kUndoRest) return std::optional<ClaimChange>(ClawbackUndone(cur, now));
  CAREOPS_ASSIGN_OR_RETURN(ClaimChange change, ClawbackStepDone(cur, answer, now, tat, metrics));
  return std::optional<ClaimChange>(std::move(change));
}

}  // namespace

absl::StatusOr<std::optional<ClaimChange>> SettleOnAnswer(const Claim& cur, const outbox::IntentRecord& r,
                                                          bool delivered, const outbox::PeerReply& reply,
                                                          absl::Time now, const TatTargets& tat,
                                                          ClaimsMetrics* metrics) {
  if (IsClawback(cur)) {
    const ClawbackAnswer answer = ClawbackAnswerOf(cur, r);
    if (answer == ClawbackAnswer::kNone) return std::optional<ClaimChange>();
    return SettleClawback(cur, answer, delivered, reply, now, tat, metrics);
  }
  const bool record = r.intent.peer_method == kRecordUtilizationMethod;
  const ClaimStatus waiting = record ? ClaimStatus::kApprovalPending : ClaimStatus::kReopenPending;
  const std::string ref = record ? ReferenceOf<mv1::RecordUtilizationRequest>(r)
                                 : ReferenceOf<mv1::ReverseUtilizationRequest>(r);
  // Only the claim still waiting on this very intent is settled; anything else
  // is left alone.
  if (cur.status != waiting || ref.empty() || cur.utilization_ref != ref) return std::optional<ClaimChange>();
  const ClaimAction action = record ? (delivered ? ClaimAction::kConfirmApproval : ClaimAction::kRefuseApproval)
                                    : (delivered ? ClaimAction::kConfirmReopen : ClaimAction::kRefuseReopen);
  CAREOPS_ASSIGN_OR_RETURN(ClaimStatus to, NextStatus(cur, action));
  if (action == ClaimAction::kConfirmApproval) {
    return std::optional<ClaimChange>(ConfirmApproval(
        cur, to, now, tat, metrics,
        absl::StrCat("approved ", cur.amount_approved.ToString(), "; utilisation ", cur.utilization_ref,
                     " recorded in membership")));
  }
  ClaimChange change{cur, Event(cur, to, action, now, delivered ? "" : Refusal(reply), "")};
  Claim& c = change.claim;
  c.status = to;
  switch (action) {
    case ClaimAction::kRefuseApproval:
      change.event.details = absl::StrCat("membership refused utilisation ", cur.utilization_ref, " of ",
                                          cur.amount_approved.ToString());
      c.amount_approved = Money(cur.amount_claimed.currency(), 0);
      c.utilization_ref.clear();  // utilization_seq stays: the next approval uses a new reference
      break;
    case ClaimAction::kConfirmReopen:
      change.event.details = absl::StrCat("utilisation ", cur.utilization_ref, " given back in membership");
      c.amount_approved = Money(cur.amount_claimed.currency(), 0);
      c.decided_at.reset();
      c.settlement_due_at.reset();
      c.settlement_breached = false;
      c.utilization_ref.clear();
      c.rejection_reasons.clear();
      // A reopened claim gets a fresh decision target.
      c.decision_due_at = tat.DecisionDue(now);
      c.decision_breached = false;
      break;
    default:  // kRefuseReopen: the approval stands as it was
      change.event.details = absl::StrCat("membership refused to give back utilisation ", cur.utilization_ref,
                                          "; the approval stands");
      break;
  }
  return std::optional<ClaimChange>(std::move(change));
}

void RegisterClaimCompletions(outbox::OutboxRelay& relay, MysqlClaimStore& store, ClaimsMetrics& metrics,
                              TatTargets tat) {
  auto completion = [&store, &metrics, tat](bool delivered) {
    return Completion(store, [&metrics, tat, delivered](const Claim& cur, const outbox::IntentRecord& r,
                                                        const outbox::PeerReply& reply, absl::Time now) {
      return SettleOnAnswer(cur, r, delivered, reply, now, tat, &metrics);
    });
  };
  relay.Register({.peer_method = kRecordUtilizationMethod,
                  .also_delivered = {},
                  .on_delivered = completion(true),
                  .on_refused = completion(false)});
  // NOT_FOUND: nothing was recorded under the reference, so nothing to give back.
  relay.Register({.peer_method = kReverseUtilizationMethod,
                  .also_delivered = {absl::StatusCode::kNotFound},
                  .on_delivered = completion(true),
                  .on_refused = completion(false)});
}

}  // namespace careops::claims
