// Who may do what in collections. Deny by default: a method missing here stops
// the service at start (common/access.h).
//
// - Collection assistants work the ledgers: open them, take in installments,
//   keep the contact for notices, post and reverse payments, pause the count.
// - finance (billing and treasury) opens ledgers, loads the billing download and
//   posts or reverses payments; it does not touch contacts or pauses.
// - Managers read everything, to supervise, and may run a back-fill of aging.
// - Retention (churn signals) and reporting (KPIs) read the summaries, and so
//   do analysts and account managers; nothing else.
// - No other service writes here.
#include "services/collections/collections_access.h"

namespace careops::collections {

AccessTable CollectionsAccess() {
  const AccessRule billing{.roles = {"collection_assistant", "finance"}, .services = {}};
  const AccessRule assistant{.roles = {"collection_assistant"}, .services = {}};
  const AccessRule read{.roles = {"collection_assistant", "finance", "manager"}, .services = {}};
  return {
      {"OpenLedger", billing},
      {"GetLedger", read},
      {"AddInstallment", billing},
      {"BatchAddInstallments", billing},
      {"UpdateContact", assistant},
      {"ListContactHistory", read},
      {"PostPayment", billing},
      {"ReversePayment", billing},
      {"IngestBankReturns", billing},
      {"ListPayments", read},
      {"GetAging", read},
      {"AddPause", assistant},
      {"EndPause", assistant},
      // The run is also scheduled inside the service; by hand it is a back-fill.
      {"RunAging", {.roles = {"collection_assistant", "manager"}, .services = {}}},
      {"GetAgingHistory", read},
      {"GetAgingReport", read},
      // Like aging: scheduled inside the service; by hand it is a back-fill.
      {"RunDunning", {.roles = {"collection_assistant", "manager"}, .services = {}}},
      {"ListNotices", read},
      {"GetNotice", read},
      // Billing and treasury work the unposted deposits; assistants help find
      // the ledger; managers read.
      {"IngestUnpostedPayments", billing},
      {"ListUnpostedPayments", read},
      {"ListMatchCandidates", read},
      {"PostUnpostedPayment", billing},
      // Billing reconciles with finance's statement; managers read the reports.
      {"ReconcileLedgers", billing},
      {"GetReconciliationReport", read},
      {"ListReconciliationReports", read},
      {"ExportReconciliationReport", read},
      // The pre-payment program is run by the collection and account management.
      {"ListPrepaymentEligible", {.roles = {"collection_assistant", "finance", "manager", "account_manager"},
                                  .services = {}}},
      // Retention's churn signals and reporting's KPIs read summaries only.
      {"GetAccountCollectionsSummary",
       {.roles = {"collection_assistant", "finance", "manager", "account_manager", "analyst"},
        .services = {"svc-retention", "svc-reporting"}}},
      {"GetMonthlyCollectionsSummary",
       {.roles = {"collection_assistant", "finance", "manager", "analyst"}, .services = {"svc-reporting"}}},
  };
}

}  // namespace careops::collections
