// careops-health: the standard gRPC health check from the command line.
//
//   careops-health [--wait=30s] [--service=careops.claims.v1.ClaimsService]
//                  [--tls_cert=C --tls_key=K --tls_ca=CA] HOST:PORT
//
// With the --tls_* files it connects over mutual TLS (as every careops service
// requires unless it runs with --insecure_plaintext); without them, plaintext.
// Prints SERVING / NOT_SERVING / UNKNOWN / the error, and exits 0 only on SERVING.
// With --wait it polls until SERVING or the wait runs out (used by tools/dev up).
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <thread>

#include "absl/time/clock.h"
#include "common/config.h"
#include "tools/health/health_check.h"

int main(int argc, char** argv) {
  careops::FlagSet flags("health");
  absl::Duration wait = absl::ZeroDuration();
  std::string service;
  flags.Duration("wait", &wait, "keep polling until SERVING for this long");
  flags.String("service", &service, "service name to check; empty checks the server as a whole");
  careops::TlsFiles tls;
  careops::RegisterTlsFlags(flags, tls);
  std::vector<const char*> args;
  std::string target;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && argv[i][0] != '-') {
      target = argv[i];
    } else {
      args.push_back(argv[i]);
    }
  }
  if (auto s = flags.Parse(static_cast<int>(args.size()), args.data(), careops::EnvFromProcess());
      !s.ok() || target.empty()) {
    std::cerr << (s.ok() ? "HOST:PORT is required" : std::string(s.message())) << "\n"
              << "usage: careops-health [--wait=30s] [--service=NAME] HOST:PORT\n";
    return 2;
  }
  auto credentials = careops::ChannelCredentialsFor(tls);
  if (!credentials.ok()) {
    std::cerr << credentials.status().message() << "\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(target, *credentials);
  absl::Time give_up = absl::Now() + wait;
  std::string last;
  do {
    last = careops::CheckHealth(*channel, service, absl::Seconds(2));
    if (last == "SERVING") break;
    if (absl::Now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (true);
  std::cout << last << "\n";
  return last == "SERVING" ? 0 : 1;
}
