// The gRPC adapter of careops.collections.v1.CollectionsService.
//
// Each handler runs through the common handler wrapper (common/rpc.h: caller
// authenticated and authorized against collections_access.cc, `now` from the
// injected clock, request_id checked, statuses mapped once at the edge),
// validates the request (INVALID_ARGUMENT naming the field, before anything is
// read or written), and hands the change to the CollectionsStore. Membership is
// asked (OpenLedger) before the store's transaction starts, never inside it.
// It holds no state of its own, so any number of replicas can serve.
#pragma once

#include <map>
#include <string>

#include "careops/collections/v1/collections.grpc.pb.h"
#include "common/business_days.h"
#include "common/ids.h"
#include "common/outbox_relay.h"
#include "common/pooled_service.h"
#include "common/rpc.h"
#include "services/collections/collections_rules.h"
#include "services/collections/dunning_rules.h"
#include "services/collections/collections_store.h"
#include "services/collections/membership_client.h"

namespace careops::collections {

struct CollectionsOptions {
  ComponentOrder allocation_order;
  AgingBuckets buckets;
  int64_t grace_days = 0;
  DunningLadder ladder;
  // The text of each rung kind's notices (DefaultNoticeTemplate when absent);
  // checked by ValidateNoticeTemplates at start.
  std::map<RungKind, std::string> templates;
  // A deposit line is auto-posted only when its best candidate's reference
  // matches and its score is above this (--unposted_auto_post_above; the
  // highest score, 100, never is).
  int unposted_auto_post_above = kMatchMaxScore;
  // Whose "today" a request without `as_of` means (--business_tz).
  BusinessCalendar calendar;
};

// INVALID_ARGUMENT naming notice_templates for a template with an unknown
// {field} or an unclosed brace.
absl::Status ValidateNoticeTemplates(const std::map<RungKind, std::string>& templates);

class CollectionsServiceImpl final {
 public:
  // `intents` delivers the outbox intents a dunning run wrote right after it.
  CollectionsServiceImpl(CollectionsStore& store, MembershipClient& membership, outbox::IntentDeliverer& intents,
                         const RpcKit& rpc, CollectionsOptions options);

  // Lists every handler for the server (common/pooled_service.h).
  void Bind(PooledService& s);

  grpc::Status OpenLedger(grpc::ServerContextBase* ctx, const v1::OpenLedgerRequest* req, v1::Ledger* resp);
  grpc::Status GetLedger(grpc::ServerContextBase* ctx, const v1::GetLedgerRequest* req, v1::Ledger* resp);
  grpc::Status AddInstallment(grpc::ServerContextBase* ctx, const v1::AddInstallmentRequest* req,
                              v1::Installment* resp);
  grpc::Status BatchAddInstallments(grpc::ServerContextBase* ctx, const v1::BatchAddInstallmentsRequest* req,
                                    v1::BatchAddInstallmentsResponse* resp);
  grpc::Status UpdateContact(grpc::ServerContextBase* ctx, const v1::UpdateContactRequest* req, v1::Ledger* resp);
  grpc::Status ListContactHistory(grpc::ServerContextBase* ctx, const v1::ListContactHistoryRequest* req,
                                  v1::ListContactHistoryResponse* resp);
  grpc::Status PostPayment(grpc::ServerContextBase* ctx, const v1::PostPaymentRequest* req, v1::Payment* resp);
  grpc::Status ReversePayment(grpc::ServerContextBase* ctx, const v1::ReversePaymentRequest* req,
                              v1::Payment* resp);
  grpc::Status IngestBankReturns(grpc::ServerContextBase* ctx, const v1::IngestBankReturnsRequest* req,
                                 v1::IngestBankReturnsResponse* resp);
  grpc::Status ListPayments(grpc::ServerContextBase* ctx, const v1::ListPaymentsRequest* req,
                            v1::ListPaymentsResponse* resp);
  grpc::Status GetAging(grpc::ServerContextBase* ctx, const v1::GetAgingRequest* req, v1::Aging* resp);
  grpc::Status AddPause(grpc::ServerContextBase* ctx, const v1::AddPauseRequest* req, v1::Pause* resp);
  grpc::Status EndPause(grpc::ServerContextBase* ctx, const v1::EndPauseRequest* req, v1::Pause* resp);
  grpc::Status RunAging(grpc::ServerContextBase* ctx, const v1::RunAgingRequest* req, v1::RunAgingResponse* resp);
  grpc::Status GetAgingHistory(grpc::ServerContextBase* ctx, const v1::GetAgingHistoryRequest* req,
                               v1::GetAgingHistoryResponse* resp);
  grpc::Status GetAgingReport(grpc::ServerContextBase* ctx, const v1::GetAgingReportRequest* req,
                              v1::AgingReport* resp);

