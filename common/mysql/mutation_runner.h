// Exactly-once mutations: RunMutation() and the request log it keeps.
//
// Every mutating RPC of a careops store runs its change through RunMutation(),
// in one transaction together with a row in the service's `request_log` table
// (common/schema/V001__runtime.sql, keyed by V901 on (caller, method, request_id)):
//   - first time: the row is inserted (claiming the key), `mutate` runs and fills
//     the context's response, which is stored with the row; everything commits
//     together or not at all;
//   - same caller, method and id with the same request: the stored response is
//     returned and nothing runs;
//   - same caller, method and id with a different request: ALREADY_EXISTS
//     naming request_id, nothing runs;
//   - another caller's row under the same id is never seen: each caller gets its
//     own result, and nobody can read another caller's answer by guessing its id.
// Concurrent twins (one key, several calls at once) serialise on the row's
// primary key: the losers' claim inserts wait for the winner, see its row as a
// duplicate key and read its committed answer in a second transaction. That
// outcome is recognised where it happens, on the claim insert itself, so a
// duplicate key raised by `mutate` comes back as the body's own ALREADY_EXISTS.
//
// The response is cleared before every attempt, so nothing a rolled-back
// (deadlocked, retried) attempt wrote into it is returned or stored.
//
// Status contract: INVALID_ARGUMENT for a malformed request_id; ALREADY_EXISTS
// as above; INTERNAL for a context missing its caller, request, response or now
// (a bug in the store); otherwise whatever `mutate` or the database returned
// (UNAVAILABLE when it is down, ABORTED after repeated lock conflicts).
//
// Old rows are removed by PurgeRequestLog(), which ServiceRuntime runs for
// every service (--request_log_retention, default 30 days): a retry later than
// the retention applies again, so the retention must outlast any client's
// retry window.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutation.h"
#include "common/mysql/pool.h"

namespace careops::mysql {

// INVALID_ARGUMENT unless request_id is 1..64 printable ASCII characters.
absl::Status ValidateRequestId(std::string_view request_id);

// Runs `mutate` exactly once per (m.caller.user, m.method, m.request_id); see
// above. `mutate` fills *m.response inside the transaction. m.now is stored as
// the row's creation time, so the purge follows the injected clock.
absl::Status RunMutation(ConnectionPool& pool, const MutationContext& m,
                         const std::function<absl::Status(Connection&)>& mutate,
                         TransactionOptions options = {});

// Replay detection before any work that must not repeat (a call to another
// service): true, with *m.response filled, when m's key already holds the same
// request's answer; false when it is not there yet (then go on to the peer and
// RunMutation, which still settles any race). ALREADY_EXISTS naming request_id
// for a different request under the key; INVALID_ARGUMENT for a malformed
// request_id. Reads in autocommit; takes no lock.
absl::StatusOr<bool> AnswerIfReplayed(ConnectionPool& pool, const MutationContext& m);

struct RequestLogPurge {
  absl::Duration retention = absl::Hours(24 * 30);
  int batch_size = 1000;  // rows per DELETE, each its own short transaction
  int max_batches = 100;  // per call; the next run goes on where this one stopped
};

// Deletes request_log rows created before `now - retention`, oldest first, in
// batches; returns how many went. Rows younger than that are never touched.
absl::StatusOr<int64_t> PurgeRequestLog(ConnectionPool& pool, absl::Time now, const RequestLogPurge& purge);

}  // namespace careops::mysql
