// Who may do what in membership. Deny by default: a method missing here stops the
// service at start (common/access.h). Person roles can be replaced per method with
// --access_roles; service identities are fixed here.
//
// - Account officers and their supervisors keep accounts, plans, members and
//   movements.
// - The claims people (specialist, officer, assistant_manager, manager) read plans
//   and members and check eligibility; only the claims service (svc-claims) records
//   or reverses utilisation.
// - Only collections (svc-collections), besides the account officers, suspends,
//   reinstates or cancels an account, or withdraws such a change scheduled for
//   a later day: the dunning path.
// - Retention and reporting (and analysts, finance, collection assistants and
//   account managers) read accounts, plans and summaries: no member personal data.
#include "services/membership/membership_access.h"

namespace careops::membership {
namespace {

std::set<std::string> Union(std::initializer_list<std::set<std::string>> sets) {
  std::set<std::string> out;
  for (const auto& s : sets) out.insert(s.begin(), s.end());
  return out;
}

}  // namespace

AccessTable MembershipAccess() {
  const std::set<std::string> editors = {"account_officer", "assistant_manager", "manager"};
  const std::set<std::string> claims_people = {"specialist", "officer", "assistant_manager", "manager"};
  const std::set<std::string> business_readers = {"analyst", "finance", "collection_assistant", "account_manager"};

  const AccessRule edit{.roles = editors, .services = {}};
  const AccessRule account_status{.roles = editors, .services = {"svc-collections"}};
  const AccessRule account_read{.roles = Union({editors, claims_people, business_readers}),
                                .services = {"svc-claims", "svc-collections", "svc-retention", "svc-reporting"}};
  const AccessRule plan_read{.roles = Union({editors, claims_people, business_readers}),
                             .services = {"svc-claims", "svc-reporting"}};
  const AccessRule member_read{.roles = Union({editors, claims_people}), .services = {}};
  const AccessRule movement_read{.roles = editors, .services = {}};
  const AccessRule summary{.roles = Union({editors, business_readers}),
                           .services = {"svc-collections", "svc-retention", "svc-reporting"}};
  const AccessRule utilization{.roles = {}, .services = {"svc-claims"}};
  return {
      {"CreateClientAccount", edit},
      {"GetClientAccount", account_read},
      {"ListClientAccounts", account_read},
      {"UpdateClientAccount", edit},
      {"SuspendClientAccount", account_status},
      {"ReinstateClientAccount", account_status},
      {"CancelClientAccount", account_status},
      {"WithdrawScheduledStatusChange", account_status},
      {"GetAccountSummary", summary},
      {"CreatePlan", edit},
      {"GetPlan", plan_read},
      {"ListPlans", plan_read},
      {"RevisePlan", edit},
      {"EnrollMember", edit},
      {"GetMember", member_read},
      {"ListMembers", member_read},
      {"BatchEnrollMembers", edit},
      {"RequestMovement", edit},
      {"GetMovement", movement_read},
      {"ApplyMovement", edit},
      {"RejectMovement", edit},
      {"ListMovements", movement_read},
      {"CheckEligibility", {.roles = Union({editors, claims_people}), .services = {"svc-claims"}}},
      {"RecordUtilization", utilization},
      // Claims confirms and reconciles what it recorded; the claims people see a claim's utilisation.
      {"GetUtilization", {.roles = Union({editors, claims_people}), .services = {"svc-claims"}}},
      {"ListUtilizations", {.roles = Union({editors, claims_people}), .services = {"svc-claims"}}},
      {"ReverseUtilization", utilization},
  };
}

}  // namespace careops::membership
