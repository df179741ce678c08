#include "tools/loadgen/seed_manifest.h"

#include <gtest/gtest.h>

namespace careops::loadgen {
namespace {

TEST(SeedManifestTest, ParsesKindsAndFieldsSkippingComments) {
  auto m = SeedManifest::Parse(
      "# made by careops-seed\n"
      "member id=m1 account_id=a1 benefit=CONSULT\n"
      "\n"
      "claim id=c1 state=SUBMITTED\n"
      "member id=m2 account_id=a1 benefit=CONSULT\n");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->Of("member").size(), 2u);
  EXPECT_EQ(m->Of("member")[1].at("id"), "m2");
  EXPECT_EQ(m->Of("claim")[0].at("state"), "SUBMITTED");
  EXPECT_TRUE(m->Of("account").empty());
  EXPECT_EQ(m->Where("claim", "state", "SUBMITTED").size(), 1u);
  EXPECT_TRUE(m->Where("claim", "state", "APPROVED").empty());
}

TEST(SeedManifestTest, FormatRoundTrips) {
  SeedManifest m;
  m.Add("account", {{"id", "a1"}, {"plan_id", "p1"}});
  m.Add("member", {{"id", "m1"}});
  auto again = SeedManifest::Parse(m.Format());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Format(), m.Format());
  EXPECT_EQ(again->Of("account")[0].at("plan_id"), "p1");
}

TEST(SeedManifestTest, RejectsAFieldWithoutValueNamingTheLine) {
  auto m = SeedManifest::Parse("member id=m1\nmember oops\n");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("line 2"), std::string::npos) << m.status();
}

}  // namespace
}  // namespace careops::loadgen
