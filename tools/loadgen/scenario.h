// What the load generator drives. A scenario is either a unary gRPC method with a
// request body per sequence number (sent asynchronously, many in flight per
// thread), or a blocking call (the database ceilings, one in flight per worker
// thread, as a service's handler would run it).
//
// Both must be safe to call from several threads at once, and should make request
// `seq` different from every other (unique request ids, spread over seeded data)
// so that writes never collide and reads do not all hit one row.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace careops::loadgen {

class GrpcScenario {
 public:
  virtual ~GrpcScenario() = default;
  // "/careops.echo.v1.EchoService/Echo"; must stay valid while the run lasts.
  virtual const std::string& method() const = 0;
  // The serialized request number `seq` (0, 1, 2, ... over the whole run).
  virtual grpc::ByteBuffer Request(uint64_t seq) = 0;
};

class BlockingScenario {
 public:
  virtual ~BlockingScenario() = default;
  // Runs request number `seq` to completion; its status is the outcome counted.
  virtual absl::Status Call(uint64_t seq) = 0;
};

// Exactly one of the two is set.
struct Scenario {
  std::unique_ptr<GrpcScenario> grpc;
  std::unique_ptr<BlockingScenario> blocking;
};

}  // namespace careops::loadgen
