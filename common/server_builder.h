// The gRPC server settings every careops server shares: ServiceRuntime::Serve
// builds its server with these, and so does a server without a ServiceRuntime
// (the benchmark's echo ceiling in tools/echo).
//
//   EnableHealthAndReflection();
//   grpc::ServerBuilder builder;
//   ApplyStandardServerSettings(builder, config.max_message_bytes, config.db_pool_size + 2);
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

// Message-size limits, keepalive (ping idle clients every 60s, accept client
// pings no more often than every 10s) and the sync server's thread pool.
//
// `handler_threads`: how many threads the synchronous server keeps alive. gRPC's
// default keeps 2 and ends every thread beyond that after its call, so handlers
// that block (on MariaDB) made it create a thread for about every second request
// (tools/bench: "threads created/req"). Size it to the handlers that can block at
// once, i.e. the database pool.
void ApplyStandardServerSettings(grpc::ServerBuilder& builder, int64_t max_message_bytes, int handler_threads);

// The RPC metrics interceptor (common/metrics.h) recording into `registry`.
void AddRpcMetricsInterceptor(grpc::ServerBuilder& builder, std::shared_ptr<prometheus::Registry> registry,
                              RpcMetricsOptions options);

}  // namespace careops
