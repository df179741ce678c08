#include "common/enum_codec.h"

#include <gtest/gtest.h>

#include "careops/claims/v1/claims.pb.h"

namespace careops {
namespace {

namespace cv1 = ::careops::claims::v1;

TEST(EnumCodecTest, ThePrefixIsTheTypeNameInUpperSnake) {
  EXPECT_EQ(EnumPrefixOf<cv1::ClaimStatus>(), "CLAIM_STATUS_");
  EXPECT_EQ(EnumPrefixOf<cv1::NonConformanceCategory>(), "NON_CONFORMANCE_CATEGORY_");
  EXPECT_EQ(EnumPrefixOf<cv1::Channel>(), "CHANNEL_");
}

TEST(EnumCodecTest, ShortNamesRoundTripAndUnknownsAreUnspecified) {
  EXPECT_EQ(EnumShortName(cv1::CLAIM_STATUS_IN_REVIEW), "IN_REVIEW");
  EXPECT_EQ(EnumFromShortName<cv1::ClaimStatus>("IN_REVIEW"), cv1::CLAIM_STATUS_IN_REVIEW);
  const auto* d = cv1::ClaimStatus_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    auto value = static_cast<cv1::ClaimStatus>(d->value(i)->number());
    EXPECT_EQ(EnumFromShortName<cv1::ClaimStatus>(EnumShortName(value)), value) << d->value(i)->name();
  }
  EXPECT_EQ(EnumShortName(static_cast<cv1::ClaimStatus>(999)), "");
  EXPECT_EQ(EnumFromShortName<cv1::ClaimStatus>("NO_SUCH_STATUS"), cv1::CLAIM_STATUS_UNSPECIFIED);
  // The full wire name is not a short name.
  EXPECT_EQ(EnumFromShortName<cv1::ClaimStatus>("CLAIM_STATUS_IN_REVIEW"), cv1::CLAIM_STATUS_UNSPECIFIED);
}

TEST(EnumCodecTest, LabelsAreShortNamesLowerCased) {
  EXPECT_EQ(EnumLabel(cv1::CLAIM_STATUS_IN_REVIEW), "in_review");
  EXPECT_EQ(EnumLabel(static_cast<cv1::ClaimStatus>(999)), "");
}

}  // namespace
}  // namespace careops
