#include "common/money.h"

#include <array>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"

namespace careops {
namespace {

absl::Status SameCurrency(const Money& a, const Money& b) {
  if (a.currency() == b.currency()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("currency mismatch: ", a.currency(), " and ", b.currency()));
}

// Currencies the business deals in; extend as new markets open.
constexpr std::array<std::string_view, 24> kCurrencies = {
    "AUD", "CAD", "CHF", "CNY", "EUR", "GBP", "HKD", "IDR", "INR", "JPY", "KRW", "MYR",
    "NZD", "PHP", "SAR", "SEK", "SGD", "THB", "TWD", "AED", "USD", "VND", "ZAR", "BRL"};

}  // namespace

absl::StatusOr<Money> Money::Add(const Money& other) const {
  CAREOPS_RETURN_IF_ERROR(SameCurrency(*this, other));
  int64_t out;
  if (__builtin_add_overflow(minor_, other.minor_, &out)) {
    return absl::OutOfRangeError("money overflow in addition");
  }
  return Money(currency_, out);
}

absl::StatusOr<Money> Money::Subtract(const Money& other) const {
  CAREOPS_RETURN_IF_ERROR(SameCurrency(*this, other));
  int64_t out;
  if (__builtin_sub_overflow(minor_, other.minor_, &out)) {
    return absl::OutOfRangeError("money overflow in subtraction");
  }
  return Money(currency_, out);
}

absl::StatusOr<Money> Money::ApplyBasisPoints(int64_t basis_points) const {
  __int128 product = static_cast<__int128>(minor_) * basis_points;
  __int128 q = product / 10000;
  __int128 r = product % 10000;
  if (r * 2 >= 10000) ++q;
  if (r * 2 <= -10000) --q;
  if (q > INT64_MAX || q < INT64_MIN) return absl::OutOfRangeError("money overflow in percentage");
  return Money(currency_, static_cast<int64_t>(q));
}

std::string Money::ToString() const {
  uint64_t abs = minor_ < 0 ? 0 - static_cast<uint64_t>(minor_) : static_cast<uint64_t>(minor_);
  return absl::StrFormat("%s %s%d.%02d", currency_, minor_ < 0 ? "-" : "", abs / 100, abs % 100);
}

bool IsKnownCurrency(std::string_view code) {
  for (auto c : kCurrencies) {
    if (c == code) return true;
  }
  return false;
}

absl::Status ValidateMoney(const Money& money, std::string_view field, bool allow_negative) {
  if (!IsKnownCurrency(money.currency())) {
    return InvalidArgument(absl::StrCat(Abs(field), ".currency_code"),
                           absl::StrCat("unknown ISO-4217 currency ", Quote(money.currency())));
  }
  if (!allow_negative && money.minor() < 0) {
    return InvalidArgument(absl::StrCat(Abs(field), ".amount_minor"), "must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace careops
