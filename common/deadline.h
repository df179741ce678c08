// The deadline of the call a thread is working for.
//
// Every handler runs inside a CallDeadlineScope holding its RPC's deadline:
// ServiceRuntime opens it around each synchronous handler (a gRPC global
// callback, common/server.cc) and the worker pool around each unary handler
// (common/pooled_service.cc), both from the context's deadline:
//   CallDeadlineScope deadline(DeadlineFromChrono(ctx->deadline()));
// Below it, without any parameter passed down:
//   - ConnectionPool::Acquire() waits at most min(acquire_timeout, time left) for
//     a connection, and answers DEADLINE_EXCEEDED once the call's time is up;
//   - PeerChannel::NewContext() gives a call to another service the caller's
//     deadline, capped by --peer_deadline;
// so no database wait or peer call outlives the client that asked for it.
// Outside a scope (background jobs, start-up) there is no call deadline and the
// configured limits apply alone. Scopes nest; the innermost one counts.
#pragma once

#include <chrono>

#include "absl/time/time.h"

namespace careops {

class CallDeadlineScope {
 public:
  explicit CallDeadlineScope(absl::Time deadline);
  ~CallDeadlineScope();
  CallDeadlineScope(const CallDeadlineScope&) = delete;
  CallDeadlineScope& operator=(const CallDeadlineScope&) = delete;

 private:
  absl::Time previous_;
};

// A gRPC deadline as absl time: the client's "no deadline" (time_point::max())
// is absl::InfiniteFuture(), so code below tells it apart from a real one.
absl::Time DeadlineFromChrono(std::chrono::system_clock::time_point deadline);

// This thread's call deadline; absl::InfiniteFuture() outside any scope.
absl::Time CurrentCallDeadline();

// min(limit, time left to the call deadline at `now`), never negative.
absl::Duration WithinCallDeadline(absl::Duration limit, absl::Time now);

}  // namespace careops
