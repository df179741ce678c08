#include "tools/seed/seeder.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "careops/claims/v1/claims.grpc.pb.h"
#include "common/enum_codec.h"
#include "common/proto_time.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "tools/loadgen/scenarios.h"

namespace careops::seed {
namespace {

namespace mv1 = careops::membership::v1;
namespace cv1 = careops::claims::v1;

constexpr char kStart[] = "2025-01-01";
constexpr char kBenefit[] = "OUTPATIENT";

common::v1::Date StartDate() {
  common::v1::Date d;
  d.set_year(2025);
  d.set_month(1);
  d.set_day(1);
  return d;
}

common::v1::Date Today() { return TodayUtc(absl::Now()); }

common::v1::Money Php(int64_t minor) {
  common::v1::Money m;
  m.set_currency_code("PHP");
  m.set_amount_minor(minor);
  return m;
}

// Runs fn(0..n-1) on `threads` threads with a progress bar on stderr.
void ParallelFor(const std::string& label, int n, int threads, bool progress, const std::function<void(int)>& fn) {
  std::atomic<int> next{0}, done{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(1, std::min(threads, n)); ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        fn(i);
        ++done;
      }
    });
  }
  bool tty = isatty(STDERR_FILENO) != 0;
  auto start = std::chrono::steady_clock::now();
  auto draw = [&](bool last) {
    int d = done.load();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int width = 30, filled = n > 0 ? d * width / n : width;
    std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.');
    std::string line = absl::StrFormat("%-9s [%s] %d/%d  %.0f/s", label, bar, d, n, secs > 0 ? d / secs : 0.0);
    if (tty) {
      std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), last ? "\n" : "");
    } else if (last) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  };
  if (progress) {
    while (done.load() < n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 200 : 100));
      if (tty) draw(false);
    }
  }
  for (auto& w : workers) w.join();
  if (progress) draw(true);
}

class Seeder {
 public:
  explicit Seeder(const SeedOptions& options) : options_(options) {
    membership_ = mv1::MembershipService::NewStub(
        grpc::CreateChannel(options.membership_addr, grpc::InsecureChannelCredentials()));
    if (!options.claims_addr.empty()) {
      claims_ = cv1::ClaimsService::NewStub(grpc::CreateChannel(options.claims_addr, grpc::InsecureChannelCredentials()));
    }
  }

  SeedReport Run() {
    MakeAccounts();
    MakeMembers();
    if (claims_ != nullptr && !members_.empty()) MakeClaims();
    return std::move(report_);
  }

 private:
  struct Plan {
    std::string account_id, plan_id;
  };
  struct SeededMember {
    std::string member_id, account_id, plan_id;
  };

