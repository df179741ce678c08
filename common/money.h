// Money: an int64 count of minor units plus an ISO-4217 currency code.
//
// careops keeps every amount, and every sum of amounts, within +-kMaxMoneyMinor
// (10^15 minor units: PHP 10 trillion, far above any real claim, limit or
// bordereau). ValidateMoney() enforces the bound where an amount enters a
// service (INVALID_ARGUMENT naming the field), and all arithmetic checks it:
// Add/Subtract/ApplyBasisPoints/Scale return INVALID_ARGUMENT for a currency mismatch
// and FAILED_PRECONDITION when the result would leave the range. The operands
// were valid when they came in, so an out-of-range sum (a total, a balance) is a
// property of the data already stored, not of one request: the caller must
// narrow what it sums. Nothing ever wraps to a negative total.
//
// Percentages are in basis points (1/100 of a percent) and round half away from
// zero to the minor unit, so PHP 100.01 at 20% co-pay is PHP 20.00. ToString()
// places the decimal point by the currency's ISO-4217 exponent (JPY 0, PHP 2,
// KWD 3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace careops {

inline constexpr int64_t kMaxMoneyMinor = 1'000'000'000'000'000;

class Money {
 public:
  Money() = default;
  Money(std::string currency, int64_t minor) : currency_(std::move(currency)), minor_(minor) {}

  const std::string& currency() const { return currency_; }
  int64_t minor() const { return minor_; }
  bool is_negative() const { return minor_ < 0; }

  absl::StatusOr<Money> Add(const Money& other) const;
  absl::StatusOr<Money> Subtract(const Money& other) const;
  // Multiplies by basis_points / 10000, rounding half away from zero.
  absl::StatusOr<Money> ApplyBasisPoints(int64_t basis_points) const;
  // Multiplies by numerator / denominator, rounding half away from zero (a daily
  // rate: outstanding.Scale(rate_bp * days, 10000 * 365)). INVALID_ARGUMENT for a
  // denominator that is not positive.
  absl::StatusOr<Money> Scale(int64_t numerator, int64_t denominator) const;

  // "PHP 1234.50", "JPY 1234", "KWD 1.234" for logs and messages.
  std::string ToString() const;

  friend bool operator==(const Money&, const Money&) = default;

 private:
  std::string currency_;
  int64_t minor_ = 0;
};

// True for the ISO-4217 codes careops accepts.
bool IsKnownCurrency(std::string_view code);
// Digits after the decimal point in `code`'s minor unit (ISO-4217); 2 for an
// unknown code.
int CurrencyExponent(std::string_view code);

// INVALID_ARGUMENT naming `field` unless currency is known, the amount is within
// +-kMaxMoneyMinor and, when `allow_negative` is false, it is zero or more.
absl::Status ValidateMoney(const Money& money, std::string_view field, bool allow_negative = false);

}  // namespace careops
