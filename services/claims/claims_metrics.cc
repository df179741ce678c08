#include "services/claims/claims_metrics.h"

#include <cctype>

#include "common/metrics.h"
#include "common/status.h"
#include "services/claims/claim_rules.h"
#include "absl/strings/ascii.h"
#include "common/text.h"
#include "services/claims/claim_store.h"

namespace careops::claims {

ClaimsMetrics::ClaimsMetrics(prometheus::Registry& registry)
    : submitted_(prometheus::BuildCounter()
                     .Name("careops_claims_submitted_total")
                     .Help("Claims submitted, by channel and type")
                     .Register(registry)),
      decisions_(prometheus::BuildCounter()
                     .Name("careops_claims_decisions_total")
                     .Help("Claim decisions: approved, partially_approved, denied, rejected (at screening)")
                     .Register(registry)),
      escalations_(prometheus::BuildCounter()
                       .Name("careops_claims_escalations_total")
                       .Help("Claims escalated, by the role they went to")
                       .Register(registry)),
      open_(prometheus::BuildGauge()
                .Name("careops_claims_open")
                .Help("Claims not yet closed, by status (read from the database)")
                .Register(registry)),
      tat_(prometheus::BuildHistogram()
               .Name("careops_claims_tat_seconds")
               .Help("Turn-around time per stage: decision (from submission), settlement (from approval)")
               .Register(registry)),
      breaches_(prometheus::BuildCounter()
                    .Name("careops_claims_tat_breaches_total")
                    .Help("TAT targets missed, by stage")
                    .Register(registry)),
      approved_amount_(prometheus::BuildCounter()
                           .Name("careops_claims_approved_amount_minor_total")
                           .Help("Approved claim amounts in minor units, by currency")
                           .Register(registry)),
      differences_(prometheus::BuildGauge()
                       .Name("careops_claims_reconciliation_differences")
                       .Help("Claims that disagree with membership's utilisation at the last reconciliation, by kind")
                       .Register(registry)) {
  // Every bounded series from the start, so dashboards and alerts see zeros
  // rather than gaps before the first event.
  for (const char* decision : {"approved", "partially_approved", "denied", "rejected"}) {
    decisions_.Add({{"decision", decision}});
  }
  for (const char* stage : {"decision", "settlement"}) {
    breaches_.Add({{"stage", stage}});
    tat_.Add({{"stage", stage}}, TurnaroundBuckets());
  }
}

void ClaimsMetrics::Submitted(const std::string& channel, const std::string& type) {
  submitted_.Add({{"channel", absl::AsciiStrToLower(Abs(channel))}, {"type", absl::AsciiStrToLower(Abs(type))}}).Increment();
}

void ClaimsMetrics::Decided(ClaimStatus decision) {
  decisions_.Add({{"decision", absl::AsciiStrToLower(Abs(ClaimStatusName(decision)))}}).Increment();
}

void ClaimsMetrics::Escalated(const std::string& to_role) { escalations_.Add({{"to_role", to_role}}).Increment(); }

void ClaimsMetrics::Turnaround(const std::string& stage, absl::Duration d) {
  tat_.Add({{"stage", stage}}, TurnaroundBuckets()).Observe(absl::ToDoubleSeconds(d));
}

void ClaimsMetrics::Breaches(const std::string& stage, int count) {
  // Created at zero on first use so the series exists before the first breach.
  auto& counter = breaches_.Add({{"stage", stage}});
  if (count > 0) counter.Increment(count);
}

void ClaimsMetrics::ApprovedAmount(const Money& amount) {
  approved_amount_.Add({{"currency", amount.currency()}}).Increment(static_cast<double>(amount.minor()));
}

void ClaimsMetrics::DeclareChain(const AuthorityChain& chain) {
  for (const AuthorityLevel& level : chain.levels()) {
    if (level.role != chain.lowest_role()) escalations_.Add({{"to_role", level.role}});
    for (const auto& [currency, limit] : level.limits) approved_amount_.Add({{"currency", currency}});
  }
}

absl::Status ClaimsMetrics::RefreshOpenGauge(ClaimStore& store) {
  CAREOPS_ASSIGN_OR_RETURN(auto counts, store.CountByStatus());
  for (ClaimStatus s : kAllClaimStatuses) {
    if (!IsOpen(s)) continue;
    auto it = counts.find(s);
    open_.Add({{"status", absl::AsciiStrToLower(Abs(ClaimStatusName(s)))}}).Set(it == counts.end() ? 0 : static_cast<double>(it->second));
  }
  return absl::OkStatus();
}

void ClaimsMetrics::Reconciled(const std::map<std::string, int>& by_kind) {
  for (const char* kind : {"missing", "amount_mismatch", "orphaned"}) {
    auto it = by_kind.find(kind);
    differences_.Add({{"kind", kind}}).Set(it == by_kind.end() ? 0 : it->second);
  }
}

}  // namespace careops::claims
