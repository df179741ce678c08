// careops-collections: the collections service binary. Flags and wiring only;
// the rules are in collections_rules.h, the SQL in mysql_collections_store.cc,
// the RPCs in collections_service.h.
#include <fstream>
#include <iterator>
#include <map>

#include "common/clock.h"
#include "common/rpc.h"
#include "common/server.h"
#include "common/log.h"
#include "common/outbox_relay.h"
#include "services/collections/collections_access.h"
#include "services/collections/collections_metrics.h"
#include "services/collections/collections_rules.h"
#include "services/collections/collections_service.h"
#include "services/collections/dunning_outbox.h"
#include "services/collections/dunning_rules.h"
#include "services/collections/notice_delivery.h"
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
  std::string ladder_text = collections::DunningLadder::DefaultText();
  absl::Duration dunning_interval = absl::Hours(1);
  absl::Duration outbox_interval = absl::Seconds(5), outbox_lease = absl::Seconds(15);
  absl::Duration outbox_max_backoff = absl::Minutes(5);
  std::string smtp_url, smtp_from = "collections@careops.invalid";
  absl::Duration delivery_interval = absl::Seconds(30);
  flags.String("smtp_url", &smtp_url,
               "the SMTP relay for email notices (smtp://host:port); empty: email notices stay PENDING");
  flags.String("smtp_from", &smtp_from, "the From address of email notices");
  flags.Duration("notice_delivery_interval", &delivery_interval, "how often pending email notices are sent");
  flags.String("dunning_ladder", &ladder_text,
               "the notice ladder: reminder:lead,...,first:days[:fee=minor][:rate_bp=bp][:spacing=days],"
               "second:...,third:...,noc:days:grace=days");
  flags.Duration("dunning_interval", &dunning_interval,
                 "how often the dunning run walks today's ladder (re-runs of one day issue nothing new)");
  flags.Duration("outbox_interval", &outbox_interval,
                 "how often pending outbox intents (account suspensions, reinstatements, cancellations) are delivered");
  flags.Duration("outbox_lease", &outbox_lease,
                 "how long a replica holds an outbox intent it is delivering; longer than peer_deadline");
  flags.Duration("outbox_max_backoff", &outbox_max_backoff,
                 "the longest wait between two deliveries of an intent membership did not take");

  int64_t unposted_auto_post_above = collections::kMatchMaxScore;
  flags.Int("unposted_auto_post_above", &unposted_auto_post_above, 0, collections::kMatchMaxScore,
            "auto-post a deposit line when its best match's reference names the ledger and its score (0..100) is "
            "above this; 100: never");

  std::string templates_file;
  flags.String("notice_templates_file", &templates_file,
               "notice texts: [FIRST_NOTICE], [SECOND_NOTICE], ... sections with {field} placeholders; empty: built-in");
  std::map<collections::RungKind, std::string> templates;

  absl::StatusOr<collections::ComponentOrder> order;
  absl::StatusOr<collections::AgingBuckets> aging;
  absl::StatusOr<collections::DunningLadder> ladder;
  absl::StatusOr<Authorizer> access;
  auto runtime = StartService(flags, config, argc, argv, careops_collections_migrations(), [&] {
    order = collections::ComponentOrder::Parse(allocation_order);
    if (!order.ok()) return order.status();
    aging = collections::AgingBuckets::Parse(buckets);
    if (!aging.ok()) return aging.status();
    ladder = collections::DunningLadder::Parse(ladder_text);
    if (!ladder.ok()) return ladder.status();
    if (!templates_file.empty()) {
      std::ifstream in(templates_file);
      if (!in) return absl::InvalidArgumentError("notice_templates_file: cannot be read");
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      absl::StatusOr<std::map<collections::RungKind, std::string>> parsed = collections::ParseNoticeTemplates(text);
      if (!parsed.ok()) return parsed.status();
      templates = *std::move(parsed);
      if (auto s = collections::ValidateNoticeTemplates(templates); !s.ok()) return s;
    }
    if (outbox_lease <= config.peer_deadline) {
      return absl::InvalidArgumentError("outbox_lease: must be longer than peer_deadline");
    }
    if (!smtp_url.empty() && smtp_url.rfind("smtp://", 0) != 0 && smtp_url.rfind("smtps://", 0) != 0) {
      return absl::InvalidArgumentError("smtp_url: must be smtp://host:port or smtps://host:port");
    }
    if (outbox_interval <= absl::ZeroDuration() || dunning_interval <= absl::ZeroDuration() ||
        delivery_interval <= absl::ZeroDuration() ||
        outbox_max_backoff < absl::Seconds(1)) {
      return absl::InvalidArgumentError(
          "outbox_interval, dunning_interval, notice_delivery_interval: must be positive; outbox_max_backoff: at "
          "least 1s");
    }
    access = Authorizer::Create(collections::v1::CollectionsService::service_full_name(),
                                collections::CollectionsAccess(), config.access_roles);
    return access.status();
  });
  if (!runtime.ok()) return ExitCode(runtime.status());
  ServiceRuntime& rt = **runtime;

  collections::MysqlCollectionsStore store(rt.pool());
  auto membership = collections::NewGrpcMembershipClient(
      WithServiceIdentity(collections::MembershipPeerOptions(membership_addr, config.service_token, config.peer_deadline), config));
  // Suspensions, reinstatements and cancellations go through the outbox, never
  // from inside a collections transaction (dunning_outbox.h).
  outbox::GrpcOutboxPeer membership_peer(
      WithServiceIdentity(collections::MembershipPeerOptions(membership_addr, config.service_token, config.peer_deadline), config));
  collections::MembershipStatusPeer status_peer(membership_peer, *membership);
  outbox::OutboxRelay relay(rt.pool(), status_peer, rt.clock(), *rt.registry(),
                            {.retry = {.max_backoff = outbox_max_backoff},
                             .lease = outbox_lease,
                             .peer_deadline = config.peer_deadline});
  struct RelayLookup final : collections::IntentLookup {
    explicit RelayLookup(outbox::OutboxRelay& r) : relay(r) {}
    absl::StatusOr<outbox::IntentRecord> Find(const std::string& key) override { return relay.Find(key); }
    outbox::OutboxRelay& relay;
  } lookup(relay);
  status_peer.set_lookup(&lookup);
  collections::RegisterNoticeCompletions(relay, store);
  RpcKit rpc(rt.authenticator(), *access, rt.clock());
  collections::CollectionsServiceImpl service(store, *membership, relay, rpc,
                                              {*order, *aging, grace_days, *ladder, templates,
                                               static_cast<int>(unposted_auto_post_above), config.calendar});
  collections::CollectionsMetrics metrics(*rt.registry(), *aging);
  // The business's date (--business_tz), like claims and membership.
  auto today = [&rt, &config] { return config.calendar.DayOf(rt.clock().Now()); };
  if (auto s = metrics.Refresh(store, today()); !s.ok()) {
    log::Warn("collections gauges not refreshed", {{"error", s.ToString()}});
  }
  std::vector<BackgroundJob> jobs = {
      {"collections-aging", aging_interval, [&] {
         return service.AgeAll(today()).status();
       }},
      {"collections-dunning", dunning_interval, [&] {
         return service.DunAll(today(), absl::Now() + config.peer_deadline).status();
       }},
      {"collections-gauges", config.gauge_refresh, [&] { return metrics.Refresh(store, today()); }},
      relay.Job(outbox_interval),
  };
  // Email notices are sent by their own job, never inside a transaction.
  std::unique_ptr<collections::NoticeMailer> mailer;
  std::unique_ptr<collections::NoticeDelivery> delivery;
  if (!smtp_url.empty()) {
    mailer = collections::NewSmtpMailer({.url = smtp_url, .timeout = config.peer_deadline});
    delivery = std::make_unique<collections::NoticeDelivery>(
        store, *mailer, rt.clock(),
        collections::DeliveryOptions{.from = smtp_from, .retry = {.max_backoff = outbox_max_backoff}});
    jobs.push_back({"collections-notice-delivery", delivery_interval, [&] { return delivery->RunOnce().status(); }});
  }
  PooledService front(collections::v1::CollectionsService::service_full_name(), rt.workers());
  service.Bind(front);
  return ServeUntilStopped(rt, {{&front, &*access}},
                           std::move(jobs));
}
