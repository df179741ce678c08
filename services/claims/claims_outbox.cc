#include "services/claims/claims_outbox.h"

#include "absl/strings/str_cat.h"
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

ClaimEvent Event(const Claim& from, ClaimStatus to, ClaimAction action, absl::Time now, std::string reason,
                 std::string details) {
  return ClaimEvent{.at = now,
                    .action = std::string(ClaimActionName(action)),
                    .from_status = from.status,
                    .to_status = to,
                    .actor_user = kRelay.user,
                    .actor_role = kRelay.role,
                    .reason = std::move(reason),
                    .details = std::move(details)};
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
  mv1::ReverseUtilizationRequest req;
  req.set_request_id(absl::StrCat("reverse-", claim.utilization_ref));
  req.set_source_reference(claim.utilization_ref);
  req.set_reason(reason.substr(0, 1024));
  return outbox::Intent{.key = KeyFor(claim.claim_id, version),
                        .peer_method = kReverseUtilizationMethod,
                        .request = req.SerializeAsString(),
                        .idempotency_key = req.request_id(),
                        .resource_kind = "claim",
                        .resource_id = claim.claim_id};
}

outbox::Intent ClawbackIntent(const Claim& pending, int64_t version) {
  mv1::ReverseUtilizationRequest req;
  req.set_request_id(absl::StrCat("reverse-", pending.clawback_ref));
  req.set_source_reference(pending.clawback_ref);
  req.set_reason(absl::StrCat("claw-back by adjustment ", pending.claim_id));
  return outbox::Intent{.key = KeyFor(pending.claim_id, version),
                        .peer_method = kReverseUtilizationMethod,
                        .request = req.SerializeAsString(),
                        .idempotency_key = req.request_id(),
                        .resource_kind = "claim",
                        .resource_id = pending.claim_id};
}

absl::StatusOr<std::optional<ClaimChange>> SettleOnAnswer(const Claim& cur, const outbox::IntentRecord& r,
                                                          bool delivered, const outbox::PeerReply& reply,
                                                          absl::Time now, const TatTargets& tat,
                                                          ClaimsMetrics* metrics) {
  const bool record = r.intent.peer_method == kRecordUtilizationMethod;
  // A claw-back's give-back: a reversal that an approval, not a reopening, waits on.
  // Its key names the version the approval wrote: once the give-back is
  // settled the claim (one version on) waits on the rest instead.
  const bool clawback = !record && cur.status == ClaimStatus::kApprovalPending && !cur.clawback_ref.empty() &&
                        r.intent.key == KeyFor(cur.claim_id, cur.version);
  const ClaimStatus waiting = record || clawback ? ClaimStatus::kApprovalPending : ClaimStatus::kReopenPending;
  const std::string ref = record ? ReferenceOf<mv1::RecordUtilizationRequest>(r)
                                 : ReferenceOf<mv1::ReverseUtilizationRequest>(r);
  // Only the claim still waiting on this very intent is settled; anything else
  // is left alone.
  const std::string& awaited = clawback ? cur.clawback_ref : cur.utilization_ref;
  if (cur.status != waiting || ref.empty() || awaited != ref) return std::optional<ClaimChange>();
  if (clawback && delivered && cur.clawback_rest_minor > 0) {
    // Given back; the rest of that record is recorded again under the
    // adjustment's reference, and the claim waits on that.
    Claim rest = cur;
    rest.amount_approved = Money(cur.amount_claimed.currency(), cur.clawback_rest_minor);
    ClaimChange change{cur, ClaimEvent{.at = now,
                                       .action = kEventClawbackGivenBack,
                                       .from_status = cur.status,
                                       .to_status = cur.status,
                                       .actor_user = kRelay.user,
                                       .actor_role = kRelay.role,
                                       .reason = "",
                                       .details = absl::StrCat("utilisation ", cur.clawback_ref,
                                                               " given back in membership; ",
                                                               rest.amount_approved.ToString(), " to be recorded as ",
                                                               cur.utilization_ref)}};
    change.intent = RecordUtilizationIntent(rest, cur.version + 1);
    return std::optional<ClaimChange>(std::move(change));
  }
  const ClaimAction action = record || clawback
                                 ? (delivered ? ClaimAction::kConfirmApproval : ClaimAction::kRefuseApproval)
                                 : (delivered ? ClaimAction::kConfirmReopen : ClaimAction::kRefuseReopen);
  CAREOPS_ASSIGN_OR_RETURN(ClaimStatus to, NextStatus(cur, action));
  ClaimChange change{cur, Event(cur, to, action, now, delivered ? "" : Refusal(reply), "")};
  Claim& c = change.claim;
  c.status = to;
  switch (action) {
    case ClaimAction::kConfirmApproval: {
      change.event.details = absl::StrCat("approved ", cur.amount_approved.ToString(), "; utilisation ",
                                          clawback ? cur.clawback_ref : cur.utilization_ref,
                                          clawback ? " given back" : " recorded", " in membership");
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
      break;
    }
    case ClaimAction::kRefuseApproval:
      change.event.details = absl::StrCat("membership refused utilisation ", cur.utilization_ref, " of ",
                                          cur.amount_approved.ToString());
      c.amount_approved = Money(cur.amount_claimed.currency(), 0);
      c.utilization_ref.clear();  // utilization_seq stays: the next approval uses a new reference
      if (clawback) {
        // Nothing was given back.
        change.event.details = absl::StrCat("membership refused to give back utilisation ", cur.clawback_ref);
        c.clawback_ref.clear();
        c.clawback_rest_minor = 0;
      } else if (!cur.clawback_ref.empty()) {
        change.event.details += absl::StrCat("; utilisation ", cur.clawback_ref,
                                             " stays given back until the adjustment is approved again");
      }
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
