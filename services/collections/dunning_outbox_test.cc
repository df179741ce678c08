#include "services/collections/dunning_outbox.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "careops/membership/v1/membership.pb.h"

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


// ---- The order of a notice's account changes, through MembershipStatusPeer.

class RecordingPeer : public outbox::OutboxPeer {
 public:
  outbox::PeerReply Call(const std::string& method, const std::string& request, const std::string& idempotency_key,
                         absl::Time) override {
    calls.push_back({method, request, idempotency_key});
    return {absl::OkStatus(), ""};
  }
  struct Sent {
    std::string method, request, idempotency_key;
  };
  std::vector<Sent> calls;
};

class FixedMembership : public MembershipClient {
 public:
  absl::StatusOr<AccountInfo> GetClientAccount(const std::string&) override { return account; }
  AccountInfo account;
};

class MapLookup : public IntentLookup {
 public:
  absl::StatusOr<outbox::IntentRecord> Find(const std::string& key) override {
    auto it = states.find(key);
    if (it == states.end()) return absl::NotFoundError(key);
    outbox::IntentRecord r;
    r.state = it->second;
    return r;
  }
  std::map<std::string, outbox::IntentState> states;
};

NoticeRecord NoticeOfCancellation(int round) {
  NoticeRecord n;
  n.notice_id = "N1";
  n.kind = RungKind::kCancellation;
  n.issued_on = CivilDay(2026, 4, 4);
  n.grace_until = CivilDay(2026, 4, 19);
  n.account_round = round;
  return n;
}

TEST(AccountIntent, EachRoundOfANoticeHasItsOwnKeyAndRequestId) {
  EXPECT_EQ(AccountIntentKey("N1", AccountChange::kSuspend), "noc/N1/suspend");
  EXPECT_EQ(AccountIntentKey("N1", AccountChange::kReinstate, 2), "noc/N1/reinstate/2");
  const outbox::Intent first = PaidTransition(NoticeOfCancellation(0), "A1", CivilDay(2026, 4, 10)).intent.value();
  EXPECT_EQ(first.key, "noc/N1/reinstate");
  EXPECT_EQ(first.idempotency_key, "noc-N1-reinstate");
  const outbox::Intent again = ResuspendIntent(NoticeOfCancellation(0), "A1");
  EXPECT_EQ(again.key, "noc/N1/suspend/1");
  EXPECT_EQ(again.idempotency_key, "noc-N1-suspend.1");
  const outbox::Intent lapse = LapseTransition(NoticeOfCancellation(1), "A1", CivilDay(2026, 4, 19)).intent.value();
  EXPECT_EQ(lapse.key, "noc/N1/cancel/1");
  EXPECT_EQ(lapse.idempotency_key, "noc-N1-cancel.1");
}

TEST(MembershipStatusPeer, AReopenedNoticesSuspensionWaitsForTheReinstatementOfTheRoundBefore) {
  RecordingPeer next;
  FixedMembership membership;
  membership.account.account_id = "A1";
  membership.account.etag = "7";
  membership.account.start_date = CivilDay(2025, 1, 1);
  MapLookup lookup;
  MembershipStatusPeer peer(next, membership);
  peer.set_lookup(&lookup);
  const outbox::Intent again = ResuspendIntent(NoticeOfCancellation(0), "A1");

  lookup.states["noc/N1/reinstate"] = outbox::IntentState::kPending;
  outbox::PeerReply waiting = peer.Call(again.peer_method, again.request, again.idempotency_key, absl::InfiniteFuture());
  EXPECT_EQ(waiting.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(next.calls.empty());

  lookup.states["noc/N1/reinstate"] = outbox::IntentState::kDelivered;
  outbox::PeerReply sent = peer.Call(again.peer_method, again.request, again.idempotency_key, absl::InfiniteFuture());
  ASSERT_TRUE(sent.status.ok()) << sent.status;
  ASSERT_EQ(next.calls.size(), 1u);
  EXPECT_EQ(next.calls[0].method, kSuspendAccountMethod);
  EXPECT_EQ(next.calls[0].idempotency_key, "noc-N1-suspend.1");
  membership::v1::SuspendClientAccountRequest req;
  ASSERT_TRUE(req.ParseFromString(next.calls[0].request));
  EXPECT_EQ(req.etag(), "7");
  EXPECT_EQ(req.effective_date().day(), 4);

  // That round's lapse waits for its own suspension, not the first round's.
  const outbox::Intent lapse = LapseTransition(NoticeOfCancellation(1), "A1", CivilDay(2026, 4, 19)).intent.value();
  lookup.states["noc/N1/suspend"] = outbox::IntentState::kDelivered;
  lookup.states["noc/N1/suspend/1"] = outbox::IntentState::kPending;
  EXPECT_EQ(peer.Call(lapse.peer_method, lapse.request, lapse.idempotency_key, absl::InfiniteFuture()).status.code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(next.calls.size(), 1u);
}

}  // namespace
}  // namespace careops::collections
