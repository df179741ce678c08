// The runtime every careops service binary stands on.
//
// main() parses its config, then:
//
//   ServiceRuntime runtime(config);
//   if (auto s = runtime.Start(careops_membership_migrations()); !s.ok()) return Fail(s);
//   MembershipServiceImpl service(store, rpc, ...);
//   PooledService front(MembershipService::service_full_name(), runtime.workers());
//   service.Bind(front);
//   return runtime.Serve({{&front, &access}}).ok() ? 0 : 1;
//
// Start() blocks SIGTERM/SIGINT (so Serve() can take them), loads the caller
// tokens, opens the connection pool, applies the schema migrations (waiting for a
// database that is not up yet) and opens /metrics. Serve() builds the gRPC server
// with the standard health service, reflection, keepalive, message-size limits and
// the RPC metrics interceptor, runs background jobs (the service's own and the
// request-log purge every service needs), and on SIGTERM/SIGINT (or RequestStop())
// drains.
//
// Every handler runs inside a CallDeadlineScope with its RPC's deadline
// (common/deadline.h): database waits and peer calls under it end when the
// client's time is up.
//
// Health has two meanings, under separate names of the standard health service:
//   - readiness: the overall name "" and each served service's name are SERVING
//     only while the database answers (probed every health_interval), so load
//     balancers route around a replica that cannot do its work;
//   - liveness: the name "liveness" (kLivenessService) is SERVING while the
//     process runs, whatever the database does, so a database outage never gets
//     pods restarted.
// Stopping: readiness goes NOT_SERVING at once, the server keeps answering for
// shutdown_delay (load balancers notice and stop routing), then stops accepting
// calls and gives in-flight ones drain_timeout; liveness stays SERVING until then.
#pragma once

#include <grpcpp/server.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/access.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/migrations.h"
#include "common/pooled_service.h"
#include "common/worker_pool.h"
#include "common/mysql/pool.h"
#include "prometheus/registry.h"

namespace careops {

// Work that runs every `interval` on its own thread while the service serves
// (breach scans, aging runs). It must be safe with several replicas running.
struct BackgroundJob {
  std::string name;
  absl::Duration interval;
  std::function<absl::Status()> run;
};

// An application service: its handler table (common/pooled_service.h; its name,
// the generated class's service_full_name(), is what health checks use) and its
// access rules. Serve() refuses to start unless the table covers every method of
// the service and `access` is that service's Authorizer (common/access.h): no
// method is served without both a handler and a rule.
struct ServedService {
  PooledService* service;
  const Authorizer* access = nullptr;
};

class ServiceRuntime {
 public:
  // The health-check name that reports the process alive (see above).
  static constexpr char kLivenessService[] = "liveness";

  explicit ServiceRuntime(ServiceConfig config);
  ~ServiceRuntime();

  absl::Status Start(std::vector<Migration> migrations,
                     absl::Duration wait_for_database = absl::Seconds(60));

  // Blocks until a stop is requested and the server has drained.
  absl::Status Serve(const std::vector<ServedService>& services,
                     std::vector<BackgroundJob> jobs = {});

  // Stops Serve() as SIGTERM would. Thread-safe; safe to call before Serve().
  void RequestStop();

  const ServiceConfig& config() const { return config_; }
  mysql::ConnectionPool& pool() { return *pool_; }
  const Authenticator& authenticator() const { return authenticator_; }
  // Runs every unary call: db_pool_size workers, admission_queue waiting
  // (common/worker_pool.h). Exists once Start() has run.
  WorkerPool& workers() { return *workers_; }
  // The clock every handler and job of this process reads: the system clock, or
  // an OffsetClock when config.clock_start is set (tests only).
  const Clock& clock() const { return *clock_; }
  std::shared_ptr<prometheus::Registry> registry() { return registry_; }
  int grpc_port() const { return grpc_port_; }

 private:
  void HealthLoop();
  // "" and every served service's name; the caller holds health_mu_ once
  // HealthLoop runs.
  void SetReadiness(bool serving);
  void SignalLoop();
  void JobLoop(const BackgroundJob& job);
  // Removes request_log rows older than --request_log_retention; every service runs it.
  BackgroundJob RequestLogPurgeJob();
  // Waits up to d for a stop; returns true when stopping.
  bool WaitForStop(absl::Duration d);
  // WaitForStop() that also takes SIGTERM/SIGINT itself (before Serve()).
  bool WaitForStopOrSignal(absl::Duration d);

  ServiceConfig config_;
  std::unique_ptr<Clock> owned_clock_;
  const Clock* clock_;
  Authenticator authenticator_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<mysql::ConnectionPool> pool_;
  std::unique_ptr<mysql::ConnectionPool> health_pool_;  // one connection, never starved by traffic
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> health_names_;
  // Guards readiness updates: once stopping, the probe loop must not report
  // SERVING again.
  std::mutex health_mu_;
  bool draining_ = false;
  int grpc_port_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> signals_blocked_{false};
};

// The two halves of every service's main(), so each main.cc is only its wiring:
//
//   auto runtime = StartService(flags, config, argc, argv, careops_claims_migrations());
//   if (!runtime.ok()) return ExitCode(runtime.status());
//   ...construct stores and services on (*runtime)->pool()...
//   PooledService front(ClaimsService::service_full_name(), (*runtime)->workers());
//   service.Bind(front);
//   return ServeUntilStopped(**runtime, {{&front, access.get()}});
//
// StartService parses flags (printing usage for --help or every bad setting) and
// starts the runtime; CANCELLED means --help was shown.
// `validate` (optional) checks the service's own flag values after parsing and
// before anything touches the database; its error is reported like a bad flag.
absl::StatusOr<std::unique_ptr<ServiceRuntime>> StartService(FlagSet& flags, ServiceConfig& config, int argc,
                                                             char** argv, std::vector<Migration> migrations,
                                                             const std::function<absl::Status()>& validate = {});
int ServeUntilStopped(ServiceRuntime& runtime, const std::vector<ServedService>& services,
                      std::vector<BackgroundJob> jobs = {});
// 0 after --help, 2 for bad configuration, 1 otherwise.
int ExitCode(const absl::Status& status);

}  // namespace careops
