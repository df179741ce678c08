#include "common/pooled_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "careops/claims/v1/claims.grpc.pb.h"
#include "careops/echo/v1/echo.grpc.pb.h"
#include "common/deadline.h"

namespace careops {
namespace {

using echo::v1::EchoRequest;
using echo::v1::EchoResponse;

constexpr char kEcho[] = "careops.echo.v1.EchoService";

// An adapter as careops writes them: plain member functions on ServerContextBase.
struct EchoAdapter {
  std::atomic<int> runs{0};
  absl::Notification* hold = nullptr;  // when set, each call waits for it
  absl::Time seen_deadline;

  grpc::Status Echo(grpc::ServerContextBase*, const EchoRequest* req, EchoResponse* resp) {
    ++runs;
    seen_deadline = CurrentCallDeadline();
    if (hold != nullptr) hold->WaitForNotification();
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
  // The wrong shape for Echo: a stream.
  grpc::Status EchoStream(grpc::ServerContextBase*, const EchoRequest*, grpc::ServerWriter<EchoResponse>*) {
    return grpc::Status::OK;
  }
};

TEST(PooledServiceCheck, ACompleteTableStarts) {
  WorkerPool pool({.workers = 1, .queue = 1});
  EchoAdapter a;
  PooledService s(kEcho, pool);
  s.Unary("Echo", &a, &EchoAdapter::Echo);
  EXPECT_TRUE(s.Check().ok()) << s.Check();
  EXPECT_EQ(s.name(), kEcho);
}

TEST(PooledServiceCheck, AMethodWithoutAHandlerIsNamed) {
  WorkerPool pool({.workers = 1, .queue = 1});
  PooledService s(kEcho, pool);
  absl::Status st = s.Check();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("method 'Echo' has no handler"), std::string::npos) << st;
}

TEST(PooledServiceCheck, UnknownDuplicateAndMisShapedEntriesAreNamed) {
  WorkerPool pool({.workers = 1, .queue = 1});
  EchoAdapter a;
  {
    PooledService s(kEcho, pool);
    s.Unary("Echo", &a, &EchoAdapter::Echo).Unary("Ecko", &a, &EchoAdapter::Echo);
    EXPECT_NE(s.Check().message().find("method 'Ecko' is not a method of the service"), std::string::npos)
        << s.Check();
  }
  {
    PooledService s(kEcho, pool);
    s.Unary("Echo", &a, &EchoAdapter::Echo).Unary("Echo", &a, &EchoAdapter::Echo);
    EXPECT_NE(s.Check().message().find("method 'Echo' has two handlers"), std::string::npos) << s.Check();
  }
  {
    PooledService s(kEcho, pool);
    s.ServerStream("Echo", &a, &EchoAdapter::EchoStream);
    EXPECT_NE(s.Check().message().find("method 'Echo' is not a server stream"), std::string::npos) << s.Check();
  }
  {
    PooledService s("careops.nothing.v1.Nothing", pool);
    EXPECT_NE(s.Check().message().find("no service"), std::string::npos) << s.Check();
  }
}

// Claims has a server stream and unary methods: the wrong types are named, and a
// table that binds only some methods names every one it misses.
TEST(PooledServiceCheck, WrongTypesAndEveryMissingMethodAreNamed) {
  WorkerPool pool({.workers = 1, .queue = 1});
  EchoAdapter a;
  PooledService s(claims::v1::ClaimsService::service_full_name(), pool);
  s.Unary("GetClaim", &a, &EchoAdapter::Echo).ServerStream("StreamBordereau", &a, &EchoAdapter::EchoStream);
  const std::string m(s.Check().message());
  EXPECT_NE(m.find("method 'GetClaim' takes careops.claims.v1.GetClaimRequest"), std::string::npos) << m;
  EXPECT_NE(m.find("method 'StreamBordereau' takes"), std::string::npos) << m;
  EXPECT_NE(m.find("method 'SubmitClaim' has no handler"), std::string::npos) << m;
}

// A real server on loopback, serving the table through the pool.
class PooledServerTest : public ::testing::Test {
 protected:
  void Serve(WorkerPoolOptions options) {
    pool_ = std::make_unique<WorkerPool>(options);
    service_ = std::make_unique<PooledService>(kEcho, *pool_);
    service_->Unary("Echo", &adapter_, &EchoAdapter::Echo);
    ASSERT_TRUE(service_->Check().ok());
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = echo::v1::EchoService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_.reset();
    service_.reset();
    pool_.reset();
  }
  // Polls (with a deadline) until the pool has `running` jobs running and `waiting` queued.
  bool PoolReaches(int running, int waiting) {
    const absl::Time until = absl::Now() + absl::Seconds(10);
    while (absl::Now() < until) {
      if (pool_->running() == running && pool_->waiting() == waiting) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }

  EchoAdapter adapter_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<PooledService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<echo::v1::EchoService::Stub> stub_;
};

TEST_F(PooledServerTest, AHandlerSeesTheCallsDeadline) {
  Serve({.workers = 2, .queue = 4});
  grpc::ClientContext ctx;
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
  ctx.set_deadline(deadline);
  EchoRequest req;
  req.set_payload("hello");
  EchoResponse resp;
  ASSERT_TRUE(stub_->Echo(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.payload(), "hello");
  EXPECT_EQ(adapter_.runs, 1);
  // The handler saw the client's deadline (to the precision it crossed the wire).
  EXPECT_LT(absl::AbsDuration(adapter_.seen_deadline - absl::FromChrono(deadline)), absl::Seconds(1));
}

TEST_F(PooledServerTest, AFullQueueIsRefusedAtOnceAndAnExpiredWaiterNeverRuns) {
  absl::Notification release;
  adapter_.hold = &release;
  Serve({.workers = 1, .queue = 1});
  EchoRequest req;
  EchoResponse busy_resp, late_resp, refused_resp;

  // One call holds the only worker.
  grpc::ClientContext busy;
  std::atomic<bool> busy_done{false};
  grpc::Status busy_status;
  stub_->async()->Echo(&busy, &req, &busy_resp, [&](grpc::Status s) {
    busy_status = s;
    busy_done = true;
  });
  ASSERT_TRUE(PoolReaches(1, 0));

  // The next waits in the queue, with a short deadline that passes while it waits.
  grpc::ClientContext late;
  late.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  std::atomic<bool> late_done{false};
  stub_->async()->Echo(&late, &req, &late_resp, [&](grpc::Status) { late_done = true; });
  ASSERT_TRUE(PoolReaches(1, 1));

  // The queue is full: refused at once, without waiting for the worker.
  grpc::ClientContext refused;
  grpc::Status s = stub_->Echo(&refused, req, &refused_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("retry with backoff"), std::string::npos) << s.error_message();

  // Once the late call's deadline has passed, free the worker: the late call is
  // dropped unrun, the busy one completes.
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (!late_done && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(late_done);
  release.Notify();
  ASSERT_TRUE(PoolReaches(0, 0));
  while (!busy_done && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(busy_status.ok()) << busy_status.error_message();
  EXPECT_EQ(adapter_.runs, 1);
}

}  // namespace
}  // namespace careops
