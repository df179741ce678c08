// The scenarios careops-loadgen knows, by name:
//
//   echo                        careops.echo.v1.EchoService/Echo (the gRPC ceiling)
//   db.point_select             SELECT of one member-sized row by primary key
//   db.insert                   INSERT of one claim-sized row in its own transaction
//   membership.* / claims.*     the services' RPCs, over the data careops-seed made
//
// The db.* ceilings drive MariaDB directly through Connector/C++ with the common
// ConnectionPool and its cached prepared statements, one pooled connection per
// worker, in tables of their own (bench_member, bench_claim) in the DSN's schema,
// created and filled on first use.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/loadgen/scenario.h"
#include "tools/loadgen/seed_manifest.h"

namespace careops::loadgen {

struct ScenarioContext {
  std::string run_id;        // unique per run: prefix of every request id
  int concurrency = 16;      // db.*: pool size
  std::string mysql_dsn;     // db.*
  int64_t db_rows = 10000;   // db.point_select: rows in bench_member
  int payload_bytes = 16;    // echo
  const SeedManifest* seed = nullptr;  // membership.*, claims.*
  std::string target;                  // membership.*, claims.*: for set-up calls before the run
  std::string token;                   // their caller
};

struct ScenarioInfo {
  std::string name;
  std::string what;
  bool needs_seed = false;
  bool needs_database = false;
};
const std::vector<ScenarioInfo>& Scenarios();

// NOT_FOUND for an unknown name; FAILED_PRECONDITION when what it needs is missing.
absl::StatusOr<Scenario> MakeScenario(const std::string& name, const ScenarioContext& context);

// Stable, well-spread pick of `seq` into [0, n) (splitmix64).
uint64_t Spread(uint64_t seq, uint64_t n);

}  // namespace careops::loadgen
