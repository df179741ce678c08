// Statement time bounded by the call's deadline.
//
// The pool's Acquire() never waits past the call's deadline (common/deadline.h);
// this bounds what runs after it. When a connection is leased for work inside
// a call (RunInTransaction, WithConnection, RunMutation), the session's
// `max_statement_time` (MariaDB 10.1+) is set to the time the call has left,
// through a prepared statement with the seconds as a bound value: MariaDB does
// not accept a parameter in `SET STATEMENT max_statement_time = ? FOR ...`,
// while `SET SESSION max_statement_time = ?` prepares like any statement. Outside
// a call (background jobs, start-up) the bound is lifted again (0: none).
//
// The bound is per statement, as MariaDB applies it: each statement of a
// transaction may run for up to the time that was left when the connection was
// leased. A statement the server stops for it fails with error 1969
// (ER_STATEMENT_TIMEOUT), which errors.h maps to DEADLINE_EXCEEDED with a
// message of careops' own; the connection stays open and usable.
//
// A SET costs a round trip, so it is skipped while the connection's bound
// already lies within [90%, 100%] of the time left: repeated calls with the same
// client deadline set it once.
#pragma once

#include <optional>

#include "absl/time/time.h"

namespace careops::mysql {

class Connection;

// The session bound a lease at `now` needs, in seconds, when it must change
// from `current` (0 = none); nullopt when `current` will do. `deadline` is the
// call's (absl::InfiniteFuture() outside a call). Never below 1 ms inside a
// call, so an expiring call gets a bound rather than "none".
std::optional<double> StatementTimeToSet(absl::Time deadline, absl::Time now, double current);

// Sets the bound on `conn` for the current call deadline (common/deadline.h)
// when it must change. May throw sql::SQLException (called inside the pool's
// guarded section).
void BoundStatementTime(Connection& conn, absl::Time now);

}  // namespace careops::mysql
