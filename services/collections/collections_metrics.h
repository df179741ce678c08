// The collections state on /metrics, every series a gauge read from the
// database by Refresh() (a background job), so it is right after a restart and
// the same on every replica. Label values are bounded: bucket names come from
// the configured buckets, methods from the contract's enum, currencies from
// ISO-4217; never ids.
//
//   careops_collections_past_due_accounts{bucket}                 ledgers in each bucket (latest aging run)
//   careops_collections_past_due_amount_minor{bucket,currency}    their outstanding, as aged
//   careops_collections_payments_posted_total{method}             payments posted and not reversed
//   careops_collections_failed_debits_total{reason}               failed debits and bounced checks ingested
//   careops_collections_notices_total{rung,channel}               notices issued (every status)
//   careops_collections_noc_lapsed_awaiting_cancellation          lapsed NoCs membership has not cancelled yet
//   careops_collections_unposted_payments                         deposit lines still OPEN (no ledger yet)
//   careops_collections_reconciliation_differences{kind}          differences in the latest reconciliation report
#pragma once

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/collections/collections_rules.h"
#include "services/collections/collections_store.h"

namespace careops::collections {

class CollectionsMetrics {
 public:
  CollectionsMetrics(prometheus::Registry& registry, const AgingBuckets& buckets);

  // Reads the aging runs' latest buckets on or before `today` and the posted
  // payments; every configured bucket and every method is set, zero included.
  absl::Status Refresh(CollectionsStore& store, absl::CivilDay today);

 private:
  const AgingBuckets& buckets_;
  prometheus::Family<prometheus::Gauge>& accounts_;
  prometheus::Family<prometheus::Gauge>& amount_;
  prometheus::Family<prometheus::Gauge>& payments_;
  prometheus::Family<prometheus::Gauge>& returns_;
  prometheus::Family<prometheus::Gauge>& notices_;
  prometheus::Gauge& lapsed_waiting_;
  prometheus::Gauge& unposted_;
  prometheus::Family<prometheus::Gauge>& differences_;
};

}  // namespace careops::collections
