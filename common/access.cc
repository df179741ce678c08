#include "common/access.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/text.h"

namespace careops {

absl::StatusOr<Authorizer> Authorizer::Create(const google::protobuf::ServiceDescriptor& service, AccessTable table,
                                              std::string_view role_overrides) {
  std::vector<std::string> missing, unknown;
  std::set<std::string, std::less<>> methods;
  for (int i = 0; i < service.method_count(); ++i) {
    const std::string& name = service.method(i)->name();
    methods.insert(name);
    if (!table.count(name)) missing.push_back(name);
  }
  for (const auto& [name, rule] : table) {
    if (!methods.count(name)) unknown.push_back(name);
  }
  if (!missing.empty() || !unknown.empty()) {
    std::string message = absl::StrCat(service.full_name(), " access rules:");
    if (!missing.empty()) {
      absl::StrAppend(&message, " no rule for method(s) ", absl::StrJoin(missing, ", "),
                      " (every method needs one: add it to the service's *_access.cc)");
    }
    if (!unknown.empty()) {
      absl::StrAppend(&message, missing.empty() ? "" : ";", " rule(s) for unknown method(s) ",
                      absl::StrJoin(unknown, ", "));
    }
    return absl::FailedPreconditionError(message);
  }
  for (std::string_view entry : SplitAny(role_overrides, ";", true)) {
    entry = StripSpace(entry);
    if (entry.empty()) continue;
    size_t eq = entry.find('=');
    std::string_view method = StripSpace(entry.substr(0, eq));
    if (eq == std::string_view::npos || method.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("access_roles: '", Abs(entry.substr(0, 64)), "' is not Method=role,role"));
    }
    auto it = table.find(method);
    if (it == table.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("access_roles: ", service.full_name(), " has no method '", Abs(method.substr(0, 64)), "'"));
    }
    std::set<std::string> roles;
    for (std::string_view role : SplitAny(entry.substr(eq + 1), ",", true)) {
      role = StripSpace(role);
      if (role == kServiceRole) {
        return absl::InvalidArgumentError(
            "access_roles: 'service' is not a person role; service identities are fixed in the access table");
      }
      if (!role.empty()) roles.emplace(role);
    }
    it->second.roles = std::move(roles);
  }
  Authorizer a;
  a.service_name_ = service.full_name();
  a.table_ = std::move(table);
  return a;
}

const google::protobuf::ServiceDescriptor* FindServiceDescriptor(std::string_view full_name) {
  return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(full_name));
}

absl::StatusOr<Authorizer> Authorizer::Create(std::string_view service_full_name, AccessTable table,
                                              std::string_view role_overrides) {
  const google::protobuf::ServiceDescriptor* service = FindServiceDescriptor(service_full_name);
  if (service == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("no service '", Abs(service_full_name), "' in this binary"));
  }
  return Create(*service, std::move(table), role_overrides);
}

absl::Status Authorizer::Check(std::string_view method, const Principal& caller) const {
  auto it = table_.find(method);
  const bool is_service = caller.role == kServiceRole;
  if (it != table_.end()) {
    const AccessRule& rule = it->second;
    if (is_service ? rule.services.count(caller.user) > 0 : rule.roles.count(caller.role) > 0) {
      return absl::OkStatus();
    }
  }
  // Names only the caller's own role or identity, never the rule: the table is
  // the place to read who may.
  return absl::PermissionDeniedError(
      is_service ? absl::StrCat("service identity '", caller.user, "' may not call ", Abs(method))
                 : absl::StrCat("role '", caller.role, "' may not call ", Abs(method)));
}

}  // namespace careops