  // A context with a deadline and the caller's token.
  std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  }

  // Counts the outcome; false (and the first error kept) when it failed.
  bool Count(const grpc::Status& s, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    report_.calls.Add(static_cast<int>(s.error_code()));
    if (!s.ok() && report_.first_error.empty()) {
      report_.first_error = absl::StrCat(what, ": ", loadgen::StatusCodeName(s.error_code()), ": ", s.error_message());
    }
    return s.ok();
  }

  void MakeAccounts() {
    plans_.resize(static_cast<size_t>(options_.accounts));
    ParallelFor("accounts", options_.accounts, options_.concurrency, options_.progress, [&](int a) {
      mv1::CreateClientAccountRequest req;
      req.set_request_id(absl::StrCat(options_.run_id, "-account-", a));
      mv1::ClientAccount* acct = req.mutable_account();
      acct->set_name(absl::StrCat("Bench Corporation ", options_.run_id, " #", a + 1));
      acct->set_type(a % 5 == 4 ? mv1::CLIENT_ACCOUNT_TYPE_DIRECT_CLIENT : mv1::CLIENT_ACCOUNT_TYPE_CORPORATE);
      acct->set_account_officer("eva.tan");
      acct->set_contact_email(absl::StrCat("hr", a + 1, "@bench.example"));
      *acct->mutable_start_date() = StartDate();
      mv1::ClientAccount account;
      if (!Count(membership_->CreateClientAccount(Context(options_.membership_token).get(), req, &account),
                 "CreateClientAccount")) {
        return;
      }
      mv1::CreatePlanRequest plan_req;
      plan_req.set_request_id(absl::StrCat(options_.run_id, "-plan-", a));
      mv1::Plan* plan = plan_req.mutable_plan();
      plan->set_account_id(account.account_id());
      plan->set_name("Bench Health Plan");
      plan->set_currency_code("PHP");
      mv1::Benefit* outpatient = plan->add_benefits();
      outpatient->set_code(kBenefit);
      outpatient->set_category("outpatient");
      *outpatient->mutable_annual_limit() = Php(100'000'000);  // PHP 1,000,000.00: approvals never run out
      mv1::Benefit* dental = plan->add_benefits();
      dental->set_code("DENTAL");
      dental->set_category("dental");
      *dental->mutable_annual_limit() = Php(2'000'000);
      *dental->mutable_per_visit_cap() = Php(500'000);
      dental->set_copay_basis_points(2000);
      dental->set_waiting_period_days(30);
      mv1::Plan created;
      if (!Count(membership_->CreatePlan(Context(options_.membership_token).get(), plan_req, &created), "CreatePlan")) {
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      plans_[static_cast<size_t>(a)] = {account.account_id(), created.plan_id()};
      ++report_.accounts;
      ++report_.plans;
    });
    std::vector<Plan> made;
    for (const Plan& p : plans_) {
      if (p.plan_id.empty()) continue;
      made.push_back(p);
      report_.manifest.Add("account", {{"id", p.account_id}, {"start", kStart}});
      report_.manifest.Add("plan", {{"id", p.plan_id}, {"account_id", p.account_id}, {"start", kStart},
                                    {"benefit", kBenefit}});
    }
    plans_ = std::move(made);
  }

  void MakeMembers() {
    if (plans_.empty() || options_.members <= 0) return;
    // Census batches: each account's share of the members, batch_rows at a time.
    struct Batch {
      size_t plan;
      int first, count;
    };
    std::vector<Batch> batches;
    int per_account = options_.members / static_cast<int>(plans_.size());
    int extra = options_.members % static_cast<int>(plans_.size());
    int next = 0;
    for (size_t p = 0; p < plans_.size(); ++p) {
      int n = per_account + (static_cast<int>(p) < extra ? 1 : 0);
      for (int off = 0; off < n; off += options_.batch_rows) {
        batches.push_back({p, next + off, std::min(options_.batch_rows, n - off)});
      }
      next += n;
    }
    static const char* kGiven[] = {"Maria", "Jose", "Ana", "Juan", "Rosa", "Carlo", "Liza", "Paolo"};
    static const char* kFamily[] = {"Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Torres", "Flores"};
    ParallelFor("members", static_cast<int>(batches.size()), options_.concurrency, options_.progress, [&](int b) {
      const Batch& batch = batches[static_cast<size_t>(b)];
      const Plan& plan = plans_[batch.plan];
      mv1::BatchEnrollMembersRequest req;
      req.set_request_id(absl::StrCat(options_.run_id, "-census-", b));
      req.set_account_id(plan.account_id);
      for (int i = batch.first; i < batch.first + batch.count; ++i) {
        mv1::BatchEnrollRow* row = req.add_rows();
        row->set_plan_id(plan.plan_id);
        row->set_external_ref(absl::StrCat("EMP-", options_.run_id, "-", i));
        mv1::Person* person = row->mutable_person();
        person->set_given_name(kGiven[i % 8]);
        person->set_family_name(absl::StrCat(kFamily[(i / 8) % 8], "-", i));
        person->mutable_birth_date()->set_year(1960 + i % 40);
        person->mutable_birth_date()->set_month(1 + i % 12);
        person->mutable_birth_date()->set_day(1 + i % 28);
        person->set_sex(i % 2 == 0 ? "F" : "M");
        *row->mutable_effective_date() = StartDate();
      }
      mv1::BatchEnrollMembersResponse resp;
      if (!Count(membership_->BatchEnrollMembers(Context(options_.membership_token).get(), req, &resp),
                 "BatchEnrollMembers")) {
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      for (const mv1::BatchEnrollResult& r : resp.results()) {
        if (r.outcome() == mv1::BATCH_ROW_OUTCOME_CREATED) {
          members_.push_back({r.member_id(), plan.account_id, plan.plan_id});
          ++report_.members_created;
        } else {
          ++report_.members_refused;
          if (report_.first_error.empty()) report_.first_error = absl::StrCat("census row refused: ", r.error());
        }
      }
    });
    for (const SeededMember& m : members_) {
      report_.manifest.Add("member", {{"id", m.member_id}, {"account_id", m.account_id}, {"plan_id", m.plan_id},
                                      {"benefit", kBenefit}});
    }
  }

  // Takes claim `i` from submission to `target`, one transition at a time, each
  // with the etag the previous one returned.
  void MakeClaim(int i, const std::string& target) {
    const SeededMember& m = members_[loadgen::Spread(static_cast<uint64_t>(i) + 7919, members_.size())];
    auto id = [&](const char* step) { return absl::StrCat(options_.run_id, "-claim-", i, "-", step); };
    const std::string& token = options_.claims_token;
    cv1::SubmitClaimRequest submit;
    submit.set_request_id(id("submit"));
    submit.set_type(i % 10 == 0 ? cv1::CLAIM_TYPE_PRE_AUTHORIZATION : cv1::CLAIM_TYPE_CLAIM);
    submit.set_member_id(m.member_id);
    submit.set_benefit_code(kBenefit);
    *submit.mutable_service_date() = Today();
    submit.set_provider_id(absl::StrCat("PROV-", i % 211));
    *submit.mutable_amount_claimed() = Php(50'000 + (i % 150) * 1'000);  // PHP 500.00 .. 2,000.00
    submit.set_channel(static_cast<cv1::Channel>(1 + i % 4));
    submit.add_diagnosis_codes("J06.9");
    submit.add_procedure_codes("99213");
    cv1::Claim claim;
    if (!Count(claims_->SubmitClaim(Context(options_.submit_token).get(), submit, &claim), "SubmitClaim")) return;

    auto transition = [&](const char* step, auto rpc, auto request) -> bool {
      request.set_request_id(id(step));
      request.set_claim_id(claim.claim_id());
      request.set_etag(claim.etag());
      cv1::Claim next;
      const std::string& as = std::string_view(step) == "settle" ? options_.finance_token : token;
      if (!Count((claims_.get()->*rpc)(Context(as).get(), request, &next), step)) return false;
      claim = std::move(next);
      return true;
    };
    cv1::TransitionRequest with_reason;
    with_reason.set_reason("seeded by careops-seed");
    bool ok = claim.status() == cv1::CLAIM_STATUS_SUBMITTED;
    auto reach = [&](const char* s) { return target == s; };
    bool past_assign = !reach("SUBMITTED");
    bool past_review = past_assign && !reach("ASSIGNED");
    bool approve = reach("APPROVED") || reach("SETTLED") || reach("CLOSED");
    if (ok && past_assign) {
      cv1::AssignClaimRequest assign;
      assign.set_assignee(options_.claims_assignee);
      ok = transition("assign", &cv1::ClaimsService::Stub::AssignClaim, assign);
    }
    if (ok && past_review) ok = transition("review", &cv1::ClaimsService::Stub::StartReview, with_reason);
    if (ok && reach("PENDING_INFO")) ok = transition("info", &cv1::ClaimsService::Stub::RequestInformation, with_reason);
    if (ok && reach("DENIED")) ok = transition("deny", &cv1::ClaimsService::Stub::DenyClaim, with_reason);
    if (ok && approve) ok = transition("approve", &cv1::ClaimsService::Stub::ApproveClaim, cv1::ApproveClaimRequest());
    if (ok && (reach("SETTLED") || reach("CLOSED"))) {
      cv1::SettleClaimRequest settle;
      settle.set_payment_reference(absl::StrCat("PAY-", options_.run_id, "-", i));
      ok = transition("settle", &cv1::ClaimsService::Stub::SettleClaim, settle);
    }
    if (ok && reach("CLOSED")) ok = transition("close", &cv1::ClaimsService::Stub::CloseClaim, with_reason);
    std::string status = EnumShortName(claim.status());
    std::lock_guard<std::mutex> lock(mu_);
    ++report_.claims_by_status[status];
    claims_made_.push_back({claim.claim_id(), status, m.member_id});
  }

  void MakeClaims() {
    int total = options_.claims + options_.in_review;
    ParallelFor("claims", total, options_.concurrency, options_.progress, [&](int i) {
      MakeClaim(i, i < options_.claims ? ClaimStatusFor(static_cast<uint64_t>(i)) : "IN_REVIEW");
    });
    for (const auto& c : claims_made_) {
      report_.manifest.Add("claim", {{"id", c[0]}, {"status", c[1]}, {"member_id", c[2]}});
    }
  }

  const SeedOptions& options_;
  std::unique_ptr<mv1::MembershipService::Stub> membership_;
  std::unique_ptr<cv1::ClaimsService::Stub> claims_;
  std::mutex mu_;
  SeedReport report_;
  std::vector<Plan> plans_;
  std::vector<SeededMember> members_;
  std::vector<std::array<std::string, 3>> claims_made_;
};

}  // namespace

std::string ClaimStatusFor(uint64_t i) {
  // Percentages of the mix, in 20 slots of 5%.
  static const char* kMix[20] = {"SUBMITTED", "SUBMITTED", "SUBMITTED", "SUBMITTED", "SUBMITTED",
                                 "ASSIGNED",  "ASSIGNED",  "IN_REVIEW", "IN_REVIEW", "IN_REVIEW",
                                 "PENDING_INFO", "APPROVED", "APPROVED", "APPROVED", "SETTLED",
                                 "SETTLED",   "SETTLED",   "DENIED",    "CLOSED",    "CLOSED"};
  return kMix[loadgen::Spread(i, 20)];
}

std::string SeedReport::Describe() const {
  std::string out = absl::StrFormat("accounts %d, plans %d, members %d", accounts, plans, members_created);
  if (members_refused > 0) absl::StrAppend(&out, " (", members_refused, " census rows refused)");
  int claims = 0;
  std::string by;
  for (const auto& [status, n] : claims_by_status) {
    claims += n;
    absl::StrAppend(&by, by.empty() ? "" : ", ", status, " ", n);
  }
  absl::StrAppend(&out, ", claims ", claims, by.empty() ? "" : absl::StrCat(" (", by, ")"), "\n");
  absl::StrAppend(&out, "RPCs: ", calls.total(), " made, ", calls.errors(), " failed");
  if (calls.errors() > 0) absl::StrAppend(&out, ": ", calls.Describe(), "; first: ", first_error);
  absl::StrAppend(&out, "\n");
  return out;
}

SeedReport Seed(const SeedOptions& options) {
  Seeder seeder(options);
  return seeder.Run();
}

}  // namespace careops::seed
