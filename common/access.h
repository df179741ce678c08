// Authorization: who may call each RPC of a service. Deny by default.
//
// Each service declares, in one file next to its adapter
// (services/<service>/<service>_access.cc), an AccessTable with a rule for every
// method of its gRPC service: the person roles and the service identities that may
// call it. Authorizer::Create() checks the table against the service descriptor
// when the service starts: a method without a rule (or a rule for a method the
// service does not have) stops the start with an error naming the method, so a new
// RPC cannot be served before someone decided who may call it.
//
//   AccessTable ClaimsAccess(...) {
//     return {
//         {"GetClaim", {.roles = kClaimsPeople, .services = {}}},
//         {"RecordUtilization", {.roles = {}, .services = {"svc-claims"}}},
//         ...
//     };
//   }
//   auto access = Authorizer::Create(v1::ClaimsService::service_full_name(), ClaimsAccess(...), config.access_roles);
//
// A caller is a service when its role is "service"; its identity is then its user
// name (`svc-claims`), and only rules naming that identity admit it. A person is
// admitted by role. Health and reflection are not application services and never
// pass through here.
//
// The person roles of any method can be replaced at start without a rebuild
// (--access_roles "Method=role,role;Other=role"), but the table stays the one place
// to read who may do what.
#pragma once

#include <google/protobuf/descriptor.h>

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth.h"

namespace careops {

struct AccessRule {
  std::set<std::string> roles;     // person roles, e.g. "specialist"
  std::set<std::string> services;  // service identities, e.g. "svc-claims"
};

// Method short name ("ApproveClaim") -> rule.
using AccessTable = std::map<std::string, AccessRule, std::less<>>;

// The role a service caller carries; its identity is Principal::user.
inline constexpr std::string_view kServiceRole = "service";

// The descriptor of a service compiled into the binary; nullptr when unknown.
const google::protobuf::ServiceDescriptor* FindServiceDescriptor(std::string_view full_name);

class Authorizer {
 public:
  // FAILED_PRECONDITION naming each method of `service` without a rule and each
  // rule naming no method of it; INVALID_ARGUMENT for a malformed `role_overrides`
  // ("Method=role,role;Method=role", methods of this service only).
  static absl::StatusOr<Authorizer> Create(const google::protobuf::ServiceDescriptor& service, AccessTable table,
                                           std::string_view role_overrides = {});
  // The same for a service compiled into the binary, by full name
  // ("careops.claims.v1.ClaimsService"); FAILED_PRECONDITION when there is none.
  static absl::StatusOr<Authorizer> Create(std::string_view service_full_name, AccessTable table,
                                           std::string_view role_overrides = {});

  // OK when `caller` may call `method`; PERMISSION_DENIED naming the method and the
  // caller's role or identity otherwise (also for a method without a rule).
  absl::Status Check(std::string_view method, const Principal& caller) const;

  const std::string& service_name() const { return service_name_; }
  const AccessTable& table() const { return table_; }

 private:
  std::string service_name_;
  AccessTable table_;
};

}  // namespace careops
