#include "common/paging.h"

#include <gtest/gtest.h>

#include "careops/common/v1/types.pb.h"
#include "common/fingerprint.h"
#include "common/ids.h"

namespace careops {
namespace {

// Any message serves as a "List request": its fields are the filters.
common::v1::Money Filters(const std::string& currency) {
  common::v1::Money m;
  m.set_currency_code(currency);
  return m;
}

TEST(PagingTest, FirstPageAndSizeBounds) {
  auto first = ParsePageRequest(Filters("PHP"), 0, "");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->limit, kDefaultPageSize);
  EXPECT_EQ(first->after_id, "");
  EXPECT_EQ(ParsePageRequest(Filters("PHP"), 500, "")->limit, 500);
  for (int bad : {-1, 501}) {
    auto s = ParsePageRequest(Filters("PHP"), bad, "").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().rfind("page_size: must be between 0 and 500", 0), 0u) << s;
  }
}

TEST(PagingTest, TokenContinuesAfterTheLastIdForTheSameFiltersAnyPageSize) {
  std::string last = NewId();
  std::string token = NextPageToken(Filters("PHP"), last);
  auto next = ParsePageRequest(Filters("PHP"), 7, token);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->after_id, last);
  EXPECT_EQ(next->limit, 7);
}

TEST(PagingTest, TokenForOtherFiltersOrNotOursIsRefused) {
  std::string token = NextPageToken(Filters("PHP"), NewId());
  auto other = ParsePageRequest(Filters("USD"), 0, token).status();
  EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(other.message().rfind("page_token: was made for other filters", 0), 0u) << other;
  for (const std::string& junk : {std::string("not base64!"), std::string("YWJj"), token.substr(0, token.size() / 2)}) {
    auto s = ParsePageRequest(Filters("PHP"), 0, junk).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << junk;
    EXPECT_EQ(s.message().rfind("page_token:", 0), 0u) << s;
  }
}

TEST(FingerprintTest, StableAndSensitive) {
  EXPECT_EQ(Fnv1a64Hex("abc"), Fnv1a64Hex("abc"));
  EXPECT_NE(Fnv1a64Hex("abc"), Fnv1a64Hex("abd"));
  EXPECT_EQ(Fnv1a64Hex("").size(), 16u);
  EXPECT_EQ(DeterministicBytes(Filters("PHP")), DeterministicBytes(Filters("PHP")));
  EXPECT_NE(DeterministicBytes(Filters("PHP")), DeterministicBytes(Filters("USD")));
}

}  // namespace
}  // namespace careops
