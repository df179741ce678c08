#include "tools/loadgen/scenarios.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "careops/echo/v1/echo.pb.h"
#include "common/mysql/pool.h"
#include "common/status.h"
#include "tools/loadgen/service_scenarios.h"

namespace careops::loadgen {
namespace {

grpc::ByteBuffer Serialize(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

class EchoScenario final : public GrpcScenario {
 public:
  explicit EchoScenario(const ScenarioContext& context)
      : run_id_(context.run_id), payload_(static_cast<size_t>(std::max(0, context.payload_bytes)), 'x') {}
  const std::string& method() const override { return method_; }
  grpc::ByteBuffer Request(uint64_t seq) override {
    echo::v1::EchoRequest request;
    request.set_request_id(absl::StrCat(run_id_, "-", seq));
    request.set_payload(payload_);
    return Serialize(request);
  }

 private:
  const std::string method_ = "/careops.echo.v1.EchoService/Echo";
  const std::string run_id_;
  const std::string payload_;
};

// Shaped like a member row and a claim row, with the secondary indexes such rows
// carry, so the ceilings do the work a store's query would.
constexpr char kCreateMemberTable[] = R"sql(
CREATE TABLE IF NOT EXISTS bench_member (
  id BIGINT NOT NULL PRIMARY KEY,
  account_id BIGINT NOT NULL,
  external_ref VARCHAR(64) NOT NULL,
  given_name VARCHAR(100) NOT NULL,
  family_name VARCHAR(100) NOT NULL,
  birth_date DATE NOT NULL,
  plan_id BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  effective_date DATE NOT NULL,
  etag BIGINT NOT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY bench_member_ref (account_id, external_ref)
) ENGINE=InnoDB)sql";

constexpr char kCreateClaimTable[] = R"sql(
CREATE TABLE IF NOT EXISTS bench_claim (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  request_id VARCHAR(64) NOT NULL,
  member_id BIGINT NOT NULL,
  benefit_code VARCHAR(32) NOT NULL,
  provider VARCHAR(64) NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  UNIQUE KEY bench_claim_request (request_id),
  KEY bench_claim_member (member_id, status)
) ENGINE=InnoDB)sql";

constexpr char kCountMembers[] = "SELECT COUNT(*) FROM bench_member";

constexpr char kSelectMember[] =
    "SELECT id, account_id, external_ref, given_name, family_name, birth_date, plan_id, status, "
    "effective_date, etag FROM bench_member WHERE id = ?";

constexpr char kInsertClaim[] =
    "INSERT INTO bench_claim (request_id, member_id, benefit_code, provider, amount_minor, currency, status) "
    "VALUES (?, ?, ?, ?, ?, ?, 'SUBMITTED')";

std::unique_ptr<mysql::ConnectionPool> NewPool(const ScenarioContext& context, absl::Status* error) {
  MysqlDsn dsn;
  *error = ParseMysqlDsn(context.mysql_dsn, &dsn);
  if (!error->ok()) return nullptr;
  mysql::PoolOptions options;
  options.dsn = dsn;
  options.max_size = std::max(1, context.concurrency);
  return std::make_unique<mysql::ConnectionPool>(options);
}

// Fills bench_member up to `rows` rows (multi-row inserts, once per database).
absl::Status EnsureMembers(mysql::ConnectionPool& pool, int64_t rows) {
  return mysql::WithConnection(pool, [&](mysql::Connection& c) -> absl::Status {
    c.Execute(kCreateMemberTable);
    int64_t have = 0;
    {
      std::unique_ptr<sql::ResultSet> rs(c.Prepare(kCountMembers).executeQuery());
      if (rs->next()) have = rs->getInt64(1);
    }
    constexpr int64_t kBatch = 1000;
    for (int64_t start = have; start < rows; start += kBatch) {
      std::string insert =
          "INSERT INTO bench_member (id, account_id, external_ref, given_name, family_name, birth_date, plan_id, "
          "status, effective_date, etag) VALUES ";
      for (int64_t id = start; id < std::min(rows, start + kBatch); ++id) {
        absl::StrAppend(&insert, id == start ? "" : ",", "(", id + 1, ",", id % 200 + 1, ",'EMP-", id + 1,
                        "','Given", id, "','Family", id, "','1980-01-01',", id % 7 + 1,
                        ",'ACTIVE','2026-01-01',1)");
      }
      c.Execute(insert);
    }
    return absl::OkStatus();
  });
}

class PointSelectScenario final : public BlockingScenario {
 public:
  PointSelectScenario(std::unique_ptr<mysql::ConnectionPool> pool, int64_t rows)
      : pool_(std::move(pool)), rows_(rows) {}
  absl::Status Call(uint64_t seq) override {
    int64_t id = static_cast<int64_t>(Spread(seq, static_cast<uint64_t>(rows_))) + 1;
    return mysql::WithConnection(*pool_, [&](mysql::Connection& c) -> absl::Status {
      sql::PreparedStatement& stmt = c.Prepare(kSelectMember);
      stmt.setInt64(1, id);
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      if (!rs->next()) return absl::NotFoundError(absl::StrCat("bench_member ", id));
      // Read every column, as a store building its message would.
      std::string ref = rs->getString("external_ref");
      std::string name = rs->getString("given_name");
      std::string family = rs->getString("family_name");
      std::string birth = rs->getString("birth_date");
      std::string status = rs->getString("status");
      std::string effective = rs->getString("effective_date");
      int64_t sum = rs->getInt64("account_id") + rs->getInt64("plan_id") + rs->getInt64("etag");
      return sum > 0 ? absl::OkStatus() : absl::InternalError("impossible row");
    });
  }

