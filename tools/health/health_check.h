// One call of grpc.health.v1.Health/Check without generated health stubs (Debian
// ships no health proto for C++): the request and response are encoded by hand.
#pragma once

#include <grpcpp/channel.h>

#include <string>

#include "absl/time/time.h"

namespace careops {

// "SERVING", "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN", or "error: <code> <message>".
std::string CheckHealth(grpc::Channel& channel, const std::string& service, absl::Duration deadline);

}  // namespace careops
