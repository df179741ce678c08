// careops-collections: the collections service binary. Flags and wiring only;
// the rules are in collections_rules.h, the SQL in mysql_collections_store.cc,
// the RPCs in collections_service.h.
#include "common/clock.h"
#include "common/rpc.h"
#include "common/server.h"
#include "common/log.h"
#include "services/collections/collections_access.h"
#include "services/collections/collections_metrics.h"
#include "services/collections/collections_rules.h"
#include "services/collections/collections_service.h"
#include "services/collections/membership_client.h"
#include "services/collections/mysql_collections_store.h"

namespace careops {
std::vector<Migration> careops_collections_migrations();
}

int main(int argc, char** argv) {
  using namespace careops;
  FlagSet flags("collections");
  ServiceConfig config = DefaultServiceConfig("collections");
  RegisterServiceFlags(flags, config);
  std::string membership_addr = "127.0.0.1:50051";
  std::string allocation_order = "fee,interest,principal";
  std::string buckets = collections::AgingBuckets::DefaultText();
  int64_t grace_days = 0;
  absl::Duration aging_interval = absl::Hours(1);
  flags.String("membership_addr", &membership_addr, "membership gRPC address (host:port)");
  flags.String("allocation_order", &allocation_order,
               "the order an installment's components are paid in: fee,interest,principal in any order");
  flags.String("aging_buckets", &buckets, "aging buckets name:min-max,...,name:min- covering 0.. without gaps");
  flags.Int("grace_days", &grace_days, 0, 365, "days after a due date before it counts as past due");
  flags.Duration("aging_interval", &aging_interval,
                 "how often the aging run ages today (re-runs of one day record nothing new)");

  absl::StatusOr<collections::ComponentOrder> order;
  absl::StatusOr<collections::AgingBuckets> aging;
  absl::StatusOr<Authorizer> access;
  auto runtime = StartService(flags, config, argc, argv, careops_collections_migrations(), [&] {
    order = collections::ComponentOrder::Parse(allocation_order);
    if (!order.ok()) return order.status();
    aging = collections::AgingBuckets::Parse(buckets);
    if (!aging.ok()) return aging.status();
    access = Authorizer::Create(collections::v1::CollectionsService::service_full_name(),
                                collections::CollectionsAccess(), config.access_roles);
    return access.status();
  });
  if (!runtime.ok()) return ExitCode(runtime.status());
  ServiceRuntime& rt = **runtime;

  collections::MysqlCollectionsStore store(rt.pool());
  auto membership = collections::NewGrpcMembershipClient(
      WithServiceIdentity(collections::MembershipPeerOptions(membership_addr, config.service_token, config.peer_deadline), config));
  RpcKit rpc(rt.authenticator(), *access, SystemClock::Instance());
  collections::CollectionsServiceImpl service(store, *membership, rpc, {*order, *aging, grace_days});
  collections::CollectionsMetrics metrics(*rt.registry(), *aging);
  auto today = [] { return absl::ToCivilDay(SystemClock::Instance().Now(), absl::UTCTimeZone()); };
  if (auto s = metrics.Refresh(store, today()); !s.ok()) {
    log::Warn("collections gauges not refreshed", {{"error", s.ToString()}});
  }
  std::vector<BackgroundJob> jobs = {
      {"collections-aging", aging_interval, [&] {
         return service.AgeAll(today()).status();
       }},
      {"collections-gauges", config.gauge_refresh, [&] { return metrics.Refresh(store, today()); }},
  };
  return ServeUntilStopped(rt, {{&service, collections::v1::CollectionsService::service_full_name(), &*access}},
                           std::move(jobs));
}
