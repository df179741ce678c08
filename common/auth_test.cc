#include "common/auth.h"

#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/auth_jwt.h"
#include "tests/support/jwt.h"

namespace careops {
namespace {

std::string Line(const std::string& token, const std::string& rest) {
  return absl::StrCat(Authenticator::HashToken(token), "  ", rest, "\n");
}

TEST(AuthTest, LooksUpPrincipalsByTheHashOfTheirToken) {
  auto a = Authenticator::FromText("# sha256(token) user role team\n" + Line("tok-1", "ana.reyes  specialist  claims-a") +
                                   "\n" + Line("tok-2", "svc-claims\tservice\tplatform"));
  ASSERT_TRUE(a.ok()) << a.status();
  auto p = a->Lookup("tok-1");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->user, "ana.reyes");
  EXPECT_EQ(p->role, "specialist");
  EXPECT_EQ(p->team, "claims-a");
  EXPECT_EQ(a->Lookup("tok-2")->role, "service");
  EXPECT_EQ(a->Lookup("nope").status().code(), absl::StatusCode::kUnauthenticated);
  // The stored hash is not a token a caller can present.
  EXPECT_EQ(a->Lookup(Authenticator::HashToken("tok-1")).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(a->token_count(), 2u);
}

TEST(AuthTest, HashIsSha256Hex) {
  // printf %s abc | sha256sum
  EXPECT_EQ(Authenticator::HashToken("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, ATokenFileWithATokenInTheClearIsRefused) {
  const std::string path = ::testing::TempDir() + "/plain-tokens";
  std::ofstream(path) << Line("dev-officer", "ben.cruz officer claims-a") << "dev-specialist ana.reyes specialist claims-a\n";
  auto plain = Authenticator::FromFile(path);
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(plain.status().message().find("line 2: the token must be stored as sha256:"), std::string::npos)
      << plain.status();
  // A unit test's in-memory table may name tokens in the clear; they are hashed.
  EXPECT_EQ(Authenticator::FromText("t ana specialist c\n")->Lookup("t")->user, "ana");
}

TEST(AuthTest, RefusesMalformedLines) {
  auto bad = Authenticator::FromText(Authenticator::HashToken("t") + " user role\n");
  EXPECT_NE(bad.status().message().find("line 1"), std::string::npos);
  auto dup = Authenticator::FromText(Line("t", "u r x") + Line("t", "v r x"));
  EXPECT_NE(dup.status().message().find("line 2: duplicate token"), std::string::npos);
  EXPECT_EQ(Authenticator::FromFile("/nonexistent/tokens").status().code(), absl::StatusCode::kNotFound);
}

TEST(AuthTest, TheCommittedDevTokenFileParses) {
  auto a = Authenticator::FromFile(std::string(CAREOPS_SOURCE_DIR) + "/tools/dev-tokens");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->Lookup("dev-specialist")->user, "ana.reyes");
  EXPECT_EQ(a->Lookup("svc-claims")->user, "svc-claims");
}

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir();
    rsa_.WritePublicPem(dir_ + "/idp-rsa.pem");
    ec_.WritePublicPem(dir_ + "/idp-ec.pem");
    auto v = JwtVerifier::Create(
        {.public_key_files = {dir_ + "/idp-rsa.pem", dir_ + "/idp-ec.pem"}, .issuer = kIssuer, .audience = kAudience});
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_.emplace(*std::move(v));
  }
  std::string Person(int64_t exp, const std::string& audience = kAudience, const std::string& issuer = kIssuer) {
    return testing::PersonClaims("eva.tan", "account_officer", "membership", issuer, audience, exp);
  }
  absl::StatusCode Code(const std::string& token) { return verifier_->Verify(token, now_).status().code(); }

