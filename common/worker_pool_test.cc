#include "common/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"

namespace careops {
namespace {

TEST(WorkerPool, RunsEverythingQueuedBeforeItStops) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool({.workers = 2, .queue = 100});
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Submit([&] { ++ran; }));
  }
  EXPECT_EQ(ran, 50);
}

TEST(WorkerPool, RefusesOnlyBeyondTheQueue) {
  absl::Notification release;
  absl::Notification started;
  WorkerPool pool({.workers = 1, .queue = 2});
  ASSERT_TRUE(pool.Submit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_FALSE(pool.Submit([] {}));  // two already wait
  EXPECT_EQ(pool.running(), 1);
  EXPECT_EQ(pool.waiting(), 2);
  release.Notify();
}

TEST(WorkerPool, AnIdleWorkerTakesAJobEvenWithNoQueue) {
  WorkerPool pool({.workers = 1, .queue = 0});
  absl::Notification done;
  EXPECT_TRUE(pool.Submit([&] { done.Notify(); }));
  done.WaitForNotification();
}

}  // namespace
}  // namespace careops
