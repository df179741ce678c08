#include "common/rpc.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/mysql/mutation_runner.h"
#include "common/status.h"
#include "common/text.h"

namespace careops {

grpc::Status ToClientStatus(const absl::Status& status, std::string_view method) {
  if (status.code() != absl::StatusCode::kInternal && status.code() != absl::StatusCode::kUnknown) {
    return ToGrpcStatus(status);
  }
  log::Error("internal error", {{"method", method}, {"error", status.ToString()}});
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      absl::StrCat(Abs(method), ": internal error; the service logged the details"));
}

absl::StatusOr<Principal> RpcKit::Admit(const grpc::ServerContextBase& ctx, std::string_view method) const {
  absl::StatusOr<Principal> caller = authenticator_.Authenticate(ctx);
  if (!caller.ok()) return caller.status();
  if (absl::Status allowed = authorizer_.Check(method, *caller); !allowed.ok()) return allowed;
  return caller;
}

grpc::Status RpcKit::Stream(const grpc::ServerContextBase* ctx, std::string_view method,
                            const std::function<absl::Status(const Call&)>& body) const {
  absl::StatusOr<Principal> caller = Admit(*ctx, method);
  if (!caller.ok()) return ToClientStatus(caller.status(), method);
  Call call{*caller, method, TruncateToMicros(clock_.Now()), *ctx};
  return ToClientStatus(body(call), method);
}

grpc::Status RpcKit::Read(const grpc::ServerContextBase* ctx, std::string_view method,
                          const std::function<absl::Status(const Call&)>& body) const {
  absl::StatusOr<Principal> caller = Admit(*ctx, method);
  if (!caller.ok()) return ToClientStatus(caller.status(), method);
  Call call{*caller, method, TruncateToMicros(clock_.Now()), *ctx};
  return ToClientStatus(body(call), method);
}

grpc::Status RpcKit::Write(const grpc::ServerContextBase* ctx, std::string_view method, std::string_view request_id,
                           const google::protobuf::Message& request, google::protobuf::Message* response,
                           RequestIdPolicy policy,
                           const std::function<absl::Status(const MutationContext&)>& body) const {
  absl::StatusOr<Principal> caller = Admit(*ctx, method);
  if (!caller.ok()) return ToClientStatus(caller.status(), method);
  if (policy == RequestIdPolicy::kRequired || !request_id.empty()) {
    if (absl::Status id = mysql::ValidateRequestId(request_id); !id.ok()) return ToClientStatus(id, method);
  }
  MutationContext m{.caller = *std::move(caller),
                    .method = std::string(method),
                    .request_id = std::string(request_id),
                    .request = &request,
                    .response = response,
                    .now = TruncateToMicros(clock_.Now())};
  return ToClientStatus(body(m), method);
}

}  // namespace careops
