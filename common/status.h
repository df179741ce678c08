// Status plumbing between the layers of a careops service.
//
// Below the RPC boundary every fallible function returns absl::Status or
// absl::StatusOr<T>; the gRPC adapter converts once, at the edge, with
// ToGrpcStatus(). The two macros keep the happy path readable:
//
//   CAREOPS_ASSIGN_OR_RETURN(Member m, store.GetMember(id));
//   CAREOPS_RETURN_IF_ERROR(ValidateDate(req.effective_date(), "effective_date"));
#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace careops {

// Same code and message; absl and gRPC share the canonical code numbering.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Shorthands that name the field and the rule, e.g.
// InvalidArgument("page_size", "must be between 1 and 500").
absl::Status InvalidArgument(std::string_view field, std::string_view rule);

// Returns `status` with `context: ` prepended to its message, same code.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace careops

#define CAREOPS_STATUS_CONCAT_INNER(a, b) a##b
#define CAREOPS_STATUS_CONCAT(a, b) CAREOPS_STATUS_CONCAT_INNER(a, b)

#define CAREOPS_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::absl::Status careops_status_ = (expr);          \
    if (!careops_status_.ok()) return careops_status_; \
  } while (0)

#define CAREOPS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define CAREOPS_ASSIGN_OR_RETURN(lhs, expr) \
  CAREOPS_ASSIGN_OR_RETURN_IMPL(CAREOPS_STATUS_CONCAT(careops_statusor_, __LINE__), lhs, expr)
