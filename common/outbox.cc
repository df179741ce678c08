#include "common/outbox.h"

#include <cppconn/prepared_statement.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/mysql/pool.h"
#include "common/proto_time.h"

namespace careops::outbox {
namespace {

constexpr char kInsertIntent[] =
    "INSERT INTO outbox (intent_key, peer_method, request, idempotency_key, resource_kind, resource_id, state,"
    " attempts, next_attempt_at, claimed_until, claim_token, last_error, result, request_id, created_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, 'PENDING', 0, ?, NULL, '', '', NULL, ?, ?, ?)";

}  // namespace

std::string_view IntentStateName(IntentState s) {
  switch (s) {
    case IntentState::kPending: return "PENDING";
    case IntentState::kDelivered: return "DELIVERED";
    case IntentState::kFailed: return "FAILED";
  }
  return "PENDING";
}

void Enqueue(mysql::Connection& conn, const MutationContext& m, const Intent& intent) {
  auto& st = conn.Prepare(kInsertIntent);
  st.setString(1, intent.key);
  st.setString(2, intent.peer_method);
  std::istringstream request(intent.request);
  st.setBlob(3, &request);
  st.setString(4, intent.idempotency_key);
  st.setString(5, intent.resource_kind);
  st.setString(6, intent.resource_id);
  const std::string now = ToSqlDatetime(m.now);
  st.setString(7, now);
  st.setString(8, m.request_id);
  st.setString(9, now);
  st.setString(10, now);
  st.executeUpdate();
}

absl::Duration Backoff(int attempts, const RetryPolicy& policy) {
  if (attempts < 1) attempts = 1;
  // Computed in seconds as a double so a long outage cannot overflow.
  double seconds = absl::ToDoubleSeconds(policy.initial_backoff) * std::pow(policy.multiplier, attempts - 1);
  double cap = absl::ToDoubleSeconds(policy.max_backoff);
  if (!std::isfinite(seconds) || seconds > cap) seconds = cap;
  return absl::Seconds(seconds);
}

bool IsTransient(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

Decision Decide(absl::StatusCode code, const std::vector<absl::StatusCode>& also_delivered, int attempts,
                absl::Time now, const RetryPolicy& policy) {
  if (code == absl::StatusCode::kOk ||
      std::find(also_delivered.begin(), also_delivered.end(), code) != also_delivered.end()) {
    return {Verdict::kDelivered, now};
  }
  if (IsTransient(code)) return {Verdict::kRetry, now + Backoff(attempts, policy)};
  return {Verdict::kRefused, now};
}

}  // namespace careops::outbox
