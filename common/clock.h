// Time comes from an injected Clock so that rules, schedules and tests never depend
// on the wall clock: production wires SystemClock, tests a FakeClock they advance.
#pragma once

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace careops {

// `t` at the microsecond precision every careops store keeps (DATETIME(6)), so a
// time handed out equals the one read back.
inline absl::Time TruncateToMicros(absl::Time t) { return absl::FromUnixMicros(absl::ToUnixMicros(t)); }

class Clock {
 public:
  virtual ~Clock() = default;
  // The current instant, UTC.
  virtual absl::Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance for wiring in main().
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that reads `start` when constructed and runs on at the wall clock's
// pace: a whole process on another date and time of day, for tests of binaries
// (ServiceConfig::test_clock_start). Thread-safe.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(absl::Time start) : offset_(start - absl::Now()) {}
  absl::Time Now() const override { return absl::Now() + offset_; }

 private:
  const absl::Duration offset_;
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Advance(absl::Duration d) { nanos_ += absl::ToInt64Nanoseconds(d); }
  void Set(absl::Time t) { nanos_ = absl::ToUnixNanos(t); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace careops
