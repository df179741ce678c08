// What the claims service asks membership directly, behind a small interface so
// the claims logic can be tested with a fake: eligibility screening at
// submission and utilisation reads for reconciliation (reads, made with no
// transaction open). Utilisation is recorded
// and given back through the outbox instead (claims_outbox.h), never by a call
// from inside a claims transaction.
//
// Status contract of every method (the gRPC implementation maps membership's
// answers to these, so callers can pass them straight to their own caller):
//   UNAVAILABLE          membership is down or did not answer within the deadline;
//                        nothing was changed there that a retry would repeat
//   FAILED_PRECONDITION  membership refused (limit exhausted, not eligible, ...),
//                        the message says why
//   INTERNAL             anything else (a bug or a misconfiguration)
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "common/money.h"
#include "common/peer.h"

namespace careops::claims {

// Claims asks for the member's standing and the plan's terms on the service
// date, without an amount: what a claim pays is judged here (claim_rules.h
// PayableAmount), so a claim above the per-visit cap or the remaining limit is
// accepted for what the plan covers instead of being rejected outright.
struct EligibilityQuery {
  std::string member_id;
  std::string benefit_code;
  absl::CivilDay service_date;
};

struct EligibilityReason {
  std::string code;  // membership's EligibilityReasonCode name, e.g. "ANNUAL_LIMIT_EXHAUSTED"
  std::string message;
};

struct Eligibility {
  bool eligible = false;
  std::vector<EligibilityReason> reasons;
  std::string account_id, plan_id, benefit_category;
  // The plan's terms for the benefit ("" / unset when the member or the
  // benefit is unknown).
  std::string plan_currency;
  int copay_basis_points = 0;
  std::optional<Money> per_visit_cap;    // unset: no cap
  std::optional<Money> remaining_limit;  // this year, before the claim; unset: unlimited
};

// What membership holds under a source_reference.
struct UtilizationState {
  Money amount;
  bool reversed = false;
};

class MembershipClient {
 public:
  virtual ~MembershipClient() = default;
  // Eligible or not, with every reason; an unknown member is not eligible
  // (MEMBER_NOT_FOUND), not an error.
  virtual absl::StatusOr<Eligibility> CheckEligibility(const EligibilityQuery& query) = 0;
  // The utilisation recorded under `source_reference`; nullopt when none was.
  virtual absl::StatusOr<std::optional<UtilizationState>> GetUtilization(const std::string& source_reference) = 0;
};

// The gRPC implementation over a PeerChannel whose service config retries
// UNAVAILABLE for the reads.
std::unique_ptr<MembershipClient> NewGrpcMembershipClient(PeerOptions options);

// PeerOptions for membership at `address` with the retry policy above.
PeerOptions MembershipPeerOptions(std::string address, std::string token, absl::Duration deadline);

}  // namespace careops::claims
