#include "services/collections/dunning_outbox.h"

#include <gtest/gtest.h>

namespace careops::collections {
namespace {

using absl::CivilDay;

// An account ACTIVE since its start, with `last` as the last transition made.
AccountInfo Account(AccountStatus today, AccountStatus last, CivilDay last_date) {
  AccountInfo a;
  a.status = today;
  a.start_date = CivilDay(2025, 1, 1);
  a.status_effective_date = today == last ? last_date : CivilDay(2025, 1, 1);
  a.last_status = last;
  a.last_effective_date = last_date;
  return a;
}

std::optional<CivilDay> DateFor(AccountChange change, const AccountInfo& a, CivilDay requested) {
  absl::StatusOr<std::optional<CivilDay>> on = AccountCallDate(change, a, requested);
  EXPECT_TRUE(on.ok()) << on.status();
  return on.ok() ? *on : std::nullopt;
}

TEST(AccountCallDate, NothingScheduledSendsOnTheRequestedDayOrTheStatusDate) {
  const AccountInfo active = Account(AccountStatus::kActive, AccountStatus::kActive, CivilDay(2025, 1, 1));
  EXPECT_EQ(DateFor(AccountChange::kSuspend, active, CivilDay(2026, 4, 4)), CivilDay(2026, 4, 4));
  EXPECT_EQ(DateFor(AccountChange::kReinstate, active, CivilDay(2026, 4, 6)), std::nullopt);
  EXPECT_EQ(DateFor(AccountChange::kCancel, active, CivilDay(2026, 4, 19)), CivilDay(2026, 4, 19));
  // A back-filled run never dates a change before the status in force.
  const AccountInfo suspended = Account(AccountStatus::kSuspended, AccountStatus::kSuspended, CivilDay(2026, 4, 4));
  EXPECT_EQ(DateFor(AccountChange::kSuspend, suspended, CivilDay(2026, 4, 4)), std::nullopt);
  EXPECT_EQ(DateFor(AccountChange::kReinstate, suspended, CivilDay(2026, 4, 1)), CivilDay(2026, 4, 4));
  EXPECT_EQ(DateFor(AccountChange::kCancel, suspended, CivilDay(2026, 4, 19)), CivilDay(2026, 4, 19));
}

TEST(AccountCallDate, AScheduledSuspensionIsJudgedLikeMembershipJudgesIt) {
  // ACTIVE today, an officer's suspension scheduled for Apr 30.
  const AccountInfo a = Account(AccountStatus::kActive, AccountStatus::kSuspended, CivilDay(2026, 4, 30));
  // The NoC finds it already on its way to SUSPENDED: nothing to send.
  EXPECT_EQ(DateFor(AccountChange::kSuspend, a, CivilDay(2026, 4, 4)), std::nullopt);
  // Paid on Apr 12: the reinstatement is sent, on the suspension's day (never before it).
  EXPECT_EQ(DateFor(AccountChange::kReinstate, a, CivilDay(2026, 4, 12)), CivilDay(2026, 4, 30));
  // Lapsed on Apr 10: the cancellation is sent, on the suspension's day.
  EXPECT_EQ(DateFor(AccountChange::kCancel, a, CivilDay(2026, 4, 10)), CivilDay(2026, 4, 30));
  // Dated after the scheduled change: the requested day.
  EXPECT_EQ(DateFor(AccountChange::kCancel, a, CivilDay(2026, 5, 10)), CivilDay(2026, 5, 10));
}

TEST(AccountCallDate, AScheduledCancellationLeavesNothingToCancelAndRefusesAReinstatement) {
  const AccountInfo a = Account(AccountStatus::kActive, AccountStatus::kCancelled, CivilDay(2026, 5, 31));
  EXPECT_EQ(DateFor(AccountChange::kSuspend, a, CivilDay(2026, 4, 4)), std::nullopt);
  EXPECT_EQ(DateFor(AccountChange::kCancel, a, CivilDay(2026, 4, 19)), std::nullopt);
  absl::StatusOr<std::optional<CivilDay>> reinstate = AccountCallDate(AccountChange::kReinstate, a, CivilDay(2026, 4, 6));
  EXPECT_EQ(reinstate.status().code(), absl::StatusCode::kFailedPrecondition);
  const AccountInfo cancelled = Account(AccountStatus::kCancelled, AccountStatus::kCancelled, CivilDay(2026, 3, 1));
  EXPECT_EQ(AccountCallDate(AccountChange::kReinstate, cancelled, CivilDay(2026, 4, 6)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(AccountCallDate, AScheduledReinstatementIsWhereTheNextSuspensionStarts) {
  // SUSPENDED today by an officer who scheduled its reinstatement for Apr 20.
  const AccountInfo a = Account(AccountStatus::kSuspended, AccountStatus::kActive, CivilDay(2026, 4, 20));
  EXPECT_EQ(DateFor(AccountChange::kSuspend, a, CivilDay(2026, 4, 4)), CivilDay(2026, 4, 20));
  EXPECT_EQ(DateFor(AccountChange::kReinstate, a, CivilDay(2026, 4, 6)), std::nullopt);
}

}  // namespace
}  // namespace careops::collections
