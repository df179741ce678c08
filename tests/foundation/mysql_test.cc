// The MySQL layer against the real MariaDB: status mapping, transactions,
// conflict retries, exactly-once mutations and the request-log purge, a bounded pool that survives a
// server restart, and per-service users that cannot read each other's schema.
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "careops/common/v1/types.pb.h"
#include "common/migrations.h"
#include "common/deadline.h"
#include "common/fingerprint.h"
#include "common/mysql/audit.h"
#include "common/mysql/mutation_runner.h"
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

TEST_F(MysqlTest, PoolWaitEndsAtTheCallsDeadlineWithDeadlineExceeded) {
  mysql::PoolOptions o = Options(schema_->dsn(), 1);
  o.acquire_timeout = absl::Seconds(10);
  mysql::ConnectionPool small(o);
  auto held = small.Acquire();
  ASSERT_TRUE(held.ok());
  {
    CallDeadlineScope call(absl::Now() + absl::Milliseconds(200));
    const absl::Time start = absl::Now();
    auto waited = small.Acquire();
    EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded) << waited.status();
    EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "waited for acquire_timeout, not the call's deadline";
  }
  {
    // A call already out of time gets no connection even when one is free.
    mysql::ConnectionPool free_pool(Options(schema_->dsn(), 2));
    CallDeadlineScope call(absl::Now() - absl::Milliseconds(1));
    EXPECT_EQ(free_pool.Acquire().status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(free_pool.open_connections(), 0);
  }
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

// ---- RunMutation: exactly once per (caller, method, request_id) -------------------

const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2026, 11, 20, 10, 0, 0), absl::UTCTimeZone());

MutationContext Context(const std::string& user, const std::string& method, const std::string& request_id,
                        const google::protobuf::Message& request, google::protobuf::Message* response,
                        absl::Time now = kNow) {
  return MutationContext{.caller = {user, "specialist", "claims-a"},
                         .method = method,
                         .request_id = request_id,
                         .request = &request,
                         .response = response,
                         .now = now};
}

common::v1::Money Amount(int64_t minor) {
  common::v1::Money m;
  m.set_currency_code("PHP");
  m.set_amount_minor(minor);
  return m;
}

class MutationTest : public MysqlTest {
 protected:
  void SetUp() override {
    MysqlTest::SetUp();
    ASSERT_TRUE(Migrate(*pool_, careops_runtime_migrations()).ok());
    Exec(*pool_, "INSERT INTO item VALUES (1, 0)");
  }

  // Adds the request's amount to item 1 as `user`; answers with the new total.
  absl::Status Add(const std::string& user, const std::string& request_id, const common::v1::Money& request,
                   common::v1::Money* response) {
    return mysql::RunMutation(*pool_, Context(user, "AddQty", request_id, request, response),
                              [&](mysql::Connection& c) -> absl::Status {
                                ++runs_;
                                auto& st = c.Prepare("UPDATE item SET qty = qty + ? WHERE id = 1");
                                st.setInt64(1, request.amount_minor());
                                st.executeUpdate();
                                std::unique_ptr<sql::ResultSet> rs(
                                    c.Prepare("SELECT qty FROM item WHERE id = 1").executeQuery());
                                rs->next();
                                response->set_currency_code(user);
                                response->set_amount_minor(rs->getInt64(1));
                                return absl::OkStatus();
                              });
  }
  std::atomic<int> runs_{0};
};

TEST_F(MutationTest, ReplayBySameCallerReturnsTheFirstAnswerAndAppliesOnce) {
  common::v1::Money first, second;
  ASSERT_TRUE(Add("ana.reyes", "req-1", Amount(5), &first).ok());
  ASSERT_TRUE(Add("ana.reyes", "req-1", Amount(5), &second).ok());
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(second.amount_minor(), 5);
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 5);
}

TEST_F(MutationTest, SameIdWithADifferentRequestIsAlreadyExistsNamingRequestId) {
  common::v1::Money first, second;
  ASSERT_TRUE(Add("ana.reyes", "req-1", Amount(5), &first).ok());
  absl::Status s = Add("ana.reyes", "req-1", Amount(6), &second);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(s.message().rfind("request_id: 'req-1'", 0), 0u) << s;
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 5);
}

