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
// Balancing: pick_first (see ServiceConfigJson in peer.cc for why not
// round_robin yet); a subchannel that lost its peer retries within the bounded
// reconnect backoff below.
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
  absl::Duration reconnect_initial = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(1);
  absl::Duration connect_timeout = absl::Seconds(1);
};

// `options` calling as this service: under TLS with config.tls (and no token),
// in plaintext mode with config.service_token.
PeerOptions WithServiceIdentity(PeerOptions options, const ServiceConfig& config);

class PeerChannel {
 public:
  explicit PeerChannel(PeerOptions options);

  // A context for one call: deadline, token and request id set.
  std::unique_ptr<grpc::ClientContext> NewContext(std::string_view request_id = {}) const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  const PeerOptions& options() const { return options_; }

  // The service config JSON the channel was built with (exposed for tests).
  static std::string ServiceConfigJson(const PeerOptions& options);

 private:
  PeerOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace careops
