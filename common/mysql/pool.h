// A bounded, thread-safe pool of MySQL connections (Connector/C++ 1.1).
//
// A Connection is used by one thread at a time: Acquire() hands out a Lease that
// returns it on destruction. Each connection caches its prepared statements by SQL
// text, so steady-state traffic prepares nothing (MariaDB's Com_stmt_prepare stays
// flat). A connection idle for longer than `validate_after_idle` is pinged before
// it is handed out, and one that saw a lost-connection error is discarded, so the
// pool recovers on its own after the server restarts.
//
// Nothing here throws: Connector/C++ exceptions become statuses (see errors.h).
// Store code runs its SQL inside RunInTransaction() or WithConnection(), which catch.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace sql {
class Connection;
class PreparedStatement;
}  // namespace sql

namespace careops::mysql {

class Connection {
 public:
  explicit Connection(std::unique_ptr<sql::Connection> conn);
  ~Connection();

  // The prepared statement for `sql`, prepared once per connection and reused;
  // its parameters are cleared. May throw sql::SQLException (callers are inside
  // RunInTransaction/WithConnection).
  sql::PreparedStatement& Prepare(const std::string& sql);
  sql::Connection& raw() { return *conn_; }

  // Runs a statement with no parameters (DDL, SET, locking); any rows are discarded.
  void Execute(const std::string& sql);

  void MarkBroken() { broken_ = true; }
  bool broken() const { return broken_; }
  absl::Time last_used;
  // The session's max_statement_time in seconds, 0 for none (statement_time.h).
  double statement_time_seconds = 0;

 private:
  std::unique_ptr<sql::Connection> conn_;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
  bool broken_ = false;
};

struct PoolOptions {
  MysqlDsn dsn;
  int max_size = 16;
  absl::Duration acquire_timeout = absl::Seconds(5);
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration validate_after_idle = absl::Seconds(2);
};

class ConnectionPool {
 public:
  explicit ConnectionPool(PoolOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // A healthy connection. Waits at most acquire_timeout, and never past the
  // current call's deadline (common/deadline.h). UNAVAILABLE when the server
  // cannot be reached or no connection frees up within acquire_timeout;
  // DEADLINE_EXCEEDED when the call's deadline comes first (or has passed).
  absl::StatusOr<Lease> Acquire();

  // OK when a connection can run SELECT 1 now; used by the health check.
  absl::Status Ping();

  const PoolOptions& options() const { return options_; }
  // Connections open now (idle + leased); for tests and metrics.
  int open_connections();

 private:
  absl::StatusOr<std::unique_ptr<Connection>> Connect();
  void Release(std::unique_ptr<Connection> conn);

  const PoolOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// RAII transaction: BEGIN in the constructor, ROLLBACK in the destructor unless
// Commit() ran. May throw sql::SQLException (used inside RunInTransaction).
class Transaction {
 public:
  Transaction(Connection& conn, const char* isolation);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void Commit();

 private:
  Connection& conn_;
  bool done_ = false;
};

struct TransactionOptions {
  // Attempts for a transaction that failed with ABORTED (deadlock, lock wait).
  // Only safe when `fn` has no effects outside the database; set 1 otherwise.
  int max_attempts = 3;
  // Isolation for this transaction; READ COMMITTED suits the row-locking
  // (SELECT ... FOR UPDATE) style careops stores use.
  const char* isolation = "READ COMMITTED";
};

// Runs `fn` in a transaction on a pooled connection: commits when it returns OK,
// rolls back otherwise (and on exception). Connector/C++ exceptions thrown inside
// `fn` become statuses via FromSqlException; ABORTED is retried per `options`.
absl::Status RunInTransaction(ConnectionPool& pool, const std::function<absl::Status(Connection&)>& fn,
                              TransactionOptions options = {});

// Runs `fn` on a pooled connection in autocommit mode (single reads), catching
// Connector/C++ exceptions like RunInTransaction.
absl::Status WithConnection(ConnectionPool& pool, const std::function<absl::Status(Connection&)>& fn);

}  // namespace careops::mysql
