// Mutual TLS and verified identities, over the real membership and claims
// binaries: services started with certificates from `tools/dev certs` (a
// development CA, one certificate per service, SPIFFE URI SANs), clients with
// those certificates, a stranger CA's, none, or plaintext; people with JWTs
// signed in the test by a key the service was configured with.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "careops/claims/v1/claims.grpc.pb.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/ids.h"
#include "common/tls.h"
#include "tests/support/harness.h"
#include "tests/support/jwt.h"
#include "tests/support/rpc.h"
#include "tests/support/stack.h"

namespace careops {
namespace {

namespace mv1 = ::careops::membership::v1;
namespace cv1 = ::careops::claims::v1;

constexpr char kIssuer[] = "https://idp.careops.test";
constexpr char kAudience[] = "careops";

// A fresh development CA and certificates, made by the same command `tools/dev up` uses.
std::string NewCertificates() {
  char tmpl[] = "/tmp/careops-tls-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  const std::string cmd = absl::StrCat(testing::SourceDir(), "/tools/dev certs '", dir, "/certs' >/dev/null");
  if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "failed: " << cmd;
  return dir + "/certs";
}

TlsFiles FilesOf(const std::string& dir, const std::string& name) {
  return {.cert = absl::StrCat(dir, "/", name, ".crt"), .key = absl::StrCat(dir, "/", name, ".key"),
          .ca = dir + "/ca.crt"};
}

std::vector<std::string> TlsArgs(const std::string& dir, const std::string& service) {
  TlsFiles f = FilesOf(dir, "svc-" + service);
  return {"--tls_cert=" + f.cert, "--tls_key=" + f.key, "--tls_ca=" + f.ca, "--tls_refresh=1s"};
}

// A channel presenting `name`'s certificate (svc-claims, dev-cli, ...) from `dir`.
std::shared_ptr<grpc::Channel> MutualTls(const std::string& address, const std::string& dir, const std::string& name) {
  auto credentials = ChannelCredentialsFor(FilesOf(dir, name));
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return grpc::CreateChannel(address, *credentials);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new std::string(NewCertificates());
    idp_ = new testing::JwtKey(testing::JwtKey::Rsa());
    idp_->WritePublicPem(*certs_ + "/idp.pem");
    membership_schema_ = new testing::TestSchema("membership");
    claims_schema_ = new testing::TestSchema("claims");
    membership_health_port_ = testing::FreePort();
    std::vector<std::string> m = TlsArgs(*certs_, "membership");
    m.insert(m.end(), {absl::StrCat("--health_port=", membership_health_port_), "--jwt_public_keys=" + *certs_ + "/idp.pem",
                       absl::StrCat("--jwt_issuer=", kIssuer), absl::StrCat("--jwt_audience=", kAudience)});
    membership_ = new testing::ServiceProcess("membership", membership_schema_->dsn(), m);
    claims_health_port_ = testing::FreePort();
    std::vector<std::string> c = TlsArgs(*certs_, "claims");
    c.insert(c.end(), {absl::StrCat("--health_port=", claims_health_port_), "--membership_addr=" + membership_->address()});
    claims_ = new testing::ServiceProcess("claims", claims_schema_->dsn(), c);
  }
  static void TearDownTestSuite() {
    delete claims_;
    delete membership_;
    delete claims_schema_;
    delete membership_schema_;
    delete idp_;
    delete certs_;
  }
  void SetUp() override {
    ASSERT_TRUE(testing::Eventually([] { return testing::Health(HealthAddress(membership_health_port_)) == "SERVING"; }))
        << membership_->process().output();
    ASSERT_TRUE(testing::Eventually([] { return testing::Health(HealthAddress(claims_health_port_)) == "SERVING"; }))
        << claims_->process().output();
  }

