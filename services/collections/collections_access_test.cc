// Walks every method of CollectionsService against its rule table (collections_access.cc).
#include "services/collections/collections_access.h"

#include <gtest/gtest.h>

#include "careops/collections/v1/collections.grpc.pb.h"

namespace careops::collections {
namespace {

const google::protobuf::ServiceDescriptor& Service() {
  // Through a message of the contract, so the linker keeps its descriptor.
  return *v1::OpenLedgerRequest::descriptor()->file()->FindServiceByName("CollectionsService");
}

bool Mutates(const google::protobuf::MethodDescriptor& m) {
  return m.input_type()->FindFieldByName("request_id") != nullptr;
}

Principal Person(const std::string& role) { return {"someone", role, "team"}; }
Principal ServiceIdentity(const std::string& name) { return {name, "service", "platform"}; }

TEST(CollectionsAccess, EveryMethodHasARuleAndStrangersAreDenied) {
  auto access = Authorizer::Create(Service(), CollectionsAccess());
  ASSERT_TRUE(access.ok()) << access.status();
  for (int i = 0; i < Service().method_count(); ++i) {
    const std::string& method = Service().method(i)->name();
    EXPECT_EQ(access->Check(method, Person("intern")).code(), absl::StatusCode::kPermissionDenied) << method;
    EXPECT_EQ(access->Check(method, Person("service")).code(), absl::StatusCode::kPermissionDenied) << method;
    EXPECT_TRUE(access->Check(method, Person("collection_assistant")).ok()) << method;
  }
}

TEST(CollectionsAccess, NoServiceWritesAndManagersOnlyRead) {
  auto access = Authorizer::Create(Service(), CollectionsAccess());
  ASSERT_TRUE(access.ok());
  for (int i = 0; i < Service().method_count(); ++i) {
    const auto& m = *Service().method(i);
    if (!Mutates(m)) continue;
    for (const char* svc : {"svc-membership", "svc-claims", "svc-retention", "svc-reporting"}) {
      EXPECT_FALSE(access->Check(m.name(), ServiceIdentity(svc)).ok()) << m.name() << " " << svc;
    }
    EXPECT_FALSE(access->Check(m.name(), Person("manager")).ok()) << m.name();
  }
  EXPECT_TRUE(access->Check("GetLedger", Person("manager")).ok());
  EXPECT_FALSE(access->Check("UpdateContact", Person("finance")).ok());
  EXPECT_TRUE(access->Check("PostPayment", Person("finance")).ok());
}

}  // namespace
}  // namespace careops::collections
