#include "common/server_builder.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/tls.h"
#include <vector>

namespace careops {

absl::Status AddServingPorts(grpc::ServerBuilder& builder, const ServiceConfig& config, int* grpc_port) {
  auto credentials = ServerCredentialsFor(config.tls);
  if (!credentials.ok()) return credentials.status();
  builder.AddListeningPort(absl::StrCat(config.listen_host, ":", config.grpc_port), *credentials, grpc_port);
  if (config.health_port != 0) {
    builder.AddListeningPort(absl::StrCat(config.listen_host, ":", config.health_port),
                             grpc::InsecureServerCredentials());
  }
  return absl::OkStatus();
}

void EnableHealthAndReflection() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

void ApplyStandardServerSettings(grpc::ServerBuilder& builder, int64_t max_message_bytes, int handler_threads) {
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, std::max(2, handler_threads));
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
}

void AddRpcMetricsInterceptor(grpc::ServerBuilder& builder, std::shared_ptr<prometheus::Registry> registry,
                              RpcMetricsOptions options) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewRpcMetricsInterceptorFactory(std::move(registry), options));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
}

}  // namespace careops
