// Forward-only schema migrations, applied at service start.
//
// A service's migrations are the files services/<name>/schema/V<NNN>__<what>.sql,
// compiled into the binary (cmake: careops_embed_migrations). Migrate() takes a
// named lock (GET_LOCK) on the schema so that replicas starting together apply
// each migration exactly once, applies the missing ones in version order and
// records each in `schema_migrations` with a checksum of its text. A file whose
// text changed after it was applied stops the start with FAILED_PRECONDITION:
// schemas move forward by new files, never by edits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace careops {
namespace mysql {
class ConnectionPool;
}

struct Migration {
  int version;
  std::string name;  // file name, e.g. "V002__claims.sql"
  std::string sql;   // one or more statements separated by ';' at line ends
};

// Checksum recorded for a migration (FNV-1a 64 of the text, hex).
std::string MigrationChecksum(const std::string& sql);

// Splits a migration into statements: on ';' outside quotes and comments.
std::vector<std::string> SplitSqlStatements(const std::string& sql);

struct MigrationResult {
  std::vector<int> applied;  // versions applied by this call
};

// Applies `migrations` (any order; sorted here) to the pool's schema.
// FAILED_PRECONDITION on a checksum mismatch or duplicate version; UNAVAILABLE
// when the database is down; DEADLINE_EXCEEDED when the lock is not won in time.
absl::Status Migrate(mysql::ConnectionPool& pool, std::vector<Migration> migrations,
                     MigrationResult* result = nullptr,
                     absl::Duration lock_timeout = absl::Seconds(60));

// For migrations run by their own (DDL) user: grants `role` (a database role the
// runtime user holds as its default) SELECT, INSERT, UPDATE, DELETE on every table
// of the pool's schema, except audit_log (SELECT, INSERT: append-only) and
// schema_migrations (SELECT). Re-run after each migration so new tables are
// covered. INVALID_ARGUMENT for a role that is not a plain identifier;
// UNAVAILABLE when the database is down; the pool's user needs GRANT OPTION.
absl::Status GrantRuntimeRole(mysql::ConnectionPool& pool, const std::string& role);

}  // namespace careops
