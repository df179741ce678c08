// careops-claims: serves health, reflection and /metrics over its own schema.
// Its domain RPCs arrive with their own issue (see ../shared/DESIGN.md).
#include "common/server.h"

namespace careops {
std::vector<Migration> careops_claims_migrations();
}

int main(int argc, char** argv) {
  careops::FlagSet flags("claims");
  careops::ServiceConfig config = careops::DefaultServiceConfig("claims");
  careops::RegisterServiceFlags(flags, config);
  auto runtime = careops::StartService(flags, config, argc, argv, careops::careops_claims_migrations());
  if (!runtime.ok()) return careops::ExitCode(runtime.status());
  return careops::ServeUntilStopped(**runtime, {});
}
