// The membership.* and claims.* scenarios: requests built from a seed manifest
// (see seed_manifest.h). Only the scenarios whose contracts this build has are listed.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/loadgen/scenarios.h"

namespace careops::loadgen {

std::vector<ScenarioInfo> ServiceScenarios();
// `name` is one of ServiceScenarios(); context.seed is set.
absl::StatusOr<Scenario> MakeServiceScenario(const std::string& name, const ScenarioContext& context);

}  // namespace careops::loadgen
