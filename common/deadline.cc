#include "common/deadline.h"

#include <algorithm>

namespace careops {
namespace {
thread_local absl::Time current_deadline = absl::InfiniteFuture();
}  // namespace

CallDeadlineScope::CallDeadlineScope(absl::Time deadline) : previous_(current_deadline) {
  current_deadline = deadline;
}

CallDeadlineScope::~CallDeadlineScope() { current_deadline = previous_; }

absl::Time CurrentCallDeadline() { return current_deadline; }

absl::Duration WithinCallDeadline(absl::Duration limit, absl::Time now) {
  return std::max(absl::ZeroDuration(), std::min(limit, current_deadline - now));
}

absl::Time DeadlineFromChrono(std::chrono::system_clock::time_point deadline) {
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace careops
