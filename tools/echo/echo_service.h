// EchoService: the benchmark's gRPC ceiling (proto/careops/echo/v1/echo.proto).
//
// One answer served in each threading model careops could use, so tools/bench can
// compare them on this machine:
//   - sync:          gRPC's synchronous thread pool (what the services served before);
//   - callback:      the callback API, answering on gRPC's own callback threads;
//   - callback_pool: the callback API handing every call to a fixed WorkerPool
//                    (sized like the database pool, bounded queue) through a
//                    PooledService: how every careops service is served.
// With a database (EchoWork::pool set), every call also runs one prepared
// round trip to MariaDB through the common ConnectionPool before answering: the
// smallest stand-in for a careops read, so that the models are compared on
// blocking work, not only on an in-memory copy. When given an Authenticator,
// every model checks the caller's bearer token first, as every careops RPC does.
#pragma once

#include "careops/echo/v1/echo.grpc.pb.h"
#include "common/auth.h"
#include "common/mysql/pool.h"
#include "common/pooled_service.h"

namespace careops::echo {

struct EchoWork {
  const Authenticator* auth = nullptr;   // no token check when null
  mysql::ConnectionPool* pool = nullptr;  // no database round trip when null
};

// UNAUTHENTICATED without a known bearer token (when `auth` is set); UNAVAILABLE
// when the database round trip fails; otherwise copies request_id and payload
// into `response`.
grpc::Status Answer(const EchoWork& work, const grpc::ServerContextBase& context,
                    const v1::EchoRequest& request, v1::EchoResponse* response);

class EchoServiceImpl final : public v1::EchoService::Service {
 public:
  explicit EchoServiceImpl(EchoWork work) : work_(work) {}
  grpc::Status Echo(grpc::ServerContext* context, const v1::EchoRequest* request,
                    v1::EchoResponse* response) override;

 private:
  EchoWork work_;
};

// Answers on gRPC's callback thread (a blocking round trip stalls it).
class EchoCallbackServiceImpl final : public v1::EchoService::CallbackService {
 public:
  explicit EchoCallbackServiceImpl(EchoWork work) : work_(work) {}
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override;

 private:
  EchoWork work_;
};

// Served exactly as a careops service is: through a PooledService onto a
// WorkerPool (common/pooled_service.h).
class EchoPooledAdapter {
 public:
  explicit EchoPooledAdapter(EchoWork work) : work_(work) {}
  void Bind(PooledService& s) { s.Unary("Echo", this, &EchoPooledAdapter::Echo); }
  grpc::Status Echo(grpc::ServerContextBase* context, const v1::EchoRequest* request, v1::EchoResponse* response);

 private:
  EchoWork work_;
};

}  // namespace careops::echo
