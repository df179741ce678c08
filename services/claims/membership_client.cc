#include "services/claims/membership_client.h"

#include "absl/strings/str_cat.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"

namespace careops::claims {
namespace {

namespace mv1 = ::careops::membership::v1;

// Maps membership's answer to the contract in the header; `what` names the call.
absl::Status MapStatus(const grpc::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string detail = absl::StrCat("membership ", Abs(what), ": ", s.error_message());
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return absl::UnavailableError(absl::StrCat(detail, " (membership is unavailable; retry later)"));
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return absl::FailedPreconditionError(absl::StrCat(detail, " (refused)"));
    default:
      return absl::InternalError(detail);
  }
}

class GrpcMembershipClient final : public MembershipClient {
 public:
  explicit GrpcMembershipClient(PeerOptions options)
      : peer_(std::move(options)), stub_(mv1::MembershipService::NewStub(peer_.channel())) {}

  absl::StatusOr<Eligibility> CheckEligibility(const EligibilityQuery& q) override {
    mv1::CheckEligibilityRequest req;
    req.set_member_id(q.member_id);
    req.set_benefit_code(q.benefit_code);
    *req.mutable_service_date() = ToProto(q.service_date);
    mv1::CheckEligibilityResponse resp;
    auto ctx = peer_.NewContext();
    CAREOPS_RETURN_IF_ERROR(MapStatus(stub_->CheckEligibility(ctx.get(), req, &resp), "CheckEligibility"));
    Eligibility out;
    out.eligible = resp.eligible();
    out.account_id = resp.account_id();
    out.plan_id = resp.plan_id();
    out.benefit_category = resp.benefit_category();
    // Membership states the remaining limit (in the plan's currency) for every
    // member it knows, also when the benefit is unlimited.
    if (resp.has_remaining_limit()) out.plan_currency = resp.remaining_limit().currency_code();
    out.copay_basis_points = resp.copay_basis_points();
    if (resp.has_per_visit_cap() && resp.per_visit_cap().amount_minor() > 0) {
      out.per_visit_cap = FromProto(resp.per_visit_cap());
    }
    if (resp.has_remaining_limit() && !resp.unlimited()) out.remaining_limit = FromProto(resp.remaining_limit());
    for (const auto& r : resp.reasons()) {
      out.reasons.push_back({mv1::EligibilityReasonCode_Name(r.code()), r.message()});
    }
    return out;
  }

  absl::StatusOr<std::optional<UtilizationState>> GetUtilization(const std::string& source_reference) override {
    mv1::GetUtilizationRequest req;
    req.set_source_reference(source_reference);
    mv1::Utilization resp;
    auto ctx = peer_.NewContext();
    grpc::Status s = stub_->GetUtilization(ctx.get(), req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<UtilizationState>();
    CAREOPS_RETURN_IF_ERROR(MapStatus(s, "GetUtilization"));
    return std::optional<UtilizationState>(UtilizationState{FromProto(resp.amount()), resp.reversed()});
  }

 private:
  PeerChannel peer_;
  std::unique_ptr<mv1::MembershipService::Stub> stub_;
};

}  // namespace

PeerOptions MembershipPeerOptions(std::string address, std::string token, absl::Duration deadline) {
  PeerOptions o;
  o.address = std::move(address);
  o.service = mv1::MembershipService::service_full_name();
  o.idempotent_methods = {"CheckEligibility", "GetUtilization"};
  o.token = std::move(token);
  o.deadline = deadline;
  return o;
}

std::unique_ptr<MembershipClient> NewGrpcMembershipClient(PeerOptions options) {
  return std::make_unique<GrpcMembershipClient>(std::move(options));
}

}  // namespace careops::claims
