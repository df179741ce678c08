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
// A claw-back (a negative ADJUSTMENT, APPROVAL_PENDING) first gives back a
// record (ReverseUtilization of its clawback_ref), then records the rest:
//   give-back delivered, a rest to record -> APPROVAL_PENDING with the
//             RecordUtilization intent of the rest ("clawback_given_back")
//   give-back delivered, no rest          -> APPROVED ("approval_confirmed")
//   give-back refused                     -> IN_REVIEW ("approval_refused")
//   rest recorded / refused               -> as RecordUtilization above (a
//             refused rest leaves the record given back: clawback_ref stays, and
//             approving the adjustment again records the rest again)
//
// Each intent is keyed by the claim and the version its pending transition wrote
// (IntentKeyFor), so the adapter finds it again from the claim it answered with,
// also on a replay; membership de-duplicates redeliveries by the utilisation
// reference (source_reference) the request carries.
// Each completion stores the settled claim (careops.claims.v1.Claim) as the
// intent's result, so a replayed request gets the answer the first call got.
#pragma once

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
// The intent that gives back the record a claw-back `pending` (APPROVAL_PENDING,
// clawback_ref set) takes its amount from, stored as version `version`. The same
// request every time, so a re-approval is a replay in membership.
outbox::Intent ClawbackIntent(const Claim& pending, int64_t version);

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
