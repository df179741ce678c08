// Claims' intents to membership, on the common outbox (common/outbox.h).
//
// Approving a claim records its utilisation in membership, and reopening an
// approved, unsettled claim gives it back. Neither is called while the claim's
// transaction is open: the transition stores the claim APPROVAL_PENDING or
// REOPEN_PENDING together with the intent built here, and the relay delivers it
// after the commit. The completion handlers registered here then settle the
// claim in the relay's completion transaction:
//
//   RecordUtilization   delivered -> APPROVED / PARTIALLY_APPROVED ("approval_confirmed")
//                       refused   -> IN_REVIEW, membership's reason in the history ("approval_refused")
//   ReverseUtilization  delivered (or NOT_FOUND: nothing was recorded) -> IN_REVIEW ("reopen_confirmed")
//                       refused   -> APPROVED / PARTIALLY_APPROVED as before ("reopen_refused")
//
// A claw-back (a negative ADJUSTMENT, APPROVAL_PENDING) lands in membership
// whole or not at all. Membership can refuse only a record, never the give-back
// of a record it holds, so the rest is recorded first and the records are given
// back after (claim_rules.h NextClawbackStep); the claim's clawback_given and
// clawback_rest_recorded say at each step what membership holds:
//   rest recorded                -> APPROVAL_PENDING, give back the first record ("clawback_rest_recorded")
//   rest refused                 -> IN_REVIEW, nothing applied ("approval_refused")
//   a record given back (or NOT_FOUND: membership does not hold it either way)
//                                -> APPROVAL_PENDING with the next one ("clawback_given_back"),
//                                   APPROVED after the last ("approval_confirmed")
//   the first give-back refused  -> APPROVAL_PENDING, the rest given back again
//                                   ("clawback_give_back_refused"), then IN_REVIEW with
//                                   nothing applied ("approval_refused")
//   a later give-back refused (membership's contract never does) -> IN_REVIEW with
//                                   what membership holds kept; it is not denied, and
//                                   approving it again finishes the claw-back
// The price of the order: until the records are given back the rest needs room
// in the member's annual limit, so a member with less room left than the rest
// has the claw-back refused, nothing applied (claims.proto ApproveClaim says
// what to do then).
// A claw-back from before V006 gave its record back first: it records its rest
// after, and a refusal leaves it IN_REVIEW with the record given back, as then.
//
// Each intent is keyed by the claim and the version its pending transition wrote
// (IntentKeyFor), so the adapter finds it again from the claim it answered with,
// also on a replay; membership de-duplicates redeliveries by the utilisation
// reference (source_reference) the request carries.
// Each completion stores the settled claim (careops.claims.v1.Claim) as the
// intent's result, so a replayed request gets the answer the first call got.
#pragma once

#include <optional>
#include <string>

#include "careops/claims/v1/claims.pb.h"
#include "common/outbox.h"
#include "common/outbox_relay.h"
#include "services/claims/claim.h"
#include "services/claims/claim_rules.h"
#include "services/claims/claims_metrics.h"
#include "services/claims/mysql_claim_store.h"

namespace careops::claims {

inline constexpr char kRecordUtilizationMethod[] = "/careops.membership.v1.MembershipService/RecordUtilization";
inline constexpr char kReverseUtilizationMethod[] = "/careops.membership.v1.MembershipService/ReverseUtilization";

// The key of the intent a pending claim (as answered to the caller) waits on;
// "" when the claim waits on nothing.
std::string IntentKeyFor(const v1::Claim& claim);

// The intent that records the utilisation of `pending` (APPROVAL_PENDING, with
// amount_approved and utilization_ref set), stored as version `version`.
outbox::Intent RecordUtilizationIntent(const Claim& pending, int64_t version);
// The intent that gives back the utilisation `claim` recorded under
// utilization_ref, for the REOPEN_PENDING claim stored as version `version`.
outbox::Intent ReverseUtilizationIntent(const Claim& claim, int64_t version, const std::string& reason);
// The intent of the next step of the claw-back `pending` (APPROVAL_PENDING,
// clawback_refs set; claim_rules.h NextClawbackStep), stored as version
// `version`; nullopt when every step is done. A step's request is the same
// every time, so a re-approval is a replay in membership.
std::optional<outbox::Intent> ClawbackIntent(const Claim& pending, int64_t version);

// What membership's answer to the intent `r` does to the claim `current`, pure:
// `delivered` is the relay's verdict (false: a definite refusal, `reply` says
// why). nullopt when the claim no longer waits on this intent (left alone).
// Counts the decision KPIs in `metrics` (optional) for a confirmed approval.
absl::StatusOr<std::optional<ClaimChange>> SettleOnAnswer(const Claim& current, const outbox::IntentRecord& r,
                                                          bool delivered, const outbox::PeerReply& reply,
                                                          absl::Time now, const TatTargets& tat,
                                                          ClaimsMetrics* metrics);

// Registers the completion handlers for both methods on `relay`.
void RegisterClaimCompletions(outbox::OutboxRelay& relay, MysqlClaimStore& store, ClaimsMetrics& metrics,
                              TatTargets tat);

}  // namespace careops::claims
