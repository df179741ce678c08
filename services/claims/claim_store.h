// Where claims, their history and investigations are kept.
//
// Every mutation is exactly-once by the caller's request_id and runs in one
// transaction with its history line and audit entry, so the data, the history
// and the audit trail never disagree. A transition locks the claim's row, hands
// the current claim to the caller's `decide` function (which applies the rules;
// it never calls another service, the transaction is open) and stores what it
// returns only when the etag the client sent still matches; an error from
// `decide` rolls everything back. A change that needs membership carries an
// outbox intent (common/outbox.h), written in the same transaction.
//
// Status contract: NOT_FOUND for an unknown id, ABORTED for a stale etag or a
// lost race (retry after reading again), UNAVAILABLE when the database is down,
// whatever `decide` returned otherwise.
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/mutation.h"
#include "common/mysql/keyset.h"
#include "common/mysql/versioned.h"
#include "common/outbox.h"
#include "services/claims/claim.h"

namespace careops::claims {

// Who changes what, when, and under which request_id (common/mutation.h).
using Mutation = MutationContext;

// A transition's outcome: the claim as it is to be stored, its history line and,
// when membership must follow, the intent to deliver after the commit.
struct ClaimChange {
  Claim claim;
  ClaimEvent event;
  std::optional<outbox::Intent> intent;
};
using ClaimDecider = std::function<absl::StatusOr<ClaimChange>(const Claim& current)>;
using RenderClaim = std::function<void(const Claim&)>;

struct InvestigationChange {
  Investigation investigation;
  std::string action;  // "open", "record_findings", "close"
};
using InvestigationDecider = std::function<absl::StatusOr<InvestigationChange>(const Investigation& current)>;
using RenderInvestigation = std::function<void(const Investigation&)>;

struct ClaimFilter {
  std::optional<ClaimStatus> status;
  std::string assignee, member_id, account_id, channel, routed_role;  // "" = any
  bool breached_only = false;
  std::optional<absl::Time> submitted_from, submitted_before;
};

// One page of a breach scan (RunBreachScan, and the scheduled scan page by page).
struct BreachScanQuery {
  absl::Time as_of;        // a target due at or before this is missed
  absl::Time now;          // when the marks are made: their history lines are dated now
  Principal actor;         // who runs the scan, for the audit trail
  std::string account_id;  // "" = every account
  bool preview = false;    // read only: which claims would be marked, nothing is
  PageRequest page;        // claim_id order
};

struct BreachMark {
  std::string claim_id, account_id;
  bool decision = false;    // the decision target was missed
  bool settlement = false;  // the settlement target was missed
};

struct BreachScanResult {
  int decision_breaches = 0;  // marked (or, in a preview, to be marked) on this page
  int settlement_breaches = 0;
  std::vector<BreachMark> claims;
  bool more = false;  // claims after this page may be due too
};

struct BordereauQuery {
  absl::Time from, until;  // decision time in [from, until)
  std::string account_id;  // "" = all
};

class ClaimStore {
 public:
  virtual ~ClaimStore() = default;

  // True, with *m.response filled, when m's request_id already holds the answer
  // to this same request (mysql::AnswerIfReplayed): the adapter asks before it
  // calls membership, so a replay never reaches another service.
  virtual absl::StatusOr<bool> AnswerIfReplayed(const Mutation& m) = 0;

  // Stores a new claim and its "submit" history line. Before inserting, the
  // claim is compared with the member's live claims for the same benefit and
  // service date (FindLikelyDuplicate) and flagged when one matches.
  virtual absl::Status CreateClaim(const Mutation& m, Claim claim, const ClaimEvent& event,
                                   const RenderClaim& render) = 0;

  virtual absl::StatusOr<Claim> GetClaim(const std::string& claim_id) = 0;

  // Stores a new ADJUSTMENT of `original_id` (claim_rules.h, Adjustments): locks
  // the original's row for the rest of the transaction, so an original's
  // adjustments are submitted one at a time, reads its adjustments, and stores
  // what `make(original, adjustments)` returns with its "submit" history line
  // (an error from `make` stores nothing). NOT_FOUND for an unknown original.
  using AdjustmentMaker =
      std::function<absl::StatusOr<std::pair<Claim, ClaimEvent>>(const Claim& original,
                                                                 const std::vector<Claim>& adjustments)>;
  virtual absl::Status CreateAdjustment(const Mutation& m, const std::string& original_id, const AdjustmentMaker& make,
                                        const RenderClaim& render) = 0;

  // The adjustments of `original_id`, in claim_id order.
  virtual absl::StatusOr<std::vector<Claim>> ListAdjustments(const std::string& original_id) = 0;

  // One page of claims after page.after_id, in id order (common/mysql/keyset.h).
  virtual absl::StatusOr<mysql::KeysetPage<Claim>> ListClaims(const ClaimFilter& filter, const PageRequest& page) = 0;

  // The versioned update (common/mysql/versioned.h): locks the claim, checks
  // `expected` (ABORTED when stale), runs `decide` on it and stores the change
  // with the next version. `decide` may run more than once when the
  // transaction is retried after a deadlock.
  virtual absl::Status TransitionClaim(const Mutation& m, const std::string& claim_id, mysql::ExpectedVersion expected,
                                       const ClaimDecider& decide, const RenderClaim& render) = 0;

  // Oldest first; NOT_FOUND when the claim does not exist.
  virtual absl::StatusOr<std::vector<ClaimEvent>> GetHistory(const std::string& claim_id) = 0;

  // One page of claims whose decision or settlement was due at or before
  // q.as_of and is not marked yet: marks each, with a history line dated q.now
  // and an audit entry naming q.actor, in one transaction; with q.preview it
  // only reads. Rows are claimed with FOR UPDATE SKIP LOCKED, so replicas
  // scanning at once never mark one twice.
  virtual absl::StatusOr<BreachScanResult> MarkBreaches(const BreachScanQuery& q) = 0;

  // Claims per status, for the careops_claims_open gauge.
  virtual absl::StatusOr<std::map<ClaimStatus, int64_t>> CountByStatus() = 0;

  // Calls `row` for every bordereau claim (approved in the period, approved
  // amount > 0, now APPROVED, PARTIALLY_APPROVED, SETTLED or CLOSED) in id
  // order. Stops at the first error `row` returns.
  //
  // Served in keyset pages: each page is read on a pooled connection that is
  // released before `row` sees the page's claims, so a slow `row` (a stalled
  // stream reader) holds neither a connection nor a transaction. The price is
  // consistency per page rather than per stream: every claim appears at most
  // once and in id order, but a claim that changes while the scan runs may
  // appear with its newer state, and one that enters or leaves the criteria
  // mid-scan may be missing or present depending on whether its page had been
  // read.
  virtual absl::Status ScanBordereau(const BordereauQuery& query,
                                     const std::function<absl::Status(const Claim&)>& row) = 0;

  // Flags a non-conformance: NOT_FOUND when the claim does not exist.
  virtual absl::Status CreateInvestigation(const Mutation& m, const Investigation& investigation,
                                           const RenderInvestigation& render) = 0;
  virtual absl::Status TransitionInvestigation(const Mutation& m, const std::string& investigation_id,
                                               mysql::ExpectedVersion expected, const InvestigationDecider& decide,
                                               const RenderInvestigation& render) = 0;
  virtual absl::StatusOr<mysql::KeysetPage<Investigation>> ListInvestigations(bool open_only,
                                                                              const std::string& claim_id,
                                                                              const PageRequest& page) = 0;
};

}  // namespace careops::claims
