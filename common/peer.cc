#include "common/peer.h"

#include <grpcpp/create_channel.h>

#include <algorithm>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/deadline.h"

namespace careops {

PeerOptions WithServiceIdentity(PeerOptions options, const ServiceConfig& config) {
  options.tls = config.tls;
  options.token = config.tls.enabled() ? std::string() : config.service_token;
  return options;
}

std::string PeerChannel::ServiceConfigJson(const PeerOptions& o) {
  // round_robin: calls spread over every ready pod of the peer (see peer.h for
  // how a restarted lone peer is reached at once).
  constexpr char kBalancing[] = R"("loadBalancingConfig":[{"round_robin":{}}])";
  if (o.idempotent_methods.empty()) return absl::StrCat("{", kBalancing, "}");
  std::vector<std::string> names;
  for (const std::string& m : o.idempotent_methods) {
    names.push_back(absl::StrCat(R"({"service":")", o.service, R"(","method":")", m, R"("})"));
  }
  return absl::StrCat("{", kBalancing, R"(,"methodConfig":[{"name":[)", absl::StrJoin(names, ","),
                      R"(],"retryPolicy":{"maxAttempts":)", o.max_attempts,
                      R"(,"initialBackoff":"0.05s","maxBackoff":"0.5s","backoffMultiplier":2,)",
                      R"("retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

PeerChannel::PeerChannel(PeerOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options_));
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_initial)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_max)));
  // Despite its name, the least time a connection attempt is given.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  // No silent fallback: TLS files that went bad since the start fail the
  // handshakes (UNAVAILABLE) rather than send plaintext.
  channel_ = grpc::CreateCustomChannel(options_.address,
                                       options_.tls.enabled() ? MutualTlsChannelCredentials(options_.tls)
                                                              : grpc::InsecureChannelCredentials(),
                                       args);
}

void PeerChannel::AwaitReady(absl::Time until) const {
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_SHUTDOWN) {
    if (!channel_->WaitForStateChange(state, absl::ToChronoTime(until))) return;  // still not ready: let the call say so
    state = channel_->GetState(/*try_to_connect=*/true);
  }
}

std::unique_ptr<grpc::ClientContext> PeerChannel::NewContext(std::string_view request_id) const {
  // The caller's deadline, capped by peer_deadline: a peer call never outlives
  // the call that needs its answer (common/deadline.h); waiting for a ready
  // address comes out of it.
  const absl::Time now = absl::Now();
  const absl::Time deadline = now + WithinCallDeadline(options_.deadline, now);
  AwaitReady(std::min(deadline, now + options_.ready_wait));
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(deadline));
  if (!options_.token.empty() && !options_.tls.enabled()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  if (!request_id.empty()) ctx->AddMetadata("x-request-id", std::string(request_id));
  return ctx;
}

}  // namespace careops
