// EchoService: the benchmark's gRPC ceiling (proto/careops/echo/v1/echo.proto).
//
// Two implementations of the same answer, one per server threading model gRPC
// offers for generated services, so tools/bench can compare them on this machine:
// the synchronous thread pool (what ServiceRuntime serves today) and the callback
// API. When given an Authenticator, both check the caller's bearer token first, as
// every careops RPC does.
#pragma once

#include "careops/echo/v1/echo.grpc.pb.h"
#include "common/auth.h"

namespace careops::echo {

// UNAUTHENTICATED without a known bearer token (when `auth` is set); otherwise
// copies request_id and payload into `response`.
grpc::Status Answer(const Authenticator* auth, const grpc::ServerContextBase& context,
                    const v1::EchoRequest& request, v1::EchoResponse* response);

class EchoServiceImpl final : public v1::EchoService::Service {
 public:
  explicit EchoServiceImpl(const Authenticator* auth) : auth_(auth) {}
  grpc::Status Echo(grpc::ServerContext* context, const v1::EchoRequest* request,
                    v1::EchoResponse* response) override;

 private:
  const Authenticator* auth_;
};

class EchoCallbackServiceImpl final : public v1::EchoService::CallbackService {
 public:
  explicit EchoCallbackServiceImpl(const Authenticator* auth) : auth_(auth) {}
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override;

 private:
  const Authenticator* auth_;
};

}  // namespace careops::echo
