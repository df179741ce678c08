// Each real service binary: migrates, reports SERVING, serves /metrics with the
// grpc_server_* families, follows its database's health (readiness) while staying
// alive (liveness), and stops cleanly after its shutdown delay.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <set>

#include "tests/support/harness.h"

namespace careops {
namespace {

class ServiceBinaryTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ServiceBinaryTest, ServesHealthAndMetricsAndStopsOnSigterm) {
  testing::TestSchema schema(GetParam());
  testing::ServiceProcess service(GetParam(), schema.dsn());
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  std::string metrics;
  ASSERT_TRUE(testing::Eventually([&] {
    metrics = testing::HttpGet(service.metrics_port(), "/metrics");
    return metrics.find("grpc_server_handled_total") != std::string::npos;
  }));
  EXPECT_NE(metrics.find("grpc_server_started_total{"), std::string::npos);
  EXPECT_NE(metrics.find("grpc_server_handling_seconds_bucket{"), std::string::npos);
  EXPECT_NE(metrics.find(R"(grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary")"),
            std::string::npos)
      << metrics;
  service.process().Signal(SIGTERM);
  int status = service.process().Wait(absl::Seconds(15));
  ASSERT_NE(status, -1) << "did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << service.process().output();
  EXPECT_NE(service.process().output().find("\"msg\":\"stopped\""), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllServices, ServiceBinaryTest,
                         ::testing::Values("membership", "claims", "collections", "retention", "reporting"));

TEST(ServiceHealthTest, ReadinessFollowsTheDatabaseAndLivenessStaysServing) {
  testing::PrivateMariaDb db;
  testing::TestSchema schema("health", db.root_dsn());
  testing::ServiceProcess service("claims", schema.dsn());
  const std::string kClaims = "careops.claims.v1.ClaimsService";
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  EXPECT_EQ(testing::Health(service.address(), kClaims), "SERVING");
  EXPECT_EQ(testing::Health(service.address(), "liveness"), "SERVING");
  db.Stop();
  EXPECT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "NOT_SERVING"; }));
  EXPECT_EQ(testing::Health(service.address(), kClaims), "NOT_SERVING");
  // A database outage is not a reason to restart the pod.
  EXPECT_EQ(testing::Health(service.address(), "liveness"), "SERVING");
  db.Start();
  EXPECT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  EXPECT_EQ(testing::Health(service.address(), kClaims), "SERVING");
  EXPECT_EQ(testing::Health(service.address(), "liveness"), "SERVING");
}

TEST(ServiceStopTest, SigtermReportsNotReadyForTheShutdownDelayThenDrains) {
  testing::TestSchema schema("shutdown_delay");
  const absl::Duration delay = absl::Seconds(2);
  testing::ServiceProcess service("reporting", schema.dsn(), {"--shutdown_delay=2s"});
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();
  const absl::Time signalled = absl::Now();
  service.process().Signal(SIGTERM);
  // Still answering, no longer ready, still alive: what a load balancer must see
  // before the listener goes away.
  std::string readiness, liveness;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        readiness = testing::Health(service.address());
        liveness = testing::Health(service.address(), "liveness");
        return readiness == "NOT_SERVING";
      },
      delay))
      << readiness << "\n" << service.process().output();
  EXPECT_EQ(liveness, "SERVING");
  int status = service.process().Wait(absl::Seconds(15));
  ASSERT_NE(status, -1) << "did not exit after SIGTERM";
  EXPECT_GE(absl::Now() - signalled, delay) << "drained before the shutdown delay was over";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << service.process().output();
}

TEST(ServiceStopTest, SigtermWhileWaitingForTheDatabaseExitsPromptly) {
  MysqlDsn unreachable = testing::RootDsn();
  unreachable.host = "127.0.0.1";
  unreachable.port = testing::FreePort();  // nothing listens here
  unreachable.socket.clear();
  testing::ServiceProcess service("claims", unreachable);
  ASSERT_TRUE(testing::Eventually(
      [&] { return service.process().output().find("database not reachable yet") != std::string::npos; }))
      << service.process().output();
  service.process().Signal(SIGTERM);
  // The start-up wait for the database is 60s; SIGTERM must not have to outlast it.
  int status = service.process().Wait(absl::Seconds(5));
  ASSERT_NE(status, -1) << "still waiting for the database after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << service.process().output();
}

TEST(ServiceMigrationTest, ReplicasStartingTogetherApplyEachMigrationOnce) {
  testing::TestSchema schema("replicas");
  // Three processes race for the same fresh schema, as replicas of a Deployment do.
  testing::ServiceProcess a("reporting", schema.dsn()), b("reporting", schema.dsn()),
      c("reporting", schema.dsn());
  for (auto* s : {&a, &b, &c}) {
    ASSERT_TRUE(testing::Eventually([&] { return testing::Health(s->address()) == "SERVING"; }))
        << s->process().output();
  }
  // Each "migration applied" log line names its file; none may appear twice.
  std::multiset<std::string> applied;
  const std::string key = "\"migration\":\"";
  for (auto* s : {&a, &b, &c}) {
    std::string out = s->process().output();
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + 1)) {
      size_t start = at + key.size();
      applied.insert(out.substr(start, out.find('"', start) - start));
    }
  }
  EXPECT_EQ(applied.count("V001__runtime.sql"), 1u);
  for (const auto& name : applied) EXPECT_EQ(applied.count(name), 1u) << name;
}

TEST(ServiceConfigTest, BadConfigurationExitsWithEveryProblemNamed) {
  testing::Process p(testing::BinaryDir() + "/services/claims/careops-claims",
                     {"--grpc_port=99999", "--mysql_dsn=postgres://x"});
  int status = p.Wait(absl::Seconds(10));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  std::string out = p.output();
  EXPECT_NE(out.find("--grpc_port='99999'"), std::string::npos) << out;
  EXPECT_NE(out.find("--token_file (or CAREOPS_CLAIMS_TOKEN_FILE) is required"), std::string::npos) << out;
}

TEST(ServiceConfigTest, UnknownBusinessTimeZoneIsABadFlag) {
  testing::Process p(testing::BinaryDir() + "/services/claims/careops-claims",
                     {"--mysql_dsn=mysql://u:p@127.0.0.1:1/x", "--token_file=" + testing::DevTokenFile(),
                      "--business_tz=Asia/Atlantis"});
  int status = p.Wait(absl::Seconds(10));
  ASSERT_TRUE(WIFEXITED(status)) << p.output();
  EXPECT_EQ(WEXITSTATUS(status), 2) << p.output();
  EXPECT_NE(p.output().find("--business_tz='Asia/Atlantis'"), std::string::npos) << p.output();
}

TEST(ServiceConfigTest, ChangedAppliedMigrationRefusesToStart) {
  testing::TestSchema schema("tampered");
  {
    testing::ServiceProcess service("reporting", schema.dsn());
    ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }));
  }
  testing::RootExec(testing::RootDsn(),
                    {"UPDATE " + schema.dsn().schema + ".schema_migrations SET checksum = '0000000000000000' WHERE version = 1"});
  testing::ServiceProcess again("reporting", schema.dsn());
  int status = again.process().Wait(absl::Seconds(15));
  ASSERT_TRUE(WIFEXITED(status)) << again.process().output();
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(again.process().output().find("was changed after it was applied"), std::string::npos);
}

}  // namespace
}  // namespace careops
