// The bordereau stream under load and at the money bound, end to end: the real
// careops-claims and careops-membership binaries on their own schemas, so the
// thousands of rows and the huge totals made here touch no other test.
//
// careops-claims runs with a pool of 4 database connections, fewer than the 16
// stalled readers, so a stream that held a connection while its client does not
// read would starve every other RPC.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "careops/claims/v1/claims.grpc.pb.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/ids.h"
#include "common/money.h"
#include "common/proto_time.h"
#include "tests/support/harness.h"
#include "tests/support/stack.h"
#include "tests/support/rpc.h"

namespace careops {
namespace {

namespace cv1 = ::careops::claims::v1;
namespace mv1 = ::careops::membership::v1;

constexpr char kSpecialist[] = "dev-specialist";
constexpr char kManager[] = "dev-manager";
constexpr int kStalledReaders = 16;
constexpr int kClonedRows = 3000;  // ~600 KB per stream: far more than HTTP/2 buffers hold

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) { return testing::BearerContext(token); }

absl::CivilDay TodayUtc() { return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()); }

class BordereauTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new testing::MembershipAndClaims({"--db_pool_size=4"});
    ASSERT_TRUE(stack_->Serving());
  }
  static void TearDownTestSuite() { delete stack_; }

  void SetUp() override {
    claims_stub_ = cv1::ClaimsService::NewStub(grpc::CreateChannel(stack_->claims().address(), grpc::InsecureChannelCredentials()));
    membership_stub_ =
        mv1::MembershipService::NewStub(grpc::CreateChannel(stack_->membership().address(), grpc::InsecureChannelCredentials()));
  }

  // A corporate account whose plan's OUTPATIENT benefit has the largest limit
  // careops keeps (10^15 minor units), with `members` members.
  struct Account {
    std::string account_id;
    std::vector<std::string> member_ids;
  };
  Account NewAccount(int members) {
    testing::CorporateClient c = testing::NewCorporateClient(*membership_stub_, {{"OUTPATIENT", "outpatient"}},
                                                             kMaxMoneyMinor, members);
    return {c.account_id, c.member_ids};
  }

  // Submitted today, assigned, reviewed and approved in full by the manager.
  cv1::Claim ApprovedClaim(const std::string& member_id, int64_t amount_minor) {
    cv1::SubmitClaimRequest submit;
    submit.set_request_id(NewId());
    submit.set_type(cv1::CLAIM_TYPE_CLAIM);
    submit.set_member_id(member_id);
    submit.set_benefit_code("OUTPATIENT");
    *submit.mutable_service_date() = ToProto(TodayUtc());
    submit.set_provider_id("PROV-1");
    *submit.mutable_amount_claimed() = testing::Php(amount_minor);
    submit.set_channel(cv1::CHANNEL_PORTAL);
    cv1::Claim claim;
    grpc::Status s = claims_stub_->SubmitClaim(Ctx(kSpecialist).get(), submit, &claim);
    EXPECT_TRUE(s.ok()) << s.error_message();

    cv1::AssignClaimRequest assign;
    assign.set_request_id(NewId());
    assign.set_claim_id(claim.claim_id());
    assign.set_etag(claim.etag());
    assign.set_assignee("ana.reyes");
    s = claims_stub_->AssignClaim(Ctx(kManager).get(), assign, &claim);
    EXPECT_TRUE(s.ok()) << s.error_message();

    cv1::TransitionRequest review;
    review.set_request_id(NewId());
    review.set_claim_id(claim.claim_id());
    review.set_etag(claim.etag());
    s = claims_stub_->StartReview(Ctx(kManager).get(), review, &claim);
    EXPECT_TRUE(s.ok()) << s.error_message();

    cv1::ApproveClaimRequest approve;
    approve.set_request_id(NewId());
    approve.set_claim_id(claim.claim_id());
    approve.set_etag(claim.etag());
    s = claims_stub_->ApproveClaim(Ctx(kManager).get(), approve, &claim);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(claim.status(), cv1::CLAIM_STATUS_APPROVED);
    return claim;
  }

  static cv1::StreamBordereauRequest ThisMonth(const std::string& account_id) {
    cv1::StreamBordereauRequest req;
    const absl::CivilDay today = TodayUtc();
    req.set_year(static_cast<int>(today.year()));
    req.set_month(today.month());
    req.set_account_id(account_id);
    return req;
  }

  static testing::MembershipAndClaims* stack_;
  std::unique_ptr<cv1::ClaimsService::Stub> claims_stub_;
  std::unique_ptr<mv1::MembershipService::Stub> membership_stub_;
};

testing::MembershipAndClaims* BordereauTest::stack_ = nullptr;

