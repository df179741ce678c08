// Calls from one careops service to another.
//
// A PeerChannel is one gRPC channel per peer address, shared by all calls. Every
// call gets a context from NewContext(): a deadline (the deadline of the call
// being served, common/deadline.h, capped by config peer_deadline), and the
// caller's request id for tracing. Who is calling: with TLS files (`tls`, the
// service's own certificate; see common/tls.h) the channel speaks mutual TLS and
// the service is known to the peer by its certificate, so no token is sent; in
// plaintext mode (tests, development) its bearer token goes with every call.
// WithServiceIdentity() fills both from the service's config. Retries
// are the channel's job, declared in its service config: only UNAVAILABLE, only
// for the methods named idempotent (e.g. CheckEligibility, or RecordUtilization,
// which the callee de-duplicates by source reference).
//
// Balancing: round_robin over every address the target resolves to (a
// Kubernetes headless Service, dns:///membership-careops-headless:50051, gives
// one per ready pod), so every replica of the peer takes calls and scaling the
// peer adds capacity; a pod that restarts is skipped while it is down.
//
// A restarted peer is used as soon as it listens: a subchannel that lost its
// peer retries within the bounded reconnect backoff below, and while no address
// is ready (a lone replica restarting) NewContext() first waits up to
// `ready_wait` (within the call's deadline) for one to become ready, instead of
// letting round_robin refuse every call UNAVAILABLE until the next reconnect.
// A peer that stays down is UNAVAILABLE after that short wait, so a worker is
// never held for the whole deadline by a peer outage.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "common/config.h"
#include "common/tls.h"

namespace careops {

struct PeerOptions {
  std::string address;                          // "host:port"
  std::string service;                          // full name, "careops.membership.v1.MembershipService"
  std::vector<std::string> idempotent_methods;  // retried on UNAVAILABLE
  std::string token;                            // sent as "authorization: Bearer <token>"
  TlsFiles tls;                                 // mutual TLS when enabled(); then `token` is not sent
  absl::Duration deadline = absl::Seconds(3);
  int max_attempts = 4;
  // How soon a subchannel to a peer pod that went away tries again: from
  // reconnect_initial doubling to reconnect_max, each attempt allowed
  // connect_timeout (gRPC's defaults: 1s doubling to 120s, 20s).
  absl::Duration reconnect_initial = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Milliseconds(250);
  absl::Duration connect_timeout = absl::Seconds(1);
  // How long a call waits for a ready address when there is none (see above);
  // longer than reconnect_max, so a peer that listens again is reached.
  absl::Duration ready_wait = absl::Milliseconds(400);
};

// `options` calling as this service: under TLS with config.tls (and no token),
// in plaintext mode with config.service_token.
PeerOptions WithServiceIdentity(PeerOptions options, const ServiceConfig& config);

class PeerChannel {
 public:
  explicit PeerChannel(PeerOptions options);

  // A context for one call: deadline, token and request id set; waits up to
  // ready_wait first when no address of the peer is ready.
  std::unique_ptr<grpc::ClientContext> NewContext(std::string_view request_id = {}) const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  const PeerOptions& options() const { return options_; }

  // The service config JSON the channel was built with (exposed for tests).
  static std::string ServiceConfigJson(const PeerOptions& options);

 private:
  // Returns once an address is ready or at `until`, whichever is first.
  void AwaitReady(absl::Time until) const;

  PeerOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace careops
