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

TEST(MoneyTest, SumsStayWithinTheBound) {
  Money max("USD", kMaxMoneyMinor);
  EXPECT_EQ(*max.Add(Money("USD", 0)), max);
  EXPECT_EQ(*Money("USD", -kMaxMoneyMinor).Subtract(Money("USD", 0)), Money("USD", -kMaxMoneyMinor));
  auto over = max.Add(Money("USD", 1));
  EXPECT_EQ(over.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(over.status().message(), "money: the sum in USD would exceed 10^15 minor units");
  EXPECT_EQ(Money("USD", -kMaxMoneyMinor).Subtract(Money("USD", 1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(max.ApplyBasisPoints(10001).status().code(), absl::StatusCode::kFailedPrecondition);
  // Values beyond int64 never wrap into a negative total.
  Money huge("USD", std::numeric_limits<int64_t>::max());
  EXPECT_EQ(huge.Add(huge).status().code(), absl::StatusCode::kFailedPrecondition);
  Money tiny("USD", std::numeric_limits<int64_t>::min());
  EXPECT_EQ(tiny.Subtract(huge).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(huge.ApplyBasisPoints(20000).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MoneyTest, BasisPointsRoundHalfAwayFromZero) {
  EXPECT_EQ(Money("PHP", 10001).ApplyBasisPoints(2000)->minor(), 2000);  // 2000.2
  EXPECT_EQ(Money("PHP", 10).ApplyBasisPoints(2500)->minor(), 3);        // 2.5 -> 3
  EXPECT_EQ(Money("PHP", -10).ApplyBasisPoints(2500)->minor(), -3);
  EXPECT_EQ(Money("PHP", 12345).ApplyBasisPoints(10000)->minor(), 12345);
}

TEST(MoneyTest, ScaleIsOneRoundingOfTheWholeRatio) {
  // PHP 1,000.00 at 12% a year for 30 days: 100000 * 1200 * 30 / 3650000 = 986.30...
  EXPECT_EQ(Money("PHP", 100000).Scale(1200 * 30, 10000 * 365)->minor(), 986);
  EXPECT_EQ(Money("PHP", 3).Scale(1, 2)->minor(), 2);  // 1.5 -> 2
  EXPECT_EQ(Money("PHP", -3).Scale(1, 2)->minor(), -2);
  EXPECT_EQ(Money("PHP", 7).Scale(0, 365)->minor(), 0);
  EXPECT_EQ(Money("PHP", 7).Scale(1, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Money("PHP", kMaxMoneyMinor).Scale(3, 2).status().code(), absl::StatusCode::kFailedPrecondition);
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

TEST(MoneyTest, ValidatesTheUpperBound) {
  EXPECT_TRUE(ValidateMoney(Money("PHP", kMaxMoneyMinor), "amount").ok());
  auto over = ValidateMoney(Money("PHP", kMaxMoneyMinor + 1), "amount_claimed");
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(over.message(),
            "amount_claimed.amount_minor: must be at most 10^15 (1000000000000000) minor units in absolute value");
  EXPECT_TRUE(ValidateMoney(Money("PHP", -kMaxMoneyMinor), "adjustment", true).ok());
  EXPECT_EQ(ValidateMoney(Money("PHP", std::numeric_limits<int64_t>::min()), "adjustment", true).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MoneyTest, FormatsForHumans) {
  EXPECT_EQ(Money("PHP", 123450).ToString(), "PHP 1234.50");
  EXPECT_EQ(Money("USD", -5).ToString(), "USD -0.05");
}

TEST(MoneyTest, FormatsWithEachCurrencysExponent) {
  EXPECT_EQ(Money("JPY", 123450).ToString(), "JPY 123450");
  EXPECT_EQ(Money("KRW", -7).ToString(), "KRW -7");
  EXPECT_EQ(Money("VND", 0).ToString(), "VND 0");
  EXPECT_EQ(Money("KWD", 1234).ToString(), "KWD 1.234");
  EXPECT_EQ(Money("BHD", -5).ToString(), "BHD -0.005");
  EXPECT_EQ(Money("PHP", 5).ToString(), "PHP 0.05");
  EXPECT_EQ(Money("USD", std::numeric_limits<int64_t>::min()).ToString(), "USD -92233720368547758.08");
  EXPECT_EQ(CurrencyExponent("JPY"), 0);
  EXPECT_EQ(CurrencyExponent("PHP"), 2);
  EXPECT_EQ(CurrencyExponent("KWD"), 3);
  EXPECT_TRUE(IsKnownCurrency("BHD"));
  EXPECT_FALSE(IsKnownCurrency("XYZ"));
}

}  // namespace
}  // namespace careops
