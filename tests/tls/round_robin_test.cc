// round_robin over two membership replicas, as a peer channel sees a headless
// Service: both take calls, one restarting leaves the calls answered by the
// other, and the restarted one takes calls again within the bounded reconnect
// backoff (common/peer.h), not gRPC's default of up to two minutes. And a lone
// replica that restarts answers the very first call after it is SERVING again.
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/peer.h"
#include "common/text.h"
#include "tests/support/harness.h"
#include "tests/support/stack.h"

namespace careops {
namespace {

namespace mv1 = ::careops::membership::v1;

// GetClientAccount calls this replica has answered, from its /metrics.
int64_t Answered(testing::ServiceProcess& replica) {
  int64_t total = 0;
  for (std::string_view line : SplitAny(testing::HttpGet(replica.metrics_port(), "/metrics"), "\n", true)) {
    if (line.rfind("grpc_server_handled_total{", 0) != 0 || line.find("grpc_method=\"GetClientAccount\"") == line.npos) {
      continue;
    }
    double v = 0;
    if (absl::SimpleAtod(Abs(line.substr(line.rfind(' ') + 1)), &v)) total += static_cast<int64_t>(v);
  }
  return total;
}

class RoundRobinTest : public ::testing::Test {
 protected:
  RoundRobinTest()
      : a_("membership", schema_.dsn()),
        b_("membership", schema_.dsn()),
        peer_([&] {
          PeerOptions o;
          o.address = absl::StrCat("ipv4:", a_.address(), ",", b_.address());
          o.service = mv1::MembershipService::service_full_name();
          o.token = "svc-reporting";
          return o;
        }()),
        stub_(mv1::MembershipService::NewStub(peer_.channel())) {}

  // One read through the peer channel: OK when a replica answered it (NOT_FOUND
  // is an answer; the account does not exist).
  grpc::Status Call() {
    mv1::GetClientAccountRequest req;
    req.set_account_id("01J00000000000000000000000");
    mv1::ClientAccount out;
    grpc::Status s = stub_->GetClientAccount(peer_.NewContext().get(), req, &out);
    return s.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : s;
  }

  testing::TestSchema schema_{"membership"};
  testing::ServiceProcess a_, b_;
  PeerChannel peer_;
  std::unique_ptr<mv1::MembershipService::Stub> stub_;
};

TEST_F(RoundRobinTest, BothReplicasServeAndARestartedOneRejoinsWithinTheBoundedBackoff) {
  ASSERT_TRUE(testing::Serving(a_));
  ASSERT_TRUE(testing::Serving(b_));
  // Spread: within a bounded number of calls both replicas have answered.
  ASSERT_TRUE(testing::Eventually([&] {
    EXPECT_TRUE(Call().ok());
    return Answered(a_) > 0 && Answered(b_) > 0;
  }, absl::Seconds(10)));

  a_.Stop();
  // While a is down every call is answered (by b).
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = Call();
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_code() << " " << s.error_message();
  }
  a_.Start();
  ASSERT_TRUE(testing::Serving(a_));
  // a rejoins: it answers again within the reconnect bound (1s) plus slack for
  // a loaded machine; every call meanwhile succeeds.
  const absl::Time listening = absl::Now();
  bool rejoined = testing::Eventually([&] {
    grpc::Status s = Call();
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return Answered(a_) > 0;  // a restarted process counts from zero
  }, absl::Seconds(5));
  EXPECT_TRUE(rejoined) << "the restarted replica took no call within 5s";
  EXPECT_LT(absl::Now() - listening, absl::Seconds(5));
}

// The single-replica case (development, a scaled-down deployment): while the
// only peer is down a call is UNAVAILABLE, and the first call once it serves
// again is answered, not refused for the rest of a reconnect backoff.
TEST(LonePeerTest, TheFirstCallAfterTheOnlyReplicaRestartsIsAnswered) {
  testing::TestSchema schema("membership");
  testing::ServiceProcess lone("membership", schema.dsn());
  PeerOptions o;
  o.address = lone.address();
  o.service = mv1::MembershipService::service_full_name();
  o.token = "svc-reporting";
  PeerChannel peer(o);
  auto stub = mv1::MembershipService::NewStub(peer.channel());
  auto call = [&] {
    mv1::GetClientAccountRequest req;
    req.set_account_id("01J00000000000000000000000");
    mv1::ClientAccount out;
    grpc::Status s = stub->GetClientAccount(peer.NewContext().get(), req, &out);
    return s.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : s;
  };
  ASSERT_TRUE(testing::Serving(lone));
  ASSERT_TRUE(call().ok());
  for (int restart = 0; restart < 3; ++restart) {
    lone.Stop();
    EXPECT_EQ(call().error_code(), grpc::StatusCode::UNAVAILABLE);
    lone.Start();
    ASSERT_TRUE(testing::Serving(lone));
    grpc::Status first = call();
    EXPECT_TRUE(first.ok()) << "restart " << restart << ": " << first.error_code() << " " << first.error_message();
  }
}

}  // namespace
}  // namespace careops
