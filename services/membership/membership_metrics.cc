#include "services/membership/membership_metrics.h"

#include <string>

#include "common/metrics.h"
#include "services/membership/membership_rules.h"

namespace careops::membership {
namespace {

constexpr v1::MovementType kMovementTypes[] = {v1::MOVEMENT_TYPE_ENROLLMENT, v1::MOVEMENT_TYPE_TERMINATION,
                                               v1::MOVEMENT_TYPE_PLAN_CHANGE, v1::MOVEMENT_TYPE_REINSTATEMENT,
                                               v1::MOVEMENT_TYPE_DETAIL_CHANGE};
constexpr const char* kMovementOutcomes[] = {"requested", "applied", "rejected"};
constexpr const char* kEligibilityOutcomes[] = {"eligible", "ineligible"};
}  // namespace

MembershipMetrics::MembershipMetrics(prometheus::Registry& registry, BusinessCalendar calendar)
    : calendar_(std::move(calendar)),
      members_(prometheus::BuildGauge()
                   .Name("careops_membership_members")
                   .Help("Members by record status, read from the database")
                   .Register(registry)),
      accounts_(prometheus::BuildGauge()
                    .Name("careops_membership_accounts")
                    .Help("Client accounts by type and status, read from the database")
                    .Register(registry)),
      overdue_(prometheus::BuildGauge()
                   .Name("careops_membership_movements_overdue")
                   .Help("Pending movements past their TAT due time, read from the database")
                   .Register(registry)),
      movements_(prometheus::BuildCounter()
                     .Name("careops_membership_movements_total")
                     .Help("Membership movements by type and outcome (requested, applied, rejected)")
                     .Register(registry)),
      movement_tat_(prometheus::BuildHistogram()
                        .Name("careops_membership_movement_tat_seconds")
                        .Help("Time from a movement's request to its decision")
                        .Register(registry)),
      movement_breaches_(prometheus::BuildCounter()
                             .Name("careops_membership_movement_tat_breaches_total")
                             .Help("Movements decided after their TAT due time")
                             .Register(registry)),
      eligibility_checks_(prometheus::BuildCounter()
                              .Name("careops_membership_eligibility_checks_total")
                              .Help("Eligibility checks by outcome (eligible, ineligible)")
                              .Register(registry)) {
  // Every series exists from the start at zero, so rates and dashboards see a
  // type before its first event (the label sets are closed).
  for (auto type : kMovementTypes) {
    const std::string t = EnumLabel(type);
    for (const char* outcome : kMovementOutcomes) movements_.Add({{"type", t}, {"outcome", outcome}});
    movement_tat_.Add({{"type", t}}, TurnaroundBuckets());
    movement_breaches_.Add({{"type", t}});
  }
  for (const char* outcome : kEligibilityOutcomes) eligibility_checks_.Add({{"outcome", outcome}});
}

absl::Status MembershipMetrics::Refresh(MembershipStore& store, absl::Time now) {
  auto counts = store.Count(now, calendar_.DayOf(now));
  if (!counts.ok()) return counts.status();
  for (auto status : {v1::MEMBER_STATUS_ACTIVE, v1::MEMBER_STATUS_TERMINATED}) {
    auto it = counts->members.find(status);
    members_.Add({{"status", EnumLabel(status)}}).Set(it == counts->members.end() ? 0 : it->second);
  }
  for (auto type : {v1::CLIENT_ACCOUNT_TYPE_DIRECT_CLIENT, v1::CLIENT_ACCOUNT_TYPE_CORPORATE,
                    v1::CLIENT_ACCOUNT_TYPE_BROKER, v1::CLIENT_ACCOUNT_TYPE_AGENT}) {
    for (auto status : {v1::CLIENT_ACCOUNT_STATUS_ACTIVE, v1::CLIENT_ACCOUNT_STATUS_SUSPENDED,
                        v1::CLIENT_ACCOUNT_STATUS_CANCELLED}) {
      auto it = counts->accounts.find({type, status});
      accounts_.Add({{"type", EnumLabel(type)}, {"status", EnumLabel(status)}})
          .Set(it == counts->accounts.end() ? 0 : it->second);
    }
  }
  for (auto type : kMovementTypes) {
    auto it = counts->overdue_movements.find(type);
    overdue_.Add({{"type", EnumLabel(type)}}).Set(it == counts->overdue_movements.end() ? 0 : it->second);
  }
  return absl::OkStatus();
}

void MembershipMetrics::MovementRequested(v1::MovementType type) {
  movements_.Add({{"type", EnumLabel(type)}, {"outcome", "requested"}}).Increment();
}

void MembershipMetrics::MovementDecided(v1::MovementType type, bool applied, absl::Duration tat, bool tat_met) {
  const std::string t = EnumLabel(type);
  movements_.Add({{"type", t}, {"outcome", applied ? "applied" : "rejected"}}).Increment();
  movement_tat_.Add({{"type", t}}, TurnaroundBuckets()).Observe(absl::ToDoubleSeconds(tat));
  if (!tat_met) movement_breaches_.Add({{"type", t}}).Increment();
}

void MembershipMetrics::EligibilityChecked(bool eligible) {
  eligibility_checks_.Add({{"outcome", eligible ? "eligible" : "ineligible"}}).Increment();
}

}  // namespace careops::membership
