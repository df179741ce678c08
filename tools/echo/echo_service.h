// EchoService: the benchmark's gRPC ceiling (proto/careops/echo/v1/echo.proto).
//
// One answer served in each threading model careops could use, so tools/bench can
// compare them on this machine:
//   - sync:          gRPC's synchronous thread pool (what ServiceRuntime serves);
//   - callback:      the callback API, answering on gRPC's own callback threads;
//   - callback_pool: the callback API handing every call to a fixed WorkerPool
//                    (sized like the database pool, bounded queue), which is how a
//                    callback server would have to run careops' blocking
//                    Connector/C++ handlers without stalling gRPC's threads.
// With a database (EchoWork::pool set), every call also runs one prepared
// round trip to MariaDB through the common ConnectionPool before answering: the
// smallest stand-in for a careops read, so that the models are compared on
// blocking work, not only on an in-memory copy. When given an Authenticator,
// every model checks the caller's bearer token first, as every careops RPC does.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "careops/echo/v1/echo.grpc.pb.h"
#include "common/auth.h"
#include "common/mysql/pool.h"

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

// A fixed set of threads running queued jobs in arrival order. Submit() refuses
// (returns false) when `queue` jobs already wait, so a burst is answered at once
// instead of piling up; no thread is ever created after construction.
class WorkerPool {
 public:
  WorkerPool(int threads, int queue);
  ~WorkerPool();  // runs what is queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  bool Submit(std::function<void()> job);

 private:
  void Run();
  const size_t queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

class EchoServiceImpl final : public v1::EchoService::Service {
 public:
  explicit EchoServiceImpl(EchoWork work) : work_(work) {}
  grpc::Status Echo(grpc::ServerContext* context, const v1::EchoRequest* request,
                    v1::EchoResponse* response) override;

 private:
  EchoWork work_;
};

// `workers` null: answers on gRPC's callback thread. Otherwise every call is run
// by `workers`; a full queue is RESOURCE_EXHAUSTED.
class EchoCallbackServiceImpl final : public v1::EchoService::CallbackService {
 public:
  EchoCallbackServiceImpl(EchoWork work, WorkerPool* workers) : work_(work), workers_(workers) {}
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override;

 private:
  EchoWork work_;
  WorkerPool* workers_;
};

}  // namespace careops::echo
