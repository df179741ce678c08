// The gRPC server settings every careops server shares, for a server built
// without a ServiceRuntime (the benchmark's echo ceiling in tools/echo).
// ServiceRuntime::Serve applies the same settings; keep the two in step.
//
//   EnableHealthAndReflection();
//   grpc::ServerBuilder builder;
//   ApplyStandardServerSettings(builder, config.max_message_bytes);
//   if (with_metrics) AddRpcMetricsInterceptor(builder, registry, {.log_ok_rpcs = false});
#pragma once

#include <grpcpp/server_builder.h>

#include <cstdint>
#include <memory>

#include "common/metrics.h"
#include "prometheus/registry.h"

namespace careops {

// Process-wide: the default gRPC health service and server reflection for every
// server built afterwards.
void EnableHealthAndReflection();

// Message-size limits and keepalive (ping idle clients every 60s, accept client
// pings no more often than every 10s).
void ApplyStandardServerSettings(grpc::ServerBuilder& builder, int64_t max_message_bytes);

// The RPC metrics interceptor (common/metrics.h) recording into `registry`.
void AddRpcMetricsInterceptor(grpc::ServerBuilder& builder, std::shared_ptr<prometheus::Registry> registry,
                              RpcMetricsOptions options);

}  // namespace careops
