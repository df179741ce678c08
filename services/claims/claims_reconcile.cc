// ClaimsServiceImpl::Reconcile: claims' approvals against membership's live
// utilisation (see ReconcileUtilization in claims.proto for the contract).
//
// Membership is read with no claims transaction open. A claim's findings count
// only if the claim is unchanged when read again after membership answered, so
// an approval or reopening racing the scan is never reported or "repaired". A
// repair is a claim transition of its own (claim locked, etag checked): a
// history line, the outbox intent, and for an orphan a utilisation sequence
// moved past the orphan's reference so the claim's next approval never reuses
// it. Repairs are exactly-once by a request_id derived from the reference.
#include <algorithm>
#include <span>

#include "absl/strings/str_cat.h"
#include "careops/membership/v1/membership.pb.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"
#include "services/claims/claims_outbox.h"
#include "services/claims/claims_service.h"

namespace careops::claims {
namespace {

namespace mv1 = ::careops::membership::v1;

constexpr int kPage = 200;

// Whether the money of `c` was decided and stands (it must be counted in membership).
bool CountsAsApproved(const Claim& c) {
  if (c.status == ClaimStatus::kApproved || c.status == ClaimStatus::kPartiallyApproved ||
      c.status == ClaimStatus::kSettled) {
    return true;
  }
  return c.status == ClaimStatus::kClosed && c.settled_at.has_value();
}

// What membership must hold live under c's utilization_ref: its amount approved;
// for a claw-back, the rest it recorded again (claim_rules.h PlanClawback).
Money Recorded(const Claim& c) {
  if (IsClawback(c)) return Money(c.amount_claimed.currency(), c.clawback_rest_minor);
  return c.amount_approved;
}

// Whether c's utilization_ref must be live in membership: an approval that
// stands, or a claw-back's rest that membership holds while the claw-back is
// back in review part-way (claims_outbox.h).
bool MustHold(const Claim& c) {
  if (c.utilization_ref.empty()) return false;
  if (IsClawback(c)) return ClawbackRestHeld(c);
  return CountsAsApproved(c);
}

// Whether a claw-back of the family has given back the record `ref`.
bool GivenBack(const std::vector<Claim>& adjustments, const std::string& ref) {
  return std::any_of(adjustments.begin(), adjustments.end(), [&](const Claim& a) {
    const std::span<const std::string> given = ClawbackGivenBack(a);
    return std::find(given.begin(), given.end(), ref) != given.end();
  });
}

struct Finding {
  v1::UtilizationDifference difference;
  int seq = 0;            // of the reference
  bool repairable = false;
};

}  // namespace

absl::StatusOr<v1::ReconcileUtilizationResponse> ClaimsServiceImpl::Reconcile(absl::Time as_of,
                                                                              const Principal& actor) {
  v1::ReconcileUtilizationResponse out;
  std::map<std::string, int> by_kind;
  PageRequest next{.after_id = "", .limit = kPage};
  for (bool more = true; more;) {
    CAREOPS_ASSIGN_OR_RETURN(mysql::KeysetPage<Claim> page, store_.ListClaims(ClaimFilter{}, next));
    more = page.more;
    if (!page.items.empty()) next.after_id = page.items.back().claim_id;
    for (const Claim& c : page.items) {
      if (c.updated_at > as_of || AwaitsMembership(c.status)) continue;
      out.set_claims_checked(out.claims_checked() + 1);
      const bool approved = MustHold(c);
      std::vector<Finding> findings;
      for (int seq = 1; seq <= std::max(1, c.utilization_seq); ++seq) {
        const std::string ref = UtilizationReference(c.claim_id, seq);
        CAREOPS_ASSIGN_OR_RETURN(std::optional<UtilizationState> held, membership_.GetUtilization(ref));
        const bool live = held && !held->reversed;
        Finding f;
        f.seq = seq;
        v1::UtilizationDifference& d = f.difference;
        if (approved && ref == c.utilization_ref) {
          if (!live) {
            d.set_kind(v1::UTILIZATION_DIFFERENCE_KIND_MISSING);
            f.repairable = !held;  // never recorded; a reversed record stays as it is
          } else if (held->amount != Recorded(c)) {
            d.set_kind(v1::UTILIZATION_DIFFERENCE_KIND_AMOUNT_MISMATCH);
          } else {
            continue;
          }
          *d.mutable_claim_amount() = careops::ToProto(Recorded(c));
        } else if (live) {
          d.set_kind(v1::UTILIZATION_DIFFERENCE_KIND_ORPHANED);
          f.repairable = true;
          *d.mutable_claim_amount() = careops::ToProto(Money(c.amount_claimed.currency(), 0));
        } else {
          continue;
        }
        d.set_claim_id(c.claim_id);
        d.set_utilization_reference(ref);
        *d.mutable_membership_amount() =
            careops::ToProto(live ? held->amount : Money(c.amount_claimed.currency(), 0));
        findings.push_back(std::move(f));
      }
      if (findings.empty()) continue;
      // Changed meanwhile (an approval or reopening in flight): not a difference.
      CAREOPS_ASSIGN_OR_RETURN(Claim now_claim, store_.GetClaim(c.claim_id));
      if (now_claim.version != c.version) continue;
      // A record a claw-back of the family gave back is not missing: the
      // claw-back's own reference holds what is left of it.
      if (CountsAsApproved(c) && (IsAdjustment(c) || c.settled_at.has_value())) {
        CAREOPS_ASSIGN_OR_RETURN(std::vector<Claim> adjustments,
                                 store_.ListAdjustments(IsAdjustment(c) ? c.original_claim_id : c.claim_id));
        std::erase_if(findings, [&](const Finding& f) {
          return f.difference.kind() == v1::UTILIZATION_DIFFERENCE_KIND_MISSING &&
                 GivenBack(adjustments, f.difference.utilization_reference());
        });
      }
      for (Finding& f : findings) {
        v1::UtilizationDifference& d = f.difference;
        d.set_claim_status(ToProto(c).status());
        if (f.repairable) {
          const bool orphan = d.kind() == v1::UTILIZATION_DIFFERENCE_KIND_ORPHANED;
          // Exactly once per reference, whichever run or replica gets there first.
          mv1::ReverseUtilizationRequest key_request;
          key_request.set_source_reference(d.utilization_reference());
          key_request.set_reason(orphan ? "reconcile: orphaned" : "reconcile: missing");
          v1::Claim ignored;
          MutationContext m{.caller = actor,
                            .method = "ReconcileUtilization",
                            .request_id = absl::StrCat("reconcile-", d.utilization_reference()),
                            .request = &key_request,
                            .response = &ignored,
                            .now = TruncateToMicros(clock_.Now())};
          // Repaired only on the version this run read: a claim changed since is
          // looked at again by the next run.
          absl::StatusOr<mysql::ExpectedVersion> read_version =
              mysql::ExpectedVersion::FromEtag(mysql::EtagOf(c.version));
          if (!read_version.ok()) return read_version.status();
          absl::Status repaired = store_.TransitionClaim(
              m, c.claim_id, *read_version,
              [&](const Claim& cur) -> absl::StatusOr<ClaimChange> {
                ClaimChange change{cur, ClaimEvent{.at = m.now,
                                                   .action = kEventReconcileRepair,
                                                   .from_status = cur.status,
                                                   .to_status = cur.status,
                                                   .actor_user = actor.user,
                                                   .actor_role = actor.role,
                                                   .reason = "",
                                                   .details = ""}};
                if (orphan) {
                  change.event.details = absl::StrCat("orphaned utilisation ", d.utilization_reference(),
                                                      " of ", FromProto(d.membership_amount()).ToString(),
                                                      " to be given back in membership");
                  // The next approval must never reuse the orphan's reference.
                  change.claim.utilization_seq = std::max(cur.utilization_seq, f.seq);
                  Claim subject = cur;
                  subject.utilization_ref = d.utilization_reference();
                  change.intent = ReverseUtilizationIntent(subject, cur.version + 1, "reconciliation: orphaned");
                } else {
                  change.event.details = absl::StrCat("missing utilisation ", d.utilization_reference(), " of ",
                                                      cur.amount_approved.ToString(),
                                                      " to be recorded in membership");
                  Claim subject = cur;
                  subject.amount_approved = Recorded(cur);
                  change.intent = RecordUtilizationIntent(subject, cur.version + 1);
                }
                return change;
              },
              [](const Claim&) {});
          // Stale etag or a lost race: reported, repaired by a later run.
          d.set_repair_scheduled(repaired.ok());
        }
        switch (d.kind()) {
          case v1::UTILIZATION_DIFFERENCE_KIND_MISSING: ++by_kind["missing"]; break;
          case v1::UTILIZATION_DIFFERENCE_KIND_AMOUNT_MISMATCH: ++by_kind["amount_mismatch"]; break;
          default: ++by_kind["orphaned"]; break;
        }
        *out.add_differences() = std::move(d);
      }
    }
  }
  metrics_.Reconciled(by_kind);
  return out;
}

}  // namespace careops::claims
