// The transactional outbox: how a change in one careops service that needs a
// change in another is made without ever calling the other service while a
// database transaction is open, and without ever being half-applied.
//
// The writer records an intent (the peer method, the serialized request and a
// stable idempotency key the peer de-duplicates by) with Enqueue(), inside the
// same transaction as its local change, so either both exist or neither does.
// The relay (common/outbox_relay.h) then delivers it with no transaction open and
// finishes it in a second local transaction run by the owning service's
// completion handler: finalise on success, compensate on a definite refusal.
// A row is PENDING until then, DELIVERED or FAILED (refused) after; a pending
// row is retried with capped exponential backoff for as long as the peer's
// answers are transient.
//
// The decision what to do with a peer's answer is the pure function Decide()
// below, so the state machine has unit tests without a database.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/mutation.h"

namespace careops::mysql {
class Connection;
}

namespace careops::outbox {

enum class IntentState { kPending, kDelivered, kFailed };
// "PENDING", "DELIVERED", "FAILED" (stored in the state column).
std::string_view IntentStateName(IntentState s);

// What the writer records.
struct Intent {
  // The writer's stable, unique name for the intent, to find it again after the
  // commit or on a replay (e.g. "claim/<id>/<version>"). 1..191 characters.
  std::string key;
  // Full gRPC method name: "/careops.membership.v1.MembershipService/RecordUtilization".
  std::string peer_method;
  std::string request;          // the serialized request message
  std::string idempotency_key;  // sent as x-request-id; the peer de-duplicates by it
  // What the completion handler settles, e.g. "claim" and its id.
  std::string resource_kind, resource_id;
};

// A stored intent as the relay and the completion handlers see it.
struct IntentRecord {
  int64_t id = 0;
  Intent intent;
  IntentState state = IntentState::kPending;
  int attempts = 0;  // peer calls started so far
  absl::Time next_attempt_at;
  std::string last_error;  // the peer's last code and message ("" when none)
  std::string result;      // what the completion handler stored
  std::string request_id;  // of the mutation that wrote it
  absl::Time created_at, updated_at;
};

// Writes `intent` as PENDING and due at m.now, on `conn` inside the caller's
// transaction. Throws sql::SQLException like every statement helper run inside
// mysql::RunInTransaction (a duplicate key becomes ALREADY_EXISTS there).
void Enqueue(mysql::Connection& conn, const MutationContext& m, const Intent& intent);

// ---- The state machine, pure -------------------------------------------------

struct RetryPolicy {
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
  double multiplier = 2.0;
};

// The wait before the attempt after `attempts` failed ones (1 -> initial,
// growing by `multiplier`, never above max_backoff).
absl::Duration Backoff(int attempts, const RetryPolicy& policy);

// Codes after which the same request may well succeed later (the peer was
// down, slow, overloaded, or lost the race): UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED, CANCELLED, UNKNOWN, INTERNAL, UNAUTHENTICATED,
// UNIMPLEMENTED, DATA_LOSS. Everything else is a definite answer.
bool IsTransient(absl::StatusCode code);

enum class Verdict {
  kDelivered,  // the peer applied it: finalise
  kRefused,    // a definite no (FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND, ...): compensate
  kRetry,      // transient: try again at next_attempt_at
};

struct Decision {
  Verdict verdict;
  absl::Time next_attempt_at;  // kRetry only
};

// What to do after attempt number `attempts` (1 for the first) answered `code`
// at `now`. `also_delivered` lists codes that mean success for this method
// (e.g. NOT_FOUND for "reverse what was never recorded").
Decision Decide(absl::StatusCode code, const std::vector<absl::StatusCode>& also_delivered, int attempts,
                absl::Time now, const RetryPolicy& policy);

}  // namespace careops::outbox
