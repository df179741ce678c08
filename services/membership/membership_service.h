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

class MembershipServiceImpl final : public v1::MembershipService::Service {
 public:
  MembershipServiceImpl(MembershipStore& store, const RpcKit& rpc, MembershipMetrics& metrics,
                        MembershipServiceOptions options);

  grpc::Status CreateClientAccount(grpc::ServerContext* ctx, const v1::CreateClientAccountRequest* req,
                                   v1::ClientAccount* resp) override;
  grpc::Status GetClientAccount(grpc::ServerContext* ctx, const v1::GetClientAccountRequest* req,
                                v1::ClientAccount* resp) override;
  grpc::Status ListClientAccounts(grpc::ServerContext* ctx, const v1::ListClientAccountsRequest* req,
                                  v1::ListClientAccountsResponse* resp) override;
  grpc::Status UpdateClientAccount(grpc::ServerContext* ctx, const v1::UpdateClientAccountRequest* req,
                                   v1::ClientAccount* resp) override;
  grpc::Status SuspendClientAccount(grpc::ServerContext* ctx, const v1::SuspendClientAccountRequest* req,
                                    v1::ClientAccount* resp) override;
  grpc::Status ReinstateClientAccount(grpc::ServerContext* ctx, const v1::ReinstateClientAccountRequest* req,
                                      v1::ClientAccount* resp) override;
  grpc::Status CancelClientAccount(grpc::ServerContext* ctx, const v1::CancelClientAccountRequest* req,
                                   v1::ClientAccount* resp) override;
  grpc::Status GetAccountSummary(grpc::ServerContext* ctx, const v1::GetAccountSummaryRequest* req,
                                 v1::AccountSummary* resp) override;

  grpc::Status CreatePlan(grpc::ServerContext* ctx, const v1::CreatePlanRequest* req, v1::Plan* resp) override;
  grpc::Status GetPlan(grpc::ServerContext* ctx, const v1::GetPlanRequest* req, v1::Plan* resp) override;
  grpc::Status ListPlans(grpc::ServerContext* ctx, const v1::ListPlansRequest* req,
                         v1::ListPlansResponse* resp) override;
  grpc::Status RevisePlan(grpc::ServerContext* ctx, const v1::RevisePlanRequest* req, v1::Plan* resp) override;

  grpc::Status EnrollMember(grpc::ServerContext* ctx, const v1::EnrollMemberRequest* req, v1::Member* resp) override;
  grpc::Status GetMember(grpc::ServerContext* ctx, const v1::GetMemberRequest* req, v1::Member* resp) override;
  grpc::Status ListMembers(grpc::ServerContext* ctx, const v1::ListMembersRequest* req,
                           v1::ListMembersResponse* resp) override;
  grpc::Status BatchEnrollMembers(grpc::ServerContext* ctx, const v1::BatchEnrollMembersRequest* req,
                                  v1::BatchEnrollMembersResponse* resp) override;

  grpc::Status RequestMovement(grpc::ServerContext* ctx, const v1::RequestMovementRequest* req,
                               v1::Movement* resp) override;
  grpc::Status GetMovement(grpc::ServerContext* ctx, const v1::GetMovementRequest* req, v1::Movement* resp) override;
  grpc::Status ApplyMovement(grpc::ServerContext* ctx, const v1::ApplyMovementRequest* req,
                             v1::Movement* resp) override;
  grpc::Status RejectMovement(grpc::ServerContext* ctx, const v1::RejectMovementRequest* req,
                              v1::Movement* resp) override;
  grpc::Status ListMovements(grpc::ServerContext* ctx, const v1::ListMovementsRequest* req,
                             v1::ListMovementsResponse* resp) override;

  grpc::Status CheckEligibility(grpc::ServerContext* ctx, const v1::CheckEligibilityRequest* req,
                                v1::CheckEligibilityResponse* resp) override;
  grpc::Status RecordUtilization(grpc::ServerContext* ctx, const v1::RecordUtilizationRequest* req,
                                 v1::Utilization* resp) override;
  grpc::Status ReverseUtilization(grpc::ServerContext* ctx, const v1::ReverseUtilizationRequest* req,
                                  v1::Utilization* resp) override;
  grpc::Status GetUtilization(grpc::ServerContext* ctx, const v1::GetUtilizationRequest* req,
                              v1::Utilization* resp) override;
  grpc::Status ListUtilizations(grpc::ServerContext* ctx, const v1::ListUtilizationsRequest* req,
                                v1::ListUtilizationsResponse* resp) override;

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
