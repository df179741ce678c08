// Migrations by their own user, the runtime user with only DML: the split the
// Kubernetes manifests use (an init container runs `--migrate_only` as the DDL
// user; the service runs as a user holding only the runtime role).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "common/mysql/pool.h"
#include "tests/support/harness.h"

namespace careops {
namespace {

std::string Suffix() {
  std::random_device rd;
  return absl::StrCat(rd() % 1000000);
}

absl::Status RunAs(const MysqlDsn& dsn, const std::string& statement) {
  mysql::PoolOptions options;
  options.dsn = dsn;
  options.max_size = 1;
  mysql::ConnectionPool pool(options);
  return mysql::WithConnection(pool, [&](mysql::Connection& c) {
    c.Execute(statement);
    return absl::OkStatus();
  });
}

TEST(MigrateOnlyTest, DdlUserMigratesAndRuntimeUserGetsOnlyDmlAndAppendOnlyAudit) {
  MysqlDsn root = testing::RootDsn();
  testing::TestSchema migrate_schema("claims");  // its user has ALL on the schema: the DDL user
  MysqlDsn migrator = migrate_schema.dsn();
  std::string s = Suffix();
  std::string role = absl::StrCat("rr", s);
  MysqlDsn runtime = migrator;
  runtime.user = absl::StrCat("ru", s);
  runtime.password = absl::StrCat("rp", s);
  testing::RootExec(root, {
      absl::StrCat("GRANT GRANT OPTION ON ", migrator.schema, ".* TO '", migrator.user, "'@'127.0.0.1'"),
      absl::StrCat("CREATE ROLE ", role),
      absl::StrCat("CREATE USER '", runtime.user, "'@'127.0.0.1' IDENTIFIED BY '", runtime.password, "'"),
      absl::StrCat("GRANT ", role, " TO '", runtime.user, "'@'127.0.0.1'"),
      absl::StrCat("SET DEFAULT ROLE ", role, " FOR '", runtime.user, "'@'127.0.0.1'"),
  });
  struct Cleanup {
    MysqlDsn root;
    std::string user, role;
    ~Cleanup() {
      testing::RootExec(root, {absl::StrCat("DROP USER IF EXISTS '", user, "'@'127.0.0.1'"),
                               absl::StrCat("DROP ROLE IF EXISTS ", role)});
    }
  } cleanup{root, runtime.user, role};

  const std::string binary = absl::StrCat(testing::BinaryDir(), "/services/claims/careops-claims");
  for (int run = 0; run < 2; ++run) {  // the second run finds nothing to apply and still grants
    testing::Process migrate(binary, {"--migrate_only", absl::StrCat("--runtime_db_role=", role),
                                      absl::StrCat("--mysql_dsn=", FormatMysqlDsn(migrator)),
                                      absl::StrCat("--token_file=", testing::DevTokenFile())});
    int status = migrate.Wait(absl::Seconds(60));
    ASSERT_NE(status, -1) << "--migrate_only did not exit\n" << migrate.output();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << migrate.output();
    EXPECT_NE(migrate.output().find("migrations applied"), std::string::npos) << migrate.output();
  }

  // The runtime user starts the service on the migrated schema without any DDL.
  testing::ServiceProcess service("claims", runtime);
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(service.address()) == "SERVING"; }))
      << service.process().output();

  const std::string insert_audit =
      "INSERT INTO audit_log (at, actor_user, actor_role, actor_team, action, resource_type, resource_id,"
      " reason, details, request_id) VALUES (NOW(6), 'u', 'r', 't', 'a', 'claim', '1', '', '', 'req-1')";
  EXPECT_TRUE(RunAs(runtime, insert_audit).ok());
  EXPECT_TRUE(RunAs(runtime, "SELECT COUNT(*) FROM audit_log").ok());
  EXPECT_FALSE(RunAs(runtime, "UPDATE audit_log SET reason = 'x'").ok()) << "audit_log must be append-only";
  EXPECT_FALSE(RunAs(runtime, "DELETE FROM audit_log").ok()) << "audit_log must be append-only";
  EXPECT_TRUE(RunAs(runtime, "UPDATE claims SET status = status WHERE 1 = 0").ok());
  EXPECT_TRUE(RunAs(runtime, "DELETE FROM claims WHERE 1 = 0").ok());
  EXPECT_FALSE(RunAs(runtime, "CREATE TABLE extra (id INT)").ok()) << "the runtime user must have no DDL";
  EXPECT_FALSE(RunAs(runtime, "ALTER TABLE claims ADD COLUMN extra INT").ok());
  EXPECT_FALSE(RunAs(runtime, "DELETE FROM schema_migrations").ok());
  // The DDL user kept everything.
  EXPECT_TRUE(RunAs(migrator, "CREATE TABLE extra (id INT)").ok());
}

}  // namespace
}  // namespace careops
