#include "common/metrics.h"

#include <grpcpp/server_context.h>

#include <array>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "common/log.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"

namespace careops {
namespace {

constexpr std::array<const char*, 17> kCodeNames = {
    "OK",       "Canceled",          "Unknown",          "InvalidArgument", "DeadlineExceeded",
    "NotFound", "AlreadyExists",     "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",        "Unimplemented",    "Internal",        "Unavailable",
    "DataLoss", "Unauthenticated"};

const char* TypeName(grpc::experimental::ServerRpcInfo::Type t) {
  using T = grpc::experimental::ServerRpcInfo::Type;
  switch (t) {
    case T::UNARY: return "unary";
    case T::CLIENT_STREAMING: return "client_stream";
    case T::SERVER_STREAMING: return "server_stream";
    case T::BIDI_STREAMING: return "bidi_stream";
  }
  return "unary";
}

// The metric children of one method, created on its first call and kept, so the
// hot path is one shared-lock lookup.
struct MethodMetrics {
  std::string method;  // "/pkg.Service/Method"
  prometheus::Counter* started = nullptr;
  prometheus::Histogram* seconds = nullptr;
  std::array<prometheus::Counter*, 17> handled{};
};

class RpcMetrics {
 public:
  RpcMetrics(std::shared_ptr<prometheus::Registry> registry, RpcMetricsOptions options)
      : registry_(std::move(registry)),
        options_(options),
        started_(prometheus::BuildCounter()
                     .Name("grpc_server_started_total")
                     .Help("RPCs started on the server.")
                     .Register(*registry_)),
        handled_(prometheus::BuildCounter()
                     .Name("grpc_server_handled_total")
                     .Help("RPCs completed on the server, by status code.")
                     .Register(*registry_)),
        seconds_(prometheus::BuildHistogram()
                     .Name("grpc_server_handling_seconds")
                     .Help("Time from receiving an RPC to sending its status.")
                     .Register(*registry_)) {}

  MethodMetrics& For(const char* method, grpc::experimental::ServerRpcInfo::Type type) {
    // Keyed by the method name's address: gRPC hands every call of a method the
    // same registered string, so the hot path neither allocates nor hashes text.
    {
      std::shared_lock lock(mu_);
      auto it = by_method_.find(method);
      if (it != by_method_.end()) return *it->second;
    }
    std::unique_lock lock(mu_);
    auto& slot = by_method_[method];
    if (slot) return *slot;
    slot = std::make_unique<MethodMetrics>();
    slot->method = method;
    std::vector<std::string> parts = absl::StrSplit(method, '/', absl::SkipEmpty());
    std::string service = parts.size() == 2 ? parts[0] : "unknown";
    std::string name = parts.size() == 2 ? parts[1] : method;
    std::map<std::string, std::string> labels = {
        {"grpc_type", TypeName(type)}, {"grpc_service", service}, {"grpc_method", name}};
    slot->started = &started_.Add(labels);
    slot->seconds = &seconds_.Add(labels, RpcLatencyBuckets());
    for (size_t c = 0; c < kCodeNames.size(); ++c) {
      auto l = labels;
      l["grpc_code"] = kCodeNames[c];
      slot->handled[c] = &handled_.Add(l);
    }
    return *slot;
  }

  const RpcMetricsOptions& options() const { return options_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  RpcMetricsOptions options_;
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  std::shared_mutex mu_;
  std::unordered_map<const char*, std::unique_ptr<MethodMetrics>> by_method_;
};

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(RpcMetrics& metrics, grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics), info_(info), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using H = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(H::POST_RECV_INITIAL_METADATA)) {
      method_ = &metrics_.For(info_->method(), info_->type());
      method_->started->Increment();
      if (auto* md = methods->GetRecvInitialMetadata()) {
        auto it = md->find("x-request-id");
        if (it != md->end()) request_id_.assign(it->second.data(), it->second.size());
      }
    }
    if (methods->QueryInterceptionHookPoint(H::PRE_SEND_STATUS) && method_ != nullptr) {
      grpc::Status status = methods->GetSendStatus();
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      int code = static_cast<int>(status.error_code());
      if (code < 0 || code >= static_cast<int>(kCodeNames.size())) code = 2;  // Unknown
      method_->handled[code]->Increment();
      method_->seconds->Observe(seconds);
      if (!status.ok() || metrics_.options().log_ok_rpcs) {
        log::Info("rpc", {{"method", method_->method},
                          {"code", kCodeNames[code]},
                          {"latency_ms", seconds * 1000.0},
                          {"request_id", request_id_},
                          {"error", status.error_message()}});
      }
    }
    methods->Proceed();
  }

 private:
  RpcMetrics& metrics_;
  grpc::experimental::ServerRpcInfo* info_;
  std::chrono::steady_clock::time_point start_;
  MethodMetrics* method_ = nullptr;
  std::string request_id_;
};

class RpcMetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RpcMetricsFactory(std::shared_ptr<prometheus::Registry> registry, RpcMetricsOptions options)
      : metrics_(std::move(registry), options) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(metrics_, info);
  }

 private:
  RpcMetrics metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptorFactory(
    std::shared_ptr<prometheus::Registry> registry, RpcMetricsOptions options) {
  return std::make_unique<RpcMetricsFactory>(std::move(registry), options);
}

prometheus::Histogram::BucketBoundaries RpcLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

prometheus::Histogram::BucketBoundaries TurnaroundBuckets() {
  constexpr double kHour = 3600, kDay = 86400;
  return {kHour,     4 * kHour, 8 * kHour,  kDay,      2 * kDay,  3 * kDay,
          5 * kDay,  7 * kDay,  10 * kDay,  14 * kDay, 30 * kDay, 60 * kDay};
}

MetricsServer::MetricsServer(const std::string& host, int port,
                             std::shared_ptr<prometheus::Registry> registry)
    : exposer_(std::make_unique<prometheus::Exposer>(host + ":" + std::to_string(port))) {
  exposer_->RegisterCollectable(registry);
}

MetricsServer::~MetricsServer() = default;

int MetricsServer::port() const {
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace careops
