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

#include "absl/status/status.h"
#include "common/config.h"
#include "common/metrics.h"
#include "prometheus/registry.h"

namespace careops {

// The listening ports of a service: the gRPC port with mutual TLS from
// config.tls (common/tls.h) or, with --insecure_plaintext, in plaintext; and,
// when config.health_port is set, a plaintext port for probes that cannot speak
// TLS (the Authenticator refuses every application call that did not arrive over
// TLS, so only health and reflection answer there). `grpc_port` receives the
// bound port once the server starts. INVALID_ARGUMENT / NOT_FOUND for bad TLS
// files, naming the flag.
absl::Status AddServingPorts(grpc::ServerBuilder& builder, const ServiceConfig& config, int* grpc_port);

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