  static std::string HealthAddress(int port) { return absl::StrCat("127.0.0.1:", port); }
  static std::unique_ptr<mv1::MembershipService::Stub> Membership(const std::string& cert_name) {
    return mv1::MembershipService::NewStub(MutualTls(membership_->address(), *certs_, cert_name));
  }
  // A member to record utilisation against, made by the account officer over mutual TLS.
  static std::string NewMember() {
    auto stub = Membership("dev-cli");
    return testing::NewCorporateClient(*stub, {{"OUTPATIENT", "outpatient"}}, 10'000'000).member_ids.front();
  }
  static mv1::RecordUtilizationRequest Utilization(const std::string& member) {
    mv1::RecordUtilizationRequest r;
    r.set_member_id(member);
    r.set_benefit_code("OUTPATIENT");
    *r.mutable_amount() = testing::Php(150'000);
    *r.mutable_service_date() = testing::DateOf(2025, 6, 2);
    r.set_source_reference("CLM-" + NewId());
    return r;
  }
  static std::unique_ptr<grpc::ClientContext> NoToken() { return testing::BearerContext(""); }

  static std::string* certs_;
  static testing::JwtKey* idp_;
  static testing::TestSchema* membership_schema_;
  static testing::TestSchema* claims_schema_;
  static testing::ServiceProcess* membership_;
  static testing::ServiceProcess* claims_;
  static int membership_health_port_;
  static int claims_health_port_;
};

std::string* TlsTest::certs_;
testing::JwtKey* TlsTest::idp_;
testing::TestSchema* TlsTest::membership_schema_;
testing::TestSchema* TlsTest::claims_schema_;
testing::ServiceProcess* TlsTest::membership_;
testing::ServiceProcess* TlsTest::claims_;
int TlsTest::membership_health_port_;
int TlsTest::claims_health_port_;

TEST_F(TlsTest, AServiceIsWhoItsCertificateSaysAndHasOnlyThatServicesRights) {
  const std::string member = NewMember();
  mv1::Utilization u;
  // svc-claims' certificate, no token: claims' right to record utilisation.
  grpc::Status s = Membership("svc-claims")->RecordUtilization(NoToken().get(), Utilization(member), &u);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  // svc-reporting's certificate: reporting's rights only.
  s = Membership("svc-reporting")->RecordUtilization(NoToken().get(), Utilization(member), &u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(s.error_message(), "service identity 'svc-reporting' may not call RecordUtilization");
  // ...and claims' development token does not lift it: under mutual TLS a
  // service is its certificate, never a token.
  s = Membership("svc-reporting")->RecordUtilization(testing::BearerContext("svc-claims").get(), Utilization(member), &u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // A certificate that names no service (the tools') is no caller by itself.
  s = Membership("dev-cli")->RecordUtilization(NoToken().get(), Utilization(member), &u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
}

TEST_F(TlsTest, AClientWithoutAValidCertificateIsRefused) {
  mv1::GetClientAccountRequest req;
  req.set_account_id("01J00000000000000000000000");
  mv1::ClientAccount out;
  // Trusts the server, presents no certificate: the handshake fails.
  grpc::SslCredentialsOptions server_only;
  server_only.pem_root_certs = ReadFile(*certs_ + "/ca.crt");
  auto no_cert = mv1::MembershipService::NewStub(
      grpc::CreateChannel(membership_->address(), grpc::SslCredentials(server_only)));
  grpc::Status s = no_cert->GetClientAccount(testing::BearerContext("dev-account-officer").get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // A certificate for svc-claims from another CA: refused the same way.
  const std::string stranger = NewCertificates();
  grpc::SslCredentialsOptions forged;
  forged.pem_root_certs = server_only.pem_root_certs;
  forged.pem_cert_chain = ReadFile(stranger + "/svc-claims.crt");
  forged.pem_private_key = ReadFile(stranger + "/svc-claims.key");
  auto forged_stub =
      mv1::MembershipService::NewStub(grpc::CreateChannel(membership_->address(), grpc::SslCredentials(forged)));
  mv1::Utilization u;
  s = forged_stub->RecordUtilization(NoToken().get(), Utilization("M-1"), &u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // The same client with the real CA's certificate gets through.
  s = Membership("dev-cli")->GetClientAccount(testing::BearerContext("dev-account-officer").get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

TEST_F(TlsTest, APlaintextClientGetsNothing) {
  mv1::GetClientAccountRequest req;
  req.set_account_id("01J00000000000000000000000");
  mv1::ClientAccount out;
  auto plain = mv1::MembershipService::NewStub(
      grpc::CreateChannel(membership_->address(), grpc::InsecureChannelCredentials()));
  grpc::Status s = plain->GetClientAccount(testing::BearerContext("dev-account-officer").get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // The plaintext health port answers probes, and refuses every application call.
  EXPECT_EQ(testing::Health(HealthAddress(membership_health_port_), "liveness"), "SERVING");
  auto probe_port = mv1::MembershipService::NewStub(
      grpc::CreateChannel(HealthAddress(membership_health_port_), grpc::InsecureChannelCredentials()));
  s = probe_port->GetClientAccount(testing::BearerContext("dev-account-officer").get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  mv1::Utilization u;
  s = probe_port->RecordUtilization(testing::BearerContext("svc-claims").get(), Utilization("M-1"), &u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
}

TEST_F(TlsTest, ClaimsCallsMembershipOverMutualTlsAsItself) {
  const std::string member = NewMember();
  auto claims = cv1::ClaimsService::NewStub(MutualTls(claims_->address(), *certs_, "dev-cli"));
  cv1::SubmitClaimRequest req;
  req.set_request_id(NewId());
  req.set_type(cv1::CLAIM_TYPE_CLAIM);
  req.set_member_id(member);
  req.set_benefit_code("OUTPATIENT");
  *req.mutable_service_date() = testing::DateOf(2025, 6, 2);
  req.set_provider_id("PROV-TLS");
  *req.mutable_amount_claimed() = testing::Php(250'000);
  req.set_channel(cv1::CHANNEL_PORTAL);
  req.add_diagnosis_codes("J06.9");
  req.add_attachment_refs("doc://receipt-1");
  cv1::Claim claim;
  // Eligibility is screened by membership, which admits CheckEligibility from
  // svc-claims only: this passes only if claims' certificate identified it.
  grpc::Status s = claims->SubmitClaim(testing::BearerContext("dev-specialist").get(), req, &claim);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message() << "\n" << claims_->process().output();
  EXPECT_FALSE(claim.claim_id().empty());
}

TEST_F(TlsTest, PeopleAreIdentifiedByAVerifiedJwt) {
  auto stub = Membership("dev-cli");
  auto create = [&](const std::string& token) {
    mv1::CreateClientAccountRequest req;
    req.set_request_id(NewId());
    req.mutable_account()->set_name("JWT Corp " + req.request_id());
    req.mutable_account()->set_type(mv1::CLIENT_ACCOUNT_TYPE_CORPORATE);
    *req.mutable_account()->mutable_start_date() = testing::DateOf(2024, 1, 1);
    mv1::ClientAccount out;
    return stub->CreateClientAccount(testing::BearerContext(token).get(), req, &out);
  };
  const int64_t later = UnixNow() + 3600;
  const std::string officer = testing::PersonClaims("eva.tan", "account_officer", "membership", kIssuer, kAudience, later);
  grpc::Status s = create(idp_->Sign(officer));
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  // The role comes from the token: an analyst may not create accounts.
  s = create(idp_->Sign(testing::PersonClaims("hana.go", "analyst", "reporting", kIssuer, kAudience, later)));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // Expired (beyond the 30 s leeway), for another audience, signed by a key the
  // service does not know: UNAUTHENTICATED, whatever the role inside.
  s = create(idp_->Sign(testing::PersonClaims("eva.tan", "account_officer", "membership", kIssuer, kAudience,
                                              UnixNow() - 120)));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(s.error_message(), "jwt: expired");
  s = create(idp_->Sign(testing::PersonClaims("eva.tan", "account_officer", "membership", kIssuer, "other-app", later)));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(s.error_message(), "jwt: wrong audience");
  s = create(testing::JwtKey::Ec().Sign(officer));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_EQ(s.error_message(), "jwt: bad signature");
}

// Replaces `to` atomically by `from`, as a Secret volume update swaps its files.
void Replace(const std::string& from, const std::string& to) {
  const std::string tmp = to + ".new";
  std::ofstream(tmp) << ReadFile(from);
  ASSERT_EQ(std::rename(tmp.c_str(), to.c_str()), 0) << to;
}

// What a user types: careops-health and careops-call with the client
// certificate `tools/dev up` writes (.run/tls/dev-cli.*) reach a TLS-only
// service; without it, careops-call is refused.
TEST_F(TlsTest, TheCommandLineToolsCallOverMutualTls) {
  const TlsFiles cli = FilesOf(*certs_, "dev-cli");
  const std::vector<std::string> tls = {"--tls_cert=" + cli.cert, "--tls_key=" + cli.key, "--tls_ca=" + cli.ca};
  auto run = [](const std::string& tool, const std::vector<std::string>& args) {
    testing::Process p(testing::BinaryDir() + "/tools/" + tool, args);
    const int status = p.Wait(absl::Seconds(30));
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, p.output());
  };
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  constexpr char kListPlans[] = "careops.membership.v1.MembershipService/ListPlans";

  auto [health_code, health] = run("careops-health", with(tls, {membership_->address()}));
  EXPECT_EQ(health_code, 0) << health;
  EXPECT_NE(health.find("SERVING"), std::string::npos) << health;

  auto [call_code, call] =
      run("careops-call", with(tls, {"--token=dev-account-officer", membership_->address(), kListPlans, "{}"}));
  EXPECT_EQ(call_code, 0) << call;
  EXPECT_NE(call.find("{"), std::string::npos) << call;

  auto [plain_code, plain] = run("careops-call", {"--token=dev-account-officer", membership_->address(), kListPlans, "{}"});
  EXPECT_EQ(plain_code, 1) << plain;
  EXPECT_NE(plain.find("ERROR 14"), std::string::npos) << plain;  // UNAVAILABLE: no TLS handshake
}

TEST(TlsRotationTest, RenewedFilesAreUsedWithoutARestart) {
  // The service's files live in a directory of their own, like a mounted Secret.
  const std::string old_ca = NewCertificates(), new_ca = NewCertificates();
  const std::string mounted = old_ca + "-mounted";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", mounted, "' && cp '", old_ca, "'/svc-membership.* '", old_ca,
                                     "'/ca.crt '", mounted, "'").c_str()),
            0);
  testing::TestSchema schema("membership");
  const int health = testing::FreePort();
  testing::ServiceProcess membership(
      "membership", schema.dsn(),
      {"--tls_cert=" + mounted + "/svc-membership.crt", "--tls_key=" + mounted + "/svc-membership.key",
       "--tls_ca=" + mounted + "/ca.crt", "--tls_refresh=1s", absl::StrCat("--health_port=", health)});
  ASSERT_TRUE(testing::Eventually([&] { return testing::Health(absl::StrCat("127.0.0.1:", health)) == "SERVING"; }))
      << membership.process().output();
  auto answers = [&](const std::string& dir) {
    mv1::GetClientAccountRequest req;
    req.set_account_id("01J00000000000000000000000");
    mv1::ClientAccount out;
    // A new channel each time: a rotation applies to new connections.
    return mv1::MembershipService::NewStub(MutualTls(membership.address(), dir, "dev-cli"))
               ->GetClientAccount(testing::BearerContext("dev-account-officer").get(), req, &out)
               .error_code() == grpc::StatusCode::NOT_FOUND;
  };
  ASSERT_TRUE(answers(old_ca));
  EXPECT_FALSE(answers(new_ca));
  // The platform renews onto a new CA: trust bundle, certificate and key change.
  Replace(new_ca + "/ca.crt", mounted + "/ca.crt");
  Replace(new_ca + "/svc-membership.key", mounted + "/svc-membership.key");
  Replace(new_ca + "/svc-membership.crt", mounted + "/svc-membership.crt");
  EXPECT_TRUE(testing::Eventually([&] { return answers(new_ca); }, absl::Seconds(15)))
      << "the renewed files were not picked up\n" << membership.process().output();
  EXPECT_FALSE(answers(old_ca));
}

// Revocation: a service started with --tls_crl_dir refuses a client whose
// certificate the CA revoked, and keeps serving the others; a client with the
// CRL refuses a server whose certificate was revoked; a revocation made later
// applies once the service restarts.
TEST(TlsRevocationTest, ARevokedCertificateIsRefusedAndTheOthersStillCall) {
  const std::string certs = NewCertificates();
  auto revoke = [&](const std::string& name) {
    const std::string cmd = absl::StrCat(testing::SourceDir(), "/tools/dev revoke '", certs, "' ", name, " >/dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  };
  revoke("svc-reporting");
  testing::TestSchema schema("membership");
  std::vector<std::string> args = TlsArgs(certs, "membership");
  args.push_back("--tls_crl_dir=" + certs + "/crl");
  testing::ServiceProcess membership("membership", schema.dsn(), args);
  auto code_for = [&](const std::string& name, bool client_checks_crl = false) {
    TlsFiles files = FilesOf(certs, name);
    if (client_checks_crl) files.crl_dir = certs + "/crl";
    auto credentials = ChannelCredentialsFor(files);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    mv1::GetClientAccountRequest req;
    req.set_account_id("01J00000000000000000000000");
    mv1::ClientAccount out;
    // A new channel each time, so each call makes its own handshake.
    auto ctx = testing::BearerContext("dev-account-officer");
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return mv1::MembershipService::NewStub(grpc::CreateChannel(membership.address(), *credentials))
        ->GetClientAccount(ctx.get(), req, &out)
        .error_code();
  };
  ASSERT_TRUE(testing::Eventually([&] { return code_for("dev-cli") == grpc::StatusCode::NOT_FOUND; }))
      << membership.process().output();
  EXPECT_EQ(code_for("svc-reporting"), grpc::StatusCode::UNAVAILABLE) << "a revoked client was served";
  EXPECT_EQ(code_for("svc-claims", /*client_checks_crl=*/true), grpc::StatusCode::NOT_FOUND);

  // Revoked later: the CRL is read when the service starts (and when its
  // certificate files change), so a restart applies it to every connection.
  revoke("svc-claims");
  membership.Restart();
  ASSERT_TRUE(testing::Eventually([&] { return code_for("dev-cli") == grpc::StatusCode::NOT_FOUND; }))
      << membership.process().output();
  EXPECT_EQ(code_for("svc-claims"), grpc::StatusCode::UNAVAILABLE) << "a revocation was not applied after a restart";

  // The client side: with the CRL, a server whose certificate is revoked is refused.
  revoke("svc-membership");
  EXPECT_TRUE(testing::Eventually(
      [&] { return code_for("dev-cli", /*client_checks_crl=*/true) == grpc::StatusCode::UNAVAILABLE; },
      absl::Seconds(15)));
}

TEST(TlsStartupTest, ACrlDirectoryWithoutTheCasCrlRefusesToStart) {
  const std::string certs = NewCertificates(), stranger = NewCertificates();
  testing::TestSchema schema("membership");
  std::vector<std::string> args = TlsArgs(certs, "membership");
  args.push_back("--tls_crl_dir=" + stranger + "/crl");  // another CA's list
  testing::ServiceProcess p("membership", schema.dsn(), args);
  int status = p.process().Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << p.process().output();
  EXPECT_EQ(WEXITSTATUS(status), 2) << p.process().output();
  EXPECT_NE(p.process().output().find("--tls_crl_dir"), std::string::npos) << p.process().output();
}

TEST(TlsStartupTest, NoTlsFilesAndNoInsecurePlaintextRefusesToStart) {
  testing::TestSchema schema("membership");
  // tls_refresh alone is a --tls_ flag: the harness then leaves plaintext off.
  testing::ServiceProcess p("membership", schema.dsn(), {"--tls_refresh=5s"});
  int status = p.process().Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << p.process().output();
  EXPECT_EQ(WEXITSTATUS(status), 2) << p.process().output();
  EXPECT_NE(p.process().output().find("--insecure_plaintext serves without TLS"), std::string::npos)
      << p.process().output();
}

}  // namespace
}  // namespace careops
