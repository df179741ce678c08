#include "common/mysql/batch.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace careops::mysql {
namespace {

TEST(BatchTest, ChunksCoverEveryRowOnceInFixedSizes) {
  std::vector<int> covered(1234, 0);
  std::set<int> sizes;
  ForEachChunk(covered.size(), [&](size_t start, int n) {
    sizes.insert(n);
    for (int i = 0; i < n; ++i) ++covered[start + i];
  });
  for (int c : covered) EXPECT_EQ(c, 1);
  EXPECT_EQ(sizes, (std::set<int>{500, 50, 5, 1}));
  int calls = 0;
  ForEachChunk(0, [&](size_t, int) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(BatchTest, MultiRowSqlRepeatsTheRowPlaceholder) {
  EXPECT_EQ(MultiRowSql("SELECT id FROM t WHERE ref IN (", "?", 3, ")"), "SELECT id FROM t WHERE ref IN (?, ?, ?)");
  EXPECT_EQ(MultiRowSql("INSERT INTO t VALUES ", "(?, ?)", 2), "INSERT INTO t VALUES (?, ?), (?, ?)");
}

}  // namespace
}  // namespace careops::mysql
