// The claims service's domain types: a claim, its history and its
// non-conformance investigations, as the rules and the store see them. The gRPC
// adapter converts to and from careops.claims.v1 at the edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/money.h"

namespace careops::claims {

// Stored in the database by name (ClaimStatusName), so the numbering is free.
enum class ClaimStatus {
  kSubmitted,
  kAssigned,
  kInReview,
  kPendingInfo,
  kApproved,
  kPartiallyApproved,
  kDenied,
  kSettled,
  kClosed,
  kRejected,
  // Waiting for membership (an outbox intent): approval recording utilisation,
  // reopening giving it back. Nothing else may happen to the claim meanwhile.
  kApprovalPending,
  kReopenPending,
};
inline constexpr ClaimStatus kAllClaimStatuses[] = {
    ClaimStatus::kSubmitted, ClaimStatus::kAssigned,          ClaimStatus::kInReview,
    ClaimStatus::kPendingInfo, ClaimStatus::kApproved,        ClaimStatus::kPartiallyApproved,
    ClaimStatus::kDenied,    ClaimStatus::kSettled,           ClaimStatus::kClosed,
    ClaimStatus::kRejected,  ClaimStatus::kApprovalPending,   ClaimStatus::kReopenPending};

// "SUBMITTED", "IN_REVIEW", ...
std::string_view ClaimStatusName(ClaimStatus s);
std::optional<ClaimStatus> ParseClaimStatus(std::string_view name);

struct RejectionReason {
  std::string code;
  std::string message;
};

struct Claim {
  std::string claim_id;
  std::string type;     // "CLAIM" | "PRE_AUTHORIZATION" | "ADJUSTMENT"
  std::string member_id, account_id, plan_id;
  std::string benefit_code, benefit_category;
  absl::CivilDay service_date;
  std::string provider_id;
  Money amount_claimed;
  Money amount_approved;  // same currency, 0 until approved: the plan's share approved
  // The plan's terms at screening and what they make the claim pay in full
  // (claim_rules.h PayableAmount).
  int copay_basis_points = 0;
  std::optional<Money> per_visit_cap;
  Money payable;
  std::string channel;    // "PORTAL" | "HOTLINE" | "EMAIL" | "PROVIDER"
  std::vector<std::string> diagnosis_codes, procedure_codes, attachment_refs;
  ClaimStatus status = ClaimStatus::kSubmitted;
  std::vector<RejectionReason> rejection_reasons;
  bool possible_duplicate = false;
  std::string duplicate_of;
  std::string assignee;
  std::string routed_role;
  std::string submitted_by;
  absl::Time submitted_at, updated_at;
  std::optional<absl::Time> decided_at, settled_at;
  std::string payment_reference;
  absl::Time decision_due_at;
  std::optional<absl::Time> settlement_due_at;
  bool decision_breached = false;
  bool settlement_breached = false;
  // Utilisation recorded (or, while APPROVAL_PENDING, being recorded) in
  // membership for the current approval ("" when none); the first approval uses
  // the claim id, a re-approval after a reopen claim_id/N.
  std::string utilization_ref;
  int utilization_seq = 0;
  // ADJUSTMENT only (claim_rules.h, Adjustments): the settled claim it corrects;
  // for a claw-back, the records it gives back in membership (in that order),
  // the rest it records again under utilization_ref, and how far membership has
  // got: the first clawback_given records are given back, and the rest is
  // recorded when clawback_rest_recorded. Together they say exactly what of the
  // claw-back membership holds at any moment (claims_outbox.h).
  std::string original_claim_id;
  std::vector<std::string> clawback_refs;
  int64_t clawback_rest_minor = 0;
  int clawback_given = 0;
  bool clawback_rest_recorded = false;
  int64_t version = 1;  // the etag
};

// Claim::type values.
inline constexpr char kTypeClaim[] = "CLAIM";
inline constexpr char kTypeAdjustment[] = "ADJUSTMENT";
inline bool IsAdjustment(const Claim& c) { return c.type == kTypeAdjustment; }

// One line of GetClaimHistory.
struct ClaimEvent {
  absl::Time at;
  std::string action;  // "submit", "approve", ...
  ClaimStatus from_status, to_status;
  std::string actor_user, actor_role;
  std::string reason;
  std::string details;
};

enum class InvestigationStatus { kFlagged, kOpen, kFindingsRecorded, kClosed };
std::string_view InvestigationStatusName(InvestigationStatus s);
std::optional<InvestigationStatus> ParseInvestigationStatus(std::string_view name);

struct Investigation {
  std::string investigation_id;
  std::string claim_id;
  std::string category;  // "DOCUMENTATION", "CODING", ...
  std::string notes;
  InvestigationStatus status = InvestigationStatus::kFlagged;
  std::string flagged_by, investigator;
  std::string findings, remedial_action;
  absl::Time flagged_at, updated_at;
  std::optional<absl::Time> closed_at;
  int64_t version = 1;
};

}  // namespace careops::claims
