// Failure points: named places where a test build can be told to crash or to
// answer an error, so the integration tests can show that a crash at the worst
// moment (after a commit, before the follow-up transaction) leaves nothing
// half-applied.
//
// They exist only when the build defines CAREOPS_FAILPOINTS (the CMake option of
// the same name: on for the RelWithDebInfo build `tools/dev test` uses, off for
// Release). In any other build Failpoint() is an inline OK and the environment
// is never read.
//
// Arming: the environment variable CAREOPS_FAILPOINTS, read once per process:
//   CAREOPS_FAILPOINTS="claims.after_intent_commit=exit,membership.utilization.after_commit=deadline*1"
// Actions: `exit` ends the process at once with _exit(kFailpointExitCode) (no
// destructors, no flushing: like a SIGKILL); `deadline` makes Failpoint()
// return DEADLINE_EXCEEDED; `unavailable` returns UNAVAILABLE; `hold` stops the
// calling thread right there (a transaction it has open stays open, its locks
// held) until the test lets it go: it creates the file <name>.held in the
// directory CAREOPS_FAILPOINT_DIR names, and returns OK once the test has
// created <name>.release there (or after kFailpointMaxHold, so a test that
// failed cannot leave a server stuck). `*N` fires only on the first N hits
// (default: every hit).
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace careops {

inline constexpr int kFailpointExitCode = 86;
inline constexpr int kFailpointMaxHoldSeconds = 120;

#ifdef CAREOPS_FAILPOINTS
absl::Status Failpoint(std::string_view name);
#else
inline absl::Status Failpoint(std::string_view) { return absl::OkStatus(); }
#endif

}  // namespace careops
