#include "tools/loadgen/service_scenarios.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "common/status.h"

#if CAREOPS_LOADGEN_HAS_MEMBERSHIP
#include "careops/membership/v1/membership.pb.h"
#endif
#if CAREOPS_LOADGEN_HAS_CLAIMS
#include "careops/claims/v1/claims.grpc.pb.h"
#endif

namespace careops::loadgen {
namespace {

[[maybe_unused]] grpc::ByteBuffer Serialize(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

// Today's UTC date: the service date of claims and eligibility checks, so seeded
// members (effective from their account's start) are covered on it.
[[maybe_unused]] common::v1::Date Today() { return TodayUtc(absl::Now()); }

[[maybe_unused]] bool ParseDate(const std::string& text, common::v1::Date* out) {
  int y = 0, m = 0, d = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%d", &y, &m, &d) != 3) return false;
  out->set_year(y);
  out->set_month(m);
  out->set_day(d);
  return true;
}

// A field of a manifest record; "" when absent.
[[maybe_unused]] const std::string& Field(const SeedRecord& r, std::string_view key) {
  static const std::string kEmpty;
  auto it = r.find(key);
  return it == r.end() ? kEmpty : it->second;
}

// A scenario whose request is a function of the sequence number.
template <typename Fn>
class RequestScenario final : public GrpcScenario {
 public:
  RequestScenario(std::string method, Fn make) : method_(std::move(method)), make_(std::move(make)) {}
  const std::string& method() const override { return method_; }
  grpc::ByteBuffer Request(uint64_t seq) override { return Serialize(make_(seq)); }

 private:
  const std::string method_;
  Fn make_;
};

template <typename Fn>
Scenario Make(std::string method, Fn make) {
  Scenario s;
  s.grpc = std::make_unique<RequestScenario<Fn>>(std::move(method), std::move(make));
  return s;
}

// Seeded members with the benefit code their plan covers.
struct SeededMember {
  std::string member_id;
  std::string benefit;
};

[[maybe_unused]] absl::StatusOr<std::vector<SeededMember>> Members(const SeedManifest& seed) {
  std::vector<SeededMember> out;
  for (const SeedRecord& r : seed.Of("member")) out.push_back({Field(r, "id"), Field(r, "benefit")});
  if (out.empty()) return absl::FailedPreconditionError("the seed manifest has no member records");
  return out;
}

#if CAREOPS_LOADGEN_HAS_MEMBERSHIP
namespace mv1 = careops::membership::v1;

absl::StatusOr<Scenario> Membership(const std::string& name, const ScenarioContext& context) {
  const std::string prefix = "/careops.membership.v1.MembershipService/";
  if (name == "membership.GetMember" || name == "membership.CheckEligibility") {
    CAREOPS_ASSIGN_OR_RETURN(std::vector<SeededMember> members, Members(*context.seed));
    if (name == "membership.GetMember") {
      return Make(prefix + "GetMember", [members](uint64_t seq) {
        mv1::GetMemberRequest r;
        r.set_member_id(members[Spread(seq, members.size())].member_id);
        return r;
      });
    }
    common::v1::Date today = Today();
    return Make(prefix + "CheckEligibility", [members, today](uint64_t seq) {
      const SeededMember& m = members[Spread(seq, members.size())];
      mv1::CheckEligibilityRequest r;
      r.set_member_id(m.member_id);
      r.set_benefit_code(m.benefit);
      *r.mutable_service_date() = today;
      r.mutable_amount()->set_currency_code("PHP");
      r.mutable_amount()->set_amount_minor(50000);
      return r;
    });
  }
  if (name == "membership.EnrollMember") {
    struct SeededPlan {
      std::string plan_id, account_id;
      common::v1::Date start;
    };
    std::vector<SeededPlan> plans;
    for (const SeedRecord& r : context.seed->Of("plan")) {
      SeededPlan p{Field(r, "id"), Field(r, "account_id"), {}};
      if (!ParseDate(Field(r, "start"), &p.start)) {
        return absl::FailedPreconditionError(absl::StrCat("seed plan ", p.plan_id, " has no start=YYYY-MM-DD"));
      }
      plans.push_back(std::move(p));
    }
    if (plans.empty()) return absl::FailedPreconditionError("the seed manifest has no plan records");
    std::string run_id = context.run_id;
    return Make(prefix + "EnrollMember", [plans, run_id](uint64_t seq) {
      const SeededPlan& p = plans[Spread(seq, plans.size())];
      mv1::EnrollMemberRequest r;
      r.set_request_id(absl::StrCat(run_id, "-", seq));
      r.set_account_id(p.account_id);
      r.set_plan_id(p.plan_id);
      r.set_external_ref(absl::StrCat("LG-", run_id, "-", seq));  // never collides
      mv1::Person* person = r.mutable_person();
      person->set_given_name("Load");
      person->set_family_name(absl::StrCat("Generated", seq));
      person->mutable_birth_date()->set_year(1980 + static_cast<int>(seq % 30));
      person->mutable_birth_date()->set_month(1 + static_cast<int>(seq % 12));
      person->mutable_birth_date()->set_day(1 + static_cast<int>(seq % 28));
      *r.mutable_effective_date() = p.start;
      return r;
    });
  }
  return absl::NotFoundError(name);
}
#endif

#if CAREOPS_LOADGEN_HAS_CLAIMS
namespace cv1 = careops::claims::v1;

struct ClaimToApprove {
  std::string claim_id, etag;
};

// Every claim IN_REVIEW now, with its etag: each ApproveClaim consumes one, so a
// run approves claims no earlier run touched.
absl::StatusOr<std::vector<ClaimToApprove>> ClaimsInReview(const ScenarioContext& context) {
  auto channel = grpc::CreateChannel(context.target, grpc::InsecureChannelCredentials());
  auto stub = cv1::ClaimsService::NewStub(channel);
  std::vector<ClaimToApprove> out;
  std::string token;
  do {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("authorization", "Bearer " + context.token);
    cv1::ListClaimsRequest request;
    request.set_page_size(500);
    request.set_page_token(token);
    request.set_status(cv1::CLAIM_STATUS_IN_REVIEW);
    cv1::ListClaimsResponse response;
    grpc::Status s = stub->ListClaims(&ctx, request, &response);
    if (!s.ok()) return Annotate(FromGrpcStatus(s), "listing claims IN_REVIEW to approve");
    for (const cv1::Claim& c : response.claims()) out.push_back({c.claim_id(), c.etag()});
    token = response.next_page_token();
  } while (!token.empty());
  if (out.empty()) {
    return absl::FailedPreconditionError("no claims IN_REVIEW to approve: run careops-seed with --in_review");
  }
  return out;
}

absl::StatusOr<Scenario> Claims(const std::string& name, const ScenarioContext& context) {
  const std::string prefix = "/careops.claims.v1.ClaimsService/";
  if (name == "claims.SubmitClaim") {
    CAREOPS_ASSIGN_OR_RETURN(std::vector<SeededMember> members, Members(*context.seed));
    common::v1::Date today = Today();
    std::string run_id = context.run_id;
    return Make(prefix + "SubmitClaim", [members, today, run_id](uint64_t seq) {
      const SeededMember& m = members[Spread(seq, members.size())];
      cv1::SubmitClaimRequest r;
      r.set_request_id(absl::StrCat(run_id, "-", seq));
      r.set_type(cv1::CLAIM_TYPE_CLAIM);
      r.set_member_id(m.member_id);
      r.set_benefit_code(m.benefit);
      *r.mutable_service_date() = today;
      r.set_provider_id(absl::StrCat("PROV-", seq % 997));
      r.mutable_amount_claimed()->set_currency_code("PHP");
      r.mutable_amount_claimed()->set_amount_minor(10000 + static_cast<int64_t>(seq % 9000) * 10);
      r.set_channel(static_cast<cv1::Channel>(1 + seq % 4));
      r.add_diagnosis_codes("J06.9");
      r.add_procedure_codes("99213");
      return r;
    });
  }
  if (name == "claims.GetClaim") {
    std::vector<std::string> ids;
    for (const SeedRecord& r : context.seed->Of("claim")) ids.push_back(Field(r, "id"));
    if (ids.empty()) return absl::FailedPreconditionError("the seed manifest has no claim records");
    return Make(prefix + "GetClaim", [ids](uint64_t seq) {
      cv1::GetClaimRequest r;
      r.set_claim_id(ids[Spread(seq, ids.size())]);
      return r;
    });
  }
  if (name == "claims.ApproveClaim") {
    CAREOPS_ASSIGN_OR_RETURN(std::vector<ClaimToApprove> claims, ClaimsInReview(context));
    std::string run_id = context.run_id;
    // In order, each once; past the end they repeat and fail, which the run reports.
    return Make(prefix + "ApproveClaim", [claims, run_id](uint64_t seq) {
      const ClaimToApprove& c = claims[seq % claims.size()];
      cv1::ApproveClaimRequest r;
      r.set_request_id(absl::StrCat(run_id, "-", seq));
      r.set_claim_id(c.claim_id);
      r.set_etag(c.etag);
      r.set_reason("benchmark approval");
      return r;
    });
  }
  return absl::NotFoundError(name);
}
#endif

}  // namespace

std::vector<ScenarioInfo> ServiceScenarios() {
  std::vector<ScenarioInfo> out;
#if CAREOPS_LOADGEN_HAS_MEMBERSHIP
  out.push_back({"membership.CheckEligibility", "eligibility of a seeded member for PHP 500.00 today", true, false});
  out.push_back({"membership.GetMember", "a seeded member by id", true, false});
  out.push_back({"membership.EnrollMember", "a new member (unique external_ref) in a seeded plan", true, false});
#endif
#if CAREOPS_LOADGEN_HAS_CLAIMS
  out.push_back({"claims.SubmitClaim", "a claim for a seeded member (screened by membership)", true, false});
  out.push_back({"claims.GetClaim", "a seeded claim by id", true, false});
  out.push_back({"claims.ApproveClaim", "approves claims IN_REVIEW (listed at start), each once", true, false});
#endif
  return out;
}

absl::StatusOr<Scenario> MakeServiceScenario(const std::string& name, const ScenarioContext& context) {
#if CAREOPS_LOADGEN_HAS_MEMBERSHIP
  if (name.rfind("membership.", 0) == 0) return Membership(name, context);
#endif
#if CAREOPS_LOADGEN_HAS_CLAIMS
  if (name.rfind("claims.", 0) == 0) return Claims(name, context);
#endif
  return absl::NotFoundError(absl::StrCat("scenario ", name, " needs a contract this build does not have"));
}

}  // namespace careops::loadgen
