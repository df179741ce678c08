#include "common/migrations.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/substitute.h"
#include "common/fingerprint.h"
#include "common/log.h"
#include "common/mysql/pool.h"

namespace careops {
namespace {

constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " checksum CHAR(16) NOT NULL,"
    " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
    ") ENGINE=InnoDB";
// Looked up first so a runtime user without CREATE (migrations applied by their own
// user) passes on a schema whose table exists: CREATE ... IF NOT EXISTS needs CREATE.
constexpr char kTableExists[] =
    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?";
constexpr char kGetLock[] = "SELECT GET_LOCK(?, ?)";
constexpr char kReleaseLock[] = "SELECT RELEASE_LOCK(?)";
constexpr char kSelectApplied[] = "SELECT version, name, checksum FROM schema_migrations";
constexpr char kInsertApplied[] =
    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)";
constexpr char kListTables[] =
    "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'";
// GRANT takes no placeholders for identifiers: the role and table names are
// checked against kIdentifierChars before they are put in these templates.
constexpr char kGrantDml[] = "GRANT SELECT, INSERT, UPDATE, DELETE ON `$0` TO `$1`";
constexpr char kGrantAppendOnly[] = "GRANT SELECT, INSERT ON `$0` TO `$1`";
constexpr char kGrantReadOnly[] = "GRANT SELECT ON `$0` TO `$1`";
constexpr char kIdentifierChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

bool IsPlainIdentifier(const std::string& name) {
  return !name.empty() && name.size() <= 64 && name.find_first_not_of(kIdentifierChars) == std::string::npos;
}

}  // namespace

std::string MigrationChecksum(const std::string& sql) { return Fnv1a64Hex(sql); }

std::vector<std::string> SplitSqlStatements(const std::string& sql) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      cur.push_back(c);
      if (c == '\\' && i + 1 < sql.size()) {
        cur.push_back(sql[++i]);
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
      cur.push_back('\n');
      continue;
    }
    if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      auto end = sql.find("*/", i + 2);
      i = end == std::string::npos ? sql.size() : end + 1;
      cur.push_back(' ');
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') quote = c;
    if (c == ';') {
      std::string stmt(absl::StripAsciiWhitespace(cur));
      if (!stmt.empty()) out.push_back(std::move(stmt));
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  std::string stmt(absl::StripAsciiWhitespace(cur));
  if (!stmt.empty()) out.push_back(std::move(stmt));
  return out;
}

absl::Status Migrate(mysql::ConnectionPool& pool, std::vector<Migration> migrations,
                     MigrationResult* result, absl::Duration lock_timeout) {
  std::sort(migrations.begin(), migrations.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version == migrations[i - 1].version) {
      return absl::FailedPreconditionError(absl::StrCat("migrations ", migrations[i - 1].name, " and ",
                                                        migrations[i].name, " share version ",
                                                        migrations[i].version));
    }
  }
  const std::string lock_name = absl::StrCat("careops_migrate_", pool.options().dsn.schema);
  return mysql::WithConnection(pool, [&](mysql::Connection& conn) -> absl::Status {
    {
      auto& get = conn.Prepare(kGetLock);
      get.setString(1, lock_name);
      get.setInt(2, static_cast<int>(absl::ToInt64Seconds(lock_timeout)));
      std::unique_ptr<sql::ResultSet> rs(get.executeQuery());
      if (!rs->next() || rs->isNull(1) || rs->getInt(1) != 1) {
        return absl::DeadlineExceededError(
            absl::StrCat("migrations: another process held lock '", lock_name, "' for ",
                         absl::FormatDuration(lock_timeout)));
      }
    }
    // The lock is per session: release it whatever happens below.
    struct Unlock {
      mysql::Connection& conn;
      const std::string& name;
      ~Unlock() {
        try {
          auto& rel = conn.Prepare(kReleaseLock);
          rel.setString(1, name);
          std::unique_ptr<sql::ResultSet> rs(rel.executeQuery());
        } catch (...) {
          conn.MarkBroken();  // closing the session releases the lock
        }
      }
    } unlock{conn, lock_name};

    bool exists = false;
    {
      auto& q = conn.Prepare(kTableExists);
      q.setString(1, "schema_migrations");
      std::unique_ptr<sql::ResultSet> rs(q.executeQuery());
      exists = rs->next() && rs->getInt(1) > 0;
    }
    if (!exists) conn.Execute(kCreateTable);
    std::map<int, std::pair<std::string, std::string>> applied;
    {
      std::unique_ptr<sql::ResultSet> rs(conn.Prepare(kSelectApplied).executeQuery());
      while (rs->next()) {
        applied[rs->getInt(1)] = {std::string(rs->getString(2)), std::string(rs->getString(3))};
      }
    }
    for (const Migration& m : migrations) {
      std::string sum = MigrationChecksum(m.sql);
      if (auto it = applied.find(m.version); it != applied.end()) {
        if (it->second.second != sum) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", m.name, " was changed after it was applied to schema '",
              pool.options().dsn.schema, "' (recorded checksum ", it->second.second, ", file ", sum,
              "); add a new migration instead of editing an applied one"));
        }
        continue;
      }
      for (const std::string& stmt : SplitSqlStatements(m.sql)) conn.Execute(stmt);
      auto& ins = conn.Prepare(kInsertApplied);
      ins.setInt(1, m.version);
      ins.setString(2, m.name);
      ins.setString(3, sum);
      ins.executeUpdate();
      if (result != nullptr) result->applied.push_back(m.version);
      log::Info("migration applied", {{"schema", pool.options().dsn.schema}, {"migration", m.name}});
    }
    return absl::OkStatus();
  });
}

absl::Status GrantRuntimeRole(mysql::ConnectionPool& pool, const std::string& role) {
  if (!IsPlainIdentifier(role)) {
    return absl::InvalidArgumentError("runtime_db_role: must be 1-64 letters, digits or _");
  }
  return mysql::WithConnection(pool, [&](mysql::Connection& conn) -> absl::Status {
    std::vector<std::string> tables;
    {
      std::unique_ptr<sql::ResultSet> rs(conn.Prepare(kListTables).executeQuery());
      while (rs->next()) tables.emplace_back(rs->getString(1));
    }
    for (const std::string& table : tables) {
      if (!IsPlainIdentifier(table)) {
        return absl::FailedPreconditionError(absl::StrCat("table '", table, "' has a name GRANT cannot take"));
      }
      // The audit trail is append-only and the migration record the migrations' own.
      const char* grant = table == "audit_log"           ? kGrantAppendOnly
                          : table == "schema_migrations" ? kGrantReadOnly
                                                         : kGrantDml;
      conn.Execute(absl::Substitute(grant, table, role));
    }
    log::Info("runtime role granted", {{"schema", pool.options().dsn.schema}, {"role", role},
                                       {"tables", absl::StrCat(tables.size())}});
    return absl::OkStatus();
  });
}

}  // namespace careops