  static constexpr char kIssuer[] = "https://idp.careops.example";
  static constexpr char kAudience[] = "careops";
  const absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  const int64_t later_ = 1'800'000'000 + 600;
  std::string dir_;
  testing::JwtKey rsa_ = testing::JwtKey::Rsa();
  testing::JwtKey ec_ = testing::JwtKey::Ec();
  std::optional<JwtVerifier> verifier_;
};

TEST_F(JwtTest, AValidTokenGivesUserRoleAndTeam) {
  for (const testing::JwtKey* key : {&rsa_, &ec_}) {
    auto p = verifier_->Verify(key->Sign(Person(later_)), now_);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->user, "eva.tan");
    EXPECT_EQ(p->role, "account_officer");
    EXPECT_EQ(p->team, "membership");
  }
  // The kid picks the key; an audience list holding ours is accepted.
  EXPECT_TRUE(verifier_->Verify(ec_.Sign(Person(later_), "idp-ec"), now_).ok());
  std::string listed = absl::StrCat(R"({"sub":"a","role":"analyst","team":"r","iss":")", kIssuer,
                                    R"(","aud":["other","careops"],"exp":)", later_, "}");
  EXPECT_TRUE(verifier_->Verify(rsa_.Sign(listed), now_).ok());
}

TEST_F(JwtTest, ExpiredWronglySignedOrForAnotherAudienceIsUnauthenticated) {
  EXPECT_EQ(Code(rsa_.Sign(Person(1'800'000'000 - 31))), absl::StatusCode::kUnauthenticated);  // past the leeway
  EXPECT_EQ(Code(rsa_.Sign(Person(later_, "another-app"))), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(rsa_.Sign(Person(later_, kAudience, "https://evil.example"))), absl::StatusCode::kUnauthenticated);
  testing::JwtKey stranger = testing::JwtKey::Rsa();
  EXPECT_EQ(Code(stranger.Sign(Person(later_))), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(ec_.Sign(Person(later_), "idp-rsa")), absl::StatusCode::kUnauthenticated);  // kid of another key
  // A valid signature over other claims: the payload swapped.
  std::string good = rsa_.Sign(Person(later_));
  std::string other = rsa_.Sign(testing::PersonClaims("x", "manager", "claims", kIssuer, kAudience, later_));
  std::string spliced = good.substr(0, good.find('.') + 1) + other.substr(other.find('.') + 1, other.rfind('.') - other.find('.') - 1) +
                        good.substr(good.rfind('.'));
  EXPECT_EQ(Code(spliced), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(verifier_->Verify(spliced, now_).status().message().find("bad signature"), std::string::npos);
}

TEST_F(JwtTest, NoneAlgorithmServiceRoleAndMissingClaimsAreRefused) {
  std::string none = absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"none"})"), ".",
                                  absl::WebSafeBase64Escape(Person(later_)), ".sig");
  EXPECT_EQ(Code(none), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(rsa_.Sign(testing::PersonClaims("svc-claims", "service", "platform", kIssuer, kAudience, later_))),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(rsa_.Sign(absl::StrCat(R"({"sub":"a","role":"analyst","team":"r","iss":")", kIssuer,
                                        R"(","aud":"careops"})"))),
            absl::StatusCode::kUnauthenticated);  // no exp
  EXPECT_EQ(Code(rsa_.Sign(absl::StrCat(R"({"sub":"a","team":"r","iss":")", kIssuer, R"(","aud":"careops","exp":)",
                                        later_, "}"))),
            absl::StatusCode::kUnauthenticated);  // no role
}

TEST_F(JwtTest, TheAuthenticatorJudgesExpiryByItsInjectedClock) {
  FakeClock clock(now_);
  auto a = Authenticator::Create({.jwt = {.public_key_files = {dir_ + "/idp-rsa.pem"}, .issuer = kIssuer, .audience = kAudience}},
                                 &clock);
  ASSERT_TRUE(a.ok()) << a.status();
  const std::string token = rsa_.Sign(Person(later_));
  EXPECT_TRUE(a->Lookup(token).ok());
  clock.Advance(absl::Seconds(600 + 30));
  EXPECT_EQ(a->Lookup(token).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(JwtConfigTest, KeysMustBeReadablePublicKeysWithIssuerAndAudience) {
  EXPECT_EQ(JwtVerifier::Create({.public_key_files = {"/nonexistent.pem"}, .issuer = "i", .audience = "a"})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(JwtVerifier::Create({.public_key_files = {"/nonexistent.pem"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(JwtVerifier::Create({}).ok());  // no keys: no JWTs accepted, nothing to check
}

}  // namespace
}  // namespace careops
