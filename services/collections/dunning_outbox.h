// What a Notice of Cancellation does to the account in membership, on the
// common outbox (common/outbox.h), as claims does with utilisation.
//
//   NoC issued                    -> SuspendClientAccount   (effective the issue date)
//   grace lapsed unpaid           -> CancelClientAccount    (effective the grace date)
//   paid before the lapse (WITHDRAWN) -> ReinstateClientAccount (effective the payment or run date)
//   that payment given back (reopened) -> SuspendClientAccount again, a new round
//                                        (effective the issue date, so no earlier than the reinstatement)
//
// None of them is called while a collections transaction is open: the notice's
// change and its intent are written in one transaction, and the relay delivers
// the intent after the commit, retrying while membership is down. Each intent is
// keyed "noc/<notice_id>/<action>" and de-duplicated by membership through its
// request_id ("noc-<notice_id>-<action>").
//
// Membership's transitions need the account's current etag, which cannot be
// known when the intent is written, so MembershipStatusPeer reads the account
// just before each delivery and sends the etag it read. What it sends is
// judged the way membership's status machine judges it: from the last
// transition made, a scheduled one (a future-dated suspension or cancellation
// in scheduled_status_changes, e.g. an account officer's) included
// (AccountCallDate):
//   - an account that is, or is scheduled to be, where the intent would put it
//     (suspended, cancelled, active) is a delivery without a call (a
//     redelivery, or a person did it); suspending a cancelled account is
//     nothing to do either;
//   - so a reinstatement after payment is sent whenever the last transition is
//     a suspension, in force or scheduled (a scheduled one would otherwise
//     take effect on its day after the account was brought current);
//   - reinstating a cancelled account is FAILED_PRECONDITION (a definite no);
//   - a reinstatement or cancellation waits (UNAVAILABLE, retried) while the
//     same notice's suspension is still pending, and a reopened notice's new
//     suspension while its reinstatement is, so they never arrive in the
//     wrong order;
//   - the effective date is never before the last transition's date
//     (membership refuses that), so a back-filled run still lands, and a
//     cancellation whose grace lapses before a scheduled suspension takes
//     effect with it, on its day (membership takes no transition dated
//     before one already made).
// The completion handlers record membership's answer on the notice
// (account_action_state DONE or REFUSED with the reason); an answer for an
// action the notice no longer waits on is left alone.
#pragma once

#include <optional>
#include <string>

#include "absl/time/civil_time.h"
#include "common/outbox.h"
#include "common/outbox_relay.h"
#include "services/collections/dunning_rules.h"
#include "services/collections/membership_client.h"

namespace careops::collections {

class MysqlCollectionsStore;

inline constexpr char kSuspendAccountMethod[] = "/careops.membership.v1.MembershipService/SuspendClientAccount";
inline constexpr char kReinstateAccountMethod[] = "/careops.membership.v1.MembershipService/ReinstateClientAccount";
inline constexpr char kCancelAccountMethod[] = "/careops.membership.v1.MembershipService/CancelClientAccount";

enum class AccountChange { kSuspend, kReinstate, kCancel };
// "SUSPEND", "REINSTATE", "CANCEL" (the AccountAction short names).
std::string_view AccountChangeName(AccountChange c);

// "noc/<notice_id>/<action>", with "/<round>" from the notice's second round on
// (NoticeRecord::account_round).
std::string AccountIntentKey(const std::string& notice_id, AccountChange change, int round = 0);

// The intent that makes `change` to `account_id` for the notice in its
// `round`, effective `on`.
outbox::Intent AccountIntent(const std::string& notice_id, const std::string& account_id, AccountChange change,
                             absl::CivilDay on, const std::string& reason, int round = 0);

// The suspension a Notice of Cancellation asks for again when a given-back
// payment reopens it after it was WITHDRAWN: a new round (notice.account_round
// + 1), effective its issue date (delivered no earlier than the reinstatement
// it follows, AccountCallDate), so the account is suspended as if the payment
// had never been made.
outbox::Intent ResuspendIntent(const NoticeRecord& notice, const std::string& account_id);

// A change of an ISSUED notice, with what it asks of membership.
struct NoticeTransition {
  std::string notice_id;
  NoticeState to = NoticeState::kResolved;
  absl::CivilDay on;  // resolved_on
  std::optional<AccountChange> action;
  std::optional<outbox::Intent> intent;
};

// A paid notice: RESOLVED, or for a Notice of Cancellation WITHDRAWN with the
// account's reinstatement effective `on`.
NoticeTransition PaidTransition(const NoticeRecord& notice, const std::string& account_id, absl::CivilDay on);
// A Notice of Cancellation whose grace lapsed: LAPSED (recorded `on`) with the
// account's cancellation effective its grace date.
NoticeTransition LapseTransition(const NoticeRecord& notice, const std::string& account_id, absl::CivilDay on);

// The effective date to send `change` with for an account read as `account`,
// asked for `requested`: the latest of `requested`, the account's start and the
// last transition's date. nullopt: nothing to send (the last transition already
// leaves the account where `change` would); FAILED_PRECONDITION: reinstating an
// account that is, or is scheduled to be, cancelled.
absl::StatusOr<std::optional<absl::CivilDay>> AccountCallDate(AccountChange change, const AccountInfo& account,
                                                              absl::CivilDay requested);

// Looks an intent up by key (the relay's Find); NOT_FOUND when there is none.
class IntentLookup {
 public:
  virtual ~IntentLookup() = default;
  virtual absl::StatusOr<outbox::IntentRecord> Find(const std::string& key) = 0;
};

// The OutboxPeer for the three account transitions (see the header comment);
// every other method goes to `next` unchanged. Thread-safe when its parts are.
class MembershipStatusPeer final : public outbox::OutboxPeer {
 public:
  MembershipStatusPeer(outbox::OutboxPeer& next, MembershipClient& membership) : next_(next), membership_(membership) {}
  // Set once, before the relay delivers (the relay is built with this peer).
  void set_lookup(IntentLookup* lookup) { lookup_ = lookup; }
  outbox::PeerReply Call(const std::string& method, const std::string& request, const std::string& idempotency_key,
                         absl::Time deadline) override;

 private:
  outbox::OutboxPeer& next_;
  MembershipClient& membership_;
  IntentLookup* lookup_ = nullptr;
};

// Registers the completion handlers of the three methods on `relay`.
void RegisterNoticeCompletions(outbox::OutboxRelay& relay, MysqlCollectionsStore& store);

}  // namespace careops::collections
