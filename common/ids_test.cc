#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace careops {
namespace {

TEST(IdsTest, WellFormedAndStrictlyIncreasingWithinOneMillisecond) {
  FakeClock clock(absl::FromUnixMillis(1'700'000'000'000));
  IdGenerator gen(clock);
  std::string prev = gen.Next();
  EXPECT_TRUE(IsWellFormedId(prev));
  for (int i = 0; i < 10000; ++i) {
    std::string next = gen.Next();
    ASSERT_LT(prev, next);
    prev = next;
  }
}

TEST(IdsTest, LaterMillisecondSortsAfterAndClockStepBackKeepsOrder) {
  FakeClock clock(absl::FromUnixMillis(1'700'000'000'000));
  IdGenerator gen(clock);
  std::string a = gen.Next();
  clock.Advance(absl::Milliseconds(1));
  std::string b = gen.Next();
  EXPECT_LT(a, b);
  EXPECT_NE(a.substr(0, 10), b.substr(0, 10));  // time prefix changed
  clock.Advance(absl::Seconds(-5));
  EXPECT_LT(b, gen.Next());
}

TEST(IdsTest, UniqueAcrossThreads) {
  std::vector<std::vector<std::string>> out(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&out, t] {
      for (int i = 0; i < 5000; ++i) out[t].push_back(NewId());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (auto& v : out) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 20000u);
}

TEST(IdsTest, RejectsMalformed) {
  EXPECT_FALSE(IsWellFormedId(""));
  EXPECT_FALSE(IsWellFormedId("01ARZ3NDEKTSV4RRFFQ69G5FA"));    // 25 chars
  EXPECT_FALSE(IsWellFormedId("01ARZ3NDEKTSV4RRFFQ69G5FAU"));   // U is not Crockford
  EXPECT_TRUE(IsWellFormedId("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}

}  // namespace
}  // namespace careops
