#include "common/peer.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "common/deadline.h"

namespace careops {
namespace {

TEST(PeerTest, RetryPolicyCoversOnlyIdempotentMethodsAndOnlyUnavailable) {
  PeerOptions o;
  o.address = "127.0.0.1:1";
  o.service = "careops.membership.v1.MembershipService";
  o.idempotent_methods = {"CheckEligibility", "RecordUtilization"};
  std::string json = PeerChannel::ServiceConfigJson(o);
  EXPECT_NE(json.find(R"({"service":"careops.membership.v1.MembershipService","method":"CheckEligibility"})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("method":"RecordUtilization")"), std::string::npos);
  EXPECT_NE(json.find(R"("retryableStatusCodes":["UNAVAILABLE"])"), std::string::npos);
  EXPECT_EQ(json.find("EnrollMember"), std::string::npos);
  o.idempotent_methods.clear();
  EXPECT_EQ(PeerChannel::ServiceConfigJson(o), R"({"loadBalancingConfig":[{"round_robin":{}}]})");
}

TEST(PeerTest, UnderTlsTheServiceIsItsCertificateAndSendsNoToken) {
  ServiceConfig config = DefaultServiceConfig("claims");
  config.service_token = "svc-claims";
  PeerOptions plain = WithServiceIdentity(PeerOptions{}, config);
  EXPECT_EQ(plain.token, "svc-claims");
  EXPECT_FALSE(plain.tls.enabled());
  config.tls = {.cert = "/c", .key = "/k", .ca = "/a"};
  PeerOptions tls = WithServiceIdentity(PeerOptions{}, config);
  EXPECT_EQ(tls.token, "");
  EXPECT_EQ(tls.tls.cert, "/c");
}

TEST(PeerTest, EveryCallCarriesDeadlineTokenAndRequestId) {
  PeerOptions o;
  o.address = "127.0.0.1:1";
  o.service = "careops.membership.v1.MembershipService";
  o.token = "svc-claims";
  o.deadline = absl::Milliseconds(1500);
  PeerChannel peer(o);
  auto before = std::chrono::system_clock::now();
  auto ctx = peer.NewContext("req-7");
  auto left = ctx->deadline() - before;
  EXPECT_GT(left, std::chrono::milliseconds(1400));
  EXPECT_LE(left, std::chrono::milliseconds(1600));
  EXPECT_NE(peer.channel(), nullptr);
}

TEST(PeerTest, APeerCallInheritsTheCallersDeadlineCappedByPeerDeadline) {
  PeerOptions o;
  o.address = "127.0.0.1:1";
  o.service = "careops.membership.v1.MembershipService";
  o.deadline = absl::Seconds(3);
  PeerChannel peer(o);
  {
    // The caller has 300ms left: the peer call gets no more.
    auto before = std::chrono::system_clock::now();
    CallDeadlineScope call(absl::FromChrono(before) + absl::Milliseconds(300));
    auto left = peer.NewContext()->deadline() - before;
    EXPECT_LE(left, std::chrono::milliseconds(301));
    EXPECT_GT(left, std::chrono::milliseconds(200));
  }
  {
    // The caller has a minute: peer_deadline caps it.
    auto before = std::chrono::system_clock::now();
    CallDeadlineScope call(absl::FromChrono(before) + absl::Minutes(1));
    auto left = peer.NewContext()->deadline() - before;
    EXPECT_LE(left, std::chrono::milliseconds(3100));
    EXPECT_GT(left, std::chrono::milliseconds(2900));
  }
}

}  // namespace
}  // namespace careops
