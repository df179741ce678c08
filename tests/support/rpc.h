// Small builders for calling careops stubs in tests.
#pragma once

#include <grpcpp/client_context.h>

#include <chrono>
#include <memory>
#include <string>

#include "careops/common/v1/types.pb.h"

namespace careops::testing {

// A call context as an internal app sends it: `authorization: Bearer <token>`
// (tools/dev-tokens; empty sends none) and a deadline.
inline std::unique_ptr<grpc::ClientContext> BearerContext(const std::string& token,
                                                         std::chrono::seconds deadline = std::chrono::seconds(15)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  return ctx;
}

inline common::v1::Money Money(const std::string& currency, int64_t minor) {
  common::v1::Money m;
  m.set_currency_code(currency);
  m.set_amount_minor(minor);
  return m;
}

inline common::v1::Money Php(int64_t minor) { return Money("PHP", minor); }

inline common::v1::Date DateOf(int year, int month, int day) {
  common::v1::Date d;
  d.set_year(year);
  d.set_month(month);
  d.set_day(day);
  return d;
}

}  // namespace careops::testing
