#include "services/collections/dunning_outbox.h"

#include <algorithm>

#include "absl/strings/ascii.h"
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

// The request with the account's etag and an effective date never before the
// account's start or its current status's date.
template <typename Request>
std::string Prepared(const std::string& serialized, const AccountInfo& account) {
  Request req;
  req.ParseFromString(serialized);
  req.set_etag(account.etag);
  absl::StatusOr<absl::CivilDay> on = FromProto(req.effective_date(), "effective_date");
  if (on.ok()) {
    absl::CivilDay day = *on;
    if (account.status_effective_date) day = std::max(day, *account.status_effective_date);
    if (account.start_date) day = std::max(day, *account.start_date);
    *req.mutable_effective_date() = ToProto(day);
  }
  return req.SerializeAsString();
}

template <typename Request>
std::string AccountOf(const std::string& serialized) {
  Request req;
  return req.ParseFromString(serialized) ? req.account_id() : "";
}

// The notice of an idempotency key "noc-<notice_id>-<action>".
std::string NoticeOfKey(const std::string& idempotency_key) {
  size_t first = idempotency_key.find('-');
  size_t last = idempotency_key.rfind('-');
  if (first == std::string::npos || last <= first) return "";
  return idempotency_key.substr(first + 1, last - first - 1);
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

std::string AccountIntentKey(const std::string& notice_id, AccountChange change) {
  const std::string action = absl::AsciiStrToLower(Abs(AccountChangeName(change)));
  return absl::StrCat("noc/", notice_id, "/", action);
}

outbox::Intent AccountIntent(const std::string& notice_id, const std::string& account_id, AccountChange change,
                             absl::CivilDay on, const std::string& reason) {
  const std::string action = absl::AsciiStrToLower(Abs(AccountChangeName(change)));
  const std::string request_id = absl::StrCat("noc-", notice_id, "-", action);
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
  return outbox::Intent{.key = AccountIntentKey(notice_id, change),
                        .peer_method = method,
                        .request = std::move(request),
                        .idempotency_key = request_id,
                        .resource_kind = "notice",
                        .resource_id = notice_id};
}

NoticeTransition PaidTransition(const NoticeRecord& notice, const std::string& account_id, absl::CivilDay on) {
  NoticeTransition t{.notice_id = notice.notice_id, .to = NoticeState::kResolved, .on = on};
  if (notice.kind == RungKind::kCancellation) {
    t.to = NoticeState::kWithdrawn;
    t.action = AccountChange::kReinstate;
    t.intent = AccountIntent(notice.notice_id, account_id, AccountChange::kReinstate, on,
                             absl::StrCat("collections: notice of cancellation ", notice.notice_id,
                                          " withdrawn, the account was brought current"));
  }
  return t;
}

NoticeTransition LapseTransition(const NoticeRecord& notice, const std::string& account_id, absl::CivilDay on) {
  NoticeTransition t{.notice_id = notice.notice_id, .to = NoticeState::kLapsed, .on = on};
  t.action = AccountChange::kCancel;
  t.intent = AccountIntent(notice.notice_id, account_id, AccountChange::kCancel, notice.grace_until.value_or(on),
                           absl::StrCat("collections: notice of cancellation ", notice.notice_id,
                                        " lapsed unpaid"));
  return t;
}

outbox::PeerReply MembershipStatusPeer::Call(const std::string& method, const std::string& request,
                                             const std::string& idempotency_key, absl::Time deadline) {
  std::optional<AccountChange> change = ChangeOf(method);
  if (!change) return next_.Call(method, request, idempotency_key, deadline);

  // Never ahead of the same notice's suspension.
  if (*change != AccountChange::kSuspend && lookup_ != nullptr) {
    absl::StatusOr<outbox::IntentRecord> suspend =
        lookup_->Find(AccountIntentKey(NoticeOfKey(idempotency_key), AccountChange::kSuspend));
    if (suspend.ok() && suspend->state == outbox::IntentState::kPending) {
      return {absl::UnavailableError("waiting for the notice's suspension to be delivered first"), ""};
    }
    if (!suspend.ok() && !absl::IsNotFound(suspend.status())) return {suspend.status(), ""};
  }

  const std::string account_id = *change == AccountChange::kSuspend     ? AccountOf<mv1::SuspendClientAccountRequest>(request)
                                 : *change == AccountChange::kReinstate ? AccountOf<mv1::ReinstateClientAccountRequest>(request)
                                                                        : AccountOf<mv1::CancelClientAccountRequest>(request);
  absl::StatusOr<AccountInfo> account = membership_.GetClientAccount(account_id);
  if (!account.ok()) return {account.status(), ""};
  switch (*change) {
    case AccountChange::kSuspend:
      if (account->status != AccountStatus::kActive) return {absl::OkStatus(), ""};
      break;
    case AccountChange::kReinstate:
      if (account->status == AccountStatus::kActive) return {absl::OkStatus(), ""};
      if (account->status == AccountStatus::kCancelled) {
        return {absl::FailedPreconditionError("the account is cancelled in membership; it cannot be reinstated"), ""};
      }
      break;
    case AccountChange::kCancel:
      if (account->status == AccountStatus::kCancelled) return {absl::OkStatus(), ""};
      break;
  }
  const std::string prepared =
      *change == AccountChange::kSuspend     ? Prepared<mv1::SuspendClientAccountRequest>(request, *account)
      : *change == AccountChange::kReinstate ? Prepared<mv1::ReinstateClientAccountRequest>(request, *account)
                                             : Prepared<mv1::CancelClientAccountRequest>(request, *account);
  return next_.Call(method, prepared, idempotency_key, deadline);
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
