// Deny by default, through the real binaries: for every method of membership and
// claims (enumerated from the service descriptors, not listed by hand) and every
// development caller (tools/dev-tokens), a caller the method's rule does not admit
// gets PERMISSION_DENIED before anything is read or validated, and a caller it
// admits is never refused for its role.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <fstream>
#include <future>
#include <sstream>

#include "careops/claims/v1/claims.grpc.pb.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/access.h"
#include "common/text.h"
#include "services/claims/claims_access.h"
#include "services/membership/membership_access.h"
#include "tests/support/harness.h"
#include "tests/support/stack.h"
#include "tests/support/rpc.h"

namespace careops {
namespace {

struct DevCaller {
  std::string token;
  Principal principal;
};

// Resolved once: the matrix walks them for every method. The token file holds
// only hashes, so the callers are the known development tokens, each resolved
// through the file as a service would; the file must hold no caller the matrix
// would miss.
const std::vector<DevCaller>& DevCallers() {
  static const std::vector<DevCaller> callers = [] {
    auto file = Authenticator::FromFile(testing::DevTokenFile());
    if (!file.ok()) {
      ADD_FAILURE() << file.status();
      return std::vector<DevCaller>{};
    }
    std::vector<DevCaller> out;
    for (const std::string& token : testing::DevTokens()) {
      auto principal = file->Lookup(token);
      if (!principal.ok()) {
        ADD_FAILURE() << token << ": " << principal.status();
        continue;
      }
      out.push_back({token, *principal});
    }
    EXPECT_EQ(out.size(), file->token_count()) << "a caller in tools/dev-tokens is missing from DevTokens()";
    return out;
  }();
  return callers;
}

// Calls `method` of `service` with an empty request as `token`.
grpc::Status CallEmpty(grpc::Channel& channel, const google::protobuf::MethodDescriptor& method,
                       const std::string& token) {
  auto ctx = testing::BearerContext(token);
  const std::string path = absl::StrCat("/", method.service()->full_name(), "/", method.name());
  if (method.server_streaming()) {
    // The only streaming method: claims' bordereau.
    claims::v1::ClaimsService::Stub stub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
    claims::v1::StreamBordereauRequest req;
    auto reader = stub.StreamBordereau(ctx.get(), req);
    claims::v1::BordereauChunk chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  }
  grpc::GenericStub stub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  // An empty message: zero bytes on the wire (a ByteBuffer without a slice is not a message).
  grpc::Slice nothing{std::string()};
  grpc::ByteBuffer request(&nothing, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(ctx.get(), path, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

class AccessIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new testing::MembershipAndClaims();
    ASSERT_TRUE(stack_->Serving());
  }
  static void TearDownTestSuite() { delete stack_; }

  // Every method x every development caller, judged by the service's own table.
  static void WalkEveryMethod(const std::string& address, const std::string& service, AccessTable table) {
    const google::protobuf::ServiceDescriptor* descriptor = FindServiceDescriptor(service);
    ASSERT_NE(descriptor, nullptr);
    Authorizer access = *Authorizer::Create(*descriptor, std::move(table));
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    int denied = 0, admitted = 0;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      const auto& method = *descriptor->method(i);
      for (const DevCaller& caller : DevCallers()) {
        grpc::Status s = CallEmpty(*channel, method, caller.token);
        if (access.Check(method.name(), caller.principal).ok()) {
          ++admitted;
          EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
              << method.name() << " refused admitted caller " << caller.token << ": " << s.error_message();
          EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method.name() << " " << caller.token;
        } else {
          ++denied;
          EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
              << method.name() << " let " << caller.token << " through: " << s.error_message();
        }
      }
      // No caller at all: UNAUTHENTICATED, for every method.
      EXPECT_EQ(CallEmpty(*channel, method, "").error_code(), grpc::StatusCode::UNAUTHENTICATED) << method.name();
      EXPECT_EQ(CallEmpty(*channel, method, "not-a-token").error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << method.name();
    }
    EXPECT_GT(denied, 0);
    EXPECT_GT(admitted, 0);
  }

  static testing::MembershipAndClaims* stack_;
};

testing::MembershipAndClaims* AccessIntegrationTest::stack_ = nullptr;

TEST_F(AccessIntegrationTest, EveryMembershipMethodDeniesCallersOutsideItsRule) {
  WalkEveryMethod(stack_->membership().address(), membership::v1::MembershipService::service_full_name(),
                  membership::MembershipAccess());
}

TEST_F(AccessIntegrationTest, EveryClaimsMethodDeniesCallersOutsideItsRule) {
  WalkEveryMethod(stack_->claims().address(), claims::v1::ClaimsService::service_full_name(),
                  claims::ClaimsAccess(*claims::AuthorityChain::Parse(claims::AuthorityChain::DefaultText())));
}

TEST_F(AccessIntegrationTest, ReportingCannotRecordReverseOrCancelAnything) {
  namespace mv1 = membership::v1;
  auto channel = grpc::CreateChannel(stack_->membership().address(), grpc::InsecureChannelCredentials());
  auto stub = mv1::MembershipService::NewStub(channel);
  mv1::CreateClientAccountRequest create;
  create.set_request_id("acct-1");
  create.mutable_account()->set_name("Reporting Target Corp");
  create.mutable_account()->set_type(mv1::CLIENT_ACCOUNT_TYPE_CORPORATE);
  create.mutable_account()->set_account_officer("eva.tan");
  *create.mutable_account()->mutable_start_date() = testing::DateOf(2026, 1, 1);
  mv1::ClientAccount account;
  ASSERT_TRUE(stub->CreateClientAccount(testing::BearerContext("dev-account-officer").get(), create, &account).ok());

  mv1::CancelClientAccountRequest cancel;
  cancel.set_request_id("cancel-1");
  cancel.set_account_id(account.account_id());
  cancel.set_etag(account.etag());
  cancel.set_reason("not yours to cancel");
  *cancel.mutable_effective_date() = testing::DateOf(2026, 2, 1);
  mv1::ClientAccount after;
  grpc::Status s = stub->CancelClientAccount(testing::BearerContext("svc-reporting").get(), cancel, &after);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(s.error_message(), "service identity 'svc-reporting' may not call CancelClientAccount");

  mv1::RecordUtilizationRequest record;
  record.set_source_reference("CLM-1");
  mv1::Utilization u;
  EXPECT_EQ(stub->RecordUtilization(testing::BearerContext("svc-reporting").get(), record, &u).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  mv1::ReverseUtilizationRequest reverse;
  reverse.set_source_reference("CLM-1");
  EXPECT_EQ(stub->ReverseUtilization(testing::BearerContext("svc-reporting").get(), reverse, &u).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  mv1::GetClientAccountRequest get;
  get.set_account_id(account.account_id());
  mv1::ClientAccount now;
  ASSERT_TRUE(stub->GetClientAccount(testing::BearerContext("svc-reporting").get(), get, &now).ok());
  EXPECT_EQ(now.status(), mv1::CLIENT_ACCOUNT_STATUS_ACTIVE);
  EXPECT_EQ(now.etag(), account.etag());
}

TEST(AccessStartupTest, ABadAccessOverrideStopsTheStartNamingTheMethod) {
  testing::TestSchema schema("membership");
  testing::ServiceProcess p("membership", schema.dsn(), {"--access_roles=RecordUtilizations=manager"});
  int status = p.process().Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << p.process().output();
  EXPECT_EQ(WEXITSTATUS(status), 2) << p.process().output();
  EXPECT_NE(p.process().output().find("has no method 'RecordUtilizations'"), std::string::npos)
      << p.process().output();
}

}  // namespace
}  // namespace careops