  grpc::Status RunDunning(grpc::ServerContextBase* ctx, const v1::RunDunningRequest* req,
                          v1::RunDunningResponse* resp);
  grpc::Status ListNotices(grpc::ServerContextBase* ctx, const v1::ListNoticesRequest* req,
                           v1::ListNoticesResponse* resp);
  grpc::Status GetNotice(grpc::ServerContextBase* ctx, const v1::GetNoticeRequest* req, v1::Notice* resp);
  grpc::Status ListPrepaymentEligible(grpc::ServerContextBase* ctx, const v1::ListPrepaymentEligibleRequest* req,
                                      v1::ListPrepaymentEligibleResponse* resp);
  grpc::Status GetAccountCollectionsSummary(grpc::ServerContextBase* ctx, const v1::GetAccountCollectionsSummaryRequest* req,
                                            v1::AccountCollectionsSummary* resp);
  grpc::Status GetMonthlyCollectionsSummary(grpc::ServerContextBase* ctx, const v1::GetMonthlyCollectionsSummaryRequest* req,
                                            v1::MonthlyCollectionsSummary* resp);

  grpc::Status IngestUnpostedPayments(grpc::ServerContextBase* ctx, const v1::IngestUnpostedPaymentsRequest* req,
                                      v1::IngestUnpostedPaymentsResponse* resp);
  grpc::Status ListUnpostedPayments(grpc::ServerContextBase* ctx, const v1::ListUnpostedPaymentsRequest* req,
                                    v1::ListUnpostedPaymentsResponse* resp);
  grpc::Status ListMatchCandidates(grpc::ServerContextBase* ctx, const v1::ListMatchCandidatesRequest* req,
                                   v1::ListMatchCandidatesResponse* resp);
  grpc::Status PostUnpostedPayment(grpc::ServerContextBase* ctx, const v1::PostUnpostedPaymentRequest* req,
                                   v1::UnpostedPayment* resp);
  grpc::Status ReconcileLedgers(grpc::ServerContextBase* ctx, const v1::ReconcileLedgersRequest* req,
                                v1::ReconciliationReport* resp);
  grpc::Status GetReconciliationReport(grpc::ServerContextBase* ctx, const v1::GetReconciliationReportRequest* req,
                                       v1::ReconciliationReport* resp);
  grpc::Status ListReconciliationReports(grpc::ServerContextBase* ctx, const v1::ListReconciliationReportsRequest* req,
                                         v1::ListReconciliationReportsResponse* resp);
  grpc::Status ExportReconciliationReport(grpc::ServerContextBase* ctx, const v1::ExportReconciliationReportRequest* req,
                                          v1::ReconciliationCsv* resp);

  // The scheduled daily aging run and RunAging share this.
  absl::StatusOr<AgingRunResult> AgeAll(absl::CivilDay as_of);
  // The scheduled daily dunning run and RunDunning share this: the store's run,
  // then the delivery of the intents it wrote (until `deliver_by`; whatever is
  // left is the relay job's).
  absl::StatusOr<DunningRunResult> DunAll(absl::CivilDay as_of, absl::Time deliver_by);

 private:
  CollectionsStore& store_;
  // What the run writes for one ledger: DecideDunning plus ids, channel, text and intents.
  absl::StatusOr<DunningPlan> PlanDunning(const DunningLedger& ledger, absl::CivilDay as_of);

  MembershipClient& membership_;
  outbox::IntentDeliverer& intents_;
  const RpcKit rpc_;
  const CollectionsOptions options_;
  IdGenerator ids_;
};

// INVALID_ARGUMENT naming `field` (e.g. "installments[3].due_date") unless the
// installment is well formed for a ledger in `currency`. Exposed for tests.
absl::Status ValidateInstallment(const v1::Installment& row, const std::string& currency, const std::string& field);

}  // namespace careops::collections
