// careops-membership: client accounts, plans, members, movements, eligibility and
// utilisation (careops.membership.v1.MembershipService). Flags and wiring only.
#include <set>
#include <string>

#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/business_days.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/server.h"
#include "common/text.h"
#include "services/membership/membership_access.h"
#include "services/membership/membership_metrics.h"
#include "services/membership/membership_rules.h"
#include "services/membership/membership_service.h"
#include "services/membership/mysql_membership_store.h"

namespace careops {
std::vector<Migration> careops_membership_migrations();
}

int main(int argc, char** argv) {
  using namespace careops;
  FlagSet flags("membership");
  ServiceConfig config = DefaultServiceConfig("membership");
  RegisterServiceFlags(flags, config);
  std::string movement_tat = "enrollment:2,termination:2,plan_change:2,reinstatement:2,detail_change:2";
  flags.String("movement_tat", &movement_tat,
               "TAT target per movement type in business days, e.g. enrollment:2,termination:2,plan_change:3");

  absl::StatusOr<membership::TatTargets> tat;
  absl::StatusOr<Authorizer> access;
  auto runtime = StartService(flags, config, argc, argv, careops_membership_migrations(), [&] {
    tat = membership::ParseTatTargets(movement_tat);
    if (!tat.ok()) return tat.status();
    access = Authorizer::Create(membership::v1::MembershipService::service_full_name(), membership::MembershipAccess(),
                                config.access_roles);
    return access.status();
  });
  if (!runtime.ok()) return ExitCode(runtime.status());

  membership::MysqlMembershipStore store((*runtime)->pool());
  membership::MembershipMetrics metrics(*(*runtime)->registry(), config.calendar);
  const Clock& clock = (*runtime)->clock();
  if (auto s = metrics.Refresh(store, clock.Now()); !s.ok()) {
    log::Warn("gauge refresh failed", {{"error", s.ToString()}});
  }
  membership::MembershipServiceOptions options;
  options.movement_tat = *tat;
  options.calendar = config.calendar;
  RpcKit rpc((*runtime)->authenticator(), *access, clock);
  membership::MembershipServiceImpl service(store, rpc, metrics, options);
  BackgroundJob refresh_gauges{"refresh_gauges", config.gauge_refresh, [&] { return metrics.Refresh(store, clock.Now()); }};
  PooledService front(membership::v1::MembershipService::service_full_name(), (*runtime)->workers());
  service.Bind(front);
  return ServeUntilStopped(**runtime, {{&front, &*access}},
                           {refresh_gauges});
}
