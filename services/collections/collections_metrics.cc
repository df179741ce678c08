#include "services/collections/collections_metrics.h"

#include <map>

#include "careops/collections/v1/collections.pb.h"
#include "common/status.h"

namespace careops::collections {
namespace {

// An enum's values without its UNSPECIFIED zero: the bounded label values.
std::vector<const google::protobuf::EnumValueDescriptor*> EnumValues(const google::protobuf::EnumDescriptor* d) {
  std::vector<const google::protobuf::EnumValueDescriptor*> out;
  for (int i = 0; i < d->value_count(); ++i) {
    if (d->value(i)->number() != 0) out.push_back(d->value(i));
  }
  return out;
}

}  // namespace

CollectionsMetrics::CollectionsMetrics(prometheus::Registry& registry, const AgingBuckets& buckets)
    : buckets_(buckets),
      accounts_(prometheus::BuildGauge()
                    .Name("careops_collections_past_due_accounts")
                    .Help("Ledgers in each aging bucket, as the latest aging run put them")
                    .Register(registry)),
      amount_(prometheus::BuildGauge()
                  .Name("careops_collections_past_due_amount_minor")
                  .Help("Outstanding of the ledgers in each aging bucket, in minor units")
                  .Register(registry)),
      payments_(prometheus::BuildGauge()
                    .Name("careops_collections_payments_posted_total")
                    .Help("Payments posted and not reversed or un-applied, by method")
                    .Register(registry)),
      returns_(prometheus::BuildGauge()
                   .Name("careops_collections_failed_debits_total")
                   .Help("Failed auto-debits and bounced checks ingested from the bank, by reason")
                   .Register(registry)),
      notices_(prometheus::BuildGauge()
                   .Name("careops_collections_notices_total")
                   .Help("Notices issued by the dunning ladder, by rung and channel")
                   .Register(registry)),
      lapsed_waiting_(prometheus::BuildGauge()
                          .Name("careops_collections_noc_lapsed_awaiting_cancellation")
                          .Help("Notices of Cancellation whose grace lapsed and whose cancellation membership has "
                                "not confirmed yet")
                          .Register(registry)
                          .Add({})),
      unposted_(prometheus::BuildGauge()
                    .Name("careops_collections_unposted_payments")
                    .Help("Bank deposit lines received without a ledger and not yet posted")
                    .Register(registry)
                    .Add({})),
      differences_(prometheus::BuildGauge()
                       .Name("careops_collections_reconciliation_differences")
                       .Help("Differences in the latest ledger reconciliation report, by kind")
                       .Register(registry)) {}

absl::Status CollectionsMetrics::Refresh(CollectionsStore& store, absl::CivilDay today) {
  CAREOPS_ASSIGN_OR_RETURN(std::vector<AgingReportEntry> entries, store.AgingReport(today));
  CAREOPS_ASSIGN_OR_RETURN(auto by_method, store.PostedPaymentsByMethod());
  std::map<std::string, int64_t> accounts;
  std::map<std::pair<std::string, std::string>, int64_t> amounts;
  for (const Bucket& b : buckets_.buckets()) accounts[b.name] = 0;
  for (const AgingReportEntry& e : entries) {
    accounts[e.bucket] += 1;
    amounts[{e.bucket, e.currency}] += e.outstanding_minor;
  }
  for (const auto& [bucket, n] : accounts) accounts_.Add({{"bucket", bucket}}).Set(static_cast<double>(n));
  for (const auto& [key, minor] : amounts) {
    amount_.Add({{"bucket", key.first}, {"currency", key.second}}).Set(static_cast<double>(minor));
  }
  const auto* methods = v1::PaymentMethod_descriptor();
  for (int i = 0; i < methods->value_count(); ++i) {
    if (methods->value(i)->number() == 0) continue;
    std::string name = methods->value(i)->name().substr(sizeof("PAYMENT_METHOD_") - 1);
    auto it = by_method.find(name);
    payments_.Add({{"method", name}}).Set(it == by_method.end() ? 0.0 : static_cast<double>(it->second));
  }
  CAREOPS_ASSIGN_OR_RETURN(auto by_reason, store.BankReturnsByReason());
  const auto* reasons = v1::ReturnReason_descriptor();
  for (int i = 0; i < reasons->value_count(); ++i) {
    if (reasons->value(i)->number() == 0) continue;
    std::string name = reasons->value(i)->name().substr(sizeof("RETURN_REASON_") - 1);
    auto it = by_reason.find(name);
    returns_.Add({{"reason", name}}).Set(it == by_reason.end() ? 0.0 : static_cast<double>(it->second));
  }
  CAREOPS_ASSIGN_OR_RETURN(auto by_rung, store.NoticesByRungAndChannel());
  for (const auto* rung : EnumValues(v1::NoticeRung_descriptor())) {
    for (const auto* channel : EnumValues(v1::Channel_descriptor())) {
      auto it = by_rung.find({rung->name().substr(sizeof("NOTICE_RUNG_") - 1),
                              channel->name().substr(sizeof("CHANNEL_") - 1)});
      notices_
          .Add({{"rung", rung->name().substr(sizeof("NOTICE_RUNG_") - 1)},
                {"channel", channel->name().substr(sizeof("CHANNEL_") - 1)}})
          .Set(it == by_rung.end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  CAREOPS_ASSIGN_OR_RETURN(int64_t lapsed, store.LapsesAwaitingCancellation());
  lapsed_waiting_.Set(static_cast<double>(lapsed));
  CAREOPS_ASSIGN_OR_RETURN(int64_t unposted, store.OpenUnpostedCount());
  unposted_.Set(static_cast<double>(unposted));
  CAREOPS_ASSIGN_OR_RETURN(auto by_kind, store.LatestDifferencesByKind());
  for (const auto* kind : EnumValues(v1::DifferenceKind_descriptor())) {
    const std::string name = kind->name().substr(sizeof("DIFFERENCE_KIND_") - 1);
    auto it = by_kind.find(name);
    differences_.Add({{"kind", name}}).Set(it == by_kind.end() ? 0.0 : static_cast<double>(it->second));
  }
  return absl::OkStatus();
}

}  // namespace careops::collections
