// Who may do what in claims. Deny by default: a method missing here stops the
// service at start (common/access.h).
//
// - The authority chain (specialist < officer < assistant_manager < manager by
//   default) works claims: log, screen, assign, review, decide, escalate, close,
//   reopen, investigate. Approval is further limited by each role's authority limit
//   (claim_rules.h CheckApprovalAuthority), checked on the claim itself.
// - finance settles approved claims (marks them paid) and reads them and the
//   bordereau; it takes no decisions.
// - Claims carry diagnosis and procedure codes, so analysts, account managers and
//   other services do not read them; reporting reads the bordereau only.
// - No other service writes anything in claims.
#include "services/claims/claims_access.h"

namespace careops::claims {

AccessTable ClaimsAccess(const AuthorityChain& chain) {
  std::set<std::string> workers;
  for (const AuthorityLevel& level : chain.levels()) workers.insert(level.role);
  std::set<std::string> readers = workers;
  readers.insert("finance");
  const std::set<std::string> supervisors = {"assistant_manager", "manager"};
  std::set<std::string> bordereau = supervisors;
  bordereau.insert("finance");

  const AccessRule work{.roles = workers, .services = {}};
  const AccessRule read{.roles = readers, .services = {}};
  return {
      {"SubmitClaim", work},
      {"GetClaim", read},
      {"ListClaims", read},
      {"GetClaimHistory", read},
      {"AssignClaim", work},
      {"StartReview", work},
      {"RequestInformation", work},
      {"ProvideInformation", work},
      {"ApproveClaim", work},
      {"DenyClaim", work},
      {"EscalateClaim", work},
      {"SettleClaim", {.roles = {"finance"}, .services = {}}},
      {"CloseClaim", work},
      {"ReopenClaim", work},
      // The scan also runs on a schedule inside the service; by hand it is
      // operations' back-fill or preview (it marks claims, so no claims worker
      // runs it on their own queue).
      {"RunBreachScan", {.roles = {"operations"}, .services = {"svc-claims"}}},
      // Also hourly inside the service; by hand it is a supervisor's check.
      {"ReconcileUtilization", {.roles = supervisors, .services = {"svc-claims"}}},
      {"FlagNonConformance", work},
      {"OpenInvestigation", work},
      {"RecordFindings", work},
      {"CloseInvestigation", work},
      {"ListInvestigations", work},
      {"StreamBordereau", {.roles = bordereau, .services = {"svc-reporting"}}},
  };
}

}  // namespace careops::claims
