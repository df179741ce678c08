// careops-retention: serves health, reflection and /metrics over its own schema.
// Its domain RPCs arrive with their own issue (see ../shared/DESIGN.md).
#include "common/server.h"

namespace careops {
std::vector<Migration> careops_retention_migrations();
}

int main(int argc, char** argv) {
  careops::FlagSet flags("retention");
  careops::ServiceConfig config = careops::DefaultServiceConfig("retention");
  careops::RegisterServiceFlags(flags, config);
  auto runtime = careops::StartService(flags, config, argc, argv, careops::careops_retention_migrations());
  if (!runtime.ok()) return careops::ExitCode(runtime.status());
  return careops::ServeUntilStopped(**runtime, {});
}
