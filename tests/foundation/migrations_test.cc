// Migrations against the real MariaDB: exactly once, safe under concurrency,
// and refusing an edited migration.
#include <cppconn/resultset.h>
#include <cppconn/prepared_statement.h>
#include <gtest/gtest.h>

#include <thread>

#include "common/migrations.h"
#include "common/mysql/pool.h"
#include "tests/support/harness.h"

namespace careops {
namespace {

std::vector<Migration> Sample() {
  return {
      {2, "V002__counter.sql", "INSERT INTO counter (n) VALUES (1);"},
      {1, "V001__init.sql",
       "-- the table every sample migration writes to\n"
       "CREATE TABLE counter (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL);\n"
       "CREATE TABLE other (x VARCHAR(10) DEFAULT 'a;b');"},
  };
}

int64_t CountRows(mysql::ConnectionPool& pool, const std::string& sql) {
  int64_t n = -1;
  EXPECT_TRUE(mysql::WithConnection(pool, [&](mysql::Connection& c) {
                std::unique_ptr<sql::ResultSet> rs(c.Prepare(sql).executeQuery());
                rs->next();
                n = rs->getInt64(1);
                return absl::OkStatus();
              }).ok());
  return n;
}

mysql::PoolOptions Options(const MysqlDsn& dsn) {
  mysql::PoolOptions o;
  o.dsn = dsn;
  o.max_size = 2;
  return o;
}

TEST(MigrationsIntegrationTest, AppliedTwiceIsAppliedOnce) {
  testing::TestSchema schema("migrate");
  mysql::ConnectionPool pool(Options(schema.dsn()));
  MigrationResult first, second;
  ASSERT_TRUE(Migrate(pool, Sample(), &first).ok());
  EXPECT_EQ(first.applied, (std::vector<int>{1, 2}));
  ASSERT_TRUE(Migrate(pool, Sample(), &second).ok());
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(CountRows(pool, "SELECT COUNT(*) FROM counter"), 1);
  EXPECT_EQ(CountRows(pool, "SELECT COUNT(*) FROM schema_migrations"), 2);
}

TEST(MigrationsIntegrationTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  testing::TestSchema schema("migrate_race");
  constexpr int kMigrators = 6;
  std::vector<MigrationResult> results(kMigrators);
  std::vector<absl::Status> statuses(kMigrators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      // Each migrator has its own pool and sessions, as separate replicas would.
      mysql::ConnectionPool pool(Options(schema.dsn()));
      statuses[i] = Migrate(pool, Sample(), &results[i]);
    });
  }
  for (auto& t : threads) t.join();
  int applied = 0;
  for (int i = 0; i < kMigrators; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << statuses[i];
    applied += static_cast<int>(results[i].applied.size());
  }
  EXPECT_EQ(applied, 2);
  mysql::ConnectionPool pool(Options(schema.dsn()));
  EXPECT_EQ(CountRows(pool, "SELECT COUNT(*) FROM counter"), 1);
}

TEST(MigrationsIntegrationTest, EditedMigrationRefusesToStart) {
  testing::TestSchema schema("migrate_edit");
  mysql::ConnectionPool pool(Options(schema.dsn()));
  ASSERT_TRUE(Migrate(pool, Sample()).ok());
  auto edited = Sample();
  edited[0].sql = "INSERT INTO counter (n) VALUES (2);";
  absl::Status s = Migrate(pool, edited);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("V002__counter.sql was changed after it was applied"), std::string::npos) << s;
  EXPECT_EQ(CountRows(pool, "SELECT COUNT(*) FROM counter"), 1);
}

TEST(MigrationsIntegrationTest, NewMigrationIsAppliedOnTop) {
  testing::TestSchema schema("migrate_more");
  mysql::ConnectionPool pool(Options(schema.dsn()));
  ASSERT_TRUE(Migrate(pool, Sample()).ok());
  auto more = Sample();
  more.push_back({3, "V003__more.sql", "INSERT INTO counter (n) VALUES (3);"});
  MigrationResult r;
  ASSERT_TRUE(Migrate(pool, more, &r).ok());
  EXPECT_EQ(r.applied, std::vector<int>{3});
  EXPECT_EQ(CountRows(pool, "SELECT COUNT(*) FROM counter"), 2);
}

}  // namespace
}  // namespace careops
