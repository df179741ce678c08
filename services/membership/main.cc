// careops-membership: client accounts, plans, members, movements, eligibility and
// utilisation (careops.membership.v1.MembershipService). Flags and wiring only.
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/server.h"
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
  absl::Duration gauge_refresh = absl::Seconds(15);
  flags.Duration("gauge_refresh", &gauge_refresh, "how often the member/account gauges are re-read from the database");

  auto runtime = StartService(flags, config, argc, argv, careops_membership_migrations());
  if (!runtime.ok()) return ExitCode(runtime.status());
  auto tat = membership::ParseTatTargets(movement_tat);
  if (!tat.ok()) {
    log::Error("bad configuration", {{"error", std::string(tat.status().message())}});
    return 2;
  }

  membership::MysqlMembershipStore store((*runtime)->pool());
  membership::MembershipMetrics metrics(*(*runtime)->registry());
  const Clock& clock = SystemClock::Instance();
  if (auto s = metrics.Refresh(store, clock.Now()); !s.ok()) {
    log::Warn("gauge refresh failed", {{"error", s.ToString()}});
  }
  membership::MembershipServiceImpl service(store, (*runtime)->authenticator(), clock, metrics, {*tat});
  BackgroundJob refresh_gauges{"refresh_gauges", gauge_refresh, [&] { return metrics.Refresh(store, clock.Now()); }};
  return ServeUntilStopped(**runtime, {{&service, membership::v1::MembershipService::service_full_name()}},
                           {refresh_gauges});
}