TEST_F(MutationTest, SameIdByTwoCallersGivesEachTheirOwnResult) {
  common::v1::Money ana, ben, ana_again, ben_again;
  ASSERT_TRUE(Add("ana.reyes", "shared-id", Amount(5), &ana).ok());
  // Another caller with the same id and even another request: not a reuse.
  ASSERT_TRUE(Add("ben.cruz", "shared-id", Amount(7), &ben).ok());
  EXPECT_EQ(runs_.load(), 2);
  EXPECT_EQ(ana.currency_code(), "ana.reyes");
  EXPECT_EQ(ana.amount_minor(), 5);
  EXPECT_EQ(ben.currency_code(), "ben.cruz");
  EXPECT_EQ(ben.amount_minor(), 12);
  // Each replay returns its own caller's answer, never the other's.
  ASSERT_TRUE(Add("ana.reyes", "shared-id", Amount(5), &ana_again).ok());
  ASSERT_TRUE(Add("ben.cruz", "shared-id", Amount(7), &ben_again).ok());
  EXPECT_EQ(runs_.load(), 2);
  EXPECT_EQ(ana_again.SerializeAsString(), ana.SerializeAsString());
  EXPECT_EQ(ben_again.SerializeAsString(), ben.SerializeAsString());
  EXPECT_EQ(Scalar(*pool_, "SELECT COUNT(*) FROM request_log WHERE request_id = 'shared-id'"), 2);
}

TEST_F(MutationTest, ConcurrentTwinsApplyOnceAndAllGetTheSameAnswer) {
  constexpr int kTwins = 8;
  mysql::ConnectionPool wide(Options(schema_->dsn(), kTwins));
  std::vector<common::v1::Money> answers(kTwins);
  std::vector<absl::Status> statuses(kTwins);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  const common::v1::Money request = Amount(1);
  for (int i = 0; i < kTwins; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kTwins) std::this_thread::yield();  // start together
      statuses[i] = mysql::RunMutation(wide, Context("ana.reyes", "Inc", "twin", request, &answers[i]),
                                       [&](mysql::Connection& c) {
                                         ++runs_;
                                         c.Execute("UPDATE item SET qty = qty + 1 WHERE id = 1");
                                         answers[i].set_amount_minor(100 + i);
                                         return absl::OkStatus();
                                       });
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 1);
  for (int i = 0; i < kTwins; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i];
    EXPECT_EQ(answers[i].SerializeAsString(), answers[0].SerializeAsString()) << i;
  }
  EXPECT_GE(answers[0].amount_minor(), 100);
}

TEST_F(MutationTest, DuplicateKeyFromTheBodyIsTheBodysOwnAlreadyExists) {
  common::v1::Money response;
  const common::v1::Money request = Amount(1);
  absl::Status s = mysql::RunMutation(*pool_, Context("ana.reyes", "Insert", "dup-1", request, &response),
                                      [&](mysql::Connection& c) {
                                        ++runs_;
                                        c.Execute("INSERT INTO item VALUES (1, 9)");  // item 1 exists
                                        return absl::OkStatus();
                                      });
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_NE(s.message().rfind("request_id", 0), 0u) << "reported as a request_id reuse: " << s;
  EXPECT_EQ(runs_.load(), 1) << "a body's duplicate key was mistaken for a concurrent twin";
  EXPECT_EQ(Scalar(*pool_, "SELECT COUNT(*) FROM request_log"), 0);
}

