#include "common/server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <pthread.h>
#include <signal.h>

#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/deadline.h"
#include "common/log.h"
#include "common/mysql/mutation_runner.h"
#include "common/server_builder.h"
#include "common/status.h"

#include <iostream>

namespace careops {
namespace {

// Threads the synchronous server keeps alive for the streams (unary calls run on
// the worker pool); a stream beyond them gets a thread of its own.
constexpr int kStreamThreads = 4;

// Opens the call's CallDeadlineScope around every synchronous handler, on the
// handler's own thread, so the pool and peer calls below it see the deadline
// without any parameter (common/deadline.h).
class CallDeadlineCallbacks final : public grpc::Server::GlobalCallbacks {
 public:
  void PreSynchronousRequest(grpc::ServerContext* context) override {
    scope().emplace(DeadlineFromChrono(context->deadline()));
  }
  void PostSynchronousRequest(grpc::ServerContext*) override { scope().reset(); }

 private:
  static std::optional<CallDeadlineScope>& scope() {
    thread_local std::optional<CallDeadlineScope> current;
    return current;
  }
};

// gRPC takes global callbacks once per process, before its first server.
void InstallCallDeadlineCallbacks() {
  static std::once_flag once;
  std::call_once(once, [] { grpc::Server::SetGlobalCallbacks(new CallDeadlineCallbacks); });
}

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

ServiceRuntime::ServiceRuntime(ServiceConfig config)
    : config_(std::move(config)),
      clock_(&SystemClock::Instance()),
      registry_(std::make_shared<prometheus::Registry>()) {
  if (config_.clock_start) {
    owned_clock_ = std::make_unique<OffsetClock>(*config_.clock_start);
    clock_ = owned_clock_.get();
    log::Warn("test clock in use: not for production", {{"test_clock_start", config_.test_clock_start}});
  }
}

ServiceRuntime::~ServiceRuntime() = default;

absl::Status ServiceRuntime::Start(std::vector<Migration> migrations, absl::Duration wait_for_database) {
  // Block the stop signals in this thread before any other thread exists, so every
  // thread inherits the mask and only SignalLoop() receives them.
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signals_blocked_ = true;
  workers_ = std::make_unique<WorkerPool>(WorkerPoolOptions{.workers = static_cast<int>(config_.db_pool_size),
                                                            .queue = static_cast<int>(config_.admission_queue)});

  auto auth = Authenticator::Create({.token_file = config_.token_file,
                                     .mutual_tls = config_.tls.enabled(),
                                     .trust_domain = config_.tls_trust_domain,
                                     .jwt = config_.jwt},
                                    clock_);
  if (!auth.ok()) return auth.status();
  authenticator_ = std::move(auth).value();

  mysql::PoolOptions options;
  options.dsn = config_.dsn;
  options.max_size = static_cast<int>(config_.db_pool_size);
  pool_ = std::make_unique<mysql::ConnectionPool>(options);
  mysql::PoolOptions health = options;
  health.max_size = 1;
  health.acquire_timeout = absl::Seconds(1);
  health.connect_timeout = absl::Seconds(1);
  health.read_timeout = absl::Seconds(2);
  health.validate_after_idle = absl::ZeroDuration();
  health_pool_ = std::make_unique<mysql::ConnectionPool>(health);

  absl::Time give_up = absl::Now() + wait_for_database;
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    absl::Status s = Migrate(*pool_, migrations);
    if (s.ok()) break;
    if (s.code() != absl::StatusCode::kUnavailable || absl::Now() + backoff > give_up) {
      return Annotate(s, absl::StrCat("migrating schema '", config_.dsn.schema, "'"));
    }
    log::Warn("database not reachable yet, retrying", {{"error", std::string(s.message())}});
    if (WaitForStopOrSignal(backoff)) return absl::CancelledError("stopped while waiting for the database");
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
  if (config_.migrate_only) {
    if (!config_.runtime_db_role.empty()) CAREOPS_RETURN_IF_ERROR(GrantRuntimeRole(*pool_, config_.runtime_db_role));
    return absl::CancelledError("--migrate_only: migrations applied");
  }

  try {
    metrics_server_ = std::make_unique<MetricsServer>(config_.listen_host, config_.metrics_port, registry_);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics_port: cannot listen on ", config_.listen_host, ":", config_.metrics_port, ": ",
                     e.what()));
  }
  return absl::OkStatus();
}

bool ServiceRuntime::WaitForStop(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(d), [this] { return stop_; });
}

bool ServiceRuntime::WaitForStopOrSignal(absl::Duration d) {
  // SignalLoop() runs only in Serve(): until then the blocked stop signals would
  // stay pending and SIGTERM would wait out the whole database wait.
  if (signals_blocked_) {
    sigset_t set = StopSignals();
    timespec wait = absl::ToTimespec(d);
    int sig = sigtimedwait(&set, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      log::Info("stop signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      RequestStop();
    }
    return WaitForStop(absl::ZeroDuration());
  }
  return WaitForStop(d);
}

void ServiceRuntime::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void ServiceRuntime::SignalLoop() {
  sigset_t set = StopSignals();
  timespec tick{0, 200 * 1000 * 1000};
  while (!WaitForStop(absl::ZeroDuration())) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      log::Info("stop signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      RequestStop();
    }
  }
}

void ServiceRuntime::SetReadiness(bool serving) {
  auto* health = server_->GetHealthCheckService();
  for (const std::string& name : health_names_) health->SetServingStatus(name, serving);
  health->SetServingStatus("", serving);
}

