// The outbox relay: delivers the intents common/outbox.h wrote, with no
// database transaction open during the peer call, and finishes each delivery in
// a second local transaction run by the owning service's completion handler.
//
// One delivery:
//   1. claim: in a short transaction, lock the row (FOR UPDATE SKIP LOCKED, so
//      replicas never wait on each other), take a lease (claimed_until, a
//      random claim_token), count the attempt, commit;
//   2. call the peer (OutboxPeer) with no transaction open, within the lease;
//   3. complete: in a new transaction, lock the row again and, only if it is
//      still PENDING under our token, either run the method's on_delivered /
//      on_refused handler and mark it DELIVERED / FAILED, or schedule the next
//      attempt (capped exponential backoff) for a transient answer — all in that
//      one transaction with the handler's own writes.
// A relay that crashes between 2 and 3 leaves a leased PENDING row; once the
// lease expires any replica delivers it again, and the peer's de-duplication by
// the idempotency key makes that harmless. A lease that expired while the first
// relay was still waiting is detected in 3 (token mismatch): its answer is
// dropped, so each intent is completed exactly once.
//
// Two entry points: DeliverNow() right after the writer's commit, for the
// intents that mutation wrote (synchronous, within the caller's deadline), and
// RunOnce() as a BackgroundJob for whatever is still pending.
//
// Metrics (bounded labels: methods are the registered ones, results a fixed set):
//   careops_outbox_pending{peer_method}          gauge, read from the database
//   careops_outbox_oldest_pending_seconds        gauge, read from the database
//   careops_outbox_deliveries_total{peer_method,result}  delivered | refused | retried
//
// Status contract: DeliverNow() is NOT_FOUND for an unknown key, UNAVAILABLE when
// the database is down; a peer's answer is never an error of DeliverNow (it is
// the intent's state). RunOnce() returns the database's error, if any.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/outbox.h"
#include "common/peer.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace careops::mysql {
class ConnectionPool;
class Connection;
}  // namespace careops::mysql

namespace careops {
struct BackgroundJob;
}

namespace careops::outbox {

// A peer's answer to one delivery.
struct PeerReply {
  absl::Status status;   // the peer's code and message
  std::string response;  // the serialized response message when OK
};

// How intents reach their peer. Implementations must be thread-safe.
class OutboxPeer {
 public:
  virtual ~OutboxPeer() = default;
  // Calls `method` (full gRPC name) with the serialized `request`, sending
  // `idempotency_key` as x-request-id, and gives up at `deadline`.
  virtual PeerReply Call(const std::string& method, const std::string& request, const std::string& idempotency_key,
                         absl::Time deadline) = 0;
};

// OutboxPeer over gRPC (a generic stub on a PeerChannel: this service's bearer
// token, one channel per peer address). The channel's own retry policy is left
// out: the relay retries.
class GrpcOutboxPeer final : public OutboxPeer {
 public:
  explicit GrpcOutboxPeer(PeerOptions options);
  ~GrpcOutboxPeer() override;
  PeerReply Call(const std::string& method, const std::string& request, const std::string& idempotency_key,
                 absl::Time deadline) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs inside the completion transaction on `conn`; returns what is stored as
// the intent's result (e.g. the settled resource, serialized) for replays. An
// error rolls the completion back: the row stays PENDING and is delivered again
// after its lease. May throw sql::SQLException (caught by the relay).
using CompletionHandler =
    std::function<absl::StatusOr<std::string>(mysql::Connection& conn, const IntentRecord& intent,
                                              const PeerReply& reply, absl::Time now)>;

// What the owning service registers for each peer method it writes intents for.
struct MethodHandlers {
  std::string peer_method;
  std::vector<absl::StatusCode> also_delivered;  // codes that mean success, e.g. NOT_FOUND for a reversal
  CompletionHandler on_delivered;                // finalise
  CompletionHandler on_refused;                  // compensate
};

struct RelayOptions {
  RetryPolicy retry;
  // Longer than any peer call (peer_deadline), so a live relay never loses its lease.
  absl::Duration lease = absl::Seconds(10);
  absl::Duration peer_deadline = absl::Seconds(3);
  int batch_size = 20;
  // DELIVERED and FAILED rows are kept this long (replays read their result).
  absl::Duration retention = absl::Hours(24 * 30);
  // How often DeliverNow() looks again at an intent another replica holds.
  absl::Duration poll_interval = absl::Milliseconds(20);
};

struct RunResult {
  int delivered = 0, refused = 0, retried = 0, lost = 0;
};

// What a writer needs after its commit: deliver the intent it just wrote (see
// OutboxRelay::DeliverNow). An interface so adapters can be tested with a fake.
class IntentDeliverer {
 public:
  virtual ~IntentDeliverer() = default;
  virtual absl::StatusOr<IntentRecord> DeliverNow(const std::string& key, absl::Time deadline) = 0;
};

class OutboxRelay final : public IntentDeliverer {
 public:
  OutboxRelay(mysql::ConnectionPool& pool, OutboxPeer& peer, const Clock& clock, prometheus::Registry& registry,
              RelayOptions options);

  // Before the first delivery (not thread-safe against deliveries).
  void Register(MethodHandlers handlers);

  // Delivers the intent `key` now if it is PENDING and nobody holds it; waits
  // (polling) for another replica's delivery otherwise; gives up at `deadline`
  // and returns the intent as it then is. A retry it schedules is left to
  // RunOnce() (the caller sees PENDING).
  absl::StatusOr<IntentRecord> DeliverNow(const std::string& key, absl::Time deadline) override;

  // Delivers every due PENDING intent nobody holds, batch by batch, refreshes the
  // gauges and purges settled rows past `retention`.
  absl::StatusOr<RunResult> RunOnce();

  // RunOnce() every `interval`, for ServiceRuntime::Serve.
  BackgroundJob Job(absl::Duration interval);

  // Sets careops_outbox_pending and careops_outbox_oldest_pending_seconds from the database.
  absl::Status RefreshGauges();

  // The intent `key` as stored; NOT_FOUND when none.
  absl::StatusOr<IntentRecord> Find(const std::string& key);

 private:
  enum class Outcome { kDelivered, kRefused, kRetried, kLost };
  // Steps 2 and 3 for a claimed row.
  absl::StatusOr<Outcome> Deliver(const IntentRecord& claimed, const std::string& token, absl::Time deadline);
  void Count(const std::string& method, Outcome outcome);
  const MethodHandlers* HandlersFor(const std::string& method) const;

  mysql::ConnectionPool& pool_;
  OutboxPeer& peer_;
  const Clock& clock_;
  const RelayOptions options_;
  std::map<std::string, MethodHandlers> handlers_;
  prometheus::Family<prometheus::Gauge>& pending_;
  prometheus::Gauge& oldest_;
  prometheus::Family<prometheus::Counter>& deliveries_;
};

}  // namespace careops::outbox
