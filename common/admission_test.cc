#include "common/admission.h"

#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <vector>

#include "absl/time/clock.h"

namespace careops {
namespace {

TEST(AdmissionGateTest, RunsUpToWorkersThenQueuesThenRefusesAtOnce) {
  AdmissionGate gate({.workers = 2, .queue = 1});
  auto a = gate.Enter(absl::InfiniteFuture());
  auto b = gate.Enter(absl::InfiniteFuture());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(gate.running(), 2);

  // One waiter fits in the queue; it is admitted when a slot frees.
  std::optional<absl::StatusOr<AdmissionGate::Ticket>> waiter;
  std::thread t([&] { waiter.emplace(gate.Enter(absl::InfiniteFuture())); });
  while (gate.waiting() == 0) std::this_thread::yield();

  // The queue is full: refused at once, whatever the deadline.
  auto refused = gate.Enter(absl::InfiniteFuture());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);

  { auto release = std::move(*a); }
  t.join();
  ASSERT_TRUE(waiter->ok()) << waiter->status();
  EXPECT_EQ(gate.running(), 2);
  EXPECT_EQ(gate.waiting(), 0);
}

TEST(AdmissionGateTest, ACallWhoseDeadlinePassedWhileWaitingIsDeadlineExceeded) {
  AdmissionGate gate({.workers = 1, .queue = 4});
  auto held = gate.Enter(absl::InfiniteFuture());
  ASSERT_TRUE(held.ok());
  // A deadline already in the past: no wall-clock wait in the test.
  auto late = gate.Enter(absl::Now() - absl::Seconds(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(gate.waiting(), 0);
  EXPECT_EQ(gate.running(), 1);
}

TEST(AdmissionGateTest, TicketsReleaseTheirSlot) {
  AdmissionGate gate({.workers = 1, .queue = 0});
  for (int i = 0; i < 100; ++i) {
    auto t = gate.Enter(absl::InfiniteFuture());
    ASSERT_TRUE(t.ok()) << i;
  }
  EXPECT_EQ(gate.running(), 0);
}

}  // namespace
}  // namespace careops
