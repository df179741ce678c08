#include "common/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace careops {
namespace {

TEST(MoneyTest, AddsAndSubtractsSameCurrency) {
  Money a("PHP", 10050), b("PHP", 2525);
  EXPECT_EQ(*a.Add(b), Money("PHP", 12575));
  EXPECT_EQ(*a.Subtract(b), Money("PHP", 7525));
  EXPECT_EQ(a.Subtract(Money("PHP", 20000))->minor(), -9950);
}

TEST(MoneyTest, RefusesMixedCurrencies) {
  auto r = Money("PHP", 1).Add(Money("USD", 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("currency mismatch"), std::string::npos);
}

TEST(MoneyTest, DetectsOverflow) {
  Money max("USD", std::numeric_limits<int64_t>::max());
  EXPECT_EQ(max.Add(Money("USD", 1)).status().code(), absl::StatusCode::kOutOfRange);
  Money min("USD", std::numeric_limits<int64_t>::min());
  EXPECT_EQ(min.Subtract(Money("USD", 1)).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(max.ApplyBasisPoints(20000).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(MoneyTest, BasisPointsRoundHalfAwayFromZero) {
  EXPECT_EQ(Money("PHP", 10001).ApplyBasisPoints(2000)->minor(), 2000);  // 2000.2
  EXPECT_EQ(Money("PHP", 10).ApplyBasisPoints(2500)->minor(), 3);        // 2.5 -> 3
  EXPECT_EQ(Money("PHP", -10).ApplyBasisPoints(2500)->minor(), -3);
  EXPECT_EQ(Money("PHP", 12345).ApplyBasisPoints(10000)->minor(), 12345);
}

TEST(MoneyTest, ValidatesCurrencyAndSign) {
  EXPECT_TRUE(ValidateMoney(Money("PHP", 0), "amount").ok());
  auto bad = ValidateMoney(Money("XYZ", 1), "amount");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("amount.currency_code"), std::string::npos);
  auto neg = ValidateMoney(Money("PHP", -1), "amount");
  EXPECT_NE(neg.message().find("amount.amount_minor: must not be negative"), std::string::npos);
  EXPECT_TRUE(ValidateMoney(Money("PHP", -1), "adjustment", /*allow_negative=*/true).ok());
}

TEST(MoneyTest, FormatsForHumans) {
  EXPECT_EQ(Money("PHP", 123450).ToString(), "PHP 1234.50");
  EXPECT_EQ(Money("USD", -5).ToString(), "USD -0.05");
}

}  // namespace
}  // namespace careops
