// Fills a running careops stack with data through the public RPCs only, the way
// the business would: client accounts and their plans in membership, members by
// batch enrolment from a census, then claims taken through their life cycle to a
// mix of states. Writes a manifest of what it made (tools/loadgen/seed_manifest.h)
// for careops-loadgen's request bodies.
//
// Every request id is derived from `run_id`, so a seed run can be repeated on the
// same stack (with another run id) and never collides with earlier data.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "tools/loadgen/seed_manifest.h"
#include "tools/loadgen/stats.h"

namespace careops::seed {

struct SeedOptions {
  std::string membership_addr = "127.0.0.1:50051";
  std::string claims_addr = "127.0.0.1:50052";  // empty: no claims
  std::string membership_token = "dev-account-officer";
  std::string claims_token = "dev-manager";
  // Who logs the claims: not the approver, since the person who submitted a
  // claim may not approve it (claims' maker-checker).
  std::string submit_token = "dev-specialist";
  std::string finance_token = "dev-finance";  // settlement is finance's (services/claims/claims_access.cc)
  std::string claims_assignee = "dan.uy";  // the manager behind dev-manager
  std::string run_id;
  int accounts = 10;
  int members = 1000;
  int claims = 1000;     // spread over every state (see ClaimStatusFor)
  int in_review = 0;     // more claims left IN_REVIEW, for the ApproveClaim benchmark
  int batch_rows = 1000; // rows per BatchEnrollMembers call (at most 5000)
  int concurrency = 8;
  bool progress = true;
};

// What a run made and what went wrong; errors never stop a run.
struct SeedReport {
  int accounts = 0;
  int plans = 0;
  int members_created = 0;
  int members_refused = 0;  // duplicate or invalid rows
  std::map<std::string, int> claims_by_status;  // "SUBMITTED" -> n
  loadgen::ErrorCounts calls;  // every RPC's outcome
  std::string first_error;
  loadgen::SeedManifest manifest;
  std::string Describe() const;
};

// The state claim number `i` of `claims` is taken to: a fixed mix of every state
// (SUBMITTED, ASSIGNED, IN_REVIEW, PENDING_INFO, APPROVED, SETTLED, DENIED, CLOSED).
std::string ClaimStatusFor(uint64_t i);

SeedReport Seed(const SeedOptions& options);

}  // namespace careops::seed
