#include "common/status.h"

#include "absl/strings/str_cat.h"
#include "common/text.h"

namespace careops {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::Status InvalidArgument(std::string_view field, std::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(Abs(field), ": ", Abs(rule)));
}

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(Abs(context), ": ", status.message()));
}

}  // namespace careops
