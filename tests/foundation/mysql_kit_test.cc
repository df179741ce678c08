// The store kit against the real MariaDB: typed statements and rows (values
// round-trip at microsecond precision, NULLs and enums), the versioned update
// (etag required, stale ABORTED, nothing written on a refusal), the keyset list
// (pages in key order, optional filters) and the statement-time bound (a slow
// statement past the call's deadline is DEADLINE_EXCEEDED, without driver text,
// and the connection serves the next call).
#include <gtest/gtest.h>

#include <memory>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "careops/claims/v1/claims.pb.h"
#include "common/deadline.h"
#include "common/migrations.h"
#include "common/mysql/keyset.h"
#include "common/mysql/mutation_runner.h"
#include "common/mysql/pool.h"
#include "common/mysql/row.h"
#include "common/mysql/versioned.h"
#include "common/status.h"
#include "tests/support/harness.h"

namespace careops {
std::vector<Migration> careops_runtime_migrations();
namespace {

using mysql::Connection;
using mysql::Statement;

constexpr char kCreate[] =
    "CREATE TABLE thing (id VARCHAR(26) PRIMARY KEY, status VARCHAR(32) NOT NULL, qty BIGINT NOT NULL,"
    " currency CHAR(3) NOT NULL, amount_minor BIGINT NOT NULL, due DATE NOT NULL, at DATETIME(6) NOT NULL,"
    " closed_at DATETIME(6) NULL, note VARCHAR(64) NULL, version BIGINT NOT NULL) ENGINE=InnoDB";
constexpr char kInsert[] = "INSERT INTO thing VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr char kSelect[] =
    "SELECT id, status, qty, currency, amount_minor, due, at, closed_at, note, version FROM thing WHERE id = ?";
constexpr char kSelectAll[] =
    "SELECT id, status, qty, currency, amount_minor, due, at, closed_at, note, version FROM thing";
constexpr char kByStatus[] = "(? IS NULL OR status = ?)";
constexpr char kLock[] =
    "SELECT id, status, qty, currency, amount_minor, due, at, closed_at, note, version FROM thing"
    " WHERE id = ? FOR UPDATE";
constexpr char kUpdate[] = "UPDATE thing SET status = ?, qty = ?, version = ? WHERE id = ? AND version = ?";
constexpr mysql::VersionedTable kThings{
    .resource = "thing", .key_field = "thing_id", .lock_sql = kLock, .update_sql = kUpdate};

struct Thing {
  std::string id;
  claims::v1::ClaimStatus status = claims::v1::CLAIM_STATUS_UNSPECIFIED;
  int64_t qty = 0;
  Money amount;
  absl::CivilDay due;
  absl::Time at;
  std::optional<absl::Time> closed_at;
  std::optional<std::string> note;
  int64_t version = 0;
};

absl::StatusOr<Thing> ReadThing(mysql::RowReader& r) {
  Thing t;
  t.id = r.String();
  t.status = r.Enum<claims::v1::ClaimStatus>();
  t.qty = r.Int64();
  const std::string currency = r.String();
  t.amount = r.Amount(currency);
  t.due = r.Date();
  t.at = r.Timestamp();
  t.closed_at = r.OptionalTimestamp();
  t.note = r.OptionalString();
  t.version = r.Int64();
  CAREOPS_RETURN_IF_ERROR(r.status());
  return t;
}

void Insert(Connection& c, const Thing& t) {
  Statement st(c, kInsert);
  st.Add(t.id).Add(t.status).Add(t.qty).Add(t.amount.currency()).Add(t.amount.minor()).Add(t.due).Add(t.at);
  st.Add(t.closed_at).Add(t.note).Add(t.version);
  absl::StatusOr<int64_t> rows = st.Update();
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, 1);
}

class MysqlKitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_unique<testing::TestSchema>("kit");
    mysql::PoolOptions o;
    o.dsn = schema_->dsn();
    o.max_size = 1;  // one connection: what a test does to it, the next call gets
    o.acquire_timeout = absl::Seconds(5);
    pool_ = std::make_unique<mysql::ConnectionPool>(o);
    ASSERT_TRUE(mysql::WithConnection(*pool_, [](Connection& c) {
                  c.Execute(kCreate);
                  return absl::OkStatus();
                }).ok());
  }

  Thing Make(std::string id, claims::v1::ClaimStatus status) {
    Thing t;
    t.id = std::move(id);
    t.status = status;
    t.qty = 3;
    t.amount = Money("PHP", 123'45);
    t.due = absl::CivilDay(2026, 2, 28);
    t.at = absl::FromUnixMicros(1'764'633'600'123'456);  // microseconds survive
    t.version = 1;
    return t;
  }

  absl::StatusOr<Thing> Load(const std::string& id) {
    std::vector<Thing> rows;
    CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(*pool_, [&](Connection& c) -> absl::Status {
      Statement st(c, kSelect);
      st.Add(id);
      CAREOPS_ASSIGN_OR_RETURN(rows, mysql::QueryAll<Thing>(st, ReadThing));
      return absl::OkStatus();
    }));
    if (rows.empty()) return absl::NotFoundError(id);
    return rows.front();
  }

  std::unique_ptr<testing::TestSchema> schema_;
  std::unique_ptr<mysql::ConnectionPool> pool_;
};