 private:
  std::unique_ptr<mysql::ConnectionPool> pool_;
  int64_t rows_;
};

class InsertScenario final : public BlockingScenario {
 public:
  InsertScenario(std::unique_ptr<mysql::ConnectionPool> pool, std::string run_id)
      : pool_(std::move(pool)), run_id_(std::move(run_id)) {}
  absl::Status Call(uint64_t seq) override {
    std::string request_id = absl::StrCat(run_id_, "-", seq);
    mysql::TransactionOptions once;
    once.max_attempts = 1;
    return mysql::RunInTransaction(
        *pool_,
        [&](mysql::Connection& c) -> absl::Status {
          sql::PreparedStatement& stmt = c.Prepare(kInsertClaim);
          stmt.setString(1, request_id);
          stmt.setInt64(2, static_cast<int64_t>(Spread(seq, 100000)) + 1);
          stmt.setString(3, "CONSULT");
          stmt.setString(4, "PROV-0001");
          stmt.setInt64(5, 150000);
          stmt.setString(6, "PHP");
          stmt.executeUpdate();
          return absl::OkStatus();
        },
        once);
  }

 private:
  std::unique_ptr<mysql::ConnectionPool> pool_;
  std::string run_id_;
};

absl::StatusOr<Scenario> MakeDatabaseScenario(const std::string& name, const ScenarioContext& context) {
  if (context.mysql_dsn.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(name, " needs --mysql_dsn"));
  }
  absl::Status error;
  auto pool = NewPool(context, &error);
  if (pool == nullptr) return error;
  Scenario scenario;
  if (name == "db.point_select") {
    CAREOPS_RETURN_IF_ERROR(Annotate(EnsureMembers(*pool, context.db_rows), "filling bench_member"));
    scenario.blocking = std::make_unique<PointSelectScenario>(std::move(pool), context.db_rows);
  } else {
    CAREOPS_RETURN_IF_ERROR(Annotate(mysql::WithConnection(*pool,
                                                           [](mysql::Connection& c) {
                                                             c.Execute(kCreateClaimTable);
                                                             return absl::OkStatus();
                                                           }),
                                     "creating bench_claim"));
    scenario.blocking = std::make_unique<InsertScenario>(std::move(pool), context.run_id);
  }
  return scenario;
}

}  // namespace

uint64_t Spread(uint64_t seq, uint64_t n) {
  uint64_t z = seq + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return n == 0 ? 0 : z % n;
}

const std::vector<ScenarioInfo>& Scenarios() {
  static const std::vector<ScenarioInfo> kAll = [] {
    std::vector<ScenarioInfo> all = {
        {"echo", "EchoService/Echo: the gRPC ceiling", false, false},
        {"db.point_select", "MariaDB: one row by primary key (prepared, pooled)", false, true},
        {"db.insert", "MariaDB: one row inserted in its own transaction (prepared, pooled)", false, true},
    };
    for (const ScenarioInfo& s : ServiceScenarios()) all.push_back(s);
    return all;
  }();
  return kAll;
}

absl::StatusOr<Scenario> MakeScenario(const std::string& name, const ScenarioContext& context) {
  if (name == "echo") {
    Scenario scenario;
    scenario.grpc = std::make_unique<EchoScenario>(context);
    return scenario;
  }
  if (name == "db.point_select" || name == "db.insert") return MakeDatabaseScenario(name, context);
  for (const ScenarioInfo& s : ServiceScenarios()) {
    if (s.name != name) continue;
    if (context.seed == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(name, " needs --seed_file (written by careops-seed)"));
    }
    return MakeServiceScenario(name, context);
  }
  std::string known;
  for (const ScenarioInfo& s : Scenarios()) absl::StrAppend(&known, known.empty() ? "" : ", ", s.name);
  return absl::NotFoundError(absl::StrCat("unknown scenario '", name, "'; known: ", known));
}

}  // namespace careops::loadgen
