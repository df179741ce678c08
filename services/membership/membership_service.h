// The gRPC face of the membership service (careops.membership.v1.MembershipService).
//
// Each handler runs through the common handler wrapper (common/rpc.h: caller
// authenticated and authorized against membership_access.cc, `now` from the
// injected clock, request_id checked, status mapped once at the edge), validates
// the request (INVALID_ARGUMENT naming the field and the rule, before anything is
// read or written), hands the store its Mutation, applies the pure rules of
// membership_rules.h and counts the KPIs.
// It holds no state of its own; any number of replicas may serve.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <set>
#include <string>

#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/pooled_service.h"
#include "common/rpc.h"
#include "common/business_days.h"
#include "common/clock.h"
#include "common/ids.h"
#include "services/membership/membership_metrics.h"
#include "services/membership/membership_rules.h"
#include "services/membership/membership_store.h"

namespace careops::membership {

struct MembershipServiceOptions {
  TatTargets movement_tat;  // business days per movement type
  BusinessCalendar calendar;  // the days that count for movement TAT (weekends and holidays do not)
};

class MembershipServiceImpl final {
 public:
  MembershipServiceImpl(MembershipStore& store, const RpcKit& rpc, MembershipMetrics& metrics,
                        MembershipServiceOptions options);

  // Lists every handler for the server (common/pooled_service.h).
  void Bind(PooledService& s);

  grpc::Status CreateClientAccount(grpc::ServerContextBase* ctx, const v1::CreateClientAccountRequest* req,
                                   v1::ClientAccount* resp);
  grpc::Status GetClientAccount(grpc::ServerContextBase* ctx, const v1::GetClientAccountRequest* req,
                                v1::ClientAccount* resp);
  grpc::Status ListClientAccounts(grpc::ServerContextBase* ctx, const v1::ListClientAccountsRequest* req,
                                  v1::ListClientAccountsResponse* resp);
  grpc::Status UpdateClientAccount(grpc::ServerContextBase* ctx, const v1::UpdateClientAccountRequest* req,
                                   v1::ClientAccount* resp);
  grpc::Status SuspendClientAccount(grpc::ServerContextBase* ctx, const v1::SuspendClientAccountRequest* req,
                                    v1::ClientAccount* resp);
  grpc::Status ReinstateClientAccount(grpc::ServerContextBase* ctx, const v1::ReinstateClientAccountRequest* req,
                                      v1::ClientAccount* resp);
  grpc::Status CancelClientAccount(grpc::ServerContextBase* ctx, const v1::CancelClientAccountRequest* req,
                                   v1::ClientAccount* resp);
  grpc::Status WithdrawScheduledStatusChange(grpc::ServerContextBase* ctx,
                                             const v1::WithdrawScheduledStatusChangeRequest* req,
                                             v1::ClientAccount* resp);
  grpc::Status GetAccountSummary(grpc::ServerContextBase* ctx, const v1::GetAccountSummaryRequest* req,
                                 v1::AccountSummary* resp);

  grpc::Status CreatePlan(grpc::ServerContextBase* ctx, const v1::CreatePlanRequest* req, v1::Plan* resp);
  grpc::Status GetPlan(grpc::ServerContextBase* ctx, const v1::GetPlanRequest* req, v1::Plan* resp);
  grpc::Status ListPlans(grpc::ServerContextBase* ctx, const v1::ListPlansRequest* req,
                         v1::ListPlansResponse* resp);
  grpc::Status RevisePlan(grpc::ServerContextBase* ctx, const v1::RevisePlanRequest* req, v1::Plan* resp);

  grpc::Status EnrollMember(grpc::ServerContextBase* ctx, const v1::EnrollMemberRequest* req, v1::Member* resp);
  grpc::Status GetMember(grpc::ServerContextBase* ctx, const v1::GetMemberRequest* req, v1::Member* resp);
  grpc::Status ListMembers(grpc::ServerContextBase* ctx, const v1::ListMembersRequest* req,
                           v1::ListMembersResponse* resp);
  grpc::Status BatchEnrollMembers(grpc::ServerContextBase* ctx, const v1::BatchEnrollMembersRequest* req,
                                  v1::BatchEnrollMembersResponse* resp);

  grpc::Status RequestMovement(grpc::ServerContextBase* ctx, const v1::RequestMovementRequest* req,
                               v1::Movement* resp);
  grpc::Status GetMovement(grpc::ServerContextBase* ctx, const v1::GetMovementRequest* req, v1::Movement* resp);
  grpc::Status ApplyMovement(grpc::ServerContextBase* ctx, const v1::ApplyMovementRequest* req,
                             v1::Movement* resp);
  grpc::Status RejectMovement(grpc::ServerContextBase* ctx, const v1::RejectMovementRequest* req,
                              v1::Movement* resp);
  grpc::Status ListMovements(grpc::ServerContextBase* ctx, const v1::ListMovementsRequest* req,
                             v1::ListMovementsResponse* resp);

  grpc::Status CheckEligibility(grpc::ServerContextBase* ctx, const v1::CheckEligibilityRequest* req,
                                v1::CheckEligibilityResponse* resp);
  grpc::Status RecordUtilization(grpc::ServerContextBase* ctx, const v1::RecordUtilizationRequest* req,
                                 v1::Utilization* resp);
  grpc::Status ReverseUtilization(grpc::ServerContextBase* ctx, const v1::ReverseUtilizationRequest* req,
                                  v1::Utilization* resp);
  grpc::Status GetUtilization(grpc::ServerContextBase* ctx, const v1::GetUtilizationRequest* req,
                              v1::Utilization* resp);
  grpc::Status ListUtilizations(grpc::ServerContextBase* ctx, const v1::ListUtilizationsRequest* req,
                                v1::ListUtilizationsResponse* resp);

 private:
  absl::StatusOr<v1::ClientAccount> Transition(const Mutation& m, const std::string& account_id,
                                               const std::string& etag,
                                               const std::string& reason, bool has_date,
                                               const common::v1::Date& date, AccountAction action);

  MembershipStore& store_;
  const RpcKit rpc_;
  MembershipMetrics& metrics_;
  const MembershipServiceOptions options_;
  IdGenerator ids_;
};

}  // namespace careops::membership
