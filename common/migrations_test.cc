#include "common/migrations.h"

#include <gtest/gtest.h>

namespace careops {
namespace {

TEST(MigrationsTest, SplitsOnSemicolonsOutsideQuotesAndComments) {
  auto stmts = SplitSqlStatements(
      "-- a comment; with a semicolon\n"
      "CREATE TABLE a (x VARCHAR(3) DEFAULT ';');\n"
      "/* block; comment */ INSERT INTO a VALUES ('it''s; fine');\n"
      "INSERT INTO a VALUES (\"q;\")\n");
  ASSERT_EQ(stmts.size(), 3u);
  EXPECT_EQ(stmts[0], "CREATE TABLE a (x VARCHAR(3) DEFAULT ';')");
  EXPECT_NE(stmts[1].find("'it''s; fine'"), std::string::npos);
  EXPECT_EQ(stmts[2], "INSERT INTO a VALUES (\"q;\")");
}

TEST(MigrationsTest, ChecksumChangesWithText) {
  EXPECT_EQ(MigrationChecksum("CREATE TABLE a (x INT)"), MigrationChecksum("CREATE TABLE a (x INT)"));
  EXPECT_NE(MigrationChecksum("CREATE TABLE a (x INT)"), MigrationChecksum("CREATE TABLE a (x BIGINT)"));
  EXPECT_EQ(MigrationChecksum("").size(), 16u);
}

}  // namespace
}  // namespace careops
