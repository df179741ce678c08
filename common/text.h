// Small std::string_view helpers. Debian's Abseil (20220623) has its own
// absl::string_view that std::string_view does not convert to, so careops code
// uses these for splitting and trimming, and Abs()/Std() at Abseil call sites.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace careops {

inline absl::string_view Abs(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// Splits on any character of `seps`.
inline std::vector<std::string_view> SplitAny(std::string_view s, std::string_view seps, bool skip_empty) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || seps.find(s[i]) != std::string_view::npos) {
      std::string_view part = s.substr(start, i - start);
      if (!skip_empty || !part.empty()) out.push_back(part);
      start = i + 1;
    }
  }
  return out;
}

inline std::string_view StripSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

inline bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// Whole-string decimal integer.
template <typename Int>
bool ParseInt(std::string_view s, Int* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace careops
