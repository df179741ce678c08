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

struct Currency {
  std::string_view code;
  int exponent;  // ISO-4217 minor unit digits
};

// Currencies the business deals in; extend as new markets open.
constexpr std::array<Currency, 26> kCurrencies = {{
    {"AED", 2}, {"AUD", 2}, {"BHD", 3}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2}, {"CNY", 2},
    {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"IDR", 2}, {"INR", 2}, {"JPY", 0}, {"KRW", 0},
    {"KWD", 3}, {"MYR", 2}, {"NZD", 2}, {"PHP", 2}, {"SAR", 2}, {"SEK", 2}, {"SGD", 2},
    {"THB", 2}, {"TWD", 2}, {"USD", 2}, {"VND", 0}, {"ZAR", 2},
}};

const Currency* FindCurrency(std::string_view code) {
  for (const Currency& c : kCurrencies) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

absl::StatusOr<Money> InRange(const std::string& currency, __int128 minor, std::string_view operation) {
  if (minor > kMaxMoneyMinor || minor < -kMaxMoneyMinor) {
    return absl::FailedPreconditionError(absl::StrCat("money: the ", Abs(operation), " in ", currency,
                                                      " would exceed 10^15 minor units"));
  }
  return Money(currency, static_cast<int64_t>(minor));
}

}  // namespace

absl::StatusOr<Money> Money::Add(const Money& other) const {
  CAREOPS_RETURN_IF_ERROR(SameCurrency(*this, other));
  return InRange(currency_, static_cast<__int128>(minor_) + other.minor_, "sum");
}

absl::StatusOr<Money> Money::Subtract(const Money& other) const {
  CAREOPS_RETURN_IF_ERROR(SameCurrency(*this, other));
  return InRange(currency_, static_cast<__int128>(minor_) - other.minor_, "difference");
}

absl::StatusOr<Money> Money::ApplyBasisPoints(int64_t basis_points) const {
  __int128 product = static_cast<__int128>(minor_) * basis_points;
  __int128 q = product / 10000;
  __int128 r = product % 10000;
  if (r * 2 >= 10000) ++q;
  if (r * 2 <= -10000) --q;
  return InRange(currency_, q, "percentage");
}

absl::StatusOr<Money> Money::Scale(int64_t numerator, int64_t denominator) const {
  if (denominator <= 0) return absl::InvalidArgumentError("money scale: the denominator must be positive");
  __int128 product = static_cast<__int128>(minor_) * numerator;
  __int128 q = product / denominator;
  __int128 r = product % denominator;
  if (r * 2 >= denominator) ++q;
  if (r * 2 <= -static_cast<__int128>(denominator)) --q;
  return InRange(currency_, q, "scaled amount");
}

std::string Money::ToString() const {
  const uint64_t abs = minor_ < 0 ? 0 - static_cast<uint64_t>(minor_) : static_cast<uint64_t>(minor_);
  const char* sign = minor_ < 0 ? "-" : "";
  const int exponent = CurrencyExponent(currency_);
  if (exponent == 0) return absl::StrFormat("%s %s%d", currency_, sign, abs);
  uint64_t scale = 1;
  for (int i = 0; i < exponent; ++i) scale *= 10;
  return absl::StrFormat("%s %s%d.%0*d", currency_, sign, abs / scale, exponent, abs % scale);
}

bool IsKnownCurrency(std::string_view code) { return FindCurrency(code) != nullptr; }

int CurrencyExponent(std::string_view code) {
  const Currency* c = FindCurrency(code);
  return c ? c->exponent : 2;
}

absl::Status ValidateMoney(const Money& money, std::string_view field, bool allow_negative) {
  if (!IsKnownCurrency(money.currency())) {
    return InvalidArgument(absl::StrCat(Abs(field), ".currency_code"),
                           absl::StrCat("unknown ISO-4217 currency ", Quote(money.currency())));
  }
  if (!allow_negative && money.minor() < 0) {
    return InvalidArgument(absl::StrCat(Abs(field), ".amount_minor"), "must not be negative");
  }
  if (money.minor() > kMaxMoneyMinor || money.minor() < -kMaxMoneyMinor) {
    return InvalidArgument(absl::StrCat(Abs(field), ".amount_minor"),
                           "must be at most 10^15 (1000000000000000) minor units in absolute value");
  }
  return absl::OkStatus();
}

}  // namespace careops
