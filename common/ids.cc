#include "common/ids.h"

namespace careops {
namespace {
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}

IdGenerator::IdGenerator(const Clock& clock) : clock_(clock), rng_(std::random_device{}()) {}

std::string IdGenerator::Next() {
  uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(clock_.Now()));
  uint64_t hi, lo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ms <= last_ms_) {
      ms = last_ms_;  // a clock that steps back must not break ordering
      if (++rand_lo_ == 0) rand_hi_ = (rand_hi_ + 1) & 0xFFFF;
    } else {
      last_ms_ = ms;
      rand_hi_ = rng_() & 0xFFFF;
      rand_lo_ = rng_() >> 1;  // leave headroom so increments rarely carry
    }
    hi = rand_hi_;
    lo = rand_lo_;
  }
  // 128 bits: 48 time | 16 hi | 64 lo, written as 26 base-32 digits (130 bits, top 2 zero).
  std::string out(26, '0');
  unsigned __int128 v = (static_cast<unsigned __int128>(ms & 0xFFFFFFFFFFFFULL) << 80) |
                        (static_cast<unsigned __int128>(hi) << 64) | lo;
  for (int i = 25; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<int>(v & 31)];
    v >>= 5;
  }
  return out;
}

std::string NewId() {
  static IdGenerator generator(SystemClock::Instance());
  return generator.Next();
}

bool IsWellFormedId(std::string_view id) {
  if (id.size() != 26) return false;
  for (char c : id) {
    bool ok = false;
    for (const char* a = kAlphabet; *a; ++a) ok |= (*a == c);
    if (!ok) return false;
  }
  return true;
}

}  // namespace careops
