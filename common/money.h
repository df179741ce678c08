// Money: an int64 count of minor units plus an ISO-4217 currency code.
//
// Arithmetic never silently wraps or mixes currencies: Add/Subtract return
// INVALID_ARGUMENT for a currency mismatch and OUT_OF_RANGE on int64 overflow.
// Percentages are in basis points (1/100 of a percent) and round half away from
// zero to the minor unit, so PHP 100.01 at 20% co-pay is PHP 20.00.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace careops {

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

  // "PHP 1234.50" for logs and messages.
  std::string ToString() const;

  friend bool operator==(const Money&, const Money&) = default;

 private:
  std::string currency_;
  int64_t minor_ = 0;
};

// True for the ISO-4217 codes careops accepts.
bool IsKnownCurrency(std::string_view code);

// INVALID_ARGUMENT naming `field` unless currency is known and, when
// `allow_negative` is false, the amount is zero or more.
absl::Status ValidateMoney(const Money& money, std::string_view field, bool allow_negative = false);

}  // namespace careops
