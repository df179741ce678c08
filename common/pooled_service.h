// How a careops service is served: gRPC's callback server hands every unary call
// to the process's WorkerPool (common/worker_pool.h), so no thread is created per
// request at any load and a blocking handler never stalls gRPC's own threads.
// tools/bench measured this against the synchronous server (README, "Threading
// model"): the same closed-loop rate, and it holds an open load the sync server
// collapses under.
//
// An adapter's handlers are plain member functions taking grpc::ServerContextBase*,
// listed once in the adapter's Bind():
//
//   void ClaimsServiceImpl::Bind(PooledService& s) {
//     s.Unary("GetClaim", this, &ClaimsServiceImpl::GetClaim)
//      .Unary("SubmitClaim", this, &ClaimsServiceImpl::SubmitClaim)
//      .ServerStream("StreamBordereau", this, &ClaimsServiceImpl::StreamBordereau);
//   }
//
// Check() (ServiceRuntime::Serve calls it; the service does not start otherwise)
// holds the table to the service's descriptor: every method has exactly one
// handler, under its own name, with its own request and response types and
// streaming shape; an unknown, duplicate or mistyped entry is named. Together with
// the Authorizer's start-up check, a new RPC cannot be served without both a
// handler and an access rule.
//
// A unary call waits in the pool's bounded queue for a worker:
//   - RESOURCE_EXHAUSTED at once when the queue is full (nothing was done; retry
//     with backoff);
//   - DEADLINE_EXCEEDED when its deadline passed while it waited, CANCELLED when
//     the client gave up meanwhile (the handler does not run);
//   - otherwise the handler runs on a worker inside a CallDeadlineScope holding
//     the call's deadline (common/deadline.h).
// Server streams stay on the synchronous server and outside the pool: a slow
// reader must never hold a worker (the bordereau reads its rows in short pages).
#pragma once

#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/sync_stream.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/worker_pool.h"
#include "google/protobuf/descriptor.h"

namespace careops {

class PooledService final : public grpc::Service {
 public:
  // `service_full_name`: the generated class's service_full_name(), e.g.
  // "careops.claims.v1.ClaimsService"; its descriptor comes from the generated pool.
  PooledService(std::string_view service_full_name, WorkerPool& workers);

  template <typename Impl, typename Req, typename Resp>
  PooledService& Unary(std::string_view method, Impl* impl,
                       grpc::Status (Impl::*handler)(grpc::ServerContextBase*, const Req*, Resp*)) {
    Add(method, Req::descriptor(), Resp::descriptor(), /*server_streaming=*/false,
        std::make_unique<grpc::internal::CallbackUnaryHandler<Req, Resp>>(
            [this, impl, handler](grpc::CallbackServerContext* ctx, const Req* req, Resp* resp) {
              return Dispatch(ctx, [impl, handler, ctx, req, resp] { return (impl->*handler)(ctx, req, resp); });
            }));
    return *this;
  }

  template <typename Impl, typename Req, typename Resp>
  PooledService& ServerStream(std::string_view method, Impl* impl,
                              grpc::Status (Impl::*handler)(grpc::ServerContextBase*, const Req*,
                                                            grpc::ServerWriter<Resp>*)) {
    Add(method, Req::descriptor(), Resp::descriptor(), /*server_streaming=*/true,
        std::make_unique<grpc::internal::ServerStreamingHandler<PooledService, Req, Resp>>(
            [impl, handler](PooledService*, grpc::ServerContext* ctx, const Req* req, grpc::ServerWriter<Resp>* w) {
              return (impl->*handler)(ctx, req, w);
            },
            this));
    return *this;
  }

  // OK when the table matches the descriptor (see above); FAILED_PRECONDITION
  // naming the service and the first method that does not.
  absl::Status Check() const;

  const std::string& name() const { return name_; }

 private:
  // Adds `method` with `handler` (a callback handler for a unary method, a
  // synchronous one for a stream) when the descriptor has it in this shape;
  // otherwise drops the handler and records why, for Check().
  void Add(std::string_view method, const google::protobuf::Descriptor* request,
           const google::protobuf::Descriptor* response, bool server_streaming,
           std::unique_ptr<grpc::internal::MethodHandler> handler);
  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx, std::function<grpc::Status()> call);

  const std::string name_;
  const google::protobuf::ServiceDescriptor* descriptor_;
  WorkerPool& workers_;
  std::deque<std::string> paths_;     // "/<service>/<method>"; grpc keeps pointers into them
  std::vector<std::string> bound_;    // method names, in the order added
  std::vector<std::string> errors_;   // what Check() reports
};

}  // namespace careops