void ServiceRuntime::HealthLoop() {
  bool last = false;
  bool first = true;
  do {
    bool up = health_pool_->Ping().ok();
    std::lock_guard<std::mutex> lock(health_mu_);
    if (draining_) return;
    if (up != last || first) {
      SetReadiness(up);
      log::Info(up ? "database reachable: SERVING" : "database unreachable: NOT_SERVING",
                {{"schema", config_.dsn.schema}});
      last = up;
      first = false;
    }
  } while (!WaitForStop(config_.health_interval));
}

void ServiceRuntime::JobLoop(const BackgroundJob& job) {
  while (!WaitForStop(job.interval)) {
    absl::Status s = job.run();
    if (!s.ok()) log::Warn("background job failed", {{"job", job.name}, {"error", s.ToString()}});
  }
}

BackgroundJob ServiceRuntime::RequestLogPurgeJob() {
  // Often enough that the table never holds much more than the retention, rarely
  // enough to cost nothing: a tenth of the retention, at most hourly.
  const absl::Duration interval = std::min(absl::Hours(1), config_.request_log_retention / 10);
  return {"request-log-purge", interval, [this]() -> absl::Status {
            CAREOPS_ASSIGN_OR_RETURN(
                int64_t deleted,
                mysql::PurgeRequestLog(*pool_, clock_->Now(), {.retention = config_.request_log_retention}));
            if (deleted > 0) log::Info("request log purged", {{"rows", deleted}});
            return absl::OkStatus();
          }};
}

absl::Status ServiceRuntime::Serve(const std::vector<ServedService>& services,
                                   std::vector<BackgroundJob> jobs) {
  for (const ServedService& s : services) {
    CAREOPS_RETURN_IF_ERROR(s.service->Check());
    if (s.access == nullptr || s.access->service_name() != s.service->name()) {
      return absl::FailedPreconditionError(absl::StrCat(
          s.service->name(), ": no access rules; every served service needs its Authorizer (common/access.h)"));
    }
  }
  EnableHealthAndReflection();
  InstallCallDeadlineCallbacks();
  grpc::ServerBuilder builder;
  CAREOPS_RETURN_IF_ERROR(AddServingPorts(builder, config_, &grpc_port_));
  // Unary calls run on the worker pool; the synchronous server only carries the
  // streams, each reading in short pages, so a few threads kept alive serve them.
  ApplyStandardServerSettings(builder, config_.max_message_bytes, kStreamThreads);
  health_names_.clear();
  for (const ServedService& s : services) {
    builder.RegisterService(s.service);
    health_names_.push_back(s.service->name());
  }
  AddRpcMetricsInterceptor(builder, registry_, {.log_ok_rpcs = config_.log_ok_rpcs});
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("grpc_port: cannot listen on ", config_.listen_host, ":", config_.grpc_port));
  }
  // Not ready until the first database probe says so; alive from now on.
  SetReadiness(false);
  server_->GetHealthCheckService()->SetServingStatus(kLivenessService, true);
  log::Info("serving", {{"service", config_.service},
                        {"grpc_port", grpc_port_},
                        {"metrics_port", metrics_server_ ? metrics_server_->port() : 0}});

  std::thread signals;
  if (signals_blocked_) signals = std::thread([this] { SignalLoop(); });
  std::thread health([this] { HealthLoop(); });
  jobs.push_back(RequestLogPurgeJob());
  std::vector<std::thread> workers;
  for (const BackgroundJob& job : jobs) workers.emplace_back([this, &job] { JobLoop(job); });

  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return stop_; });
  }
  // Drain: tell load balancers first and give them shutdown_delay to notice, then
  // stop accepting and finish in-flight calls.
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    draining_ = true;
    SetReadiness(false);
  }
  if (config_.shutdown_delay > absl::ZeroDuration()) {
    log::Info("stopping: NOT_SERVING, draining after the shutdown delay",
              {{"shutdown_delay", absl::FormatDuration(config_.shutdown_delay)}});
    absl::SleepFor(config_.shutdown_delay);
  }
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(config_.drain_timeout));
  health.join();
  for (auto& w : workers) w.join();
  if (signals.joinable()) signals.join();
  server_->Wait();
  log::Info("stopped", {{"service", config_.service}});
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServiceRuntime>> StartService(FlagSet& flags, ServiceConfig& config, int argc,
                                                             char** argv, std::vector<Migration> migrations,
                                                             const std::function<absl::Status()>& validate) {
  absl::Status parsed = ParseServiceConfig(flags, config, argc, argv, EnvFromProcess());
  if (parsed.ok() && !flags.help_requested() && validate) parsed = validate();
  if (flags.help_requested()) {
    std::cout << "usage: careops-" << config.service << " [--flag=value ...]\n" << flags.Usage();
    return absl::CancelledError("help shown");
  }
  if (!parsed.ok()) {
    log::Error("bad configuration", {{"service", config.service}, {"error", std::string(parsed.message())}});
    return parsed;
  }
  auto runtime = std::make_unique<ServiceRuntime>(config);
  absl::Status started = runtime->Start(std::move(migrations));
  if (started.code() == absl::StatusCode::kCancelled && config.migrate_only) {
    log::Info("migrations applied; exiting (--migrate_only)", {{"service", config.service}});
    return started;
  }
  if (!started.ok()) {
    log::Error("start failed", {{"service", config.service}, {"error", started.ToString()}});
    return started;
  }
  return runtime;
}

int ServeUntilStopped(ServiceRuntime& runtime, const std::vector<ServedService>& services,
                      std::vector<BackgroundJob> jobs) {
  absl::Status s = runtime.Serve(services, std::move(jobs));
  if (!s.ok()) {
    log::Error("serve failed", {{"service", runtime.config().service}, {"error", s.ToString()}});
    return 1;
  }
  return 0;
}

int ExitCode(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kCancelled) return 0;
  if (status.code() == absl::StatusCode::kInvalidArgument) return 2;
  return 1;
}

}  // namespace careops
