// careops-seed: fills a running stack through its public RPCs and writes the
// manifest careops-loadgen builds its requests from.
//
//   careops-seed --accounts=200 --members=100000 --claims=200000 --in_review=20000 --out=seed.txt
//
// Prints what it made (and every failed call by status code). Exits 1 when any
// call failed, 2 for bad flags.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "tools/seed/seeder.h"

int main(int argc, char** argv) {
  careops::FlagSet flags("seed");
  careops::seed::SeedOptions o;
  std::string out;
  int64_t accounts = o.accounts, members = o.members, claims = o.claims, in_review = o.in_review,
          batch_rows = o.batch_rows, concurrency = o.concurrency;
  flags.String("membership_addr", &o.membership_addr, "membership gRPC address");
  flags.String("claims_addr", &o.claims_addr, "claims gRPC address; empty: make no claims");
  flags.String("membership_token", &o.membership_token, "caller token for membership");
  flags.String("claims_token", &o.claims_token, "caller token for claims (a role that may approve)");
  flags.String("submit_token", &o.submit_token, "caller token that submits the claims (not the approver)");
  flags.String("finance_token", &o.finance_token, "caller token that settles claims (role finance)");
  flags.String("claims_assignee", &o.claims_assignee, "user claims are assigned to");
  flags.String("run_id", &o.run_id, "prefix of every request id and external ref (default: time and pid)");
  flags.Int("accounts", &accounts, 1, 100000, "client accounts, one plan each");
  flags.Int("members", &members, 0, 10'000'000, "members, enrolled in census batches spread over the accounts");
  flags.Int("claims", &claims, 0, 10'000'000, "claims, taken to a mix of every state");
  flags.Int("in_review", &in_review, 0, 10'000'000, "additional claims left IN_REVIEW for approval benchmarks");
  flags.Int("batch_rows", &batch_rows, 1, 5000, "rows per BatchEnrollMembers call");
  flags.Int("concurrency", &concurrency, 1, 256, "calls in flight");
  flags.String("out", &out, "write the manifest here (default: stdout after the report)");
  flags.Bool("progress", &o.progress, "progress bars on stderr");
  absl::Status parsed = flags.Parse(argc, argv, careops::EnvFromProcess());
  if (flags.help_requested()) {
    std::cout << "usage: careops-seed [--flag=value ...]\n" << flags.Usage();
    return 0;
  }
  if (!parsed.ok()) {
    std::cerr << "careops-seed: " << parsed.message() << "\n";
    return 2;
  }
  o.accounts = static_cast<int>(accounts);
  o.members = static_cast<int>(members);
  o.claims = static_cast<int>(claims);
  o.in_review = static_cast<int>(in_review);
  o.batch_rows = static_cast<int>(batch_rows);
  o.concurrency = static_cast<int>(concurrency);
  if (o.run_id.empty()) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    o.run_id = absl::StrCat("s", s.count(), "p", getpid());
  }
  careops::seed::SeedReport report = careops::seed::Seed(o);
  std::cerr << "careops-seed " << o.run_id << ": " << report.Describe();
  if (out.empty()) {
    std::cout << report.manifest.Format();
  } else {
    std::ofstream file(out);
    file << "# careops-seed run " << o.run_id << "\n" << report.manifest.Format();
    if (!file) {
      std::cerr << "careops-seed: cannot write " << out << "\n";
      return 1;
    }
    std::cerr << "manifest: " << out << "\n";
  }
  return report.calls.errors() > 0 ? 1 : 0;
}
