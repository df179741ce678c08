#include "services/collections/dunning_outbox.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/text.h"
#include "absl/strings/str_cat.h"
#include "careops/membership/v1/membership.pb.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "services/collections/mysql_collections_store.h"

namespace careops::collections {
namespace {

namespace mv1 = ::careops::membership::v1;

std::optional<AccountChange> ChangeOf(const std::string& method) {
  if (method == kSuspendAccountMethod) return AccountChange::kSuspend;
  if (method == kReinstateAccountMethod) return AccountChange::kReinstate;
  if (method == kCancelAccountMethod) return AccountChange::kCancel;
  return std::nullopt;
}

// Delivers one account change (the three requests share their fields): reads
// the account, decides with AccountCallDate, and sends the request with the
// account's etag and the decided date, or answers without a call.
template <typename Request>
outbox::PeerReply Deliver(outbox::OutboxPeer& next, MembershipClient& membership, AccountChange change,
                          const std::string& method, const std::string& serialized,
                          const std::string& idempotency_key, absl::Time deadline) {
  Request req;
  if (!req.ParseFromString(serialized)) return {absl::InternalError("an account intent that does not parse"), ""};
  absl::StatusOr<absl::CivilDay> requested = FromProto(req.effective_date(), "effective_date");
  if (!requested.ok()) return {requested.status(), ""};
  absl::StatusOr<AccountInfo> account = membership.GetClientAccount(req.account_id());
  if (!account.ok()) return {account.status(), ""};
  absl::StatusOr<std::optional<absl::CivilDay>> on = AccountCallDate(change, *account, *requested);
  if (!on.ok()) return {on.status(), ""};
  if (!on->has_value()) return {absl::OkStatus(), ""};
  req.set_etag(account->etag);
  *req.mutable_effective_date() = ToProto(**on);
  return next.Call(method, req.SerializeAsString(), idempotency_key, deadline);
}

// The one naming of a notice's account change: "noc<sep><notice_id><sep><action>",
// with "<round_sep><round>" after the action from the notice's second round on.
std::string NoticeChangeName(std::string_view sep, std::string_view round_sep, const std::string& notice_id,
                             AccountChange change, int round) {
  const std::string action = absl::AsciiStrToLower(Abs(AccountChangeName(change)));
  std::string name = absl::StrCat("noc", Abs(sep), notice_id, Abs(sep), action);
  if (round != 0) absl::StrAppend(&name, Abs(round_sep), round);
  return name;
}

// The request_id of a notice's account change: "noc-<notice_id>-<action>[.<round>]".
std::string AccountRequestId(const std::string& notice_id, AccountChange change, int round) {
  return NoticeChangeName("-", ".", notice_id, change, round);
}

// The intent that must be delivered before the one with `idempotency_key` (an
// AccountRequestId): a round's reinstatement or cancellation follows its
// suspension, and a later round's suspension follows the reinstatement of the
// round before. nullopt: none (a first suspension) or not a notice's key.
std::optional<std::string> PrecedingIntentKey(const std::string& idempotency_key, AccountChange change) {
  const size_t first = idempotency_key.find('-');
  const size_t last = idempotency_key.rfind('-');
  if (first == std::string::npos || last <= first) return std::nullopt;
  const std::string notice_id = idempotency_key.substr(first + 1, last - first - 1);
  int round = 0;
  if (const size_t dot = idempotency_key.rfind('.'); dot != std::string::npos && dot > last) {
    if (!absl::SimpleAtoi(idempotency_key.substr(dot + 1), &round) || round < 0) return std::nullopt;
  }
  if (change != AccountChange::kSuspend) return AccountIntentKey(notice_id, AccountChange::kSuspend, round);
  if (round == 0) return std::nullopt;
  return AccountIntentKey(notice_id, AccountChange::kReinstate, round - 1);
}

}  // namespace

std::string_view AccountChangeName(AccountChange c) {
  switch (c) {
    case AccountChange::kSuspend: return "SUSPEND";
    case AccountChange::kReinstate: return "REINSTATE";
    case AccountChange::kCancel: return "CANCEL";
  }
  return "SUSPEND";
}

std::string AccountIntentKey(const std::string& notice_id, AccountChange change, int round) {
  return NoticeChangeName("/", "/", notice_id, change, round);
}

outbox::Intent AccountIntent(const std::string& notice_id, const std::string& account_id, AccountChange change,
                             absl::CivilDay on, const std::string& reason, int round) {
  const std::string request_id = AccountRequestId(notice_id, change, round);
  std::string request, method;
  // The three membership requests share their fields; only the message type differs.
  auto build = [&](auto req, const char* peer_method) {
    req.set_request_id(request_id);
    req.set_account_id(account_id);
    req.set_reason(reason);
    *req.mutable_effective_date() = ToProto(on);
    request = req.SerializeAsString();
    method = peer_method;
  };
  switch (change) {
    case AccountChange::kSuspend: build(mv1::SuspendClientAccountRequest(), kSuspendAccountMethod); break;
    case AccountChange::kReinstate: build(mv1::ReinstateClientAccountRequest(), kReinstateAccountMethod); break;
    case AccountChange::kCancel: build(mv1::CancelClientAccountRequest(), kCancelAccountMethod); break;
  }
  return outbox::Intent{.key = AccountIntentKey(notice_id, change, round),
                        .peer_method = method,
                        .request = std::move(request),
                        .idempotency_key = request_id,
                        .resource_kind = "notice",
                        .resource_id = notice_id};
}

absl::StatusOr<std::optional<absl::CivilDay>> AccountCallDate(AccountChange change, const AccountInfo& account,
                                                              absl::CivilDay requested) {
  const AccountStatus last = account.last_status;
  switch (change) {
    case AccountChange::kSuspend:
      if (last != AccountStatus::kActive) return std::nullopt;
      break;
    case AccountChange::kReinstate:
      if (last == AccountStatus::kActive) return std::nullopt;
      if (last == AccountStatus::kCancelled) {
        return absl::FailedPreconditionError(
            account.status == AccountStatus::kCancelled
                ? "the account is cancelled in membership; it cannot be reinstated"
                : "the account is scheduled to be cancelled in membership; it cannot be reinstated");
      }
      break;
    case AccountChange::kCancel:
      if (last == AccountStatus::kCancelled) return std::nullopt;
      break;
  }
  absl::CivilDay day = requested;
  if (account.last_effective_date) day = std::max(day, *account.last_effective_date);
  if (account.start_date) day = std::max(day, *account.start_date);
  return day;
}

NoticeTransition PaidTransition(const NoticeRecord& notice, const std::string& account_id, absl::CivilDay on) {
  NoticeTransition t{.notice_id = notice.notice_id, .to = NoticeState::kResolved, .on = on, .action = {}, .intent = {}};
  if (notice.kind == RungKind::kCancellation) {
    t.to = NoticeState::kWithdrawn;
    t.action = AccountChange::kReinstate;
    t.intent = AccountIntent(notice.notice_id, account_id, AccountChange::kReinstate, on,
                             absl::StrCat("collections: notice of cancellation ", notice.notice_id,
                                          " withdrawn, the account was brought current"),
                             notice.account_round);
  }
  return t;
}

NoticeTransition LapseTransition(const NoticeRecord& notice, const std::string& account_id, absl::CivilDay on) {
  NoticeTransition t{.notice_id = notice.notice_id, .to = NoticeState::kLapsed, .on = on, .action = {}, .intent = {}};
  t.action = AccountChange::kCancel;
  t.intent = AccountIntent(notice.notice_id, account_id, AccountChange::kCancel, notice.grace_until.value_or(on),
                           absl::StrCat("collections: notice of cancellation ", notice.notice_id, " lapsed unpaid"),
                           notice.account_round);
  return t;
}

outbox::Intent ResuspendIntent(const NoticeRecord& notice, const std::string& account_id) {
  return AccountIntent(notice.notice_id, account_id, AccountChange::kSuspend, notice.issued_on,
                       absl::StrCat("collections: notice of cancellation ", notice.notice_id,
                                    " reopened, the payment that brought the account current was given back"),
                       notice.account_round + 1);
}

outbox::PeerReply MembershipStatusPeer::Call(const std::string& method, const std::string& request,
                                             const std::string& idempotency_key, absl::Time deadline) {
  std::optional<AccountChange> change = ChangeOf(method);
  if (!change) return next_.Call(method, request, idempotency_key, deadline);

  // Never ahead of the change the same notice made before it.
  if (std::optional<std::string> before = PrecedingIntentKey(idempotency_key, *change); before && lookup_ != nullptr) {
    absl::StatusOr<outbox::IntentRecord> preceding = lookup_->Find(*before);
    if (preceding.ok() && preceding->state == outbox::IntentState::kPending) {
      return {absl::UnavailableError("waiting for the notice's previous account change to be delivered first"), ""};
    }
    if (!preceding.ok() && !absl::IsNotFound(preceding.status())) return {preceding.status(), ""};
  }

  switch (*change) {
    case AccountChange::kSuspend:
      return Deliver<mv1::SuspendClientAccountRequest>(next_, membership_, *change, method, request, idempotency_key,
                                                       deadline);
    case AccountChange::kReinstate:
      return Deliver<mv1::ReinstateClientAccountRequest>(next_, membership_, *change, method, request,
                                                         idempotency_key, deadline);
    case AccountChange::kCancel:
      return Deliver<mv1::CancelClientAccountRequest>(next_, membership_, *change, method, request, idempotency_key,
                                                      deadline);
  }
  return {absl::InternalError("unknown account change"), ""};
}

void RegisterNoticeCompletions(outbox::OutboxRelay& relay, MysqlCollectionsStore& store) {
  for (AccountChange change : {AccountChange::kSuspend, AccountChange::kReinstate, AccountChange::kCancel}) {
    const std::string method = change == AccountChange::kSuspend     ? kSuspendAccountMethod
                               : change == AccountChange::kReinstate ? kReinstateAccountMethod
                                                                     : kCancelAccountMethod;
    auto completion = [&store, change](bool done) -> outbox::CompletionHandler {
      return [&store, change, done](mysql::Connection& conn, const outbox::IntentRecord& r,
                                    const outbox::PeerReply& reply, absl::Time) -> absl::StatusOr<std::string> {
        const std::string error = done ? "" : std::string(reply.status.message()).substr(0, 1024);
        CAREOPS_RETURN_IF_ERROR(store.RecordAccountAction(conn, r.intent.resource_id,
                                                          std::string(AccountChangeName(change)), done, error));
        return std::string(done ? "DONE" : "REFUSED");
      };
    };
    // ALREADY_EXISTS: membership has this request_id already, applied.
    relay.Register({.peer_method = method,
                    .also_delivered = {absl::StatusCode::kAlreadyExists},
                    .on_delivered = completion(true),
                    .on_refused = completion(false)});
  }
}

}  // namespace careops::collections
