// careops-echo: the benchmark's gRPC ceiling. Serves careops.echo.v1.EchoService
// with the careops server settings (health, reflection, keepalive, message limits)
// and, unless --rpc_metrics=false, the common RPC metrics interceptor and /metrics,
// so that tools/bench can measure what the runtime itself costs. With --mysql_dsn
// every call also makes one prepared round trip to MariaDB through the common pool,
// so the threading models are compared on blocking work (see echo_service.h).
//
//   careops-echo --grpc_port=50100 [--rpc_metrics=false] [--model=sync|callback|callback_pool]
//                [--token_file=tools/dev-tokens] [--log_ok_rpcs=false]
//                [--mysql_dsn=mysql://root@127.0.0.1:3306/careops_bench --db_pool_size=16]
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/server_builder.h"
#include "tools/echo/echo_service.h"

int main(int argc, char** argv) {
  careops::FlagSet flags("echo");
  std::string listen_host = "127.0.0.1";
  int grpc_port = 50100;
  int metrics_port = 0;
  std::string token_file;
  std::string model = "sync";
  bool rpc_metrics = true;
  bool log_ok_rpcs = true;
  int64_t max_message_bytes = 16 << 20;
  flags.String("listen_host", &listen_host, "address the gRPC and metrics servers bind");
  flags.Port("grpc_port", &grpc_port, "gRPC port (0 picks a free one)");
  flags.Port("metrics_port", &metrics_port, "Prometheus /metrics port (0 picks a free one)");
  flags.String("token_file", &token_file, "caller tokens; when set, every Echo needs a known bearer token");
  flags.String("model", &model, "server threading model: sync (thread pool), callback, or callback_pool (callback + fixed workers)");
  flags.Bool("rpc_metrics", &rpc_metrics, "the common RPC metrics interceptor and /metrics, as services run");
  flags.Bool("log_ok_rpcs", &log_ok_rpcs, "with rpc_metrics: log every successful RPC, as services do by default");
  flags.Int("max_message_bytes", &max_message_bytes, 1024, 1 << 30, "largest gRPC message accepted");
  std::string mysql_dsn;
  int64_t db_pool_size = 16;
  int64_t worker_queue = 64;
  flags.String("mysql_dsn", &mysql_dsn, "when set, every Echo also runs one prepared SELECT on this database");
  flags.Int("db_pool_size", &db_pool_size, 1, 512, "database connections (and callback_pool workers)");
  flags.Int("worker_queue", &worker_queue, 1, 1 << 20, "callback_pool: calls that may wait for a worker");
  int64_t handler_threads = 18;  // what a service with the default db_pool_size keeps
  flags.Int("handler_threads", &handler_threads, 2, 1024, "threads the sync server keeps alive");
  absl::Status parsed = flags.Parse(argc, argv, careops::EnvFromProcess());
  if (flags.help_requested()) {
    std::cout << "usage: careops-echo [--flag=value ...]\n" << flags.Usage();
    return 0;
  }
  if (parsed.ok() && model != "sync" && model != "callback" && model != "callback_pool") {
    parsed = absl::InvalidArgumentError(
        absl::StrCat("--model='", model, "': must be sync, callback or callback_pool"));
  }
  careops::MysqlDsn dsn;
  if (parsed.ok() && !mysql_dsn.empty()) parsed = careops::ParseMysqlDsn(mysql_dsn, &dsn);
  if (!parsed.ok()) {
    careops::log::Error("bad configuration", {{"error", std::string(parsed.message())}});
    return 2;
  }

  // Only the main thread takes the stop signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<careops::Authenticator> auth;
  if (!token_file.empty()) {
    auto loaded = careops::Authenticator::FromFile(token_file);
    if (!loaded.ok()) {
      careops::log::Error("cannot load tokens", {{"error", loaded.status().ToString()}});
      return 2;
    }
    auth = std::make_unique<careops::Authenticator>(std::move(loaded).value());
  }

  std::unique_ptr<careops::mysql::ConnectionPool> pool;
  if (!mysql_dsn.empty()) {
    pool = std::make_unique<careops::mysql::ConnectionPool>(
        careops::mysql::PoolOptions{.dsn = dsn, .max_size = static_cast<int>(db_pool_size)});
    if (absl::Status ping = pool->Ping(); !ping.ok()) {
      careops::log::Error("cannot reach the database", {{"error", ping.ToString()}});
      return 1;
    }
  }
  careops::echo::EchoWork work{.auth = auth.get(), .pool = pool.get()};
  std::unique_ptr<careops::WorkerPool> workers;
  std::unique_ptr<careops::echo::EchoPooledAdapter> adapter;
  std::unique_ptr<grpc::Service> service;
  if (model == "sync") {
    service = std::make_unique<careops::echo::EchoServiceImpl>(work);
  } else if (model == "callback") {
    service = std::make_unique<careops::echo::EchoCallbackServiceImpl>(work);
  } else {
    workers = std::make_unique<careops::WorkerPool>(careops::WorkerPoolOptions{
        .workers = static_cast<int>(db_pool_size), .queue = static_cast<int>(worker_queue)});
    adapter = std::make_unique<careops::echo::EchoPooledAdapter>(work);
    auto pooled = std::make_unique<careops::PooledService>(careops::echo::v1::EchoService::service_full_name(),
                                                           *workers);
    adapter->Bind(*pooled);
    if (absl::Status complete = pooled->Check(); !complete.ok()) {
      careops::log::Error("incomplete handler table", {{"error", complete.ToString()}});
      return 1;
    }
    service = std::move(pooled);
  }

  careops::EnableHealthAndReflection();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(listen_host, ":", grpc_port), grpc::InsecureServerCredentials(),
                           &bound_port);
  careops::ApplyStandardServerSettings(builder, max_message_bytes, static_cast<int>(handler_threads));
  builder.RegisterService(service.get());
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<careops::MetricsServer> metrics;
  if (rpc_metrics) {
    careops::AddRpcMetricsInterceptor(builder, registry, {.log_ok_rpcs = log_ok_rpcs});
    try {
      metrics = std::make_unique<careops::MetricsServer>(listen_host, metrics_port, registry);
    } catch (const std::exception& e) {
      careops::log::Error("cannot serve /metrics", {{"error", e.what()}});
      return 1;
    }
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    careops::log::Error("cannot listen", {{"address", absl::StrCat(listen_host, ":", grpc_port)}});
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  careops::log::Info("serving", {{"service", "echo"},
                                 {"grpc_port", bound_port},
                                 {"metrics_port", metrics ? metrics->port() : 0},
                                 {"model", model},
                                 {"rpc_metrics", rpc_metrics},
                                 {"database", pool != nullptr}});
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server->GetHealthCheckService()->Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  careops::log::Info("stopped", {{"service", "echo"}});
  return 0;
}
