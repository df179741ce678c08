// The handler wrapper every careops RPC goes through.
//
// An adapter holds one RpcKit and writes each handler as a few lines:
//
//   grpc::Status ClaimsServiceImpl::GetClaim(grpc::ServerContextBase* ctx, const v1::GetClaimRequest* req,
//                                            v1::Claim* resp) {
//     return rpc_.Read(ctx, __func__, [&](const Call& call) -> absl::Status {
//       CAREOPS_ASSIGN_OR_RETURN(Claim c, store_.GetClaim(req->claim_id()));
//       *resp = ToProto(c);
//       return absl::OkStatus();
//     });
//   }
//
//   grpc::Status ...::ApproveClaim(grpc::ServerContextBase* ctx, const v1::ApproveClaimRequest* req, v1::Claim* resp) {
//     return rpc_.Write(ctx, __func__, req->request_id(), *req, resp, [&](const MutationContext& m) {
//       return store_.TransitionClaim(m, ...);
//     });
//   }
//
// Both authenticate the caller (UNAUTHENTICATED), authorize it against the
// service's access table (PERMISSION_DENIED; see common/access.h), take `now`
// from the injected clock (truncated to microseconds, the precision every store
// keeps, so an answer equals the resource read back), run the body, and map its
// status once, at the edge. Write() also checks request_id before the body runs,
// so nothing (no peer call, no read) happens for a malformed one, and hands the
// body a MutationContext for RunMutation().
//
// `method` is the RPC's short name; handlers pass `__func__`, which inside
// `XxxServiceImpl::ApproveClaim` is "ApproveClaim", so the name cannot drift from
// the rule table. No handler calls the Authenticator itself.
//
// Status hygiene: INTERNAL and UNKNOWN outcomes are logged in full and answered
// with a generic message, so no SQL, driver or stack text reaches a client.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/mutation.h"

namespace careops {

// What a read handler knows about its call.
struct Call {
  const Principal& caller;
  std::string_view method;
  absl::Time now;
  const grpc::ServerContextBase& context;
};

class RpcKit {
 public:
  // How many calls run at once and how many wait is the WorkerPool's business
  // (common/pooled_service.h), before any of this runs.
  RpcKit(const Authenticator& authenticator, const Authorizer& authorizer, const Clock& clock)
      : authenticator_(authenticator), authorizer_(authorizer), clock_(clock) {}

  // Any unary RPC that writes nothing.
  grpc::Status Read(const grpc::ServerContextBase* ctx, std::string_view method,
                    const std::function<absl::Status(const Call&)>& body) const;
  // A server stream: like Read (streams are served outside the worker pool, so a
  // slow reader never holds a worker; its body must read the database in short pages).
  grpc::Status Stream(const grpc::ServerContextBase* ctx, std::string_view method,
                      const std::function<absl::Status(const Call&)>& body) const;

  // kOptional: for the few methods whose contract keys idempotency on a resource
  // reference instead (membership's utilisation, by source_reference); an empty
  // request_id is accepted, a malformed one is not.
  enum class RequestIdPolicy { kRequired, kOptional };

  // A mutating RPC with the client's request_id (required: INVALID_ARGUMENT
  // naming request_id before the body runs).
  grpc::Status Write(const grpc::ServerContextBase* ctx, std::string_view method, std::string_view request_id,
                     const google::protobuf::Message& request, google::protobuf::Message* response,
                     const std::function<absl::Status(const MutationContext&)>& body) const {
    return Write(ctx, method, request_id, request, response, RequestIdPolicy::kRequired, body);
  }
  grpc::Status Write(const grpc::ServerContextBase* ctx, std::string_view method, std::string_view request_id,
                     const google::protobuf::Message& request, google::protobuf::Message* response,
                     RequestIdPolicy policy, const std::function<absl::Status(const MutationContext&)>& body) const;

  // The caller, authenticated and authorized for `method` (for tests and for the
  // rare handler that needs the check without a body).
  absl::StatusOr<Principal> Admit(const grpc::ServerContextBase& ctx, std::string_view method) const;

  const Clock& clock() const { return clock_; }
  const Authorizer& authorizer() const { return authorizer_; }

 private:
  const Authenticator& authenticator_;
  const Authorizer& authorizer_;
  const Clock& clock_;
};

// The status a client sees for `status` of `method`: itself, except INTERNAL and
// UNKNOWN, which are logged and replaced by a message without internals.
grpc::Status ToClientStatus(const absl::Status& status, std::string_view method);

}  // namespace careops