TEST_F(MysqlKitTest, ValuesRoundTripThroughStatementAndRowReader) {
  Thing a = Make("a1", claims::v1::CLAIM_STATUS_IN_REVIEW);
  Thing b = Make("b1", claims::v1::CLAIM_STATUS_APPROVED);
  b.closed_at = a.at + absl::Microseconds(1);
  b.note = "noted";
  ASSERT_TRUE(mysql::WithConnection(*pool_, [&](Connection& c) {
                Insert(c, a);
                Insert(c, b);
                return absl::OkStatus();
              }).ok());
  for (const Thing& want : {a, b}) {
    absl::StatusOr<Thing> got = Load(want.id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->status, want.status);
    EXPECT_EQ(got->qty, want.qty);
    EXPECT_EQ(got->amount, want.amount);
    EXPECT_EQ(got->due, want.due);
    EXPECT_EQ(got->at, want.at);
    EXPECT_EQ(got->closed_at, want.closed_at);
    EXPECT_EQ(got->note, want.note);
  }
  // By name, without moving the sequence.
  absl::Status named = mysql::WithConnection(*pool_, [&](Connection& c) -> absl::Status {
    Statement st(c, kSelect);
    st.Add("b1");
    CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
    EXPECT_TRUE(rows.Next());
    mysql::RowReader& r = rows.row();
    EXPECT_EQ(r.Int64("version"), 1);
    EXPECT_EQ(r.Timestamp("closed_at"), *b.closed_at);
    EXPECT_EQ(r.String(), "b1");
    r.String("no_such_column");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
    return absl::OkStatus();
  });
  EXPECT_TRUE(named.ok()) << named;
}

TEST_F(MysqlKitTest, AStoredValueThatDoesNotReadIsInternalNamingTheColumn) {
  Thing a = Make("a1", claims::v1::CLAIM_STATUS_IN_REVIEW);
  ASSERT_TRUE(mysql::WithConnection(*pool_, [&](Connection& c) {
                Insert(c, a);
                c.Execute("UPDATE thing SET status = 'NOT_A_STATUS'");
                return absl::OkStatus();
              }).ok());
  absl::StatusOr<Thing> got = Load("a1");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(got.status().message().find("status"), absl::string_view::npos) << got.status();
}

