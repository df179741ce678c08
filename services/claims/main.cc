// careops-claims: the claims service binary. Flags and wiring only; the rules
// are in claim_rules.h, the SQL in mysql_claim_store.cc, the RPCs in
// claims_service.h.
#include "common/business_days.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/outbox_relay.h"
#include "common/server.h"
#include "services/claims/claim_rules.h"
#include "services/claims/claims_access.h"
#include "services/claims/claims_metrics.h"
#include "services/claims/claims_outbox.h"
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
  absl::Duration outbox_interval = absl::Seconds(5), outbox_lease = absl::Seconds(15);
  absl::Duration reconcile_interval = absl::Hours(1);
  bool maker_checker = true;
  flags.String("membership_addr", &membership_addr, "membership gRPC address (host:port)");
  flags.String("authority_chain", &authority_chain,
               "approval limits, lowest role first: role:CUR=minor,...;...;role:unlimited");
  flags.String("auto_route_threshold", &auto_route,
               "claims above CUR=minor are routed at submission to a role that may approve them");
  flags.Bool("maker_checker", &maker_checker, "the person who submitted a claim may not approve it");
  flags.Int("decision_tat_days", &decision_days, 1, 60, "business days from submission to decision");
  flags.Int("settlement_tat_days", &settlement_days, 1, 60, "business days from approval to settlement");
  flags.Duration("breach_scan_interval", &breach_scan_interval, "how often the TAT breach scan runs");
  flags.Duration("outbox_interval", &outbox_interval, "how often pending outbox intents (utilisation) are delivered");
  flags.Duration("reconcile_interval", &reconcile_interval,
                 "how often approvals are compared with membership's utilisation (and repaired)");
  flags.Duration("outbox_lease", &outbox_lease,
                 "how long a replica holds an outbox intent it is delivering; longer than peer_deadline");

  absl::StatusOr<claims::AuthorityChain> chain;
  absl::StatusOr<claims::AutoRouteThresholds> thresholds;
  absl::StatusOr<Authorizer> access;
  auto runtime = StartService(flags, config, argc, argv, careops_claims_migrations(), [&] {
    chain = claims::AuthorityChain::Parse(authority_chain);
    thresholds = claims::ParseAutoRouteThresholds(auto_route);
    if (!chain.ok()) return chain.status();
    if (!thresholds.ok()) return thresholds.status();
    if (outbox_lease <= config.peer_deadline) {
      return absl::InvalidArgumentError("outbox_lease: must be longer than peer_deadline");
    }
    if (outbox_interval <= absl::ZeroDuration()) return absl::InvalidArgumentError("outbox_interval: must be positive");
    access = Authorizer::Create(claims::v1::ClaimsService::service_full_name(), claims::ClaimsAccess(*chain),
                                config.access_roles);
    return access.status();
  });
  if (!runtime.ok()) return ExitCode(runtime.status());
  ServiceRuntime& rt = **runtime;
  claims::ClaimsServiceOptions options{
      *chain, *thresholds, {static_cast<int>(decision_days), static_cast<int>(settlement_days), config.calendar},
      config.peer_deadline};
  options.maker_checker = maker_checker;

  claims::MysqlClaimStore store(rt.pool());
  auto membership = claims::NewGrpcMembershipClient(
      WithServiceIdentity(claims::MembershipPeerOptions(membership_addr, config.service_token, config.peer_deadline), config));
  claims::ClaimsMetrics metrics(*rt.registry());
  metrics.DeclareChain(*chain);
  // Utilisation is recorded and given back through the outbox, never from
  // inside a claims transaction.
  outbox::GrpcOutboxPeer membership_peer(
      WithServiceIdentity(claims::MembershipPeerOptions(membership_addr, config.service_token, config.peer_deadline), config));
  outbox::OutboxRelay relay(rt.pool(), membership_peer, rt.clock(), *rt.registry(),
                            {.lease = outbox_lease, .peer_deadline = config.peer_deadline});
  claims::RegisterClaimCompletions(relay, store, metrics, options.tat);
  RpcKit rpc(rt.authenticator(), *access, rt.clock());
  claims::ClaimsServiceImpl service(store, *membership, relay, rpc, metrics, options);
  if (auto s = metrics.RefreshOpenGauge(store); !s.ok()) {
    log::Warn("open-claims gauge not refreshed", {{"error", s.ToString()}});
  }

  std::vector<BackgroundJob> jobs = {
      {"claims-breach-scan", breach_scan_interval,
       [&] { return service.ScanAllBreaches(TruncateToMicros(rt.clock().Now()), {"svc-claims", "service", "claims"}); }},
      {"claims-open-gauge", config.gauge_refresh, [&] { return metrics.RefreshOpenGauge(store); }},
      relay.Job(outbox_interval),
      {"claims-reconcile", reconcile_interval,
       [&] { return service.Reconcile(SystemClock::Instance().Now(), {"reconciler", "system", "claims"}).status(); }},
  };
  PooledService front(claims::v1::ClaimsService::service_full_name(), rt.workers());
  service.Bind(front);
  return ServeUntilStopped(rt, {{&front, &*access}}, std::move(jobs));
}
