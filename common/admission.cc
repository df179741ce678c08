#include "common/admission.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace careops {

absl::StatusOr<AdmissionGate::Ticket> AdmissionGate::Enter(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  if (running_ < options_.workers) {
    ++running_;
    return Ticket(this);
  }
  if (waiting_ >= options_.queue) {
    return absl::ResourceExhaustedError(absl::StrCat("server busy: ", options_.workers, " calls running and ",
                                                     options_.queue, " waiting; retry with backoff"));
  }
  ++waiting_;
  auto free = [this] { return running_ < options_.workers; };
  bool admitted;
  if (deadline == absl::InfiniteFuture()) {
    cv_.wait(lock, free);
    admitted = true;
  } else {
    admitted = cv_.wait_until(lock, absl::ToChronoTime(deadline), free);
  }
  --waiting_;
  if (!admitted) {
    return absl::DeadlineExceededError("the call's deadline passed while it waited for a free worker");
  }
  ++running_;
  return Ticket(this);
}

void AdmissionGate::Leave() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
  }
  cv_.notify_one();
}

int AdmissionGate::running() {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

int AdmissionGate::waiting() {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

}  // namespace careops
