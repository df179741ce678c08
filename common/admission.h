// Admission control: how many RPCs of a process work at once, and how many wait.
//
// A careops handler holds a pooled database connection while it works, so more
// handlers at once than connections only queue inside the pool, each holding a
// gRPC thread. The gate makes that queue explicit and bounded:
//
//   - at most `workers` calls run their bodies at once (sized to the database pool);
//   - at most `queue` more wait for a slot, in arrival order of wake-up;
//   - a call arriving while `queue` calls already wait is answered
//     RESOURCE_EXHAUSTED at once (the client backs off; nothing was done);
//   - a call whose deadline passes while it waits is answered DEADLINE_EXCEEDED.
//
//   AdmissionGate gate({.workers = 16, .queue = 64});
//   CAREOPS_ASSIGN_OR_RETURN(AdmissionGate::Ticket t, gate.Enter(deadline));
//   ...work; the slot is released when `t` goes out of scope...
//
// Streams do not pass through the gate: a slow reader would hold a slot for as
// long as it reads (the bordereau reads its rows in short pages instead).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace careops {

struct AdmissionOptions {
  int workers = 16;
  int queue = 64;
};

class AdmissionGate {
 public:
  explicit AdmissionGate(AdmissionOptions options) : options_(options) {}
  AdmissionGate(const AdmissionGate&) = delete;
  AdmissionGate& operator=(const AdmissionGate&) = delete;

  // Holds one slot until destroyed; Ticket(nullptr) holds none (no gate).
  class Ticket {
   public:
    explicit Ticket(AdmissionGate* gate) : gate_(gate) {}
    Ticket(Ticket&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (gate_) gate_->Leave();
    }

   private:
    AdmissionGate* gate_;
  };

  // A slot, waiting until `deadline` at most (absl::InfiniteFuture() for none).
  absl::StatusOr<Ticket> Enter(absl::Time deadline);

  // For metrics and tests.
  int running();
  int waiting();
  const AdmissionOptions& options() const { return options_; }

 private:
  void Leave();

  const AdmissionOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace careops
