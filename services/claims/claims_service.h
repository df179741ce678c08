// The gRPC adapter of careops.claims.v1.ClaimsService.
//
// Each handler runs through the common handler wrapper (common/rpc.h: the caller
// is authenticated and authorized against claims_access.cc, `now` comes from the
// injected clock, request_id is checked, statuses are mapped once at the edge),
// validates the request (INVALID_ARGUMENT naming the field), and applies the rules
// of claim_rules.h through the store's locked transition. It holds no state of its
// own: everything lives in the ClaimStore and in membership, so any number of
// replicas can serve.
//
// Approval and reopening never call membership inside the claim's transaction:
// they store the claim pending with an outbox intent, then deliver it after the
// commit (AwaitMembership; see claims_outbox.h for what each answer does).
//
// Who may call what is in claims_access.cc; approval is further bound by the
// approver's authority limit (claim_rules.h, PERMISSION_DENIED).
#pragma once

#include <memory>

#include "careops/claims/v1/claims.grpc.pb.h"
#include "common/pooled_service.h"
#include "common/rpc.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/outbox_relay.h"
#include "services/claims/claim_rules.h"
#include "services/claims/claim_store.h"
#include "services/claims/claims_metrics.h"
#include "services/claims/membership_client.h"

namespace careops::claims {

struct ClaimsServiceOptions {
  AuthorityChain authority;
  AutoRouteThresholds auto_route;
  TatTargets tat;
  // How long ApproveClaim/ReopenClaim wait for membership after their commit
  // (never past the caller's deadline) before answering with the pending claim.
  absl::Duration settle_wait = absl::Seconds(3);
  // Maker-checker: the person who submitted a claim may not approve it.
  bool maker_checker = true;
};

// The proto's ClaimEventAction for a history action name ("approve" ->
// CLAIM_EVENT_ACTION_APPROVE); UNSPECIFIED for a name it lacks.
v1::ClaimEventAction EventActionOf(std::string_view action);

class ClaimsServiceImpl final {
 public:
  // `intents` delivers the outbox intents approval and reopening write (claims_outbox.h).
  ClaimsServiceImpl(ClaimStore& store, MembershipClient& membership, outbox::IntentDeliverer& intents,
                    const RpcKit& rpc, ClaimsMetrics& metrics,
                    ClaimsServiceOptions options);

  // Lists every handler for the server (common/pooled_service.h).
  void Bind(PooledService& s);