TEST_F(BordereauTest, TotalPastTheMoneyBoundIsFailedPreconditionNotAWrappedTotal) {
  // Two claims of 6 * 10^14 each: every amount is valid, their sum is not.
  Account account = NewAccount(2);
  const int64_t amount = 600'000'000'000'000;
  for (const std::string& member_id : account.member_ids) ApprovedClaim(member_id, amount);

  auto ctx = Ctx("dev-finance");
  auto reader = claims_stub_->StreamBordereau(ctx.get(), ThisMonth(account.account_id));
  cv1::BordereauChunk chunk;
  int rows = 0, totals = 0;
  while (reader->Read(&chunk)) {
    if (chunk.has_row()) ++rows;
    if (chunk.has_total()) ++totals;
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("10^15"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("outpatient"), std::string::npos) << s.error_message();
  EXPECT_EQ(totals, 0) << "no total is sent once one has overflowed";
  EXPECT_LE(rows, 2);

  // An amount past the bound never gets in.
  cv1::SubmitClaimRequest too_big;
  too_big.set_request_id(NewId());
  too_big.set_type(cv1::CLAIM_TYPE_CLAIM);
  too_big.set_member_id(account.member_ids[0]);
  too_big.set_benefit_code("OUTPATIENT");
  *too_big.mutable_service_date() = ToProto(TodayUtc());
  too_big.set_provider_id("PROV-1");
  *too_big.mutable_amount_claimed() = testing::Php(kMaxMoneyMinor + 1);
  too_big.set_channel(cv1::CHANNEL_PORTAL);
  cv1::Claim ignored;
  s = claims_stub_->SubmitClaim(Ctx(kSpecialist).get(), too_big, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "amount_claimed.amount_minor: must be at most 10^15 (1000000000000000) minor units in absolute value");
}

// A client of its own per reader (no shared HTTP/2 connection or window) that
// opens the stream, reads one message and then never reads again.
struct StalledReader {
  ~StalledReader() {
    if (ctx) ctx->TryCancel();  // also when an assertion ends the test early
  }
  std::unique_ptr<cv1::ClaimsService::Stub> stub;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<cv1::BordereauChunk>> reader;
};

TEST_F(BordereauTest, SixteenStalledReadersLeaveGetClaimAnswering) {
  Account account = NewAccount(1);
  cv1::Claim seed = ApprovedClaim(account.member_ids[0], 100000);
  // Thousands of bordereau rows in this account, copied from the seed claim in
  // the claims schema (setup only; every assertion goes through the RPCs).
  const std::string schema = absl::StrCat("`", stack_->claims_schema().dsn().schema, "`");
  testing::RootExec(testing::RootDsn(),
                    {absl::StrCat("CREATE TABLE ", schema, ".bordereau_clones AS SELECT c.*, s.seq AS n FROM ", schema,
                                  ".claims c JOIN ", schema, ".seq_1_to_", kClonedRows,
                                  " s WHERE c.claim_id = '", seed.claim_id(), "'"),
                     absl::StrCat("UPDATE ", schema, ".bordereau_clones SET claim_id = CONCAT('ZZ', LPAD(n, 24, '0'))"),
                     absl::StrCat("ALTER TABLE ", schema, ".bordereau_clones DROP COLUMN n"),
                     absl::StrCat("INSERT INTO ", schema, ".claims SELECT * FROM ", schema, ".bordereau_clones"),
                     absl::StrCat("DROP TABLE ", schema, ".bordereau_clones")});

  std::vector<StalledReader> stalled(kStalledReaders);
  for (int i = 0; i < kStalledReaders; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);            // keep the receive window small
    args.SetInt("careops.test.reader", i);
    StalledReader& r = stalled[i];
    r.stub = cv1::ClaimsService::NewStub(
        grpc::CreateCustomChannel(stack_->claims().address(), grpc::InsecureChannelCredentials(), args));
    r.ctx = testing::BearerContext("dev-finance", std::chrono::seconds(300));
    r.reader = r.stub->StreamBordereau(r.ctx.get(), ThisMonth(account.account_id));
    cv1::BordereauChunk first;
    ASSERT_TRUE(r.reader->Read(&first)) << "reader " << i << ": " << r.reader->Finish().error_message();
    EXPECT_TRUE(first.has_row());
  }

  // Every reader is now inside its stream with the server writing to it; none
  // reads again. Other RPCs keep answering within their deadline.
  for (int i = 0; i < 20; ++i) {
    cv1::GetClaimRequest get;
    get.set_claim_id(seed.claim_id());
    cv1::Claim got;
    auto ctx = testing::BearerContext(kSpecialist, std::chrono::seconds(2));
    grpc::Status s = claims_stub_->GetClaim(ctx.get(), get, &got);
    ASSERT_TRUE(s.ok()) << "GetClaim " << i << " with " << kStalledReaders
                        << " stalled bordereau readers: " << s.error_code() << " " << s.error_message();
    EXPECT_EQ(got.claim_id(), seed.claim_id());
  }
  cv1::ListClaimsRequest list;
  list.set_account_id(account.account_id);
  list.set_page_size(10);
  cv1::ListClaimsResponse listed;
  auto ctx = testing::BearerContext(kSpecialist, std::chrono::seconds(2));
  grpc::Status s = claims_stub_->ListClaims(ctx.get(), list, &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(listed.claims_size(), 10);

  // A reader that does read gets every row and totals that match them.
  auto reading_ctx = testing::BearerContext("dev-finance", std::chrono::seconds(60));
  auto reading = claims_stub_->StreamBordereau(reading_ctx.get(), ThisMonth(account.account_id));
  cv1::BordereauChunk chunk;
  int64_t rows = 0, total_count = 0, total_approved = 0;
  std::string last_id;
  while (reading->Read(&chunk)) {
    if (chunk.has_row()) {
      ++rows;
      EXPECT_LT(last_id, chunk.row().claim_id()) << "rows come in claim_id order, each once";
      last_id = chunk.row().claim_id();
    } else {
      total_count += chunk.total().claim_count();
      total_approved += chunk.total().amount_approved().amount_minor();
    }
  }
  s = reading->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rows, kClonedRows + 1);
  EXPECT_EQ(total_count, rows);
  EXPECT_EQ(total_approved, rows * 100000);

  for (StalledReader& r : stalled) r.ctx->TryCancel();
  for (StalledReader& r : stalled) EXPECT_EQ(r.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace careops
