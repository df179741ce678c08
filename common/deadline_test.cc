#include "common/deadline.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/time/clock.h"

namespace careops {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'780'000'000);

TEST(CallDeadlineTest, OutsideAScopeTheLimitAppliesAlone) {
  EXPECT_EQ(CurrentCallDeadline(), absl::InfiniteFuture());
  EXPECT_EQ(WithinCallDeadline(absl::Seconds(5), kNow), absl::Seconds(5));
}

TEST(CallDeadlineTest, TheNearerOfLimitAndCallDeadlineWinsAndScopesNest) {
  {
    CallDeadlineScope call(kNow + absl::Seconds(2));
    EXPECT_EQ(WithinCallDeadline(absl::Seconds(5), kNow), absl::Seconds(2));
    EXPECT_EQ(WithinCallDeadline(absl::Seconds(1), kNow), absl::Seconds(1));
    {
      CallDeadlineScope inner(kNow - absl::Seconds(1));  // already passed
      EXPECT_EQ(WithinCallDeadline(absl::Seconds(5), kNow), absl::ZeroDuration());
    }
    EXPECT_EQ(CurrentCallDeadline(), kNow + absl::Seconds(2));
  }
  EXPECT_EQ(CurrentCallDeadline(), absl::InfiniteFuture());
}

TEST(CallDeadlineTest, EachThreadHasItsOwn) {
  CallDeadlineScope call(kNow);
  absl::Time seen_elsewhere;
  std::thread other([&] { seen_elsewhere = CurrentCallDeadline(); });
  other.join();
  EXPECT_EQ(seen_elsewhere, absl::InfiniteFuture());
  EXPECT_EQ(CurrentCallDeadline(), kNow);
}

TEST(DeadlineFromChrono, NoDeadlineIsInfiniteAndARealOneIsKept) {
  EXPECT_EQ(DeadlineFromChrono(std::chrono::system_clock::time_point::max()), absl::InfiniteFuture());
  const auto t = std::chrono::system_clock::now() + std::chrono::seconds(3);
  EXPECT_EQ(DeadlineFromChrono(t), absl::FromChrono(t));
}

}  // namespace
}  // namespace careops
