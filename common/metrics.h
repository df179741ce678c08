// Prometheus metrics: the registry every service exports on /metrics, and the
// gRPC server interceptor that records the standard RPC families dashboards use:
//
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}  (histogram)
//
// The same interceptor writes one structured log line per RPC with the method,
// code, latency and request id (metadata `x-request-id`). Label values are
// bounded: method names come from the registered services, codes from the enum.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}

namespace careops {

struct RpcMetricsOptions {
  bool log_ok_rpcs = true;  // errors are always logged
};

// Creates the interceptors; add with ServerBuilder::experimental().SetInterceptorCreators.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptorFactory(
    std::shared_ptr<prometheus::Registry> registry, RpcMetricsOptions options = {});

// Latency buckets (seconds) shared by the RPC and turn-around histograms.
prometheus::Histogram::BucketBoundaries RpcLatencyBuckets();
// Buckets for business turn-around times: 1h .. 60 days, in seconds.
prometheus::Histogram::BucketBoundaries TurnaroundBuckets();

// Serves `registry` at http://<host>:<port>/metrics until destroyed.
class MetricsServer {
 public:
  MetricsServer(const std::string& host, int port, std::shared_ptr<prometheus::Registry> registry);
  ~MetricsServer();
  int port() const;  // the bound port (useful with port 0)

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace careops
