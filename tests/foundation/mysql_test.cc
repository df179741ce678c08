// The MySQL layer against the real MariaDB: status mapping, transactions,
// conflict retries, request-id idempotency, a bounded pool that survives a
// server restart, and per-service users that cannot read each other's schema.
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "careops/common/v1/types.pb.h"
#include "common/migrations.h"
#include "common/mysql/idempotency.h"
#include "common/mysql/pool.h"
#include "tests/support/harness.h"

namespace careops {
std::vector<Migration> careops_runtime_migrations();
namespace {

mysql::PoolOptions Options(const MysqlDsn& dsn, int size = 4) {
  mysql::PoolOptions o;
  o.dsn = dsn;
  o.max_size = size;
  o.acquire_timeout = absl::Seconds(2);
  o.validate_after_idle = absl::ZeroDuration();
  return o;
}

void Exec(mysql::ConnectionPool& pool, const std::string& sql) {
  ASSERT_TRUE(mysql::WithConnection(pool, [&](mysql::Connection& c) {
                c.Execute(sql);
                return absl::OkStatus();
              }).ok());
}

int64_t Scalar(mysql::ConnectionPool& pool, const std::string& sql) {
  int64_t v = -1;
  absl::Status s = mysql::WithConnection(pool, [&](mysql::Connection& c) {
    std::unique_ptr<sql::ResultSet> rs(c.Prepare(sql).executeQuery());
    if (rs->next()) v = rs->getInt64(1);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return v;
}

class MysqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_unique<testing::TestSchema>("mysql");
    pool_ = std::make_unique<mysql::ConnectionPool>(Options(schema_->dsn()));
    Exec(*pool_, "CREATE TABLE item (id INT PRIMARY KEY, qty INT NOT NULL) ENGINE=InnoDB");
  }
  std::unique_ptr<testing::TestSchema> schema_;
  std::unique_ptr<mysql::ConnectionPool> pool_;
};

TEST_F(MysqlTest, DuplicateKeyIsAlreadyExistsAndRollsBackTheTransaction) {
  absl::Status s = mysql::RunInTransaction(*pool_, [](mysql::Connection& c) {
    c.Execute("INSERT INTO item VALUES (1, 1)");
    c.Execute("INSERT INTO item VALUES (2, 1)");
    c.Execute("INSERT INTO item VALUES (1, 2)");
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(Scalar(*pool_, "SELECT COUNT(*) FROM item"), 0);
}

TEST_F(MysqlTest, ErrorStatusFromTheBodyRollsBack) {
  absl::Status s = mysql::RunInTransaction(*pool_, [](mysql::Connection& c) {
    c.Execute("INSERT INTO item VALUES (1, 1)");
    return absl::FailedPreconditionError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Scalar(*pool_, "SELECT COUNT(*) FROM item"), 0);
}

TEST_F(MysqlTest, PreparedStatementsAreReusedPerConnection) {
  mysql::ConnectionPool one(Options(schema_->dsn(), 1));
  auto prepared = [&] { return Scalar(one, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'"); };
  int64_t before = prepared();
  for (int i = 0; i < 20; ++i) Scalar(one, "SELECT COUNT(*) FROM item");
  int64_t after = prepared();
  // The counter query and the count query are prepared once each on this connection.
  EXPECT_LE(after - before, 1);
}

TEST_F(MysqlTest, LockConflictIsAbortedAndRetried) {
  Exec(*pool_, "INSERT INTO item VALUES (1, 0)");
  std::promise<void> locked, release;
  std::thread holder([&] {
    absl::Status s = mysql::RunInTransaction(*pool_, [&](mysql::Connection& c) {
      c.Execute("SELECT qty FROM item WHERE id = 1 FOR UPDATE");
      locked.set_value();
      release.get_future().wait();
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  locked.get_future().wait();
  std::atomic<int> attempts{0};
  absl::Status s = mysql::RunInTransaction(
      *pool_,
      [&](mysql::Connection& c) {
        if (++attempts == 2) release.set_value();  // the holder lets go before the retry
        c.Execute("SET SESSION innodb_lock_wait_timeout = 1");
        c.Execute("UPDATE item SET qty = qty + 1 WHERE id = 1");
        return absl::OkStatus();
      },
      {.max_attempts = 5});
  holder.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_GE(attempts.load(), 2);
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 1);
}

TEST_F(MysqlTest, StaleEtagStyleAbortedFromTheBodyIsNotRetried) {
  int attempts = 0;
  absl::Status s = mysql::RunInTransaction(*pool_, [&](mysql::Connection&) {
    ++attempts;
    return absl::AbortedError("etag: stale");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(attempts, 1);
}

TEST_F(MysqlTest, PoolIsBoundedAndTimesOutWithUnavailable) {
  mysql::PoolOptions o = Options(schema_->dsn(), 2);
  o.acquire_timeout = absl::Milliseconds(200);
  mysql::ConnectionPool small(o);
  auto a = small.Acquire();
  auto b = small.Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = small.Acquire();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(small.open_connections(), 2);
}

TEST_F(MysqlTest, RequestIdAppliesOnceAndRefusesADifferentRequest) {
  ASSERT_TRUE(Migrate(*pool_, careops_runtime_migrations()).ok());
  common::v1::Money request;
  request.set_currency_code("PHP");
  request.set_amount_minor(5);
  int runs = 0;
  auto add = [&](const common::v1::Money& req, common::v1::Money* resp) {
    return mysql::RunIdempotent(*pool_, "AddQty", "req-1", req, resp, [&](mysql::Connection& c) {
      ++runs;
      auto& st = c.Prepare("INSERT INTO item VALUES (?, ?) ON DUPLICATE KEY UPDATE qty = qty + VALUES(qty)");
      st.setInt(1, 1);
      st.setInt64(2, req.amount_minor());
      st.executeUpdate();
      resp->set_amount_minor(runs * 100);
      return absl::OkStatus();
    });
  };
  common::v1::Money first, second, third;
  ASSERT_TRUE(add(request, &first).ok());
  ASSERT_TRUE(add(request, &second).ok());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(second.amount_minor(), first.amount_minor());
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 5);
  request.set_amount_minor(6);
  absl::Status s = add(request, &third);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("request_id"), std::string::npos);
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 5);
  EXPECT_EQ(mysql::ValidateRequestId("").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MysqlTest, RequestIdRetriedAfterADeadlockStoresOnlyTheLastAttemptsResponse) {
  ASSERT_TRUE(Migrate(*pool_, careops_runtime_migrations()).ok());
  common::v1::Money request;
  request.set_amount_minor(1);
  int attempts = 0;
  auto call = [&](common::v1::Money* resp) {
    return mysql::RunIdempotent(*pool_, "Deadlocked", "dl-1", request, resp, [&](mysql::Connection&) {
      if (++attempts == 1) {
        resp->set_currency_code("STALE");  // from the attempt that rolls back
        throw sql::SQLException("Deadlock found when trying to get lock", "40001", 1213);
      }
      resp->set_amount_minor(7);
      return absl::OkStatus();
    });
  };
  common::v1::Money first, replay;
  ASSERT_TRUE(call(&first).ok());
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(first.currency_code(), "");
  ASSERT_TRUE(call(&replay).ok());
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(replay.currency_code(), "") << "the stored response kept a rolled-back attempt's field";
  EXPECT_EQ(replay.amount_minor(), 7);
}

TEST_F(MysqlTest, ConcurrentTwinsWithOneRequestIdApplyOnce) {
  ASSERT_TRUE(Migrate(*pool_, careops_runtime_migrations()).ok());
  Exec(*pool_, "INSERT INTO item VALUES (1, 0)");
  common::v1::Money request;
  request.set_amount_minor(1);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      common::v1::Money resp;
      absl::Status s = mysql::RunIdempotent(*pool_, "Inc", "twin", request, &resp, [&](mysql::Connection& c) {
        c.Execute("UPDATE item SET qty = qty + 1 WHERE id = 1");
        resp.set_amount_minor(42);
        return absl::OkStatus();
      });
      if (s.ok() && resp.amount_minor() == 42) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 1);
}

TEST(MysqlIsolationTest, ServiceUserCannotReadAnotherServicesSchema) {
  testing::TestSchema claims("claims"), membership("membership");
  mysql::ConnectionPool claims_pool(Options(claims.dsn()));
  mysql::ConnectionPool membership_pool(Options(membership.dsn()));
  Exec(membership_pool, "CREATE TABLE member (id INT PRIMARY KEY)");
  absl::Status s = mysql::WithConnection(claims_pool, [&](mysql::Connection& c) {
    std::unique_ptr<sql::ResultSet> rs(
        c.Prepare("SELECT COUNT(*) FROM " + membership.dsn().schema + ".member").executeQuery());
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  MysqlDsn wrong = claims.dsn();
  wrong.schema = membership.dsn().schema;
  mysql::ConnectionPool wrong_pool(Options(wrong));
  EXPECT_FALSE(wrong_pool.Ping().ok());
}

TEST(MysqlRestartTest, PoolRecoversAfterTheServerRestarts) {
  testing::PrivateMariaDb db;
  MysqlDsn root = db.root_dsn();
  testing::TestSchema schema("restart", root);
  mysql::PoolOptions o = Options(schema.dsn(), 3);
  o.connect_timeout = absl::Seconds(1);
  mysql::ConnectionPool pool(o);
  Exec(pool, "CREATE TABLE t (id INT PRIMARY KEY)");
  {
    // Fill the pool with idle connections that the restart will kill.
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    ASSERT_TRUE(a.ok() && b.ok());
  }
  db.Stop();
  absl::Status down = pool.Ping();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  db.Start();
  ASSERT_TRUE(testing::Eventually([&] { return pool.Ping().ok(); }, absl::Seconds(10)));
  Exec(pool, "INSERT INTO t VALUES (1)");
  EXPECT_EQ(Scalar(pool, "SELECT COUNT(*) FROM t"), 1);
  EXPECT_LE(pool.open_connections(), 3);
}

}  // namespace
}  // namespace careops
