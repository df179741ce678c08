#include "tools/echo/echo_service.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "common/status.h"

namespace careops::echo {
namespace {

constexpr char kRoundTrip[] = "SELECT ? AS n";

absl::Status DatabaseRoundTrip(mysql::ConnectionPool& pool, int64_t n) {
  return mysql::WithConnection(pool, [&](mysql::Connection& c) -> absl::Status {
    sql::PreparedStatement& stmt = c.Prepare(kRoundTrip);
    stmt.setInt64(1, n);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    if (!rs->next() || rs->getInt64(1) != n) return absl::InternalError("round trip returned no row");
    return absl::OkStatus();
  });
}

}  // namespace

grpc::Status Answer(const EchoWork& work, const grpc::ServerContextBase& context,
                    const v1::EchoRequest& request, v1::EchoResponse* response) {
  if (work.auth != nullptr) {
    auto caller = work.auth->Authenticate(context);
    if (!caller.ok()) return ToGrpcStatus(caller.status());
  }
  if (work.pool != nullptr) {
    absl::Status db = DatabaseRoundTrip(*work.pool, static_cast<int64_t>(request.payload().size()));
    if (!db.ok()) return ToGrpcStatus(db);
  }
  response->set_request_id(request.request_id());
  response->set_payload(request.payload());
  return grpc::Status::OK;
}

WorkerPool::WorkerPool(int threads, int queue) : queue_(static_cast<size_t>(queue)) {
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool WorkerPool::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs_.size() >= queue_) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

grpc::Status EchoServiceImpl::Echo(grpc::ServerContext* context, const v1::EchoRequest* request,
                                   v1::EchoResponse* response) {
  return Answer(work_, *context, *request, response);
}

grpc::ServerUnaryReactor* EchoCallbackServiceImpl::Echo(grpc::CallbackServerContext* context,
                                                        const v1::EchoRequest* request,
                                                        v1::EchoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (workers_ == nullptr) {
    reactor->Finish(Answer(work_, *context, *request, response));
    return reactor;
  }
  // The reactor, context, request and response stay valid until Finish().
  bool queued = workers_->Submit([this, reactor, context, request, response] {
    reactor->Finish(Answer(work_, *context, *request, response));
  });
  if (!queued) reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "all workers are busy"));
  return reactor;
}

}  // namespace careops::echo