  grpc::Status SubmitClaim(grpc::ServerContextBase* ctx, const v1::SubmitClaimRequest* req, v1::Claim* resp);
  grpc::Status GetClaim(grpc::ServerContextBase* ctx, const v1::GetClaimRequest* req, v1::Claim* resp);
  grpc::Status ListClaims(grpc::ServerContextBase* ctx, const v1::ListClaimsRequest* req,
                          v1::ListClaimsResponse* resp);
  grpc::Status AssignClaim(grpc::ServerContextBase* ctx, const v1::AssignClaimRequest* req, v1::Claim* resp);
  grpc::Status StartReview(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req, v1::Claim* resp);
  grpc::Status RequestInformation(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req,
                                  v1::Claim* resp);
  grpc::Status ProvideInformation(grpc::ServerContextBase* ctx, const v1::ProvideInformationRequest* req,
                                  v1::Claim* resp);
  grpc::Status ApproveClaim(grpc::ServerContextBase* ctx, const v1::ApproveClaimRequest* req, v1::Claim* resp);
  grpc::Status DenyClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req, v1::Claim* resp);
  grpc::Status EscalateClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req, v1::Claim* resp);
  grpc::Status SettleClaim(grpc::ServerContextBase* ctx, const v1::SettleClaimRequest* req, v1::Claim* resp);
  grpc::Status CloseClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req, v1::Claim* resp);
  grpc::Status ReopenClaim(grpc::ServerContextBase* ctx, const v1::TransitionRequest* req, v1::Claim* resp);
  grpc::Status GetClaimHistory(grpc::ServerContextBase* ctx, const v1::GetClaimHistoryRequest* req,
                               v1::GetClaimHistoryResponse* resp);
  grpc::Status RunBreachScan(grpc::ServerContextBase* ctx, const v1::RunBreachScanRequest* req,
                             v1::RunBreachScanResponse* resp);
  grpc::Status FlagNonConformance(grpc::ServerContextBase* ctx, const v1::FlagNonConformanceRequest* req,
                                  v1::Investigation* resp);
  grpc::Status OpenInvestigation(grpc::ServerContextBase* ctx, const v1::InvestigationTransitionRequest* req,
                                 v1::Investigation* resp);
  grpc::Status RecordFindings(grpc::ServerContextBase* ctx, const v1::RecordFindingsRequest* req,
                              v1::Investigation* resp);
  grpc::Status CloseInvestigation(grpc::ServerContextBase* ctx, const v1::InvestigationTransitionRequest* req,
                                  v1::Investigation* resp);
  grpc::Status ListInvestigations(grpc::ServerContextBase* ctx, const v1::ListInvestigationsRequest* req,
                                  v1::ListInvestigationsResponse* resp);
  grpc::Status StreamBordereau(grpc::ServerContextBase* ctx, const v1::StreamBordereauRequest* req,
                               grpc::ServerWriter<v1::BordereauChunk>* writer);

  grpc::Status ReconcileUtilization(grpc::ServerContextBase* ctx, const v1::ReconcileUtilizationRequest* req,
                                    v1::ReconcileUtilizationResponse* resp);

  // The scheduled breach scan (BackgroundJob) and RunBreachScan share this.
  // One page of a breach scan (claim_store.h BreachScanQuery), counted in the
  // breach metrics unless it is a preview.
  absl::StatusOr<BreachScanResult> ScanBreaches(const BreachScanQuery& query);
  // The scheduled scan: every page at `now`, as `actor`.
  absl::Status ScanAllBreaches(absl::Time now, const Principal& actor);
  // The scheduled reconciliation and ReconcileUtilization share this
  // (claims_reconcile.cc); `actor` is who the repairs are recorded as.
  absl::StatusOr<v1::ReconcileUtilizationResponse> Reconcile(absl::Time as_of, const Principal& actor);

 private:
  // What a claim transition handler supplies: the outcome of its own input checks
  // (returned once the caller is known to be allowed), the change it makes to the
  // locked claim (may call membership), and what to count once it has committed.
  using Decide = std::function<absl::StatusOr<ClaimChange>(const Principal& caller, const Claim& current,
                                                           absl::Time now)>;
  using AfterCommit = std::function<void(const Claim& stored, absl::Time now)>;
  grpc::Status Transition(grpc::ServerContextBase* ctx, std::string_view method, const google::protobuf::Message& request,
                          v1::Claim* response, const std::string& request_id, const std::string& claim_id,
                          const std::string& etag, const absl::Status& input, const Decide& decide,
                          const AfterCommit& after = nullptr);
  grpc::Status InvestigationTransition(grpc::ServerContextBase* ctx, std::string_view method,
                                       const google::protobuf::Message& request, v1::Investigation* response,
                                       const std::string& request_id, const std::string& investigation_id,
                                       const std::string& etag, const absl::Status& input, InvestigationAction action,
                                       const std::function<void(const Principal&, Investigation&)>& apply);
  // What a decision (approve, deny) counts once committed; `late` is set by the
  // decide function and read after the commit.
  AfterCommit CountDecision(const bool& late);
  // After a transition left `resp` waiting for membership: delivers its intent
  // now, within the caller's deadline, and answers with the settled claim
  // (FAILED_PRECONDITION with membership's reason when it refused), or with the
  // pending claim when membership did not answer in time.
  absl::Status AwaitMembership(grpc::ServerContextBase* ctx, v1::Claim* resp);
  // SubmitClaim for type ADJUSTMENT (claim_rules.h, Adjustments): no membership
  // call, the original locked while its adjustments are judged.
  absl::Status SubmitAdjustment(const Mutation& m, const v1::SubmitClaimRequest& req, v1::Claim* resp);
  // The approval `change` of the claw-back `cur`: which record it gives back
  // and what it records again (PlanClawback), and the give-back intent.
  absl::StatusOr<ClaimChange> ApproveClawback(ClaimChange change, const Claim& cur);

  ClaimStore& store_;
  MembershipClient& membership_;
  outbox::IntentDeliverer& intents_;
  const RpcKit rpc_;
  ClaimsMetrics& metrics_;
  const Clock& clock_;
  const ClaimsServiceOptions options_;
  IdGenerator ids_;
};

// Domain <-> wire conversions, exposed for tests.
v1::Claim ToProto(const Claim& c);
v1::Investigation ToProto(const Investigation& v);

}  // namespace careops::claims
