// Sortable unique ids for every careops resource.
//
// An id is 26 Crockford base-32 characters, ULID-style: 48 bits of milliseconds
// since the Unix epoch followed by 80 random bits. Ids generated later sort after
// earlier ones (lexicographically, as strings), which keeps keyset pagination and
// InnoDB primary-key inserts in time order. Within one millisecond the generator
// increments the random part, so ids from one process are strictly increasing.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"

namespace careops {

class IdGenerator {
 public:
  explicit IdGenerator(const Clock& clock);
  // Thread-safe.
  std::string Next();

 private:
  const Clock& clock_;
  std::mutex mu_;
  uint64_t last_ms_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rand_hi_ ABSL_GUARDED_BY(mu_) = 0;  // top 16 of the 80 random bits
  uint64_t rand_lo_ ABSL_GUARDED_BY(mu_) = 0;  // low 64
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

// A process-wide generator on the system clock.
std::string NewId();

// True when `id` has the shape NewId() produces (26 Crockford base-32 characters).
bool IsWellFormedId(std::string_view id);

}  // namespace careops