TEST_F(MysqlKitTest, AStatementMissingAParameterNeverRuns) {
  absl::Status s = mysql::WithConnection(*pool_, [&](Connection& c) -> absl::Status {
    Statement st(c, kInsert);
    st.Add("x").Add("IN_REVIEW");
    return st.Update().status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_EQ(Load("x").status().code(), absl::StatusCode::kNotFound);
}

absl::StatusOr<mysql::VersionedUpdate<Thing, int64_t>> AddQty(Connection& c, std::string_view id,
                                                              std::string_view etag, int64_t delta) {
  CAREOPS_ASSIGN_OR_RETURN(mysql::ExpectedVersion expected, mysql::ExpectedVersion::FromEtag(etag));
  return mysql::UpdateVersioned<Thing, int64_t>(
      c, kThings, id, expected, ReadThing,
      [&](const Thing& current) -> absl::StatusOr<int64_t> {
        if (current.qty + delta < 0) return absl::FailedPreconditionError("qty: would go below zero");
        return current.qty + delta;
      },
      [&](Statement& st, const int64_t& qty) { st.Add("APPROVED").Add(qty); });
}

TEST_F(MysqlKitTest, VersionedUpdateChecksTheEtagDecidesAndBumpsTheVersion) {
  ASSERT_TRUE(mysql::WithConnection(*pool_, [&](Connection& c) {
                Insert(c, Make("a1", claims::v1::CLAIM_STATUS_IN_REVIEW));
                return absl::OkStatus();
              }).ok());
  absl::Status ok = mysql::RunInTransaction(*pool_, [&](Connection& c) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(auto done, AddQty(c, "a1", "1", 2));
    EXPECT_EQ(done.before.qty, 3);
    EXPECT_EQ(done.decision, 5);
    EXPECT_EQ(done.version, 2);
    return absl::OkStatus();
  });
  ASSERT_TRUE(ok.ok()) << ok;
  absl::StatusOr<Thing> after = Load("a1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->qty, 5);
  EXPECT_EQ(after->version, 2);
  EXPECT_EQ(after->status, claims::v1::CLAIM_STATUS_APPROVED);

  auto attempt = [&](std::string_view id, std::string_view etag, int64_t delta) {
    return mysql::RunInTransaction(*pool_, [&](Connection& c) { return AddQty(c, id, etag, delta).status(); });
  };
  absl::Status stale = attempt("a1", "1", 1);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted) << stale;
  EXPECT_NE(stale.message().find("\"2\""), absl::string_view::npos) << stale;
  EXPECT_EQ(attempt("a1", "", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(attempt("zz", "1", 1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(attempt("a1", "2", -100).code(), absl::StatusCode::kFailedPrecondition);
  after = Load("a1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->qty, 5);  // no refusal wrote anything
  EXPECT_EQ(after->version, 2);
}

TEST_F(MysqlKitTest, KeysetPagesFollowTheKeyAndTheOptionalFilter) {
  ASSERT_TRUE(mysql::WithConnection(*pool_, [&](Connection& c) {
                for (int i = 0; i < 7; ++i) {
                  Insert(c, Make(absl::StrCat("id", i),
                                 i % 2 == 0 ? claims::v1::CLAIM_STATUS_IN_REVIEW : claims::v1::CLAIM_STATUS_DENIED));
                }
                return absl::OkStatus();
              }).ok());
  auto list = [&](std::optional<claims::v1::ClaimStatus> status) {
    std::vector<std::string> ids;
    PageRequest page{.after_id = "", .limit = 3};
    for (int pages = 0; pages < 10; ++pages) {
      mysql::KeysetQuery q(kSelectAll, "id");
      q.Where(kByStatus, status ? mysql::SqlValue(*status) : mysql::SqlValue());
      absl::StatusOr<mysql::KeysetPage<Thing>> got = q.Fetch<Thing>(*pool_, page, ReadThing);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) break;
      for (const Thing& t : got->items) ids.push_back(t.id);
      EXPECT_LE(static_cast<int>(got->items.size()), 3);
      if (!got->more) break;
      page.after_id = got->items.back().id;
    }
    return ids;
  };
  EXPECT_EQ(list(std::nullopt), (std::vector<std::string>{"id0", "id1", "id2", "id3", "id4", "id5", "id6"}));
  EXPECT_EQ(list(claims::v1::CLAIM_STATUS_IN_REVIEW), (std::vector<std::string>{"id0", "id2", "id4", "id6"}));
  EXPECT_EQ(list(claims::v1::CLAIM_STATUS_DENIED), (std::vector<std::string>{"id1", "id3", "id5"}));
}

constexpr char kSlow[] = "SELECT SLEEP(?)";
constexpr char kBound[] = "SELECT @@max_statement_time";

double SessionBound(mysql::ConnectionPool& pool) {
  double bound = -1;
  EXPECT_TRUE(mysql::WithConnection(pool, [&](Connection& c) -> absl::Status {
                Statement st(c, kBound);
                CAREOPS_ASSIGN_OR_RETURN(mysql::Rows rows, st.Query());
                if (rows.Next()) bound = std::stod(rows.row().String());
                return absl::OkStatus();
              }).ok());
  return bound;
}

TEST_F(MysqlKitTest, AStatementPastTheCallDeadlineIsDeadlineExceededAndTheConnectionGoesOn) {
  ASSERT_TRUE(mysql::WithConnection(*pool_, [&](Connection& c) {
                Insert(c, Make("a1", claims::v1::CLAIM_STATUS_IN_REVIEW));
                return absl::OkStatus();
              }).ok());
  const absl::Time started = absl::Now();
  absl::Status slow;
  {
    CallDeadlineScope call(started + absl::Milliseconds(400));
    // In a transaction that has already written: the write must not survive.
    slow = mysql::RunInTransaction(*pool_, [&](Connection& c) -> absl::Status {
      c.Execute("UPDATE thing SET qty = 99");
      Statement st(c, kSlow);
      st.Add(int64_t{20});
      return st.Query().status();
    });
  }
  const absl::Duration took = absl::Now() - started;
  EXPECT_EQ(slow.code(), absl::StatusCode::kDeadlineExceeded) << slow;
  EXPECT_LT(took, absl::Seconds(5)) << "the statement ran to its end instead of being stopped";
  for (const char* internal : {"max_statement_time", "interrupted", "SLEEP", "1969"}) {
    EXPECT_EQ(slow.message().find(internal), absl::string_view::npos) << slow;
  }
  EXPECT_EQ(pool_->open_connections(), 1);  // the same connection, not a replacement
  // Outside a call the bound is lifted; the connection answers and the write rolled back.
  EXPECT_EQ(SessionBound(*pool_), 0.0);
  absl::StatusOr<Thing> after = Load("a1");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->qty, 3);
  // The next call with time to spare gets its own bound, not the expired one.
  {
    CallDeadlineScope call(absl::Now() + absl::Seconds(30));
    const double bound = SessionBound(*pool_);
    EXPECT_GT(bound, 25.0);
    EXPECT_LE(bound, 30.0);
    absl::Status quick = mysql::WithConnection(*pool_, [&](Connection& c) -> absl::Status {
      Statement st(c, kSlow);
      st.Add(int64_t{0});
      return st.Query().status();
    });
    EXPECT_TRUE(quick.ok()) << quick;
  }
}

// A replay is answered from the request log before any work that must not
// repeat (the peer call a service makes before its transaction).
TEST_F(MysqlKitTest, AReplayIsAnsweredFromTheRequestLogBeforeAnyWork) {
  ASSERT_TRUE(Migrate(*pool_, careops_runtime_migrations()).ok());
  claims::v1::GetClaimRequest request;
  request.set_claim_id("c1");
  claims::v1::GetClaimRequest changed;
  changed.set_claim_id("c2");
  claims::v1::Claim response;
  auto context = [&](const google::protobuf::Message& req) {
    return MutationContext{.caller = {"ana.reyes", "claims_specialist", ""},
                           .method = "Submit",
                           .request_id = "req-1",
                           .request = &req,
                           .response = &response,
                           .now = absl::FromUnixSeconds(1'764'633'600)};
  };
  absl::StatusOr<bool> before = mysql::AnswerIfReplayed(*pool_, context(request));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_FALSE(*before);
  ASSERT_TRUE(mysql::RunMutation(*pool_, context(request), [&](Connection&) {
                response.set_claim_id("c1");
                response.set_etag("1");
                return absl::OkStatus();
              }).ok());
  response.Clear();
  absl::StatusOr<bool> replayed = mysql::AnswerIfReplayed(*pool_, context(request));
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_TRUE(*replayed);
  EXPECT_EQ(response.claim_id(), "c1");
  EXPECT_EQ(response.etag(), "1");
  EXPECT_EQ(mysql::AnswerIfReplayed(*pool_, context(changed)).status().code(), absl::StatusCode::kAlreadyExists);
  MutationContext bad = context(request);
  bad.request_id = "";
  EXPECT_EQ(mysql::AnswerIfReplayed(*pool_, bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace careops
