// The membership KPIs on /metrics.
//
//   careops_membership_members{status}                      gauge, from the database
//   careops_membership_accounts{type,status}                gauge, from the database
//   careops_membership_movements_total{type,outcome}        requested | applied | rejected
//   careops_membership_movement_tat_seconds{type}           request to decision (histogram)
//   careops_membership_movement_tat_breaches_total{type}    decided after the TAT due time
//   careops_membership_eligibility_checks_total{outcome}    eligible | ineligible
//   careops_membership_movements_overdue{type}              gauge: PENDING past due, from the database
//
// Counter and histogram series for every type and outcome exist from the start
// at zero. The gauges are set by Refresh() from MembershipStore::Count(): once at start
// and then by a background job, so they are right after a restart and agree
// across replicas. Every label value comes from an enum through EnumLabel()
// (membership_rules.h: the enum codec's short name, lower-cased), never from an id.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "careops/membership/v1/membership.pb.h"
#include "common/business_days.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/membership/membership_store.h"

namespace careops::membership {

class MembershipMetrics {
 public:
  // `calendar` says which business day an instant is (accounts and members are
  // counted by the status in force that day).
  MembershipMetrics(prometheus::Registry& registry, BusinessCalendar calendar);

  // Reads the member and account counts (by the status in force on the
  // business day of `now`) and the overdue-movement counts as of `now`, and sets
  // the gauges (zero for absent ones).
  absl::Status Refresh(MembershipStore& store, absl::Time now);

  void MovementRequested(v1::MovementType type);
  // A movement decided now, `tat` after it was requested.
  void MovementDecided(v1::MovementType type, bool applied, absl::Duration tat, bool tat_met);
  void EligibilityChecked(bool eligible);

 private:
  const BusinessCalendar calendar_;
  prometheus::Family<prometheus::Gauge>& members_;
  prometheus::Family<prometheus::Gauge>& accounts_;
  prometheus::Family<prometheus::Gauge>& overdue_;
  prometheus::Family<prometheus::Counter>& movements_;
  prometheus::Family<prometheus::Histogram>& movement_tat_;
  prometheus::Family<prometheus::Counter>& movement_breaches_;
  prometheus::Family<prometheus::Counter>& eligibility_checks_;
};

}  // namespace careops::membership
