#include "services/collections/membership_client.h"

#include "absl/strings/str_cat.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/proto_time.h"
#include "common/validation.h"

namespace careops::collections {
namespace {

namespace mv1 = ::careops::membership::v1;

std::optional<absl::CivilDay> DateOrNone(const common::v1::Date& d) {
  absl::StatusOr<absl::CivilDay> day = FromProto(d, "date");
  if (!day.ok()) return std::nullopt;
  return *day;
}

AccountStatus StatusOf(mv1::ClientAccountStatus status) {
  return status == mv1::CLIENT_ACCOUNT_STATUS_CANCELLED   ? AccountStatus::kCancelled
         : status == mv1::CLIENT_ACCOUNT_STATUS_SUSPENDED ? AccountStatus::kSuspended
                                                          : AccountStatus::kActive;
}

AccountInfo ToInfo(const mv1::ClientAccount& a) {
  AccountInfo info{a.account_id(), a.name(), a.contact_email(), a.status() == mv1::CLIENT_ACCOUNT_STATUS_CANCELLED};
  info.status = StatusOf(a.status());
  info.etag = a.etag();
  if (a.has_start_date()) info.start_date = DateOrNone(a.start_date());
  if (a.has_status_effective_date()) info.status_effective_date = DateOrNone(a.status_effective_date());
  info.last_status = info.status;
  info.last_effective_date = info.status_effective_date;
  if (!a.scheduled_status_changes().empty()) {  // oldest first
    const mv1::ScheduledStatusChange& last = *a.scheduled_status_changes().rbegin();
    info.last_status = StatusOf(last.status());
    info.last_effective_date = DateOrNone(last.effective_date());
  }
  return info;
}

class GrpcMembershipClient final : public MembershipClient {
 public:
  explicit GrpcMembershipClient(PeerOptions options)
      : peer_(std::move(options)), stub_(mv1::MembershipService::NewStub(peer_.channel())) {}

  absl::StatusOr<AccountInfo> GetClientAccount(const std::string& account_id) override {
    mv1::GetClientAccountRequest req;
    req.set_account_id(account_id);
    mv1::ClientAccount resp;
    auto ctx = peer_.NewContext();
    grpc::Status s = stub_->GetClientAccount(ctx.get(), req, &resp);
    switch (s.error_code()) {
      case grpc::StatusCode::OK:
        return ToInfo(resp);
      case grpc::StatusCode::NOT_FOUND:
        return absl::NotFoundError(absl::StrCat("membership has no account ", Quote(account_id)));
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
      case grpc::StatusCode::CANCELLED:
        return absl::UnavailableError("membership is unavailable; retry later");
      default:
        return absl::InternalError(absl::StrCat("membership GetClientAccount: ", s.error_message()));
    }
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
  o.idempotent_methods = {"GetClientAccount"};
  o.token = std::move(token);
  o.deadline = deadline;
  return o;
}

std::unique_ptr<MembershipClient> NewGrpcMembershipClient(PeerOptions options) {
  return std::make_unique<GrpcMembershipClient>(std::move(options));
}

}  // namespace careops::collections
