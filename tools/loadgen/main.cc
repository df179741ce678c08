// careops-loadgen: drives one careops scenario and reports throughput, latency
// percentiles from every sample, errors by status code and its own CPU cost.
//
//   careops-loadgen --scenario=echo --target=127.0.0.1:50100 --concurrency=64 --channels=4
//   careops-loadgen --scenario=db.point_select --mysql_dsn=mysql://u:p@127.0.0.1:3307/bench
//   careops-loadgen --scenario=claims.GetClaim --target=127.0.0.1:50052 --seed_file=seed.txt --rate=2000
//   careops-loadgen --scenario=echo --rate=20000 --reference_p50=0.54ms   (judged: see OpenLoopRule)
//   careops-loadgen --list
//
// Prints a short table, then one JSON line (also appended to --json_out). Exits 1
// when any request failed, 2 for bad flags.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/log.h"
#include "tools/loadgen/driver.h"
#include "tools/loadgen/scenarios.h"

namespace {

std::string RunId() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return absl::StrCat("lg", ms, "p", getpid());
}

// The development caller each service's scenarios run as (tools/dev-tokens).
std::string DefaultToken(const std::string& scenario) {
  if (scenario.rfind("membership.", 0) == 0) return "dev-account-officer";
  if (scenario.rfind("claims.", 0) == 0) return "dev-manager";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  careops::FlagSet flags("loadgen");
  std::string scenario_name, target = "127.0.0.1:50100", token, mysql_dsn, seed_file, json_out;
  int64_t concurrency = 16, channels = 4, threads = 1, rate = 0, db_rows = 10000, payload_bytes = 16;
  int64_t rate_tolerance_pct = 2, p99_limit_x = 10;
  absl::Duration warmup = absl::Seconds(5), duration = absl::Seconds(10), deadline = absl::Seconds(10);
  absl::Duration reference_p50 = absl::ZeroDuration();
  bool progress = true, list = false;
  flags.String("scenario", &scenario_name, "what to drive (see --list)");
  flags.String("target", &target, "host:port of the gRPC server");
  flags.String("token", &token,
               "bearer token sent as authorization metadata (default: dev-account-officer for membership.*, "
               "dev-manager for claims.*)");
  flags.Int("concurrency", &concurrency, 1, 100000, "requests in flight (closed loop), or at most (open loop)");
  flags.Int("channels", &channels, 1, 1024, "gRPC channels, each its own TCP connection");
  flags.Int("threads", &threads, 1, 64, "completion-queue threads");
  flags.Int("rate", &rate, 0, 10'000'000, "open loop: requests per second; 0 = closed loop");
  flags.Duration("warmup", &warmup, "traffic before measuring");
  flags.Duration("duration", &duration, "measured window");
  flags.Duration("deadline", &deadline, "per-request deadline");
  flags.Duration("reference_p50", &reference_p50,
                 "open loop: the closed-loop p50 of the same scenario; when set, the run is judged met only if "
                 "the offered rate was achieved and p99 <= p99_limit_x times this");
  flags.Int("rate_tolerance_pct", &rate_tolerance_pct, 0, 100,
            "open loop: how far (percent) the OK answers per second may fall short of --rate");
  flags.Int("p99_limit_x", &p99_limit_x, 1, 1000, "open loop: p99 limit, in multiples of --reference_p50");
  flags.String("mysql_dsn", &mysql_dsn, "db.* scenarios: mysql://user:password@host:port/schema");
  flags.Int("db_rows", &db_rows, 1, 100'000'000, "db.point_select: rows in bench_member");
  flags.Int("payload_bytes", &payload_bytes, 0, 1 << 20, "echo: payload size");
  flags.String("seed_file", &seed_file, "membership.*/claims.*: the manifest careops-seed wrote");
  flags.String("json_out", &json_out, "also append the JSON line to this file");
  flags.Bool("progress", &progress, "a progress line on stderr every second");
  flags.Bool("list", &list, "list the scenarios and exit");
  absl::Status parsed = flags.Parse(argc, argv, careops::EnvFromProcess());
  if (flags.help_requested()) {
    std::cout << "usage: careops-loadgen --scenario=NAME [--flag=value ...]\n" << flags.Usage();
    return 0;
  }
  if (list) {
    for (const auto& s : careops::loadgen::Scenarios()) std::cout << s.name << "\t" << s.what << "\n";
    return 0;
  }
  if (parsed.ok() && scenario_name.empty()) parsed = absl::InvalidArgumentError("--scenario is required (see --list)");
  if (!parsed.ok()) {
    std::cerr << "careops-loadgen: " << parsed.message() << "\n";
    return 2;
  }

  careops::loadgen::SeedManifest seed;
  careops::loadgen::ScenarioContext context;
  context.run_id = RunId();
  context.concurrency = static_cast<int>(concurrency);
  context.mysql_dsn = mysql_dsn;
  context.db_rows = db_rows;
  context.payload_bytes = static_cast<int>(payload_bytes);
  if (!seed_file.empty()) {
    auto loaded = careops::loadgen::SeedManifest::Load(seed_file);
    if (!loaded.ok()) {
      std::cerr << "careops-loadgen: " << loaded.status().message() << "\n";
      return 2;
    }
    seed = std::move(loaded).value();
    context.seed = &seed;
  }
  if (token.empty()) token = DefaultToken(scenario_name);
  context.token = token;
  context.target = target;

  auto scenario = careops::loadgen::MakeScenario(scenario_name, context);
  if (!scenario.ok()) {
    std::cerr << "careops-loadgen: " << scenario.status().ToString() << "\n";
    return 2;
  }
  careops::loadgen::RunOptions options;
  options.scenario_name = scenario_name;
  options.target = scenario->grpc ? target : "mariadb";
  options.token = token;
  options.concurrency = static_cast<int>(concurrency);
  options.channels = scenario->grpc ? static_cast<int>(channels) : 0;
  options.threads = static_cast<int>(threads);
  options.rate = static_cast<double>(rate);
  options.warmup = warmup;
  options.duration = duration;
  options.deadline = deadline;
  options.progress = progress;
  careops::loadgen::RunSummary summary = scenario->grpc ? careops::loadgen::RunGrpc(*scenario->grpc, options)
                                                        : careops::loadgen::RunBlocking(*scenario->blocking, options);
  if (rate > 0 && reference_p50 > absl::ZeroDuration()) {
    careops::loadgen::OpenLoopRule rule;
    rule.reference_p50_nanos = absl::ToInt64Nanoseconds(reference_p50);
    rule.rate_tolerance = static_cast<double>(rate_tolerance_pct) / 100;
    rule.p99_factor = static_cast<double>(p99_limit_x);
    summary.rule = rule;
  }
  std::string json = summary.Json();
  std::cout << summary.Table() << json << std::endl;
  if (!json_out.empty()) {
    std::ofstream out(json_out, std::ios::app);
    out << json << "\n";
  }
  return summary.outcomes.errors() > 0 ? 1 : 0;
}
