// The claims KPIs on /metrics. Label values are bounded: channel, type,
// decision, role, stage, status and currency come from fixed sets, never ids.
//
//   careops_claims_submitted_total{channel,type}
//   careops_claims_decisions_total{decision}            approved | partially_approved | denied | rejected
//   careops_claims_escalations_total{to_role}
//   careops_claims_open{status}                         gauge, read from the database
//   careops_claims_tat_seconds{stage}                   decision | settlement
//   careops_claims_tat_breaches_total{stage}
//   careops_claims_approved_amount_minor_total{currency}
//   careops_claims_reconciliation_differences{kind}     gauge: the last reconciliation's findings
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/claims/claim.h"

namespace careops::claims {

class AuthorityChain;
class ClaimStore;

class ClaimsMetrics {
 public:
  explicit ClaimsMetrics(prometheus::Registry& registry);

  void Submitted(const std::string& channel, const std::string& type);
  // APPROVED, PARTIALLY_APPROVED, DENIED or REJECTED (at screening).
  void Decided(ClaimStatus decision);
  void Escalated(const std::string& to_role);
  void Turnaround(const std::string& stage, absl::Duration d);
  void Breaches(const std::string& stage, int count);
  void ApprovedAmount(const Money& amount);

  // Creates at zero the series the configured chain can produce: escalations to
  // every role above the lowest, approved amounts in every currency it limits.
  void DeclareChain(const AuthorityChain& chain);

  // Sets careops_claims_open{status} from the database (every status but CLOSED,
  // zero included), so the gauge is right after a restart and on every replica.
  absl::Status RefreshOpenGauge(ClaimStore& store);

  // Sets careops_claims_reconciliation_differences{kind} (missing,
  // amount_mismatch, orphaned; zero included) from the last reconciliation.
  void Reconciled(const std::map<std::string, int>& by_kind);

 private:
  prometheus::Family<prometheus::Counter>& submitted_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& escalations_;
  prometheus::Family<prometheus::Gauge>& open_;
  prometheus::Family<prometheus::Histogram>& tat_;
  prometheus::Family<prometheus::Counter>& breaches_;
  prometheus::Family<prometheus::Counter>& approved_amount_;
  prometheus::Family<prometheus::Gauge>& differences_;
};

}  // namespace careops::claims
