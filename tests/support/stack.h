// Fixtures the integration tests of several services share: the membership +
// claims pair of real binaries, waiting for SERVING, and a corporate client with
// a plan and members made through membership's public contract.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "careops/membership/v1/membership.grpc.pb.h"
#include "tests/support/harness.h"

namespace careops::testing {

// SERVING within the default wait, or a failure carrying the process's output.
::testing::AssertionResult Serving(ServiceProcess& p);

// Real careops-membership and careops-claims, each on a fresh schema of its
// own, claims pointed at membership (plus `claims_args`).
class MembershipAndClaims {
 public:
  explicit MembershipAndClaims(const std::vector<std::string>& claims_args = {});
  // Both SERVING (use in SetUpTestSuite: ASSERT_TRUE(stack->Serving())).
  ::testing::AssertionResult Serving();
  ServiceProcess& membership() { return *membership_; }
  ServiceProcess& claims() { return *claims_; }
  // For test setup that must reach a table directly (cloning rows at volume).
  const TestSchema& claims_schema() const { return claims_schema_; }

 private:
  TestSchema membership_schema_{"membership"};
  TestSchema claims_schema_{"claims"};
  std::unique_ptr<ServiceProcess> membership_;
  std::unique_ptr<ServiceProcess> claims_;
};

struct Benefit {
  std::string code, category;
  int copay_basis_points = 0;       // the member's share
  int64_t per_visit_cap_minor = 0;  // 0: no cap
};

struct CorporateClient {
  std::string account_id, plan_id;
  std::vector<std::string> member_ids;
};

// A corporate account (started 2024-01-01) with one PHP plan whose `benefits`
// each allow `annual_limit_minor` a year, and `members` members enrolled from the
// account's start, all as the development account officer. Failures are test
// failures (EXPECT), so a broken setup never passes silently.
CorporateClient NewCorporateClient(membership::v1::MembershipService::Stub& membership,
                                   const std::vector<Benefit>& benefits, int64_t annual_limit_minor,
                                   int members = 1);

}  // namespace careops::testing
