#include "common/mysql/pool.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/deadline.h"
#include "common/log.h"
#include "common/text.h"
#include "common/mysql/errors.h"
#include "common/mysql/statement_time.h"

namespace careops::mysql {

Connection::Connection(std::unique_ptr<sql::Connection> conn) : conn_(std::move(conn)) {}

Connection::~Connection() {
  statements_.clear();
  try {
    if (conn_ && !conn_->isClosed()) conn_->close();
  } catch (const sql::SQLException&) {
    // Closing a dead connection is not an error worth reporting.
  }
}

sql::PreparedStatement& Connection::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    std::unique_ptr<sql::PreparedStatement> stmt(conn_->prepareStatement(sql));
    it = statements_.emplace(sql, std::move(stmt)).first;
  } else {
    it->second->clearParameters();
  }
  return *it->second;
}

void Connection::Execute(const std::string& sql) {
  std::unique_ptr<sql::Statement> stmt(conn_->createStatement());
  if (stmt->execute(sql)) {
    // A statement with a result (SELECT ... FOR UPDATE) must be read, or the
    // connection refuses the next command.
    std::unique_ptr<sql::ResultSet> rs(stmt->getResultSet());
    while (rs->next()) {
    }
  }
}

ConnectionPool::ConnectionPool(PoolOptions options) : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
}

ConnectionPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Release(std::move(conn_));
}

absl::StatusOr<std::unique_ptr<Connection>> ConnectionPool::Connect() {
  const MysqlDsn& dsn = options_.dsn;
  sql::ConnectOptionsMap opts;
  opts["hostName"] = sql::SQLString(absl::StrCat("tcp://", dsn.host, ":", dsn.port));
  opts["userName"] = sql::SQLString(dsn.user);
  opts["password"] = sql::SQLString(dsn.password);
  opts["schema"] = sql::SQLString(dsn.schema);
  if (!dsn.socket.empty()) opts["socket"] = sql::SQLString(dsn.socket);
  opts["OPT_CONNECT_TIMEOUT"] = static_cast<int>(absl::ToInt64Seconds(options_.connect_timeout));
  opts["OPT_READ_TIMEOUT"] = static_cast<int>(absl::ToInt64Seconds(options_.read_timeout));
  opts["OPT_WRITE_TIMEOUT"] = static_cast<int>(absl::ToInt64Seconds(options_.read_timeout));
  opts["OPT_RECONNECT"] = false;  // the pool replaces dead connections itself
  opts["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  try {
    sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
    std::unique_ptr<sql::Connection> raw(driver->connect(opts));
    auto conn = std::make_unique<Connection>(std::move(raw));
    // Every careops timestamp is UTC.
    conn->Execute("SET time_zone = '+00:00'");
    conn->last_used = absl::Now();
    return conn;
  } catch (const sql::SQLException& e) {
    absl::Status s = FromSqlException(e, absl::StrCat("connect to ", dsn.schema));
    if (s.code() == absl::StatusCode::kInternal) s = absl::UnavailableError(s.message());
    return s;
  }
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  // A call whose client has given up gets no connection, and a wait never
  // outlasts the call (common/deadline.h).
  const absl::Duration wait = WithinCallDeadline(options_.acquire_timeout, absl::Now());
  const bool call_bound = wait < options_.acquire_timeout;
  auto out_of_time = [&] {
    if (call_bound) {
      return absl::DeadlineExceededError("the call's deadline passed while waiting for a database connection");
    }
    return absl::UnavailableError(
        absl::StrCat("no database connection free within ", absl::FormatDuration(options_.acquire_timeout)));
  };
  if (call_bound && wait <= absl::ZeroDuration()) return out_of_time();
  std::unique_ptr<Connection> conn;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(wait);
    while (idle_.empty() && open_ >= options_.max_size) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.max_size) {
        return out_of_time();
      }
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserve the slot, connect outside the lock
    }
  }
  if (conn != nullptr && absl::Now() - conn->last_used > options_.validate_after_idle) {
    bool valid = false;
    try {
      valid = conn->raw().isValid();
    } catch (const sql::SQLException&) {
    }
    if (!valid) conn.reset();  // keeps the slot; reconnect below
  }
  if (conn == nullptr) {
    auto fresh = Connect();
    if (!fresh.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
      cv_.notify_one();
      return fresh.status();
    }
    conn = std::move(fresh).value();
  }
  return Lease(this, std::move(conn));
}

void ConnectionPool::Release(std::unique_ptr<Connection> conn) {
  bool keep = !conn->broken();
  conn->last_used = absl::Now();
  if (!keep) conn.reset();  // close outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  if (keep) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

int ConnectionPool::open_connections() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

absl::Status ConnectionPool::Ping() {
  return WithConnection(*this, [](Connection& c) {
    c.Execute("SELECT 1");
    return absl::OkStatus();
  });
}

Transaction::Transaction(Connection& conn, const char* isolation) : conn_(conn) {
  conn_.Execute(absl::StrCat("SET TRANSACTION ISOLATION LEVEL ", isolation));
  conn_.Execute("START TRANSACTION");
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    conn_.Execute("ROLLBACK");
  } catch (const sql::SQLException&) {
    conn_.MarkBroken();  // state unknown: never hand this connection out again
  }
}

void Transaction::Commit() {
  conn_.Execute("COMMIT");
  done_ = true;
}

namespace {

// Runs fn on a leased connection, turning exceptions into statuses and discarding
// the connection when the error says it is gone.
// `sql_conflict` (optional) is set when a deadlock or lock wait ended the work, as
// opposed to `fn` itself returning ABORTED (a stale etag, which a retry won't fix).
absl::Status Guarded(ConnectionPool& pool, const std::function<absl::Status(Connection&)>& fn,
                     std::string_view what, bool* sql_conflict = nullptr) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  Connection& conn = **lease;
  try {
    BoundStatementTime(conn, absl::Now());
    return fn(conn);
  } catch (const sql::SQLException& e) {
    if (IsConnectionLost(e.getErrorCode()) || std::string(e.getSQLState()).rfind("08", 0) == 0) {
      conn.MarkBroken();
    }
    absl::Status s = FromSqlException(e, what);
    if (sql_conflict != nullptr) *sql_conflict = s.code() == absl::StatusCode::kAborted;
    return s;
  } catch (const std::exception& e) {
    conn.MarkBroken();
    return absl::InternalError(absl::StrCat(Abs(what), ": ", e.what()));
  }
}

}  // namespace

absl::Status RunInTransaction(ConnectionPool& pool, const std::function<absl::Status(Connection&)>& fn,
                              TransactionOptions options) {
  absl::Status status;
  bool conflict = false;
  for (int attempt = 1; attempt <= std::max(1, options.max_attempts); ++attempt) {
    conflict = false;
    status = Guarded(
        pool,
        [&](Connection& conn) -> absl::Status {
          Transaction tx(conn, options.isolation);
          absl::Status s = fn(conn);
          if (s.ok()) tx.Commit();
          return s;
        },
        "transaction", &conflict);
    if (!conflict) return status;
    if (attempt < options.max_attempts) {
      log::Warn("transaction conflict, retrying", {{"attempt", attempt}, {"error", std::string(status.message())}});
    }
  }
  return status;
}

absl::Status WithConnection(ConnectionPool& pool, const std::function<absl::Status(Connection&)>& fn) {
  return Guarded(pool, fn, "query");
}

}  // namespace careops::mysql