TEST_F(MutationTest, RetriedAfterADeadlockStoresOnlyTheLastAttemptsResponse) {
  const common::v1::Money request = Amount(1);
  int attempts = 0;
  auto call = [&](common::v1::Money* resp) {
    return mysql::RunMutation(*pool_, Context("ana.reyes", "Deadlocked", "dl-1", request, resp),
                              [&](mysql::Connection&) {
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

TEST_F(MutationTest, BadRequestIdOrIncompleteContextChangesNothing) {
  common::v1::Money response;
  const common::v1::Money request = Amount(1);
  auto body = [&](mysql::Connection& c) {
    ++runs_;
    c.Execute("UPDATE item SET qty = qty + 1 WHERE id = 1");
    return absl::OkStatus();
  };
  EXPECT_EQ(mysql::RunMutation(*pool_, Context("ana.reyes", "Inc", "", request, &response), body).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mysql::RunMutation(*pool_, Context("ana.reyes", "Inc", "has space", request, &response), body).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mysql::RunMutation(*pool_, Context("", "Inc", "r-1", request, &response), body).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(mysql::RunMutation(*pool_, Context("ana.reyes", "Inc", "r-1", request, nullptr), body).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(mysql::RunMutation(*pool_, Context("ana.reyes", "Inc", "r-1", request, &response, absl::Time()), body)
                .code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(runs_.load(), 0);
  EXPECT_EQ(Scalar(*pool_, "SELECT qty FROM item WHERE id = 1"), 0);
}

TEST_F(MutationTest, PurgeRemovesOnlyRowsOlderThanTheRetention) {
  const absl::Duration retention = absl::Hours(24 * 30);
  const common::v1::Money request = Amount(1);
  auto record = [&](const std::string& id, absl::Time at) {
    common::v1::Money response;
    ASSERT_TRUE(mysql::RunMutation(*pool_, Context("ana.reyes", "Inc", id, request, &response, at), [](mysql::Connection&) {
                  return absl::OkStatus();
                }).ok());
  };
  record("old-1", kNow - retention - absl::Hours(24 * 10));
  record("old-2", kNow - retention - absl::Hours(1));
  record("old-3", kNow - retention - absl::Microseconds(1));
  record("edge", kNow - retention);  // exactly the retention old: kept
  record("young", kNow - absl::Hours(1));
  record("new", kNow);

  // Bounded: one batch of two per call at most.
  auto purged = mysql::PurgeRequestLog(*pool_, kNow, {.retention = retention, .batch_size = 2, .max_batches = 1});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2);
  purged = mysql::PurgeRequestLog(*pool_, kNow, {.retention = retention, .batch_size = 2});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
  purged = mysql::PurgeRequestLog(*pool_, kNow, {.retention = retention, .batch_size = 2});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 0);

  std::set<std::string> left;
  ASSERT_TRUE(mysql::WithConnection(*pool_, [&](mysql::Connection& c) {
                std::unique_ptr<sql::ResultSet> rs(c.Prepare("SELECT request_id FROM request_log").executeQuery());
                while (rs->next()) left.insert(std::string(rs->getString(1)));
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(left, (std::set<std::string>{"edge", "young", "new"}));
}

TEST(RequestLogMigrationTest, RuntimeMigrationsApplyAfterTheServicesOwn) {
  testing::TestSchema schema("reqlog_order");
  mysql::ConnectionPool pool(Options(schema.dsn()));
  std::vector<Migration> all = careops_runtime_migrations();
  // What careops_embed_migrations hands a service: the common files first, then its own.
  all.push_back({2, "V002__service.sql", "CREATE TABLE service_table (id INT PRIMARY KEY);"});
  all.push_back({3, "V003__more.sql", "ALTER TABLE service_table ADD COLUMN x INT NULL;"});
  MigrationResult result;
  ASSERT_TRUE(Migrate(pool, all, &result).ok());
  EXPECT_EQ(result.applied, (std::vector<int>{1, 2, 3, 901, 902}));
}

TEST(RequestLogMigrationTest, RowsFromBeforeTheCallerKeyKeepTheirCaller) {
  testing::TestSchema schema("reqlog_upgrade");
  mysql::ConnectionPool pool(Options(schema.dsn()));
  std::vector<Migration> all = careops_runtime_migrations();
  std::vector<Migration> v001;
  for (const Migration& m : all) {
    if (m.version < 901) v001.push_back(m);
  }
  ASSERT_TRUE(Migrate(pool, v001).ok());
  Exec(pool, "CREATE TABLE item (id INT PRIMARY KEY, qty INT NOT NULL) ENGINE=InnoDB");
  Exec(pool, "INSERT INTO item VALUES (1, 0)");
  // A mutation as the previous release ran it: the row keyed by request_id alone,
  // its audit entry naming the caller.
  const common::v1::Money request = Amount(1);
  common::v1::Money answer;
  answer.set_amount_minor(41);
  {
    mysql::ConnectionPool once(Options(schema.dsn(), 1));
    ASSERT_TRUE(mysql::WithConnection(once, [&](mysql::Connection& c) {
                  auto& log = c.Prepare("INSERT INTO request_log (request_id, method, request_hash, response) "
                                        "VALUES ('before', 'Inc', ?, ?)");
                  log.setString(1, Fnv1a64Hex(absl::StrCat("Inc\n", DeterministicBytes(request))));
                  std::istringstream bytes(answer.SerializeAsString());
                  log.setBlob(2, &bytes);
                  log.executeUpdate();
                  mysql::AppendAudit(c, {.at = kNow,
                                         .actor = {"ana.reyes", "specialist", "claims-a"},
                                         .action = "item.inc",
                                         .resource_type = "item",
                                         .resource_id = "1",
                                         .reason = "",
                                         .details_json = "{}",
                                         .request_id = "before"});
                  return absl::OkStatus();
                }).ok());
  }
  ASSERT_TRUE(Migrate(pool, all).ok());
  common::v1::Money replay;
  int runs = 0;
  ASSERT_TRUE(mysql::RunMutation(pool, Context("ana.reyes", "Inc", "before", request, &replay), [&](mysql::Connection&) {
                ++runs;
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(runs, 0) << "a retry across the upgrade applied again";
  EXPECT_EQ(replay.amount_minor(), 41);
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
