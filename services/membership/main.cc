// careops-membership: client accounts, plans, members, movements, eligibility and
// utilisation (careops.membership.v1.MembershipService). Flags and wiring only.
#include <set>
#include <string>

#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/business_days.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/server.h"
#include "common/text.h"
#include "services/membership/membership_metrics.h"
#include "services/membership/membership_rules.h"
#include "services/membership/membership_service.h"
#include "services/membership/mysql_membership_store.h"

namespace careops {
std::vector<Migration> careops_membership_migrations();
}

namespace {
std::set<std::string> RoleSet(const std::string& text) {
  std::set<std::string> out;
  for (std::string_view role : careops::SplitAny(text, ", ", true)) out.emplace(role);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace careops;
  FlagSet flags("membership");
  ServiceConfig config = DefaultServiceConfig("membership");
  RegisterServiceFlags(flags, config);
  std::string movement_tat = "enrollment:2,termination:2,plan_change:2,reinstatement:2,detail_change:2";
  flags.String("movement_tat", &movement_tat,
               "TAT target per movement type in business days, e.g. enrollment:2,termination:2,plan_change:3");
  std::string editor_roles = "account_officer,assistant_manager,manager,service";
  flags.String("editor_roles", &editor_roles, "roles that may change accounts, plans, members and movements");
  std::string utilization_roles = "service,manager";
  flags.String("utilization_roles", &utilization_roles, "roles that may record and reverse benefit utilisation");

  absl::StatusOr<membership::TatTargets> tat;
  auto runtime = StartService(flags, config, argc, argv, careops_membership_migrations(), [&] {
    tat = membership::ParseTatTargets(movement_tat);
    return tat.status();
  });
  if (!runtime.ok()) return ExitCode(runtime.status());

  membership::MysqlMembershipStore store((*runtime)->pool());
  membership::MembershipMetrics metrics(*(*runtime)->registry());
  const Clock& clock = SystemClock::Instance();
  if (auto s = metrics.Refresh(store, clock.Now()); !s.ok()) {
    log::Warn("gauge refresh failed", {{"error", s.ToString()}});
  }
  membership::MembershipServiceOptions options;
  options.movement_tat = *tat;
  options.calendar = config.calendar;
  options.editor_roles = RoleSet(editor_roles);
  options.utilization_roles = RoleSet(utilization_roles);
  membership::MembershipServiceImpl service(store, (*runtime)->authenticator(), clock, metrics, options);
  BackgroundJob refresh_gauges{"refresh_gauges", config.gauge_refresh, [&] { return metrics.Refresh(store, clock.Now()); }};
  return ServeUntilStopped(**runtime, {{&service, membership::v1::MembershipService::service_full_name()}},
                           {refresh_gauges});
}
