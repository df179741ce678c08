// Calls from one careops service to another.
//
// A PeerChannel is one gRPC channel per peer address, shared by all calls. Every
// call gets a context from NewContext(): a deadline (the deadline of the call
// being served, common/deadline.h, capped by config peer_deadline), this
// service's own bearer token, and the caller's request id for tracing. Retries
// are the channel's job, declared in its service config: only UNAVAILABLE, only
// for the methods named idempotent (e.g. CheckEligibility, or RecordUtilization,
// which the callee de-duplicates by source reference).
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace careops {

struct PeerOptions {
  std::string address;                          // "host:port"
  std::string service;                          // full name, "careops.membership.v1.MembershipService"
  std::vector<std::string> idempotent_methods;  // retried on UNAVAILABLE
  std::string token;                            // sent as "authorization: Bearer <token>"
  absl::Duration deadline = absl::Seconds(3);
  int max_attempts = 4;
};

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
