// The pure parts of the store kit: placeholder counting, value mapping, keyset
// statement text, the versioned-update shape and the statement-time bound. The
// parts that talk to MariaDB are tested in tests/foundation/mysql_kit_test.cc.
#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "careops/claims/v1/claims.pb.h"
#include "common/mysql/keyset.h"
#include "common/mysql/row.h"
#include "common/mysql/statement_time.h"
#include "common/mysql/versioned.h"

namespace careops::mysql {
namespace {

TEST(CountPlaceholders, CountsOnlyParameterMarks) {
  EXPECT_EQ(CountPlaceholders("SELECT 1"), 0);
  EXPECT_EQ(CountPlaceholders("UPDATE t SET a = ?, b = ? WHERE id = ? AND version = ?"), 4);
  EXPECT_EQ(CountPlaceholders("SELECT '?', \"?\", `a?` FROM t WHERE x = ?"), 1);
  EXPECT_EQ(CountPlaceholders("SELECT 'it\\'s ?' FROM t WHERE x = ? -- why?\n AND y = ?"), 2);
  EXPECT_EQ(CountPlaceholders("SELECT /* ? */ ? # trailing ?"), 1);
}

TEST(SqlValue, MapsEachKindOneWay) {
  EXPECT_TRUE(SqlValue().is_null());
  EXPECT_TRUE(SqlValue(std::optional<std::string>()).is_null());
  EXPECT_EQ(std::get<std::string>(SqlValue(std::optional<std::string>("x")).value()), "x");
  EXPECT_EQ(std::get<int64_t>(SqlValue(true).value()), 1);
  EXPECT_EQ(std::get<int64_t>(SqlValue(7).value()), 7);
  EXPECT_EQ(std::get<std::string>(SqlValue("lit").value()), "lit");
  EXPECT_EQ(std::get<std::string>(SqlValue(claims::v1::CLAIM_STATUS_IN_REVIEW).value()), "IN_REVIEW");
  const absl::Time t = absl::FromUnixMicros(1'700'000'000'123'456);
  EXPECT_EQ(std::get<absl::Time>(SqlValue(std::optional<absl::Time>(t)).value()), t);
  EXPECT_EQ(std::get<absl::CivilDay>(SqlValue(absl::CivilDay(2026, 2, 28)).value()), absl::CivilDay(2026, 2, 28));
}

TEST(KeysetQuery, BuildsTheTextFromConstantsOnly) {
  KeysetQuery q("SELECT id FROM t", "id");
  EXPECT_EQ(q.Sql(), "SELECT id FROM t WHERE id > ? ORDER BY id LIMIT ?");
  q.Where("(? IS NULL OR status = ?)", std::optional<std::string>()).WhereIf(false, "flag = 1").WhereIf(true, "owner = ?", "u");
  EXPECT_EQ(q.Sql(), "SELECT id FROM t WHERE (? IS NULL OR status = ?) AND owner = ? AND id > ? ORDER BY id LIMIT ?");
  EXPECT_EQ(CountPlaceholders(q.Sql()), 5);
  q.Locking(" FOR UPDATE SKIP LOCKED");
  EXPECT_EQ(q.Sql().substr(q.Sql().size() - 31), " LIMIT ? FOR UPDATE SKIP LOCKED");
}

TEST(Versioned, UpdateStatementsMustEndInTheBoundShape) {
  EXPECT_TRUE(CheckVersionedUpdateSql("UPDATE t SET a = ?, version = ? WHERE id = ? AND version = ?").ok());
  EXPECT_EQ(CheckVersionedUpdateSql("UPDATE t SET a = ? WHERE id = ?").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(CheckVersionedUpdateSql("UPDATE t SET version = version + 1 WHERE id = ? AND version = ?").code(),
            absl::StatusCode::kInternal);
}

TEST(Versioned, AnEtagIsRequiredAndStaleIsAborted) {
  EXPECT_EQ(ExpectedVersion::FromEtag("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpectedVersion::FromEtag("W/1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpectedVersion::FromEtag("0").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ExpectedVersion> v = ExpectedVersion::FromEtag("12");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value(), 12);
  EXPECT_EQ(EtagOf(12), "12");
  absl::Status stale = StaleEtag("claim", 13);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  EXPECT_NE(stale.message().find("\"13\""), absl::string_view::npos) << stale;
  EXPECT_EQ(NoSuchRow({.resource = "claim", .key_field = "claim_id"}, "c1").code(), absl::StatusCode::kNotFound);
}

TEST(StatementTime, FollowsTheCallDeadline) {
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  // Outside a call: no bound, and a leftover one is lifted.
  EXPECT_EQ(StatementTimeToSet(absl::InfiniteFuture(), now, 0), std::nullopt);
  EXPECT_EQ(StatementTimeToSet(absl::InfiniteFuture(), now, 2.5), 0.0);
  // Inside one: the time left, unless the current bound is already close below it.
  EXPECT_EQ(StatementTimeToSet(now + absl::Seconds(2), now, 0), 2.0);
  EXPECT_EQ(StatementTimeToSet(now + absl::Seconds(2), now, 1.95), std::nullopt);
  EXPECT_EQ(StatementTimeToSet(now + absl::Seconds(2), now, 2.5), 2.0);  // would outlast the call
  EXPECT_EQ(StatementTimeToSet(now + absl::Seconds(2), now, 0.5), 2.0);  // would cut it short
  // A call about to expire still gets a bound (1 ms), never "none".
  EXPECT_EQ(StatementTimeToSet(now - absl::Seconds(1), now, 0), 0.001);
}

}  // namespace
}  // namespace careops::mysql
