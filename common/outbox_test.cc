// The outbox state machine without a database: what each peer answer does to an
// intent, and the backoff between attempts.
#include "common/outbox.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace careops::outbox {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const RetryPolicy kPolicy{.initial_backoff = absl::Seconds(1), .max_backoff = absl::Seconds(60), .multiplier = 2};

TEST(OutboxDecide, SuccessFinalises) {
  Decision d = Decide(absl::StatusCode::kOk, {}, 1, kNow, kPolicy);
  EXPECT_EQ(d.verdict, Verdict::kDelivered);
}

TEST(OutboxDecide, ACodeTheMethodCountsAsSuccessFinalises) {
  EXPECT_EQ(Decide(absl::StatusCode::kNotFound, {absl::StatusCode::kNotFound}, 1, kNow, kPolicy).verdict,
            Verdict::kDelivered);
  EXPECT_EQ(Decide(absl::StatusCode::kNotFound, {}, 1, kNow, kPolicy).verdict, Verdict::kRefused);
}

TEST(OutboxDecide, DefiniteAnswersCompensateAndAreNeverRetried) {
  for (absl::StatusCode code :
       {absl::StatusCode::kFailedPrecondition, absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kAlreadyExists, absl::StatusCode::kOutOfRange}) {
    EXPECT_EQ(Decide(code, {}, 1, kNow, kPolicy).verdict, Verdict::kRefused) << absl::StatusCodeToString(code);
    EXPECT_FALSE(IsTransient(code)) << absl::StatusCodeToString(code);
  }
}

TEST(OutboxDecide, TransientAnswersAreRetriedAfterTheBackoff) {
  for (absl::StatusCode code : {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
                                absl::StatusCode::kResourceExhausted, absl::StatusCode::kAborted,
                                absl::StatusCode::kInternal, absl::StatusCode::kUnauthenticated}) {
    Decision d = Decide(code, {}, 3, kNow, kPolicy);
    EXPECT_EQ(d.verdict, Verdict::kRetry) << absl::StatusCodeToString(code);
    EXPECT_EQ(d.next_attempt_at, kNow + absl::Seconds(4)) << absl::StatusCodeToString(code);
  }
}

TEST(OutboxBackoff, DoublesFromTheInitialWaitAndIsCapped) {
  EXPECT_EQ(Backoff(0, kPolicy), absl::Seconds(1));
  EXPECT_EQ(Backoff(1, kPolicy), absl::Seconds(1));
  EXPECT_EQ(Backoff(2, kPolicy), absl::Seconds(2));
  EXPECT_EQ(Backoff(6, kPolicy), absl::Seconds(32));
  EXPECT_EQ(Backoff(7, kPolicy), absl::Seconds(60));
  EXPECT_EQ(Backoff(100000, kPolicy), absl::Seconds(60));  // no overflow after a long outage
}

// A peer that is down for a while and then answers: the intent is retried at
// growing, capped intervals and finalised once, on the first success.
TEST(OutboxDecide, AnOutageIsRiddenOutWithCappedBackoffThenFinalisedOnce) {
  FakeClock clock(kNow);
  std::vector<absl::Duration> waits;
  int attempts = 0;
  Verdict last = Verdict::kRetry;
  while (last == Verdict::kRetry) {
    ++attempts;
    absl::StatusCode answer = attempts < 10 ? absl::StatusCode::kUnavailable : absl::StatusCode::kOk;
    Decision d = Decide(answer, {}, attempts, clock.Now(), kPolicy);
    last = d.verdict;
    if (d.verdict == Verdict::kRetry) {
      waits.push_back(d.next_attempt_at - clock.Now());
      clock.Set(d.next_attempt_at);
    }
  }
  EXPECT_EQ(last, Verdict::kDelivered);
  EXPECT_EQ(attempts, 10);
  EXPECT_EQ(waits, (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                                absl::Seconds(8), absl::Seconds(16), absl::Seconds(32),
                                                absl::Seconds(60), absl::Seconds(60), absl::Seconds(60)}));
}

TEST(OutboxState, NamesAreTheStoredValues) {
  EXPECT_EQ(IntentStateName(IntentState::kPending), "PENDING");
  EXPECT_EQ(IntentStateName(IntentState::kDelivered), "DELIVERED");
  EXPECT_EQ(IntentStateName(IntentState::kFailed), "FAILED");
}

}  // namespace
}  // namespace careops::outbox
