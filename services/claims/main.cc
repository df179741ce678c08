// careops-claims: the claims service binary. Flags and wiring only; the rules
// are in claim_rules.h, the SQL in mysql_claim_store.cc, the RPCs in
// claims_service.h.
#include "common/business_days.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/server.h"
#include "services/claims/claim_rules.h"
#include "services/claims/claims_access.h"
#include "services/claims/claims_metrics.h"
#include "services/claims/claims_service.h"
#include "services/claims/membership_client.h"
#include "services/claims/mysql_claim_store.h"

namespace careops {
std::vector<Migration> careops_claims_migrations();
}

int main(int argc, char** argv) {
  using namespace careops;
  FlagSet flags("claims");
  ServiceConfig config = DefaultServiceConfig("claims");
  RegisterServiceFlags(flags, config);
  std::string membership_addr = "127.0.0.1:50051";
  std::string authority_chain = claims::AuthorityChain::DefaultText();
  std::string auto_route = "PHP=100000000,USD=100000000";
  int64_t decision_days = 5, settlement_days = 10;
  absl::Duration breach_scan_interval = absl::Minutes(5);
  flags.String("membership_addr", &membership_addr, "membership gRPC address (host:port)");
  flags.String("authority_chain", &authority_chain,
               "approval limits, lowest role first: role:CUR=minor,...;...;role:unlimited");
  flags.String("auto_route_threshold", &auto_route,
               "claims above CUR=minor are routed at submission to a role that may approve them");
  flags.Int("decision_tat_days", &decision_days, 1, 60, "business days from submission to decision");
  flags.Int("settlement_tat_days", &settlement_days, 1, 60, "business days from approval to settlement");
  flags.Duration("breach_scan_interval", &breach_scan_interval, "how often the TAT breach scan runs");

  absl::StatusOr<claims::AuthorityChain> chain;
  absl::StatusOr<claims::AutoRouteThresholds> thresholds;
  absl::StatusOr<Authorizer> access;
  auto runtime = StartService(flags, config, argc, argv, careops_claims_migrations(), [&] {
    chain = claims::AuthorityChain::Parse(authority_chain);
    thresholds = claims::ParseAutoRouteThresholds(auto_route);
    if (!chain.ok()) return chain.status();
    if (!thresholds.ok()) return thresholds.status();
    access = Authorizer::Create(claims::v1::ClaimsService::service_full_name(), claims::ClaimsAccess(*chain),
                                config.access_roles);
    return access.status();
  });
  if (!runtime.ok()) return ExitCode(runtime.status());
  ServiceRuntime& rt = **runtime;
  claims::ClaimsServiceOptions options{
      *chain, *thresholds, {static_cast<int>(decision_days), static_cast<int>(settlement_days), config.calendar}};

  claims::MysqlClaimStore store(rt.pool());
  auto membership = claims::NewGrpcMembershipClient(
      claims::MembershipPeerOptions(membership_addr, config.service_token, config.peer_deadline));
  claims::ClaimsMetrics metrics(*rt.registry());
  metrics.DeclareChain(*chain);
  RpcKit rpc(rt.authenticator(), *access, rt.clock());
  claims::ClaimsServiceImpl service(store, *membership, rpc, metrics, options);
  if (auto s = metrics.RefreshOpenGauge(store); !s.ok()) {
    log::Warn("open-claims gauge not refreshed", {{"error", s.ToString()}});
  }

  std::vector<BackgroundJob> jobs = {
      {"claims-breach-scan", breach_scan_interval,
       [&] { return service.ScanBreaches(rt.clock().Now()).status(); }},
      {"claims-open-gauge", config.gauge_refresh, [&] { return metrics.RefreshOpenGauge(store); }},
  };
  return ServeUntilStopped(rt, {{&service, claims::v1::ClaimsService::service_full_name(), &*access}}, std::move(jobs));
}
