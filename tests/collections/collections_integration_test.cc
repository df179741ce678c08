// The collections service end to end: the real careops-collections and
// careops-membership binaries, each on its own schema of the real MariaDB,
// driven through their generated stubs with the development tokens.
//
// Every test opens its own client account in membership and its own ledger, so
// the tests share the two processes without sharing data. Dates are explicit
// (`as_of`, due dates in 2026): nothing waits on the clock.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <vector>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "careops/collections/v1/collections.grpc.pb.h"
#include "careops/membership/v1/membership.grpc.pb.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "tests/support/harness.h"
#include "tests/support/stack.h"
#include "tests/support/rpc.h"

namespace careops {
namespace {

namespace cv1 = ::careops::collections::v1;
namespace mv1 = ::careops::membership::v1;

constexpr char kCollector[] = "dev-collector";
constexpr char kFinance[] = "dev-finance";
constexpr char kAnalyst[] = "dev-analyst";
constexpr char kAccountOfficer[] = "dev-account-officer";

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) { return testing::BearerContext(token); }
using testing::DateOf;
using testing::Php;

// The suite's collections flags (each process of a test adds its membership address).
// Ladder: first at 10 days past due, second at 30 with a fee of PHP 50.00 and 12%
// a year, third at 60 with PHP 100.00, the Notice of Cancellation at 90 with 15
// days of grace; every rung at least 7 days after the previous one.
const char* const kCollectionsArgs[] = {
    "--grace_days=3", "--peer_deadline=2s", "--gauge_refresh=200ms", "--outbox_interval=200ms",
    "--outbox_max_backoff=1s",
    "--dunning_ladder=reminder:7,balance:60,balance:30,balance:7,first:10,second:30:fee=5000:rate_bp=1200:spacing=7,"
    "third:60:fee=10000:spacing=7,noc:90:spacing=7:grace=15"};

std::vector<std::string> operator+(std::vector<std::string> args, std::string more) {
  args.push_back(std::move(more));
  return args;
}

class CollectionsIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    membership_schema_ = new testing::TestSchema("membership");
    collections_schema_ = new testing::TestSchema("collections");
    membership_ = new testing::ServiceProcess("membership", membership_schema_->dsn());
    ASSERT_TRUE(testing::Serving(*membership_));
    // Debian's aiosmtpd as the SMTP relay, keeping what it receives in a Maildir.
    char dir[] = "/tmp/careops-smtp-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    maildir_ = new std::string(std::string(dir) + "/mail");
    const int smtp_port = testing::FreePort();
    smtp_sink_ = new testing::Process("/usr/bin/aiosmtpd", {"-n", "-l", absl::StrCat("127.0.0.1:", smtp_port), "-c",
                                                            "aiosmtpd.handlers.Mailbox", *maildir_});
    ASSERT_TRUE(testing::Eventually([&] { return Listening(smtp_port); })) << smtp_sink_->output();
    collections_ = new testing::ServiceProcess(
        "collections", collections_schema_->dsn(),
        std::vector<std::string>(std::begin(kCollectionsArgs), std::end(kCollectionsArgs)) +
            ("--membership_addr=" + membership_->address()) + absl::StrCat("--smtp_url=smtp://127.0.0.1:", smtp_port) +
            "--notice_delivery_interval=200ms");
    ASSERT_TRUE(testing::Serving(*collections_));
  }

  static bool Listening(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    return ok;
  }

  // Every message the SMTP sink received, as its raw text.
  static std::vector<std::string> ReceivedMail() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(*maildir_ + "/new", ec)) {
      std::ifstream in(entry.path());
      out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return out;
  }

  static void TearDownTestSuite() {
    delete collections_;
    delete smtp_sink_;
    std::error_code ec;
    if (maildir_ != nullptr) std::filesystem::remove_all(std::filesystem::path(*maildir_).parent_path(), ec);
    delete maildir_;
    delete membership_;
    delete collections_schema_;
    delete membership_schema_;
  }

  void SetUp() override {
    stub_ = cv1::CollectionsService::NewStub(
        grpc::CreateChannel(collections_->address(), grpc::InsecureChannelCredentials()));
    membership_stub_ = mv1::MembershipService::NewStub(
        grpc::CreateChannel(membership_->address(), grpc::InsecureChannelCredentials()));
  }

  std::string NewAccount() {
    mv1::CreateClientAccountRequest req;
    req.set_request_id(NewId());
    req.mutable_account()->set_name("Buyer " + req.request_id());
    req.mutable_account()->set_type(mv1::CLIENT_ACCOUNT_TYPE_CORPORATE);
    req.mutable_account()->set_contact_email("billing@buyer.example");
    *req.mutable_account()->mutable_start_date() = DateOf(2025, 1, 1);
    mv1::ClientAccount account;
    grpc::Status s = membership_stub_->CreateClientAccount(Ctx(kAccountOfficer).get(), req, &account);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return account.account_id();
  }

  grpc::Status Open(const std::string& account_id, cv1::Ledger* out, const std::string& request_id = NewId()) {
    cv1::OpenLedgerRequest req;
    req.set_request_id(request_id);
    req.set_account_id(account_id);
    req.set_currency_code("PHP");
    return stub_->OpenLedger(Ctx(kCollector).get(), req, out);
  }

  cv1::Ledger NewLedger() {
    cv1::Ledger ledger;
    grpc::Status s = Open(NewAccount(), &ledger);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return ledger;
  }

  static cv1::Installment Row(const std::string& ledger_id, const std::string& number, common::v1::Date due,
                              int64_t principal, int64_t fee = 0, int64_t interest = 0) {
    cv1::Installment i;
    i.set_ledger_id(ledger_id);
    i.set_number(number);
    i.set_kind(cv1::INSTALLMENT_KIND_REGULAR);
    *i.mutable_due_date() = due;
    *i.mutable_principal() = Php(principal);
    if (fee) *i.mutable_fee() = Php(fee);
    if (interest) *i.mutable_interest() = Php(interest);
    return i;
  }

  cv1::Installment Add(const cv1::Installment& row) {
    cv1::AddInstallmentRequest req;
    req.set_request_id(NewId());
    *req.mutable_installment() = row;
    cv1::Installment out;
    grpc::Status s = stub_->AddInstallment(Ctx(kFinance).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  cv1::PostPaymentRequest PaymentRequest(const std::string& ledger_id, int64_t amount, const std::string& ref) {
    cv1::PostPaymentRequest req;
    req.set_request_id(NewId());
    req.set_ledger_id(ledger_id);
    *req.mutable_amount() = Php(amount);
    *req.mutable_payment_date() = DateOf(2026, 3, 5);
    req.set_method(cv1::PAYMENT_METHOD_BANK_TRANSFER);
    req.set_reference(ref);
    return req;
  }

  // An open-ended dispute pausing the ledger's count from `start`.
  cv1::Pause Dispute(const std::string& ledger_id, common::v1::Date start) {
    cv1::AddPauseRequest req;
    req.set_request_id(NewId());
    req.mutable_pause()->set_ledger_id(ledger_id);
    req.mutable_pause()->set_kind(cv1::PAUSE_KIND_DISPUTE);
    *req.mutable_pause()->mutable_start_date() = start;
    cv1::Pause out;
    grpc::Status s = stub_->AddPause(Ctx(kCollector).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // Gives `p` back (un-applied or reversed) with the etag it was read with.
  static cv1::ReversePaymentRequest Reversal(const cv1::Payment& p, bool unapply_only, const std::string& reason) {
    cv1::ReversePaymentRequest req;
    req.set_request_id(NewId());
    req.set_payment_id(p.payment_id());
    req.set_etag(p.etag());
    req.set_unapply_only(unapply_only);
    req.set_reason(reason);
    return req;
  }

  grpc::Status Pay(const std::string& ledger_id, int64_t amount, cv1::Payment* out, const std::string& ref = NewId()) {
    return stub_->PostPayment(Ctx(kCollector).get(), PaymentRequest(ledger_id, amount, ref), out);
  }

  // Balance per installment number.
  std::map<std::string, int64_t> Balances(const std::string& ledger_id) {
    cv1::GetLedgerRequest req;
    req.set_ledger_id(ledger_id);
    cv1::Ledger l;
    grpc::Status s = stub_->GetLedger(Ctx(kCollector).get(), req, &l);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, int64_t> out;
    for (const auto& i : l.installments()) out[i.number()] = i.balance().amount_minor();
    return out;
  }

  // The bank returns the check posted with `payment_reference` for `amount` minor units, on `on`.
  cv1::ReturnOutcome BounceCheck(const std::string& ledger_id, const std::string& payment_reference, int64_t amount,
                                 common::v1::Date on) {
    cv1::IngestBankReturnsRequest report;
    report.set_request_id(NewId());
    cv1::BankReturnRow* r = report.add_rows();
    r->set_ledger_id(ledger_id);
    r->set_bank_reference("BNK-" + NewId());
    r->set_kind(cv1::RETURN_KIND_BOUNCED_CHECK);
    r->set_reason(cv1::RETURN_REASON_INSUFFICIENT_FUNDS);
    *r->mutable_amount() = Php(amount);
    *r->mutable_return_date() = on;
    r->set_payment_reference(payment_reference);
    cv1::IngestBankReturnsResponse resp;
    grpc::Status s = stub_->IngestBankReturns(Ctx(kFinance).get(), report, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.results_size() == 1 ? resp.results(0).outcome() : cv1::RETURN_OUTCOME_UNSPECIFIED;
  }

  cv1::Aging AgingOn(const std::string& ledger_id, common::v1::Date as_of) {
    cv1::GetAgingRequest req;
    req.set_ledger_id(ledger_id);
    *req.mutable_as_of() = as_of;
    cv1::Aging out;
    grpc::Status s = stub_->GetAging(Ctx(kCollector).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  cv1::RunDunningResponse Dun(common::v1::Date as_of, cv1::CollectionsService::Stub* stub = nullptr) {
    cv1::RunDunningRequest req;
    *req.mutable_as_of() = as_of;
    cv1::RunDunningResponse resp;
    grpc::Status s = (stub ? stub : stub_.get())->RunDunning(Ctx(kCollector).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::vector<cv1::Notice> Notices(const std::string& ledger_id) {
    cv1::ListNoticesRequest req;
    req.set_ledger_id(ledger_id);
    cv1::ListNoticesResponse resp;
    grpc::Status s = stub_->ListNotices(Ctx(kCollector).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.notices().begin(), resp.notices().end()};
  }

  // A ledger's ladder notices (no reminders), in issue order.
  std::vector<cv1::Notice> LadderNotices(const std::string& ledger_id) {
    std::vector<cv1::Notice> out;
    for (const cv1::Notice& n : Notices(ledger_id)) {
      if (n.sequence() > 0) out.push_back(n);
    }
    return out;
  }

  std::vector<std::string> Rungs(const std::string& ledger_id) {
    std::vector<std::string> out;
    for (const cv1::Notice& n : LadderNotices(ledger_id)) out.push_back(n.rung_name());
    return out;
  }

  mv1::ClientAccountStatus AccountStatus(const std::string& account_id) {
    mv1::GetClientAccountRequest req;
    req.set_account_id(account_id);
    mv1::ClientAccount a;
    grpc::Status s = membership_stub_->GetClientAccount(Ctx(kAccountOfficer).get(), req, &a);
    return s.ok() ? a.status() : mv1::CLIENT_ACCOUNT_STATUS_UNSPECIFIED;
  }

  // A ledger owing PHP 1,000.00 due Jan 1 walked up to its Notice of
  // Cancellation (Apr 4: 93 days, less 3 of grace), with the runs on the rungs' days.
  cv1::Ledger LedgerAtNoticeOfCancellation() {
    cv1::Ledger ledger = NewLedger();
    Add(Row(ledger.ledger_id(), "1", DateOf(2026, 1, 1), 100000));
    for (auto day : {DateOf(2026, 1, 14), DateOf(2026, 2, 3), DateOf(2026, 3, 5), DateOf(2026, 4, 4)}) Dun(day);
    EXPECT_EQ(Rungs(ledger.ledger_id()), (std::vector<std::string>{"first", "second", "third", "noc"}));
    return ledger;
  }

  static testing::Process* smtp_sink_;
  static std::string* maildir_;
  static testing::TestSchema* membership_schema_;
  static testing::TestSchema* collections_schema_;
  static testing::ServiceProcess* membership_;
  static testing::ServiceProcess* collections_;
  std::unique_ptr<cv1::CollectionsService::Stub> stub_;
  std::unique_ptr<mv1::MembershipService::Stub> membership_stub_;
};

testing::Process* CollectionsIntegrationTest::smtp_sink_ = nullptr;
std::string* CollectionsIntegrationTest::maildir_ = nullptr;
testing::TestSchema* CollectionsIntegrationTest::membership_schema_ = nullptr;
testing::TestSchema* CollectionsIntegrationTest::collections_schema_ = nullptr;
testing::ServiceProcess* CollectionsIntegrationTest::membership_ = nullptr;
testing::ServiceProcess* CollectionsIntegrationTest::collections_ = nullptr;

TEST_F(CollectionsIntegrationTest, LedgerOpensOnlyForAMembershipAccountOnceWithItsContact) {
  cv1::Ledger none;
  grpc::Status s = Open("NO-SUCH-ACCOUNT", &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("account_id"), std::string::npos);

  const std::string account = NewAccount();
  const std::string request_id = NewId();
  cv1::Ledger ledger, replay, second;
  ASSERT_TRUE(Open(account, &ledger, request_id).ok());
  EXPECT_EQ(ledger.account_id(), account);
  EXPECT_EQ(ledger.contact().billing_email(), "billing@buyer.example");
  EXPECT_EQ(ledger.contact().preferred_channel(), cv1::CHANNEL_EMAIL);
  EXPECT_EQ(ledger.account_name().rfind("Buyer ", 0), 0u);
  // Same request_id: the first answer, nothing new.
  ASSERT_TRUE(Open(account, &replay, request_id).ok());
  EXPECT_EQ(replay.ledger_id(), ledger.ledger_id());
  // Another request for the same account: one ledger per account.
  EXPECT_EQ(Open(account, &second).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  cv1::GetLedgerRequest get;
  get.set_ledger_id(ledger.ledger_id());
  cv1::Ledger read;
  EXPECT_EQ(stub_->GetLedger(Ctx(kAnalyst).get(), get, &read).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  get.set_ledger_id("01JUNKJUNKJUNKJUNKJUNKJUNK");
  EXPECT_EQ(stub_->GetLedger(Ctx(kCollector).get(), get, &read).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CollectionsIntegrationTest, MembershipDownMeansUnavailableAndNoLedger) {
  const std::string account = NewAccount();
  membership_->Stop();
  cv1::Ledger ledger;
  grpc::Status s = Open(account, &ledger);
  membership_->Start();
  ASSERT_TRUE(testing::Serving(*membership_));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // Nothing was written: the account can be opened now (once collections'
  // channel has reconnected to the restarted membership).
  grpc::Status again;
  const std::string retry_id = NewId();
  EXPECT_TRUE(testing::Eventually([&] {
    again = Open(account, &ledger, retry_id);
    return again.error_code() != grpc::StatusCode::UNAVAILABLE;
  }));
  EXPECT_TRUE(again.ok()) << again.error_message();
}

TEST_F(CollectionsIntegrationTest, InstallmentsOneByOneAndInABatchWithAResultPerRow) {
  cv1::Ledger ledger = NewLedger();
  cv1::Installment first = Add(Row(ledger.ledger_id(), "INV-1", DateOf(2026, 1, 15), 100000));
  EXPECT_EQ(first.balance().amount_minor(), 100000);

  cv1::AddInstallmentRequest dup;
  dup.set_request_id(NewId());
  *dup.mutable_installment() = Row(ledger.ledger_id(), "INV-1", DateOf(2026, 2, 15), 5);
  cv1::Installment out;
  EXPECT_EQ(stub_->AddInstallment(Ctx(kFinance).get(), dup, &out).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  cv1::AddInstallmentRequest usd = dup;
  usd.set_request_id(NewId());
  usd.mutable_installment()->set_number("INV-USD");
  usd.mutable_installment()->mutable_principal()->set_currency_code("USD");
  grpc::Status bad = stub_->AddInstallment(Ctx(kFinance).get(), usd, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("installment.principal.currency_code"), std::string::npos) << bad.error_message();

  cv1::BatchAddInstallmentsRequest batch;
  batch.set_request_id(NewId());
  batch.set_ledger_id(ledger.ledger_id());
  *batch.add_installments() = Row("", "INV-2", DateOf(2026, 2, 15), 100000);
  *batch.add_installments() = Row("", "INV-1", DateOf(2026, 1, 15), 100000);  // already there
  cv1::Installment no_due = Row("", "INV-3", DateOf(2026, 3, 15), 100000);
  no_due.clear_due_date();
  *batch.add_installments() = no_due;
  cv1::Installment balloon = Row("", "INV-B", DateOf(2026, 12, 15), 900000);
  balloon.set_kind(cv1::INSTALLMENT_KIND_BALLOON);
  *batch.add_installments() = balloon;
  cv1::BatchAddInstallmentsResponse resp;
  grpc::Status s = stub_->BatchAddInstallments(Ctx(kFinance).get(), batch, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), 4);
  EXPECT_EQ(resp.results(0).outcome(), cv1::ROW_OUTCOME_CREATED);
  EXPECT_EQ(resp.results(1).outcome(), cv1::ROW_OUTCOME_DUPLICATE);
  EXPECT_EQ(resp.results(1).installment_id(), first.installment_id());
  EXPECT_EQ(resp.results(2).outcome(), cv1::ROW_OUTCOME_INVALID);
  EXPECT_NE(resp.results(2).error().find("installments[2].due_date"), std::string::npos);
  EXPECT_EQ(resp.results(3).outcome(), cv1::ROW_OUTCOME_CREATED);
  EXPECT_EQ(resp.created(), 2);
  EXPECT_EQ(resp.duplicates(), 1);
  EXPECT_EQ(resp.invalid(), 1);

  // The same download again (same request_id) changes nothing.
  cv1::BatchAddInstallmentsResponse replay;
  ASSERT_TRUE(stub_->BatchAddInstallments(Ctx(kFinance).get(), batch, &replay).ok());
  EXPECT_EQ(replay.created(), 2);
  auto balances = Balances(ledger.ledger_id());
  EXPECT_EQ(balances.size(), 3u);
  EXPECT_EQ(balances["INV-B"], 900000);
}

TEST_F(CollectionsIntegrationTest, PaymentPaysOldestFirstFeesInterestPrincipalAndKeepsOneMinorUnit) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  cv1::Installment feb = Add(Row(id, "2", DateOf(2026, 2, 1), 10000));
  cv1::Installment jan = Add(Row(id, "1", DateOf(2026, 1, 1), 10000, /*fee=*/500, /*interest=*/200));

  cv1::Payment p;
  ASSERT_TRUE(Pay(id, 10750, &p).ok());
  ASSERT_EQ(p.allocations_size(), 4);
  EXPECT_EQ(p.allocations(0).installment_id(), jan.installment_id());
  EXPECT_EQ(p.allocations(0).component(), cv1::COMPONENT_FEE);
  EXPECT_EQ(p.allocations(0).amount().amount_minor(), 500);
  EXPECT_EQ(p.allocations(1).component(), cv1::COMPONENT_INTEREST);
  EXPECT_EQ(p.allocations(2).component(), cv1::COMPONENT_PRINCIPAL);
  EXPECT_EQ(p.allocations(2).amount().amount_minor(), 10000);
  EXPECT_EQ(p.allocations(3).installment_id(), feb.installment_id());
  EXPECT_EQ(p.allocations(3).amount().amount_minor(), 50);
  EXPECT_EQ(p.status(), cv1::PAYMENT_STATUS_POSTED);
  EXPECT_EQ(p.posted_by(), "fe.ramos");

  // 9949 of the 9950 left: exactly one minor unit stays owed.
  cv1::Payment q;
  ASSERT_TRUE(Pay(id, 9949, &q).ok());
  EXPECT_EQ(Balances(id), (std::map<std::string, int64_t>{{"1", 0}, {"2", 1}}));

  // Over-allocation is refused and nothing changes.
  cv1::Payment over;
  grpc::Status s = Pay(id, 2, &over);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("amount"), std::string::npos);
  EXPECT_EQ(Balances(id)["2"], 1);

  // A reference is posted once.
  cv1::Payment twice;
  cv1::PostPaymentRequest again = PaymentRequest(id, 1, p.reference());
  EXPECT_EQ(stub_->PostPayment(Ctx(kCollector).get(), again, &twice).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  // A retried request (same request_id) is the same payment, not a second one.
  cv1::PostPaymentRequest last = PaymentRequest(id, 1, NewId());
  cv1::Payment a, b;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), last, &a).ok());
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), last, &b).ok());
  EXPECT_EQ(a.payment_id(), b.payment_id());
  cv1::ListPaymentsRequest list;
  list.set_ledger_id(id);
  cv1::ListPaymentsResponse payments;
  ASSERT_TRUE(stub_->ListPayments(Ctx(kCollector).get(), list, &payments).ok());
  EXPECT_EQ(payments.payments_size(), 3);
  // Each listed payment carries its own allocations, as posted.
  std::map<std::string, const cv1::Payment*> posted = {{p.payment_id(), &p}, {q.payment_id(), &q}, {a.payment_id(), &a}};
  for (const cv1::Payment& listed : payments.payments()) {
    auto it = posted.find(listed.payment_id());
    if (it == posted.end()) continue;
    ASSERT_EQ(listed.allocations_size(), it->second->allocations_size()) << listed.payment_id();
    for (int i = 0; i < listed.allocations_size(); ++i) {
      EXPECT_EQ(listed.allocations(i).installment_id(), it->second->allocations(i).installment_id());
      EXPECT_EQ(listed.allocations(i).component(), it->second->allocations(i).component());
      EXPECT_EQ(listed.allocations(i).amount().amount_minor(), it->second->allocations(i).amount().amount_minor());
    }
    posted.erase(it);
  }
  EXPECT_TRUE(posted.empty());
}

TEST_F(CollectionsIntegrationTest, ReverseAndUnapplyGiveTheMoneyBackToTheInstallments) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  Add(Row(id, "2", DateOf(2026, 2, 1), 10000));
  cv1::Payment p, q;
  ASSERT_TRUE(Pay(id, 15000, &p).ok());
  EXPECT_EQ(Balances(id), (std::map<std::string, int64_t>{{"1", 0}, {"2", 5000}}));

  cv1::ReversePaymentRequest rev = Reversal(p, false, "");
  cv1::Payment reversed;
  grpc::Status noreason = stub_->ReversePayment(Ctx(kCollector).get(), rev, &reversed);
  EXPECT_EQ(noreason.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(noreason.error_message().find("reason"), std::string::npos);
  rev.set_reason("check bounced: insufficient funds");
  ASSERT_TRUE(stub_->ReversePayment(Ctx(kCollector).get(), rev, &reversed).ok());
  EXPECT_EQ(reversed.status(), cv1::PAYMENT_STATUS_REVERSED);
  EXPECT_EQ(Balances(id), (std::map<std::string, int64_t>{{"1", 10000}, {"2", 10000}}));
  // The oldest installment is owed again at its original age.
  EXPECT_EQ(AgingOn(id, DateOf(2026, 3, 5)).anchor_due_date().month(), 1);

  rev.set_request_id(NewId());
  rev.set_etag(reversed.etag());  // current: the refusal is the status rule's
  EXPECT_EQ(stub_->ReversePayment(Ctx(kCollector).get(), rev, &reversed).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(Pay(id, 3000, &q).ok());
  cv1::ReversePaymentRequest unapply = Reversal(q, true, "posted to the wrong installment");
  cv1::Payment unapplied;
  ASSERT_TRUE(stub_->ReversePayment(Ctx(kFinance).get(), unapply, &unapplied).ok());
  EXPECT_EQ(unapplied.status(), cv1::PAYMENT_STATUS_UNAPPLIED);
  cv1::GetLedgerRequest get;
  get.set_ledger_id(id);
  cv1::Ledger l;
  ASSERT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), get, &l).ok());
  EXPECT_EQ(l.unallocated().amount_minor(), 3000);
  EXPECT_EQ(l.outstanding().amount_minor(), 20000);
}

TEST_F(CollectionsIntegrationTest, ABouncedCheckBringsBackTheOriginalAgeOnceWithItsFee) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  Add(Row(id, "2", DateOf(2026, 2, 1), 10000));
  cv1::Payment check;
  cv1::PostPaymentRequest pay = PaymentRequest(id, 15000, "CHK-" + NewId());
  pay.set_method(cv1::PAYMENT_METHOD_CHECK);
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), pay, &check).ok());
  EXPECT_EQ(AgingOn(id, DateOf(2026, 3, 5)).anchor_due_date().month(), 2);

  const std::string b1 = "BNK-" + NewId(), b2 = "BNK-" + NewId();
  cv1::IngestBankReturnsRequest report;
  report.set_request_id(NewId());
  *report.mutable_bounce_fee() = Php(50000);
  auto row = [&](const std::string& bank_ref, cv1::ReturnKind kind, const std::string& payment_ref, int64_t amount) {
    cv1::BankReturnRow* r = report.add_rows();
    r->set_ledger_id(id);
    r->set_bank_reference(bank_ref);
    r->set_kind(kind);
    r->set_reason(cv1::RETURN_REASON_INSUFFICIENT_FUNDS);
    *r->mutable_amount() = Php(amount);
    *r->mutable_return_date() = DateOf(2026, 3, 6);
    r->set_payment_reference(payment_ref);
  };
  row(b1, cv1::RETURN_KIND_BOUNCED_CHECK, pay.reference(), 15000);
  row(b2, cv1::RETURN_KIND_FAILED_DEBIT, "", 10000);
  row("BNK-" + NewId(), cv1::RETURN_KIND_BOUNCED_CHECK, "CHK-NEVER-POSTED", 15000);
  row("BNK-" + NewId(), cv1::RETURN_KIND_BOUNCED_CHECK, "", 15000);
  cv1::IngestBankReturnsResponse resp;
  grpc::Status s = stub_->IngestBankReturns(Ctx(kFinance).get(), report, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), 4);
  EXPECT_EQ(resp.results(0).outcome(), cv1::RETURN_OUTCOME_APPLIED);
  EXPECT_EQ(resp.results(0).reversed_payment_id(), check.payment_id());
  EXPECT_FALSE(resp.results(0).fee_installment_id().empty());
  EXPECT_EQ(resp.results(1).outcome(), cv1::RETURN_OUTCOME_APPLIED);
  EXPECT_TRUE(resp.results(1).reversed_payment_id().empty());
  EXPECT_EQ(resp.results(2).outcome(), cv1::RETURN_OUTCOME_INVALID);
  EXPECT_NE(resp.results(2).error().find("rows[2].payment_reference"), std::string::npos) << resp.results(2).error();
  EXPECT_EQ(resp.results(3).outcome(), cv1::RETURN_OUTCOME_INVALID);
  EXPECT_NE(resp.results(3).error().find("rows[3].payment_reference"), std::string::npos);

  // What the check paid is owed again, from the original (January) due date.
  auto balances = Balances(id);
  EXPECT_EQ(balances["1"], 10000);
  EXPECT_EQ(balances["2"], 10000);
  EXPECT_EQ(balances["BOUNCE-" + b1], 50000);
  cv1::Aging aging = AgingOn(id, DateOf(2026, 3, 5));
  EXPECT_EQ(aging.anchor_due_date().month(), 1);
  EXPECT_EQ(aging.days_past_due(), 60);

  // The same bank report again (a new request): every row is applied once only.
  report.set_request_id(NewId());
  cv1::IngestBankReturnsResponse again;
  ASSERT_TRUE(stub_->IngestBankReturns(Ctx(kFinance).get(), report, &again).ok());
  EXPECT_EQ(again.results(0).outcome(), cv1::RETURN_OUTCOME_DUPLICATE);
  EXPECT_EQ(again.results(1).outcome(), cv1::RETURN_OUTCOME_DUPLICATE);
  EXPECT_EQ(again.applied(), 0);
  EXPECT_EQ(Balances(id), balances);
}

TEST_F(CollectionsIntegrationTest, AnExplicitSpreadPaysThreeInstallmentsAndMustAddUp) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  cv1::Installment a = Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  cv1::Installment b = Add(Row(id, "2", DateOf(2026, 2, 1), 10000));
  cv1::Installment c = Add(Row(id, "3", DateOf(2026, 3, 1), 10000));
  cv1::PostPaymentRequest req = PaymentRequest(id, 12000, NewId());
  for (auto [inst, amount] : {std::pair{&c, 10000}, std::pair{&a, 1000}, std::pair{&b, 1000}}) {
    cv1::Allocation* alloc = req.add_allocations();
    alloc->set_installment_id(inst->installment_id());
    *alloc->mutable_amount() = Php(amount);
  }
  cv1::PostPaymentRequest wrong = req;
  wrong.set_request_id(NewId());
  wrong.set_reference(NewId());
  *wrong.mutable_amount() = Php(12001);
  cv1::Payment out;
  grpc::Status s = stub_->PostPayment(Ctx(kCollector).get(), wrong, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("allocations"), std::string::npos);
  cv1::PostPaymentRequest too_much = req;
  too_much.set_request_id(NewId());
  too_much.set_reference(NewId());
  *too_much.mutable_allocations(1)->mutable_amount() = Php(10001);
  *too_much.mutable_amount() = Php(21001);
  s = stub_->PostPayment(Ctx(kCollector).get(), too_much, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("allocations[1].amount"), std::string::npos) << s.error_message();

  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), req, &out).ok());
  EXPECT_EQ(out.allocations_size(), 3);
  EXPECT_EQ(Balances(id), (std::map<std::string, int64_t>{{"1", 9000}, {"2", 9000}, {"3", 0}}));
}

TEST_F(CollectionsIntegrationTest, ContactChangesAreKeptWithWhoAndSource) {
  cv1::Ledger ledger = NewLedger();
  cv1::UpdateContactRequest req;
  req.set_request_id(NewId());
  req.set_ledger_id(ledger.ledger_id());
  req.set_etag(ledger.etag());
  req.mutable_contact()->set_billing_email("not-an-email");
  req.set_source("phone call with the buyer");
  cv1::Ledger out;
  grpc::Status s = stub_->UpdateContact(Ctx(kCollector).get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("contact.billing_email"), std::string::npos);

  req.mutable_contact()->set_billing_email("ap@buyer.example");
  req.mutable_contact()->set_mobile("+63 917 555 0101");
  req.mutable_contact()->set_preferred_channel(cv1::CHANNEL_SMS);
  ASSERT_TRUE(stub_->UpdateContact(Ctx(kCollector).get(), req, &out).ok());
  EXPECT_EQ(out.contact().mobile(), "+63 917 555 0101");
  EXPECT_EQ(out.contact().preferred_channel(), cv1::CHANNEL_SMS);
  EXPECT_EQ(stub_->UpdateContact(Ctx(kFinance).get(), req, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  cv1::ListContactHistoryRequest hist;
  hist.set_ledger_id(ledger.ledger_id());
  cv1::ListContactHistoryResponse changes;
  ASSERT_TRUE(stub_->ListContactHistory(Ctx(kCollector).get(), hist, &changes).ok());
  ASSERT_EQ(changes.changes_size(), 2);
  EXPECT_EQ(changes.changes(0).contact().billing_email(), "billing@buyer.example");
  EXPECT_EQ(changes.changes(1).contact().billing_email(), "ap@buyer.example");
  EXPECT_EQ(changes.changes(1).changed_by(), "fe.ramos");
  EXPECT_EQ(changes.changes(1).source(), "phone call with the buyer");
}

TEST_F(CollectionsIntegrationTest, AgingCountsFromTheOldestUnpaidLessGraceAndPauses) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  Add(Row(id, "2", DateOf(2026, 2, 1), 10000));
  // The suite runs with --grace_days=3.
  EXPECT_EQ(AgingOn(id, DateOf(2026, 1, 4)).days_past_due(), 0);
  EXPECT_EQ(AgingOn(id, DateOf(2026, 1, 4)).bucket(), "current");
  cv1::Aging march = AgingOn(id, DateOf(2026, 3, 5));  // 63 days after Jan 1
  EXPECT_EQ(march.days_past_due(), 60);
  EXPECT_EQ(march.bucket(), "31-60");
  EXPECT_EQ(march.past_due().amount_minor(), 20000);

  // A dispute backdated to Jan 21 and still open pauses the count.
  cv1::Pause p = Dispute(id, DateOf(2026, 1, 21));
  EXPECT_EQ(AgingOn(id, DateOf(2026, 3, 5)).days_past_due(), 16);  // Jan 2..20 (19 days) less 3 of grace
  // Resumed early: paused Jan 21..30 only.
  cv1::EndPauseRequest end;
  end.set_request_id(NewId());
  end.set_pause_id(p.pause_id());
  end.set_etag(p.etag());
  *end.mutable_end_date() = DateOf(2026, 1, 31);
  ASSERT_TRUE(stub_->EndPause(Ctx(kCollector).get(), end, &p).ok());
  cv1::Aging resumed = AgingOn(id, DateOf(2026, 3, 5));
  EXPECT_EQ(resumed.paused_days(), 10);
  EXPECT_EQ(resumed.days_past_due(), 50);

  // Paying the oldest installment moves the anchor to the next one at once.
  cv1::Payment pay;
  ASSERT_TRUE(Pay(id, 10000, &pay).ok());
  cv1::Aging after = AgingOn(id, DateOf(2026, 3, 5));
  EXPECT_EQ(after.anchor_due_date().month(), 2);
  EXPECT_EQ(after.days_past_due(), 29);  // Feb 1 -> Mar 5 is 32 days, less grace
  EXPECT_EQ(after.bucket(), "1-30");
}

TEST_F(CollectionsIntegrationTest, AgingRunRecordsBucketChangesOnceAndHistoryReadsForPastDates) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  cv1::Installment jan = Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  Add(Row(id, "2", DateOf(2026, 2, 1), 10000));
  auto run = [&](common::v1::Date as_of) {
    cv1::RunAgingRequest req;
    *req.mutable_as_of() = as_of;
    cv1::RunAgingResponse resp;
    grpc::Status s = stub_->RunAging(Ctx(kCollector).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  run(DateOf(2026, 1, 2));
  cv1::RunAgingResponse jan20 = run(DateOf(2026, 1, 20));
  EXPECT_GE(jan20.bucket_changes(), 1);
  EXPECT_EQ(run(DateOf(2026, 1, 20)).bucket_changes(), 0);  // the same day again records nothing

  // Two replicas running the same day at once: each change is recorded once.
  cv1::RunAgingResponse r1, r2;
  std::thread t1([&] { r1 = run(DateOf(2026, 2, 10)); });
  std::thread t2([&] { r2 = run(DateOf(2026, 2, 10)); });
  t1.join();
  t2.join();
  EXPECT_EQ(run(DateOf(2026, 2, 10)).bucket_changes(), 0);

  cv1::GetAgingHistoryRequest hreq;
  hreq.set_ledger_id(id);
  cv1::GetAgingHistoryResponse history;
  ASSERT_TRUE(stub_->GetAgingHistory(Ctx(kCollector).get(), hreq, &history).ok());
  std::vector<std::pair<int, std::string>> account;  // (day of year-ish, bucket) of the account rows
  for (const auto& c : history.changes()) {
    if (c.installment_id().empty()) account.emplace_back(c.as_of().month() * 100 + c.as_of().day(), c.bucket());
  }
  EXPECT_EQ(account, (std::vector<std::pair<int, std::string>>{{102, "current"}, {120, "1-30"}, {210, "31-60"}}));
  bool jan_installment_recorded = false;
  for (const auto& c : history.changes()) {
    if (c.installment_id() == jan.installment_id() && c.as_of().month() == 2) {
      jan_installment_recorded = c.bucket() == "31-60";
    }
  }
  EXPECT_TRUE(jan_installment_recorded);

  // The report for a past date reads what the runs recorded then; totals equal rows.
  cv1::GetAgingReportRequest rreq;
  *rreq.mutable_as_of() = DateOf(2026, 1, 25);
  cv1::AgingReport report;
  ASSERT_TRUE(stub_->GetAgingReport(Ctx(kFinance).get(), rreq, &report).ok());
  bool found = false;
  int64_t rows_total = 0;
  int rows = 0;
  for (const auto& row : report.rows()) {
    rows_total += row.outstanding().amount_minor();
    ++rows;
    if (row.ledger_id() == id) {
      found = true;
      EXPECT_EQ(row.bucket(), "1-30");
    }
  }
  EXPECT_TRUE(found);
  int64_t totals_total = 0;
  int accounts = 0;
  for (const auto& t : report.totals()) {
    totals_total += t.outstanding().amount_minor();
    accounts += t.accounts();
  }
  EXPECT_EQ(totals_total, rows_total);
  EXPECT_EQ(accounts, rows);

  // The gauges are read from the database: every configured bucket is exported,
  // and the posted payments by method.
  EXPECT_TRUE(testing::Eventually([&] {
    std::string body = testing::HttpGet(collections_->metrics_port(), "/metrics");
    return body.find("careops_collections_past_due_accounts{bucket=\"120+\"} 0") != std::string::npos &&
           body.find("careops_collections_past_due_accounts{bucket=\"31-60\"} 0") == std::string::npos &&
           body.find("careops_collections_past_due_amount_minor{bucket=\"31-60\",currency=\"PHP\"}") !=
               std::string::npos &&
           body.find("careops_collections_payments_posted_total{method=\"CARD\"}") != std::string::npos &&
           body.find("careops_collections_failed_debits_total{reason=\"STOP_PAYMENT\"}") != std::string::npos;
  })) << testing::HttpGet(collections_->metrics_port(), "/metrics");
}

TEST_F(CollectionsIntegrationTest, TheLadderWalksFirstSecondThirdNocOnItsDaysAndALapseCancelsTheAccount) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  cv1::Installment jan = Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  // Jan 13 is 9 days past due (12 less 3 of grace): no notice; Jan 14: the first.
  Dun(DateOf(2026, 1, 13));
  EXPECT_TRUE(Rungs(id).empty());
  Dun(DateOf(2026, 1, 14));
  ASSERT_EQ(Rungs(id), std::vector<std::string>{"first"});
  Dun(DateOf(2026, 2, 2));
  EXPECT_EQ(Rungs(id).size(), 1u);
  Dun(DateOf(2026, 2, 3));  // 30 days past due
  ASSERT_EQ(Rungs(id), (std::vector<std::string>{"first", "second"}));
  cv1::Notice second = LadderNotices(id)[1];
  EXPECT_EQ(second.rung(), cv1::NOTICE_RUNG_SECOND_NOTICE);
  EXPECT_EQ(second.days_past_due(), 30);
  EXPECT_EQ(second.outstanding().amount_minor(), 100000);
  EXPECT_EQ(second.fee().amount_minor(), 5000);
  EXPECT_EQ(second.interest().amount_minor(), 986);  // 100000 x 12% / 365 x 30
  EXPECT_EQ(second.total().amount_minor(), 105986);
  ASSERT_EQ(second.covered_size(), 3);  // the installment, its fee, its interest
  EXPECT_EQ(second.channel(), cv1::CHANNEL_EMAIL);
  EXPECT_EQ(second.recipient(), "billing@buyer.example");
  EXPECT_NE(second.text().find("Second notice"), std::string::npos) << second.text();
  EXPECT_NE(second.text().find("PHP 1059.86"), std::string::npos) << second.text();
  EXPECT_EQ(second.status(), cv1::NOTICE_STATUS_ISSUED);
  // Fee and interest are installments of their own, due on the issue date.
  auto balances = Balances(id);
  EXPECT_EQ(balances["DUN-1-2-FEE"], 5000);
  EXPECT_EQ(balances["DUN-1-2-INT"], 986);

  Dun(DateOf(2026, 3, 5));  // 60
  Dun(DateOf(2026, 4, 4));  // 90: the Notice of Cancellation suspends the account
  ASSERT_EQ(Rungs(id), (std::vector<std::string>{"first", "second", "third", "noc"}));
  cv1::Notice noc = LadderNotices(id)[3];
  EXPECT_EQ(noc.grace_until().month(), 4);
  EXPECT_EQ(noc.grace_until().day(), 19);
  EXPECT_EQ(noc.account_action(), cv1::ACCOUNT_ACTION_SUSPEND);
  EXPECT_NE(noc.text().find("NOTICE OF CANCELLATION"), std::string::npos);
  EXPECT_TRUE(testing::Eventually(
      [&] { return AccountStatus(ledger.account_id()) == mv1::CLIENT_ACCOUNT_STATUS_SUSPENDED; }));

  // Still in grace on Apr 18; lapsed on Apr 19: cancelled in membership.
  Dun(DateOf(2026, 4, 18));
  EXPECT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_ISSUED);
  Dun(DateOf(2026, 4, 19));
  EXPECT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_LAPSED);
  EXPECT_TRUE(testing::Eventually(
      [&] { return AccountStatus(ledger.account_id()) == mv1::CLIENT_ACCOUNT_STATUS_CANCELLED; }));
  EXPECT_TRUE(testing::Eventually([&] {
    cv1::Notice n = LadderNotices(id)[3];
    return n.account_action() == cv1::ACCOUNT_ACTION_CANCEL &&
           n.account_action_state() == cv1::ACCOUNT_ACTION_STATE_DONE;
  }));

  // The same day again, and a replay of every past day: the same notices, nothing more.
  // (Delivery goes on by itself meanwhile: the email job sends them.)
  auto without_delivery = [](cv1::Notice n) {
    n.clear_delivery_state();
    n.clear_delivery_attempts();
    n.clear_delivery_error();
    n.clear_delivered_time();
    return n.SerializeAsString();
  };
  std::vector<std::string> before;
  for (const cv1::Notice& n : Notices(id)) before.push_back(without_delivery(n));
  for (auto day : {DateOf(2026, 4, 19), DateOf(2026, 1, 14), DateOf(2026, 2, 3), DateOf(2026, 2, 10),
                   DateOf(2026, 3, 5), DateOf(2026, 4, 4)}) {
    Dun(day);
  }
  std::vector<std::string> after;
  for (const cv1::Notice& n : Notices(id)) after.push_back(without_delivery(n));
  EXPECT_EQ(after, before);

  cv1::GetNoticeRequest get;
  get.set_notice_id(noc.notice_id());
  cv1::Notice read;
  ASSERT_TRUE(stub_->GetNotice(Ctx(kFinance).get(), get, &read).ok());
  EXPECT_EQ(read.notice_id(), noc.notice_id());
  EXPECT_EQ(stub_->GetNotice(Ctx(kAnalyst).get(), get, &read).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  get.set_notice_id("01JUNKJUNKJUNKJUNKJUNKJUNK");
  EXPECT_EQ(stub_->GetNotice(Ctx(kFinance).get(), get, &read).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(jan.balance().amount_minor(), 100000);

  // The notices gauge is read from the database.
  EXPECT_TRUE(testing::Eventually([&] {
    std::string body = testing::HttpGet(collections_->metrics_port(), "/metrics");
    return body.find("careops_collections_notices_total{channel=\"EMAIL\",rung=\"NOTICE_OF_CANCELLATION\"} 0") ==
               std::string::npos &&
           body.find("careops_collections_notices_total{channel=\"EMAIL\",rung=\"NOTICE_OF_CANCELLATION\"}") !=
               std::string::npos &&
           body.find("careops_collections_notices_total{channel=\"SMS\",rung=\"FIRST_NOTICE\"} 0") !=
               std::string::npos;
  })) << testing::HttpGet(collections_->metrics_port(), "/metrics");
}

TEST_F(CollectionsIntegrationTest, APaymentBeforeTheLapseWithdrawsTheNoticeAndReinstatesTheAccount) {
  cv1::Ledger ledger = LedgerAtNoticeOfCancellation();
  const std::string id = ledger.ledger_id();
  ASSERT_TRUE(testing::Eventually(
      [&] { return AccountStatus(ledger.account_id()) == mv1::CLIENT_ACCOUNT_STATUS_SUSPENDED; }));
  cv1::GetLedgerRequest get;
  get.set_ledger_id(id);
  cv1::Ledger l;
  ASSERT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), get, &l).ok());
  cv1::Payment paid;
  ASSERT_TRUE(Pay(id, l.outstanding().amount_minor(), &paid).ok());
  // Withdrawn with the payment, every earlier notice resolved.
  std::vector<cv1::Notice> notices = Notices(id);
  ASSERT_EQ(notices.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(notices[i].status(), cv1::NOTICE_STATUS_RESOLVED) << i;
  EXPECT_EQ(notices[3].status(), cv1::NOTICE_STATUS_WITHDRAWN);
  EXPECT_EQ(notices[3].account_action(), cv1::ACCOUNT_ACTION_REINSTATE);
  EXPECT_TRUE(testing::Eventually(
      [&] { return AccountStatus(ledger.account_id()) == mv1::CLIENT_ACCOUNT_STATUS_ACTIVE; }));
  // Its grace date passes: nothing lapses, the account stays active.
  Dun(DateOf(2026, 4, 19));
  EXPECT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_WITHDRAWN);
  EXPECT_EQ(AccountStatus(ledger.account_id()), mv1::CLIENT_ACCOUNT_STATUS_ACTIVE);
}

TEST_F(CollectionsIntegrationTest, ARunFiveDaysLateIssuesTheNextRungNotALaterOne) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  Dun(DateOf(2026, 1, 14));
  // Mar 10: 65 days past due, five days after the third's day; the second comes.
  Dun(DateOf(2026, 3, 10));
  EXPECT_EQ(Rungs(id), (std::vector<std::string>{"first", "second"}));
  // The third waits its 7 days after the second.
  Dun(DateOf(2026, 3, 16));
  EXPECT_EQ(Rungs(id).size(), 2u);
  Dun(DateOf(2026, 3, 17));
  EXPECT_EQ(Rungs(id), (std::vector<std::string>{"first", "second", "third"}));
}

TEST_F(CollectionsIntegrationTest, PayingOnlyTheOldestInstallmentReAnchorsTheLadder) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  cv1::Installment jan = Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  Add(Row(id, "2", DateOf(2026, 1, 20), 100000));
  Dun(DateOf(2026, 1, 14));
  ASSERT_EQ(Rungs(id), std::vector<std::string>{"first"});
  // Paid on Jan 15, before the runs below (which see the balances of their day).
  cv1::PostPaymentRequest oldest = PaymentRequest(id, 100000, NewId());
  *oldest.mutable_payment_date() = DateOf(2026, 1, 15);
  cv1::Payment p;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), oldest, &p).ok());  // the first notice is paid
  EXPECT_EQ(LadderNotices(id)[0].status(), cv1::NOTICE_STATUS_RESOLVED);
  // February's installment had its 7-day reminder with the Jan 14 run.
  std::vector<cv1::Notice> all = Notices(id);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].rung(), cv1::NOTICE_RUNG_REMINDER);
  EXPECT_EQ(all[0].covered(0).number(), "2");
  // Feb 3 would be 30 days for January; February's anchor (Jan 20) is at 11.
  Dun(DateOf(2026, 2, 3));
  EXPECT_EQ(Rungs(id).size(), 1u);
  Dun(DateOf(2026, 2, 21));  // 29 from Jan 20
  EXPECT_EQ(Rungs(id).size(), 1u);
  Dun(DateOf(2026, 2, 22));  // 30: the ladder goes on with the second
  ASSERT_EQ(Rungs(id), (std::vector<std::string>{"first", "second"}));
  cv1::Notice second = LadderNotices(id)[1];
  EXPECT_EQ(second.outstanding().amount_minor(), 100000);
  EXPECT_EQ(second.covered(0).number(), "2");
  EXPECT_EQ(jan.number(), "1");
}

TEST_F(CollectionsIntegrationTest, PayingOnlyThePrincipalLeavesTheNoticeOpenForItsFeeAndInterest) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  cv1::Installment jan = Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  Dun(DateOf(2026, 1, 14));
  Dun(DateOf(2026, 2, 3));
  ASSERT_EQ(Rungs(id), (std::vector<std::string>{"first", "second"}));
  cv1::PostPaymentRequest principal = PaymentRequest(id, 100000, NewId());
  cv1::Allocation* a = principal.add_allocations();
  a->set_installment_id(jan.installment_id());
  *a->mutable_amount() = Php(100000);
  cv1::Payment p;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), principal, &p).ok());
  std::vector<cv1::Notice> notices = Notices(id);
  EXPECT_EQ(notices[0].status(), cv1::NOTICE_STATUS_RESOLVED);  // asked for the principal only
  EXPECT_EQ(notices[1].status(), cv1::NOTICE_STATUS_ISSUED);    // its fee and interest are owed
  cv1::Payment rest;
  ASSERT_TRUE(Pay(id, 5000 + 986, &rest).ok());
  EXPECT_EQ(LadderNotices(id)[1].status(), cv1::NOTICE_STATUS_RESOLVED);
}

TEST_F(CollectionsIntegrationTest, TwoReplicasRunningTheSameDayIssueEachNoticeOnce) {
  testing::ServiceProcess replica(
      "collections", collections_schema_->dsn(),
      std::vector<std::string>(std::begin(kCollectionsArgs), std::end(kCollectionsArgs)) +
          ("--membership_addr=" + membership_->address()));
  ASSERT_TRUE(testing::Serving(replica));
  auto replica_stub =
      cv1::CollectionsService::NewStub(grpc::CreateChannel(replica.address(), grpc::InsecureChannelCredentials()));
  std::set<std::string> mine;
  for (int i = 0; i < 12; ++i) {
    cv1::Ledger l = NewLedger();
    Add(Row(l.ledger_id(), "1", DateOf(2026, 1, 1), 100000));
    mine.insert(l.ledger_id());
  }
  // Both run Jan 14 at once, on the same ledgers.
  cv1::RunDunningResponse r1, r2;
  std::thread t1([&] { r1 = Dun(DateOf(2026, 1, 14)); });
  std::thread t2([&] { r2 = Dun(DateOf(2026, 1, 14), replica_stub.get()); });
  t1.join();
  t2.join();
  std::set<std::string> issued;
  for (const auto* r : {&r1, &r2}) {
    for (const std::string& n : r->issued_notice_ids()) EXPECT_TRUE(issued.insert(n).second) << n;
  }
  int first_notices = 0;
  for (const std::string& ledger_id : mine) {
    std::vector<cv1::Notice> notices = Notices(ledger_id);
    EXPECT_EQ(Rungs(ledger_id), std::vector<std::string>{"first"}) << ledger_id;
    for (const cv1::Notice& n : notices) {
      EXPECT_EQ(issued.count(n.notice_id()), 1u);
      ++first_notices;
    }
  }
  EXPECT_EQ(first_notices, 12);
}

TEST_F(CollectionsIntegrationTest, MembershipDownWhileANoticeLapsesTheCancellationArrivesAfterItReturns) {
  cv1::Ledger ledger = LedgerAtNoticeOfCancellation();
  const std::string id = ledger.ledger_id();
  ASSERT_TRUE(testing::Eventually(
      [&] { return AccountStatus(ledger.account_id()) == mv1::CLIENT_ACCOUNT_STATUS_SUSPENDED; }));
  membership_->Stop();
  cv1::RunDunningResponse lapse = Dun(DateOf(2026, 4, 19));
  EXPECT_GE(lapse.notices_lapsed(), 1);
  cv1::Notice noc = LadderNotices(id)[3];
  // Lapsed here, the cancellation waiting in the outbox: nothing half-applied.
  EXPECT_EQ(noc.status(), cv1::NOTICE_STATUS_LAPSED);
  EXPECT_EQ(noc.account_action(), cv1::ACCOUNT_ACTION_CANCEL);
  EXPECT_EQ(noc.account_action_state(), cv1::ACCOUNT_ACTION_STATE_PENDING);
  EXPECT_TRUE(testing::Eventually([&] {
    std::string body = testing::HttpGet(collections_->metrics_port(), "/metrics");
    return body.find("careops_collections_noc_lapsed_awaiting_cancellation 0") == std::string::npos &&
           body.find("careops_collections_noc_lapsed_awaiting_cancellation") != std::string::npos;
  }));
  membership_->Start();
  ASSERT_TRUE(testing::Serving(*membership_));
  EXPECT_TRUE(testing::Eventually(
      [&] { return AccountStatus(ledger.account_id()) == mv1::CLIENT_ACCOUNT_STATUS_CANCELLED; }));
  EXPECT_TRUE(testing::Eventually(
      [&] { return LadderNotices(id)[3].account_action_state() == cv1::ACCOUNT_ACTION_STATE_DONE; }));
}

TEST_F(CollectionsIntegrationTest, AnEmailNoticeArrivesAtTheSmtpRelayAndAnSmsNoticeWaitsForItsChannel) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  const std::string email = "ap-" + NewId() + "@buyer.example";
  cv1::UpdateContactRequest contact;
  contact.set_request_id(NewId());
  contact.set_ledger_id(id);
  contact.set_etag(ledger.etag());
  contact.mutable_contact()->set_billing_email(email);
  contact.mutable_contact()->set_preferred_channel(cv1::CHANNEL_EMAIL);
  contact.set_source("email from the buyer");
  cv1::Ledger updated;
  ASSERT_TRUE(stub_->UpdateContact(Ctx(kCollector).get(), contact, &updated).ok());
  Add(Row(id, "1", DateOf(2026, 1, 1), 100000));

  cv1::Ledger sms_ledger = NewLedger();
  contact.set_request_id(NewId());
  contact.set_ledger_id(sms_ledger.ledger_id());
  contact.set_etag(sms_ledger.etag());
  contact.mutable_contact()->set_billing_email("");
  contact.mutable_contact()->set_mobile("+63 917 555 0199");
  contact.mutable_contact()->set_preferred_channel(cv1::CHANNEL_SMS);
  ASSERT_TRUE(stub_->UpdateContact(Ctx(kCollector).get(), contact, &updated).ok());
  Add(Row(sms_ledger.ledger_id(), "1", DateOf(2026, 1, 1), 100000));

  Dun(DateOf(2026, 1, 14));
  std::string received;
  ASSERT_TRUE(testing::Eventually([&] {
    for (const std::string& m : ReceivedMail()) {
      if (m.find("To: <" + email + ">") != std::string::npos) received = m;
    }
    return !received.empty();
  })) << smtp_sink_->output();
  // The subject names this ledger's account (the batch reads every ledger's name).
  const size_t subject = received.find("Subject: ");
  ASSERT_NE(subject, std::string::npos) << received;
  EXPECT_EQ(received.substr(subject, received.find_first_of("\r\n", subject) - subject),
            "Subject: First notice: " + ledger.account_name());
  EXPECT_NE(received.find("From: <collections@careops.invalid>"), std::string::npos);
  EXPECT_NE(received.find("10 days past due"), std::string::npos) << received;
  cv1::Notice first = LadderNotices(id)[0];
  EXPECT_NE(received.find(first.notice_id() + "@careops-collections"), std::string::npos);
  EXPECT_TRUE(testing::Eventually([&] {
    cv1::Notice n = LadderNotices(id)[0];
    return n.delivery_state() == cv1::DELIVERY_STATE_SENT && n.delivery_attempts() == 1 && n.has_delivered_time();
  }));

  cv1::Notice sms = LadderNotices(sms_ledger.ledger_id())[0];
  EXPECT_EQ(sms.channel(), cv1::CHANNEL_SMS);
  EXPECT_EQ(sms.recipient(), "+63 917 555 0199");
  EXPECT_EQ(sms.delivery_state(), cv1::DELIVERY_STATE_AWAITING_CHANNEL);
}

// Keep near the end: its runs on 2027 dates walk every ledger of the suite.
TEST_F(CollectionsIntegrationTest, MaturingBalancesAreRemindedAtEachLeadAndListedForPrepayment) {
  auto balloon = [&](const std::string& ledger_id) {
    cv1::Installment b = Row(ledger_id, "B", DateOf(2027, 6, 30), 900000);
    b.set_kind(cv1::INSTALLMENT_KIND_BALLOON);
    return Add(b);
  };
  auto balance_reminders = [&](const std::string& ledger_id) {
    std::vector<std::string> out;
    for (const cv1::Notice& n : Notices(ledger_id)) {
      if (n.rung() == cv1::NOTICE_RUNG_BALANCE_REMINDER) out.push_back(n.rung_name());
    }
    return out;
  };
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  balloon(id);
  cv1::Ledger prepaid = NewLedger();
  balloon(prepaid.ledger_id());
  cv1::Payment p;
  ASSERT_TRUE(Pay(prepaid.ledger_id(), 900000, &p).ok());
  cv1::Ledger behind = NewLedger();  // a balloon too, but behind on a regular installment
  balloon(behind.ledger_id());
  Add(Row(behind.ledger_id(), "1", DateOf(2027, 3, 1), 10000));

  cv1::ListPrepaymentEligibleRequest elig;
  *elig.mutable_as_of() = DateOf(2027, 5, 1);
  cv1::ListPrepaymentEligibleResponse eligible;
  grpc::Status s = stub_->ListPrepaymentEligible(Ctx(kCollector).get(), elig, &eligible);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::map<std::string, cv1::MaturingBalance> listed;
  for (const auto& b : eligible.balances()) listed[b.ledger_id()] = b;
  ASSERT_EQ(listed.count(id), 1u);
  EXPECT_EQ(listed[id].balance().amount_minor(), 900000);
  EXPECT_EQ(listed[id].days_to_maturity(), 60);
  EXPECT_EQ(listed[id].kind(), cv1::INSTALLMENT_KIND_BALLOON);
  EXPECT_EQ(listed.count(prepaid.ledger_id()), 0u);  // paid in full
  EXPECT_EQ(listed.count(behind.ledger_id()), 0u);   // past due
  elig.set_within_days(30);
  ASSERT_TRUE(stub_->ListPrepaymentEligible(Ctx(kCollector).get(), elig, &eligible).ok());
  for (const auto& b : eligible.balances()) EXPECT_NE(b.ledger_id(), id);  // 60 days out

  Dun(DateOf(2027, 4, 30));
  EXPECT_TRUE(balance_reminders(id).empty());
  Dun(DateOf(2027, 5, 1));  // 60 days before
  EXPECT_EQ(balance_reminders(id), std::vector<std::string>{"balance-60"});
  Dun(DateOf(2027, 5, 1));
  EXPECT_EQ(balance_reminders(id).size(), 1u);
  Dun(DateOf(2027, 5, 31));  // 30 days before
  EXPECT_EQ(balance_reminders(id), (std::vector<std::string>{"balance-60", "balance-30"}));
  cv1::Notice reminder = Notices(id).back();
  EXPECT_NE(reminder.text().find("matures on 2027-06-30"), std::string::npos) << reminder.text();
  // Prepaid: nothing at 7 days, and the reminders are resolved.
  cv1::Payment rest;
  ASSERT_TRUE(Pay(id, 900000, &rest).ok());
  Dun(DateOf(2027, 6, 23));
  EXPECT_EQ(balance_reminders(id).size(), 2u);
  for (const cv1::Notice& n : Notices(id)) EXPECT_EQ(n.status(), cv1::NOTICE_STATUS_RESOLVED);
  EXPECT_TRUE(balance_reminders(prepaid.ledger_id()).empty());
}

// Keep last: its run on a 2031 date walks every ledger of the suite.
TEST_F(CollectionsIntegrationTest, SummariesForRetentionAndReportingReadTheLedgers) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "A", DateOf(2031, 7, 1), 100000));
  Add(Row(id, "B", DateOf(2031, 7, 20), 50000));
  Add(Row(id, "C", DateOf(2031, 8, 1), 70000));
  cv1::PostPaymentRequest pay = PaymentRequest(id, 60000, NewId());
  *pay.mutable_payment_date() = DateOf(2031, 7, 5);
  cv1::Payment p;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), pay, &p).ok());
  cv1::RunAgingRequest aging;
  *aging.mutable_as_of() = DateOf(2031, 7, 31);
  cv1::RunAgingResponse aged;
  ASSERT_TRUE(stub_->RunAging(Ctx(kCollector).get(), aging, &aged).ok());

  // The month, before any notice charges fees in it.
  cv1::GetMonthlyCollectionsSummaryRequest mreq;
  mreq.set_year(2031);
  mreq.set_month(7);
  cv1::MonthlyCollectionsSummary month;
  grpc::Status s = stub_->GetMonthlyCollectionsSummary(Ctx("svc-reporting").get(), mreq, &month);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(month.month_end().day(), 31);
  ASSERT_EQ(month.currencies_size(), 1);
  EXPECT_EQ(month.currencies(0).currency_code(), "PHP");
  EXPECT_EQ(month.currencies(0).amount_due().amount_minor(), 150000);  // A and B; C is August's
  EXPECT_EQ(month.currencies(0).collected().amount_minor(), 60000);
  EXPECT_EQ(month.currencies(0).efficiency_bp(), 4000);
  // The aging totals equal the aging report's rows on the month's last day.
  cv1::GetAgingReportRequest rreq;
  *rreq.mutable_as_of() = DateOf(2031, 7, 31);
  cv1::AgingReport report;
  ASSERT_TRUE(stub_->GetAgingReport(Ctx(kFinance).get(), rreq, &report).ok());
  int64_t rows = 0, totals = 0;
  for (const auto& r : report.rows()) rows += r.outstanding().amount_minor();
  for (const auto& t : month.aging_totals()) totals += t.outstanding().amount_minor();
  EXPECT_EQ(totals, rows);
  EXPECT_FALSE(month.aging_totals().empty());
  mreq.set_month(13);
  s = stub_->GetMonthlyCollectionsSummary(Ctx("svc-reporting").get(), mreq, &month);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("month"), std::string::npos);
  mreq.set_month(7);
  EXPECT_EQ(stub_->GetMonthlyCollectionsSummary(Ctx("svc-retention").get(), mreq, &month).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  Dun(DateOf(2031, 7, 14));  // A is 10 days past due: the first notice
  cv1::GetAccountCollectionsSummaryRequest sreq;
  sreq.set_account_id(ledger.account_id());
  *sreq.mutable_as_of() = DateOf(2031, 7, 31);
  cv1::AccountCollectionsSummary summary;
  s = stub_->GetAccountCollectionsSummary(Ctx("svc-retention").get(), sreq, &summary);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(summary.ledger_id(), id);
  EXPECT_EQ(summary.days_past_due(), 27);  // A: 30 days, less 3 of grace
  EXPECT_EQ(summary.bucket(), "1-30");
  EXPECT_EQ(summary.outstanding().amount_minor(), 160000);
  std::map<std::string, std::pair<int, int64_t>> by_bucket;
  for (const auto& b : summary.outstanding_by_bucket()) {
    by_bucket[b.bucket()] = {b.installments(), b.outstanding().amount_minor()};
  }
  EXPECT_EQ(by_bucket["current"], (std::pair<int, int64_t>{1, 70000}));
  EXPECT_EQ(by_bucket["1-30"], (std::pair<int, int64_t>{2, 90000}));
  EXPECT_EQ(by_bucket["120+"], (std::pair<int, int64_t>{0, 0}));
  EXPECT_EQ(summary.notices_issued(), 1);
  EXPECT_EQ(summary.last_notice_rung(), cv1::NOTICE_RUNG_FIRST_NOTICE);
  EXPECT_EQ(summary.last_notice_date().day(), 14);
  EXPECT_EQ(summary.last_payment_date().day(), 5);
  EXPECT_EQ(summary.last_payment_amount().amount_minor(), 60000);
  EXPECT_EQ(stub_->GetAccountCollectionsSummary(Ctx("svc-claims").get(), sreq, &summary).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  sreq.set_account_id("NO-SUCH-ACCOUNT");
  EXPECT_EQ(stub_->GetAccountCollectionsSummary(Ctx("svc-retention").get(), sreq, &summary).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(CollectionsIntegrationTest, TodayIsTheBusinessTimeZonesDateNotUtcs) {
  // 2026-06-05 23:00 UTC is already 2026-06-06 07:00 in Manila (UTC+8).
  const std::string at = "--test_clock_start=2026-06-05T23:00:00Z";
  testing::TestSchema manila_schema("collections_manila"), utc_schema("collections_utc");
  testing::ServiceProcess manila("collections", manila_schema.dsn(),
                                 {"--business_tz=Asia/Manila", at, "--membership_addr=" + membership_->address()});
  testing::ServiceProcess utc("collections", utc_schema.dsn(), {at, "--membership_addr=" + membership_->address()});
  ASSERT_TRUE(testing::Serving(manila));
  ASSERT_TRUE(testing::Serving(utc));
  auto today_of = [](testing::ServiceProcess& p) {
    auto stub = cv1::CollectionsService::NewStub(grpc::CreateChannel(p.address(), grpc::InsecureChannelCredentials()));
    cv1::RunAgingResponse resp;
    grpc::Status s = stub->RunAging(Ctx(kCollector).get(), cv1::RunAgingRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return FromProto(resp.as_of(), "as_of").value_or(absl::CivilDay());
  };
  EXPECT_EQ(today_of(manila), absl::CivilDay(2026, 6, 6));
  EXPECT_EQ(today_of(utc), absl::CivilDay(2026, 6, 5));
}

// ---- Unposted payments

cv1::UnpostedPayment DepositLine(const std::string& payer, const std::string& reference, int64_t amount,
                                 common::v1::Date date, const std::string& bank_reference = NewId()) {
  cv1::UnpostedPayment u;
  u.set_bank_reference(bank_reference);
  u.set_payer_name(payer);
  u.set_reference_text(reference);
  *u.mutable_amount() = Php(amount);
  *u.mutable_deposit_date() = date;
  return u;
}

// What the unposted payments gauge says on `p`'s /metrics ("" until it is there).
std::string UnpostedGauge(testing::ServiceProcess& p) {
  const std::string body = testing::HttpGet(p.metrics_port(), "/metrics");
  const std::string name = "\ncareops_collections_unposted_payments ";
  const size_t at = body.find(name);
  if (at == std::string::npos) return "";
  return body.substr(at + name.size(), body.find('\n', at + name.size()) - at - name.size());
}

TEST_F(CollectionsIntegrationTest, AnUnpostedPaymentIsMatchedAndPostedOverThreeInstallments) {
  cv1::Ledger ledger = NewLedger();
  const std::string tag = ledger.ledger_id().substr(16);  // the ULID's random part: numbers no other test has
  for (int i = 1; i <= 3; ++i) {
    Add(Row(ledger.ledger_id(), absl::StrCat(tag, "-", i), DateOf(2026, i, 1), 100000));
  }
  cv1::GetLedgerRequest get;
  get.set_ledger_id(ledger.ledger_id());
  ASSERT_TRUE(stub_->GetLedger(Ctx(kFinance).get(), get, &ledger).ok());

  // The bank's deposit lines: one good, one with no amount; one result per row.
  cv1::IngestUnpostedPaymentsRequest ingest;
  ingest.set_request_id(NewId());
  const std::string bank_ref = NewId();
  *ingest.add_rows() = DepositLine(ledger.account_name(), absl::StrCat("Q1 dues, inv ", tag, "-1 to 3"), 300000,
                                   DateOf(2026, 3, 3), bank_ref);
  *ingest.add_rows() = DepositLine("Somebody", "", 0, DateOf(2026, 3, 3));
  cv1::IngestUnpostedPaymentsResponse ingested;
  grpc::Status s = stub_->IngestUnpostedPayments(Ctx(kFinance).get(), ingest, &ingested);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(ingested.results_size(), 2);
  EXPECT_EQ(ingested.results(0).outcome(), cv1::UNPOSTED_OUTCOME_RECORDED);  // auto-post is off in this suite
  EXPECT_EQ(ingested.results(1).outcome(), cv1::UNPOSTED_OUTCOME_INVALID);
  EXPECT_EQ(ingested.results(1).error().rfind("rows[1].amount.amount_minor", 0), 0u) << ingested.results(1).error();
  EXPECT_EQ(ingested.recorded(), 1);
  EXPECT_EQ(ingested.invalid(), 1);
  const std::string unposted_id = ingested.results(0).unposted_id();

  // The same bank reference again is a duplicate naming the line recorded before.
  cv1::IngestUnpostedPaymentsRequest again;
  again.set_request_id(NewId());
  *again.add_rows() = DepositLine("Other", "", 5, DateOf(2026, 3, 4), bank_ref);
  cv1::IngestUnpostedPaymentsResponse repeated;
  ASSERT_TRUE(stub_->IngestUnpostedPayments(Ctx(kFinance).get(), again, &repeated).ok());
  EXPECT_EQ(repeated.results(0).outcome(), cv1::UNPOSTED_OUTCOME_DUPLICATE);
  EXPECT_EQ(repeated.results(0).unposted_id(), unposted_id);

  // The gauge reads the OPEN lines from the database.
  cv1::ListUnpostedPaymentsResponse open;
  ASSERT_TRUE(stub_->ListUnpostedPayments(Ctx(kFinance).get(), cv1::ListUnpostedPaymentsRequest(), &open).ok());
  const int open_before = open.payments_size();
  EXPECT_GE(open_before, 1);
  EXPECT_TRUE(testing::Eventually([&] { return UnpostedGauge(*collections_) == absl::StrCat(open_before); }))
      << UnpostedGauge(*collections_);

  // Candidates, best first, with the score and its reasons.
  cv1::ListMatchCandidatesRequest match;
  match.set_unposted_id(unposted_id);
  cv1::ListMatchCandidatesResponse candidates;
  s = stub_->ListMatchCandidates(Ctx(kCollector).get(), match, &candidates);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(candidates.candidates_size(), 1);
  const cv1::MatchCandidate& best = candidates.candidates(0);
  EXPECT_EQ(best.ledger_id(), ledger.ledger_id());
  EXPECT_TRUE(best.reference_matches());
  EXPECT_EQ(best.score(), 100);  // reference 40, payer 25, total due 20, near the Mar 1 due date 15
  ASSERT_EQ(best.reasons_size(), 4);
  EXPECT_EQ(best.reasons(0), absl::StrCat("reference names installment ", tag, "-1 (+40)"));
  EXPECT_EQ(best.reasons(2), "amount equals the total due (+20)");
  EXPECT_EQ(best.outstanding().amount_minor(), 300000);
  for (int i = 1; i < candidates.candidates_size(); ++i) {
    EXPECT_LE(candidates.candidates(i).score(), candidates.candidates(i - 1).score());
  }

  // Posted by the clerk: one payment, spread oldest first over the three.
  cv1::PostUnpostedPaymentRequest post;
  post.set_request_id(NewId());
  post.set_unposted_id(unposted_id);
  post.set_ledger_id(ledger.ledger_id());
  post.set_etag(candidates.unposted().etag());
  cv1::UnpostedPayment posted;
  EXPECT_EQ(stub_->PostUnpostedPayment(Ctx(kAnalyst).get(), post, &posted).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  s = stub_->PostUnpostedPayment(Ctx(kFinance).get(), post, &posted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(posted.status(), cv1::UNPOSTED_STATUS_POSTED);
  EXPECT_EQ(posted.ledger_id(), ledger.ledger_id());
  EXPECT_FALSE(posted.auto_posted());
  EXPECT_EQ(posted.payment().payment_id(), posted.payment_id());
  EXPECT_EQ(posted.payment().reference(), bank_ref);
  EXPECT_EQ(posted.payment().amount().amount_minor(), 300000);
  std::set<std::string> paid;
  for (const cv1::Allocation& a : posted.payment().allocations()) paid.insert(a.installment_id());
  EXPECT_EQ(paid.size(), 3u);
  EXPECT_EQ(Balances(ledger.ledger_id()), (std::map<std::string, int64_t>{
                                              {tag + "-1", 0}, {tag + "-2", 0}, {tag + "-3", 0}}));

  // The same request_id answers the first answer; another request cannot post it twice.
  cv1::UnpostedPayment replay;
  ASSERT_TRUE(stub_->PostUnpostedPayment(Ctx(kFinance).get(), post, &replay).ok());
  EXPECT_EQ(replay.payment_id(), posted.payment_id());
  post.set_request_id(NewId());
  post.set_etag(posted.etag());  // current: the refusal is the status rule's
  s = stub_->PostUnpostedPayment(Ctx(kFinance).get(), post, &replay);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  cv1::ListPaymentsRequest lp;
  lp.set_ledger_id(ledger.ledger_id());
  cv1::ListPaymentsResponse payments;
  ASSERT_TRUE(stub_->ListPayments(Ctx(kFinance).get(), lp, &payments).ok());
  EXPECT_EQ(payments.payments_size(), 1);
  EXPECT_TRUE(testing::Eventually([&] { return UnpostedGauge(*collections_) == absl::StrCat(open_before - 1); }))
      << UnpostedGauge(*collections_);

  match.set_unposted_id("01JUNKJUNKJUNKJUNKJUNKJUNK");
  EXPECT_EQ(stub_->ListMatchCandidates(Ctx(kCollector).get(), match, &candidates).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(CollectionsIntegrationTest, AutoPostNeedsTheReferenceAndAScoreAboveTheThreshold) {
  // A replica of the same schema with auto-posting on above 80.
  testing::ServiceProcess auto_poster(
      "collections", collections_schema_->dsn(),
      std::vector<std::string>(std::begin(kCollectionsArgs), std::end(kCollectionsArgs)) +
          ("--membership_addr=" + membership_->address()) + "--unposted_auto_post_above=80");
  ASSERT_TRUE(testing::Serving(auto_poster));
  auto stub = cv1::CollectionsService::NewStub(
      grpc::CreateChannel(auto_poster.address(), grpc::InsecureChannelCredentials()));
  cv1::Ledger ledger = NewLedger();
  const std::string tag = ledger.ledger_id().substr(16);
  Add(Row(ledger.ledger_id(), tag + "-1", DateOf(2026, 5, 1), 120000));
  Add(Row(ledger.ledger_id(), tag + "-2", DateOf(2026, 6, 1), 120000));
  const std::string name = ledger.account_name();

  cv1::IngestUnpostedPaymentsRequest ingest;
  ingest.set_request_id(NewId());
  // Reference 40 + payer 25 + amount 20 + date 15 = 100 > 80: posted at once.
  *ingest.add_rows() = DepositLine(name, "ref " + tag + "-1", 120000, DateOf(2026, 5, 2));
  // Payer, amount and date (60) without the reference: stays for a clerk.
  *ingest.add_rows() = DepositLine(name, "May dues", 120000, DateOf(2026, 5, 30));
  cv1::IngestUnpostedPaymentsResponse ingested;
  grpc::Status s = stub->IngestUnpostedPayments(Ctx(kFinance).get(), ingest, &ingested);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(ingested.results_size(), 2);
  EXPECT_EQ(ingested.results(0).outcome(), cv1::UNPOSTED_OUTCOME_AUTO_POSTED);
  EXPECT_EQ(ingested.results(0).ledger_id(), ledger.ledger_id());
  EXPECT_EQ(ingested.results(1).outcome(), cv1::UNPOSTED_OUTCOME_RECORDED);
  EXPECT_EQ(ingested.auto_posted(), 1);
  EXPECT_EQ(Balances(ledger.ledger_id())[tag + "-1"], 0);
  EXPECT_EQ(Balances(ledger.ledger_id())[tag + "-2"], 120000);

  cv1::ListUnpostedPaymentsRequest all;
  all.set_include_posted(true);
  cv1::ListUnpostedPaymentsResponse listed;
  ASSERT_TRUE(stub->ListUnpostedPayments(Ctx(kFinance).get(), all, &listed).ok());
  bool found = false;
  std::string auto_posted_etag, recorded_etag;
  for (const cv1::UnpostedPayment& u : listed.payments()) {
    if (u.unposted_id() == ingested.results(1).unposted_id()) recorded_etag = u.etag();
    if (u.unposted_id() != ingested.results(0).unposted_id()) continue;
    found = true;
    EXPECT_EQ(u.status(), cv1::UNPOSTED_STATUS_POSTED);
    EXPECT_TRUE(u.auto_posted());
    EXPECT_EQ(u.score(), 100);
    EXPECT_EQ(u.payment_id(), ingested.results(0).payment_id());
    auto_posted_etag = u.etag();
  }
  EXPECT_TRUE(found);
  // The auto-post is a change of the line: it is past the version a line is
  // recorded with, so the etag of the line as recorded is stale for a clerk.
  ASSERT_FALSE(recorded_etag.empty());
  EXPECT_NE(auto_posted_etag, recorded_etag);
  cv1::PostUnpostedPaymentRequest post;
  post.set_request_id(NewId());
  post.set_unposted_id(ingested.results(0).unposted_id());
  post.set_ledger_id(ledger.ledger_id());
  post.set_etag(recorded_etag);
  cv1::UnpostedPayment out;
  EXPECT_EQ(stub->PostUnpostedPayment(Ctx(kFinance).get(), post, &out).error_code(), grpc::StatusCode::ABORTED);
}

// ---- One etag policy: every update carries the row's etag, ABORTED when stale

// The message names `etag` (the field the client fixes).
bool NamesEtag(const grpc::Status& s) { return s.error_message().find("etag") != std::string::npos; }

// How a test reads the resource an update changes: `state` is everything a
// client can read of it (to see that a refusal changed nothing), `etag` its
// etag as a Get or List gives it (unset where the resource has no read).
struct ResourceReads {
  std::function<std::string()> state;
  std::function<std::string()> etag;
};

// The etag policy of one update through the real service. `req` is a request
// that applies (all but its etag set); `etag` the resource's etag as read.
// Without an etag or with a malformed one: INVALID_ARGUMENT naming etag,
// nothing changed. With it: applied, the answer's etag new and the one reads
// give. The same request_id again: the first answer, though its etag is stale
// now. A new request_id with the etag read before: ABORTED naming etag,
// nothing changed. Returns the answer.
template <typename Req, typename Resp>
Resp ExpectEtagPolicy(Req req, const std::string& etag, const std::function<grpc::Status(const Req&, Resp*)>& call,
                      const ResourceReads& read) {
  Resp out;
  const std::string before = read.state();
  for (const std::string& bad : {std::string(), std::string("W/\"1\"")}) {
    req.set_etag(bad);
    grpc::Status s = call(req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "etag '" << bad << "': " << s.error_message();
    EXPECT_TRUE(NamesEtag(s)) << s.error_message();
    EXPECT_EQ(read.state(), before) << "etag '" << bad << "' changed the resource";
  }
  req.set_etag(etag);
  grpc::Status s = call(req, &out);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(out.etag().empty());
  EXPECT_NE(out.etag(), etag);
  if (read.etag) EXPECT_EQ(read.etag(), out.etag());
  const std::string applied = read.state();
  EXPECT_NE(applied, before);

  Resp replay;
  EXPECT_TRUE(call(req, &replay).ok());
  EXPECT_EQ(replay.SerializeAsString(), out.SerializeAsString());

  req.set_request_id(NewId());
  s = call(req, &replay);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_TRUE(NamesEtag(s)) << s.error_message();
  EXPECT_EQ(read.state(), applied) << "a stale etag changed the resource";
  return out;
}

TEST_F(CollectionsIntegrationTest, UpdateContactNeedsTheLedgersCurrentEtag) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  auto get = [&] {
    cv1::GetLedgerRequest req;
    req.set_ledger_id(id);
    cv1::Ledger l;
    EXPECT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), req, &l).ok());
    return l;
  };
  auto history = [&] {
    cv1::ListContactHistoryRequest req;
    req.set_ledger_id(id);
    cv1::ListContactHistoryResponse resp;
    EXPECT_TRUE(stub_->ListContactHistory(Ctx(kCollector).get(), req, &resp).ok());
    return resp.SerializeAsString();
  };
  EXPECT_EQ(get().etag(), ledger.etag());

  cv1::UpdateContactRequest req;
  req.set_request_id(NewId());
  req.set_ledger_id(id);
  req.set_source("call with the buyer");
  req.mutable_contact()->set_billing_email("ap@buyer.example");
  const cv1::Ledger out = ExpectEtagPolicy<cv1::UpdateContactRequest, cv1::Ledger>(
      req, ledger.etag(),
      [&](const cv1::UpdateContactRequest& r, cv1::Ledger* l) {
        return stub_->UpdateContact(Ctx(kCollector).get(), r, l);
      },
      {.state = [&] { return get().SerializeAsString() + history(); }, .etag = [&] { return get().etag(); }});
  EXPECT_EQ(out.contact().billing_email(), "ap@buyer.example");

  // Read again, retry: it applies.
  req.set_request_id(NewId());
  req.set_etag(get().etag());
  req.mutable_contact()->set_billing_email("someone-else@buyer.example");
  cv1::Ledger again;
  ASSERT_TRUE(stub_->UpdateContact(Ctx(kCollector).get(), req, &again).ok());
  EXPECT_EQ(get().contact().billing_email(), "someone-else@buyer.example");
}

TEST_F(CollectionsIntegrationTest, ADunningEpisodeClosingMakesTheLedgersEtagStale) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  Dun(DateOf(2026, 1, 14));  // the first notice
  ASSERT_EQ(Rungs(id), std::vector<std::string>{"first"});
  cv1::Payment pay;
  ASSERT_TRUE(Pay(id, 100000, &pay).ok());  // dated Mar 5
  cv1::GetLedgerRequest get;
  get.set_ledger_id(id);
  cv1::Ledger before;
  ASSERT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), get, &before).ok());
  Dun(DateOf(2026, 3, 6));  // current, nothing owed: the episode closes on the ledger row
  cv1::Ledger after;
  ASSERT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), get, &after).ok());
  EXPECT_NE(after.etag(), before.etag());

  cv1::UpdateContactRequest req;
  req.set_request_id(NewId());
  req.set_ledger_id(id);
  req.set_etag(before.etag());
  req.set_source("call with the buyer");
  req.mutable_contact()->set_mobile("+63 917 555 0123");
  cv1::Ledger out;
  grpc::Status s = stub_->UpdateContact(Ctx(kCollector).get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  cv1::Ledger now;
  ASSERT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), get, &now).ok());
  EXPECT_EQ(now.contact().mobile(), "");
}

TEST_F(CollectionsIntegrationTest, ReversePaymentNeedsThePaymentsCurrentEtag) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  cv1::Payment p;
  ASSERT_TRUE(Pay(id, 10000, &p).ok());
  auto listed = [&] {
    cv1::ListPaymentsRequest req;
    req.set_ledger_id(id);
    cv1::ListPaymentsResponse resp;
    EXPECT_TRUE(stub_->ListPayments(Ctx(kCollector).get(), req, &resp).ok());
    return resp.payments_size() == 1 ? resp.payments(0) : cv1::Payment();
  };
  EXPECT_EQ(listed().etag(), p.etag());

  // A new request_id with the etag read before the un-apply is ABORTED, not
  // the status rule's FAILED_PRECONDITION.
  const cv1::Payment out = ExpectEtagPolicy<cv1::ReversePaymentRequest, cv1::Payment>(
      Reversal(p, true, "posted to the wrong ledger"), p.etag(),
      [&](const cv1::ReversePaymentRequest& r, cv1::Payment* o) {
        return stub_->ReversePayment(Ctx(kCollector).get(), r, o);
      },
      {.state = [&] { return listed().SerializeAsString() + absl::StrCat(Balances(id)["1"]); },
       .etag = [&] { return listed().etag(); }});
  EXPECT_EQ(out.status(), cv1::PAYMENT_STATUS_UNAPPLIED);
  EXPECT_EQ(Balances(id)["1"], 10000);
}

TEST_F(CollectionsIntegrationTest, ABounceMakesThePaymentsEarlierEtagStale) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  cv1::PostPaymentRequest check = PaymentRequest(id, 10000, "CHK-" + NewId());
  check.set_method(cv1::PAYMENT_METHOD_CHECK);
  cv1::Payment p;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), check, &p).ok());
  ASSERT_EQ(BounceCheck(id, check.reference(), 10000, DateOf(2026, 3, 9)), cv1::RETURN_OUTCOME_APPLIED);

  cv1::ListPaymentsRequest list;
  list.set_ledger_id(id);
  cv1::ListPaymentsResponse payments;
  ASSERT_TRUE(stub_->ListPayments(Ctx(kCollector).get(), list, &payments).ok());
  ASSERT_EQ(payments.payments_size(), 1);
  const cv1::Payment bounced = payments.payments(0);
  EXPECT_EQ(bounced.status(), cv1::PAYMENT_STATUS_REVERSED);
  EXPECT_NE(bounced.etag(), p.etag());

  // The clerk, working from what PostPayment answered, un-applies it: stale.
  cv1::ReversePaymentRequest rev = Reversal(p, true, "customer asked to keep the money on account");
  cv1::Payment out;
  grpc::Status s = stub_->ReversePayment(Ctx(kCollector).get(), rev, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_TRUE(NamesEtag(s)) << s.error_message();
  ASSERT_TRUE(stub_->ListPayments(Ctx(kCollector).get(), list, &payments).ok());
  EXPECT_EQ(payments.payments(0).SerializeAsString(), bounced.SerializeAsString());
  EXPECT_EQ(Balances(id)["1"], 10000);
}

TEST_F(CollectionsIntegrationTest, EndPauseNeedsThePausesCurrentEtag) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  const cv1::Pause p = Dispute(id, DateOf(2026, 1, 21));

  // Pauses have no Get or List: what a client reads of one is the aging it makes.
  auto paused = [&] { return AgingOn(id, DateOf(2026, 3, 5)).paused_days(); };
  cv1::EndPauseRequest end;
  end.set_request_id(NewId());
  end.set_pause_id(p.pause_id());
  *end.mutable_end_date() = DateOf(2026, 2, 10);
  auto call = [&](const cv1::EndPauseRequest& r, cv1::Pause* o) {
    return stub_->EndPause(Ctx(kCollector).get(), r, o);
  };
  const cv1::Pause out = ExpectEtagPolicy<cv1::EndPauseRequest, cv1::Pause>(
      end, p.etag(), call, {.state = [&] { return absl::StrCat(paused()); }, .etag = nullptr});
  EXPECT_EQ(out.end_date().day(), 10);
  EXPECT_EQ(paused(), 20);  // Jan 21..Feb 9

  // The answer's etag is the current one: ending it earlier with it applies.
  end.set_request_id(NewId());
  end.set_etag(out.etag());
  *end.mutable_end_date() = DateOf(2026, 1, 31);
  cv1::Pause earlier;
  grpc::Status s = call(end, &earlier);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(earlier.etag(), out.etag());
  EXPECT_EQ(paused(), 10);
}

TEST_F(CollectionsIntegrationTest, PostUnpostedPaymentNeedsTheLinesCurrentEtag) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 4, 1), 50000));
  cv1::IngestUnpostedPaymentsRequest ingest;
  ingest.set_request_id(NewId());
  *ingest.add_rows() = DepositLine("Nobody In Particular", "", 50000, DateOf(2026, 4, 2));
  cv1::IngestUnpostedPaymentsResponse ingested;
  ASSERT_TRUE(stub_->IngestUnpostedPayments(Ctx(kFinance).get(), ingest, &ingested).ok());
  ASSERT_EQ(ingested.results_size(), 1);
  const std::string unposted_id = ingested.results(0).unposted_id();
  // The line as ListUnpostedPayments and ListMatchCandidates show it.
  auto listed = [&] {
    cv1::ListUnpostedPaymentsRequest req;
    req.set_include_posted(true);
    cv1::ListUnpostedPaymentsResponse resp;
    EXPECT_TRUE(stub_->ListUnpostedPayments(Ctx(kFinance).get(), req, &resp).ok());
    for (const cv1::UnpostedPayment& u : resp.payments()) {
      if (u.unposted_id() == unposted_id) return u;
    }
    return cv1::UnpostedPayment();
  };
  auto matched = [&] {
    cv1::ListMatchCandidatesRequest req;
    req.set_unposted_id(unposted_id);
    cv1::ListMatchCandidatesResponse resp;
    EXPECT_TRUE(stub_->ListMatchCandidates(Ctx(kFinance).get(), req, &resp).ok());
    return resp.unposted();
  };
  auto payments = [&] {
    cv1::ListPaymentsRequest req;
    req.set_ledger_id(id);
    cv1::ListPaymentsResponse resp;
    EXPECT_TRUE(stub_->ListPayments(Ctx(kFinance).get(), req, &resp).ok());
    return resp.SerializeAsString();
  };
  const cv1::UnpostedPayment open = listed();
  EXPECT_EQ(matched().etag(), open.etag());

  cv1::PostUnpostedPaymentRequest post;
  post.set_request_id(NewId());
  post.set_unposted_id(unposted_id);
  post.set_ledger_id(id);
  auto call = [&](const cv1::PostUnpostedPaymentRequest& r, cv1::UnpostedPayment* o) {
    return stub_->PostUnpostedPayment(Ctx(kFinance).get(), r, o);
  };
  // A well-formed etag the line does not have: ABORTED, still OPEN.
  post.set_etag(absl::StrCat(std::stoll(open.etag()) + 1));
  cv1::UnpostedPayment out;
  grpc::Status s = call(post, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_EQ(listed().SerializeAsString(), open.SerializeAsString());

  // A second clerk, working from the list read before the posting, is ABORTED.
  post.set_request_id(NewId());
  out = ExpectEtagPolicy<cv1::PostUnpostedPaymentRequest, cv1::UnpostedPayment>(
      post, open.etag(), call,
      {.state = [&] { return listed().SerializeAsString() + payments(); }, .etag = [&] { return listed().etag(); }});
  EXPECT_EQ(out.status(), cv1::UNPOSTED_STATUS_POSTED);
  EXPECT_EQ(matched().etag(), out.etag());
  EXPECT_FALSE(out.payment().etag().empty());
}

// ---- Reconciliation

cv1::ExpectedPayment Expected(const std::string& reference, int64_t amount, common::v1::Date date) {
  cv1::ExpectedPayment p;
  p.set_reference(reference);
  *p.mutable_amount() = Php(amount);
  *p.mutable_payment_date() = date;
  return p;
}

TEST_F(CollectionsIntegrationTest, AReconciliationReportsEachKindWithTotalsEqualToItsRowsAndExportsCsv) {
  cv1::Ledger ledger = NewLedger();
  const std::string tag = ledger.ledger_id().substr(16);
  Add(Row(ledger.ledger_id(), "1", DateOf(2026, 2, 1), 100000));
  Add(Row(ledger.ledger_id(), "2", DateOf(2026, 3, 1), 100000));
  cv1::Payment paid;
  const std::string a = "CHK-A-" + tag, b = "CHK-B-" + tag, c = "CHK-C-" + tag;
  const std::string odd = "CHK-Z-" + tag + ", \"quoted\"";
  ASSERT_TRUE(Pay(ledger.ledger_id(), 60000, &paid, a).ok());
  ASSERT_TRUE(Pay(ledger.ledger_id(), 40000, &paid, b).ok());
  ASSERT_TRUE(Pay(ledger.ledger_id(), 1000, &paid, c).ok());  // not on the statement

  cv1::ReconcileLedgersRequest req;
  req.set_request_id(NewId());
  req.set_statement_reference("BF-2026-03/" + tag);
  *req.mutable_period_start() = DateOf(2026, 3, 1);
  *req.mutable_period_end() = DateOf(2026, 3, 31);
  cv1::StatementRow* row = req.add_rows();
  row->set_ledger_id(ledger.ledger_id());
  *row->mutable_expected_balance() = Php(90000);  // the ledger owes 99,000
  *row->add_expected_payments() = Expected(a, 60000, DateOf(2026, 3, 5));   // agrees
  *row->add_expected_payments() = Expected(b, 45000, DateOf(2026, 3, 6));   // amount and date differ
  *row->add_expected_payments() = Expected(odd, 5000, DateOf(2026, 3, 7));  // not in the ledger
  cv1::StatementRow* unknown = req.add_rows();
  unknown->set_ledger_id("01UNKNOWNLEDGER" + tag.substr(0, 10) + "0");
  *unknown->mutable_expected_balance() = Php(100);

  cv1::ReconciliationReport report;
  EXPECT_EQ(stub_->ReconcileLedgers(Ctx(kAnalyst).get(), req, &report).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status s = stub_->ReconcileLedgers(Ctx(kFinance).get(), req, &report);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(report.ledgers(), 2);
  ASSERT_EQ(report.differences_size(), 6);
  EXPECT_EQ(report.difference_count(), 6);
  auto kind = [&](int i) { return report.differences(i).kind(); };
  EXPECT_EQ(kind(0), cv1::DIFFERENCE_KIND_AMOUNT_DIFFERS);
  EXPECT_EQ(report.differences(0).subject(), "BALANCE");
  EXPECT_EQ(report.differences(0).difference().amount_minor(), -9000);
  EXPECT_EQ(kind(1), cv1::DIFFERENCE_KIND_AMOUNT_DIFFERS);
  EXPECT_EQ(report.differences(1).reference(), b);
  EXPECT_EQ(kind(2), cv1::DIFFERENCE_KIND_DATE_DIFFERS);
  EXPECT_EQ(report.differences(2).ledger_date().day(), 5);
  EXPECT_EQ(kind(3), cv1::DIFFERENCE_KIND_MISSING_IN_LEDGER);
  EXPECT_EQ(report.differences(3).reference(), odd);
  EXPECT_EQ(kind(4), cv1::DIFFERENCE_KIND_MISSING_IN_STATEMENT);
  EXPECT_EQ(report.differences(4).reference(), c);
  EXPECT_EQ(report.differences(4).ledger_amount().amount_minor(), 1000);
  EXPECT_EQ(kind(5), cv1::DIFFERENCE_KIND_MISSING_IN_LEDGER);
  EXPECT_EQ(report.differences(5).subject(), "BALANCE");

  // The totals equal the rows, kind by kind.
  int counted = 0;
  for (const cv1::DifferenceTotal& t : report.totals()) {
    int n = 0;
    int64_t statement = 0, ledger_side = 0, difference = 0;
    for (const cv1::ReconciliationDifference& d : report.differences()) {
      if (d.kind() != t.kind()) continue;
      ++n;
      statement += d.statement_amount().amount_minor();
      ledger_side += d.ledger_amount().amount_minor();
      difference += d.difference().amount_minor();
    }
    EXPECT_EQ(t.count(), n);
    EXPECT_EQ(t.statement_amount().amount_minor(), statement);
    EXPECT_EQ(t.ledger_amount().amount_minor(), ledger_side);
    EXPECT_EQ(t.difference().amount_minor(), difference);
    counted += t.count();
  }
  EXPECT_EQ(counted, report.differences_size());
  EXPECT_EQ(report.totals_size(), 4);

  // Replayed, read back, listed: the same stored report.
  cv1::ReconciliationReport replay;
  ASSERT_TRUE(stub_->ReconcileLedgers(Ctx(kFinance).get(), req, &replay).ok());
  EXPECT_EQ(replay.report_id(), report.report_id());
  cv1::GetReconciliationReportRequest get;
  get.set_report_id(report.report_id());
  cv1::ReconciliationReport read;
  ASSERT_TRUE(stub_->GetReconciliationReport(Ctx(kCollector).get(), get, &read).ok());
  EXPECT_EQ(read.SerializeAsString(), report.SerializeAsString());
  cv1::ListReconciliationReportsResponse listed;
  ASSERT_TRUE(
      stub_->ListReconciliationReports(Ctx(kFinance).get(), cv1::ListReconciliationReportsRequest(), &listed).ok());
  ASSERT_GE(listed.reports_size(), 1);
  EXPECT_EQ(listed.reports(0).report_id(), report.report_id());
  EXPECT_EQ(listed.reports(0).difference_count(), 6);

  // CSV: a header and a line per difference; the reference's comma and quotes escaped.
  cv1::ExportReconciliationReportRequest exp;
  exp.set_report_id(report.report_id());
  cv1::ReconciliationCsv csv;
  EXPECT_EQ(stub_->ExportReconciliationReport(Ctx(kAnalyst).get(), exp, &csv).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->ExportReconciliationReport(Ctx(kFinance).get(), exp, &csv).ok());
  EXPECT_EQ(csv.file_name(), absl::StrCat("reconciliation-BF-2026-03_", tag, "-", report.report_id(), ".csv"));
  std::vector<std::string> lines = absl::StrSplit(csv.csv(), "\r\n", absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u) << csv.csv();
  EXPECT_EQ(lines[0],
            "ledger_id,kind,subject,reference,currency,statement_amount,ledger_amount,difference,statement_date,"
            "ledger_date");
  EXPECT_EQ(lines[1], absl::StrCat(ledger.ledger_id(), ",AMOUNT_DIFFERS,BALANCE,,PHP,900.00,990.00,-90.00,,"));
  EXPECT_EQ(lines[4], absl::StrCat(ledger.ledger_id(), ",MISSING_IN_LEDGER,PAYMENT,\"CHK-Z-", tag,
                                   ", \"\"quoted\"\"\",PHP,50.00,0.00,50.00,2026-03-07,"));

  // The gauge reads the latest report from the database.
  EXPECT_TRUE(testing::Eventually([&] {
    const std::string body = testing::HttpGet(collections_->metrics_port(), "/metrics");
    return body.find("careops_collections_reconciliation_differences{kind=\"MISSING_IN_LEDGER\"} 2") !=
               std::string::npos &&
           body.find("careops_collections_reconciliation_differences{kind=\"DATE_DIFFERS\"} 1") != std::string::npos;
  })) << testing::HttpGet(collections_->metrics_port(), "/metrics");

  // Bad input names the field and stores nothing.
  req.set_request_id(NewId());
  req.mutable_rows(0)->mutable_expected_payments(1)->set_reference(a);
  s = stub_->ReconcileLedgers(Ctx(kFinance).get(), req, &report);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("rows[0].expected_payments[1].reference", 0), 0u) << s.error_message();
  get.set_report_id("01JUNKJUNKJUNKJUNKJUNKJUNK");
  EXPECT_EQ(stub_->GetReconciliationReport(Ctx(kFinance).get(), get, &read).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CollectionsIntegrationTest, AReconciliationComparesTheBalanceAtTheEndOfTheStatementPeriod) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 3, 1), 100000));
  Add(Row(id, "2", DateOf(2026, 4, 15), 50000));
  // March's installment is paid on Apr 5: on Mar 31 the ledger still owed it.
  cv1::PostPaymentRequest pay = PaymentRequest(id, 100000, NewId());
  *pay.mutable_payment_date() = DateOf(2026, 4, 5);
  cv1::Payment paid;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), pay, &paid).ok());

  auto differences = [&](common::v1::Date start, common::v1::Date end, int64_t expected) {
    cv1::ReconcileLedgersRequest req;
    req.set_request_id(NewId());
    req.set_statement_reference("BF-" + NewId());
    *req.mutable_period_start() = start;
    *req.mutable_period_end() = end;
    cv1::StatementRow* row = req.add_rows();
    row->set_ledger_id(id);
    *row->mutable_expected_balance() = Php(expected);
    cv1::ReconciliationReport report;
    grpc::Status s = stub_->ReconcileLedgers(Ctx(kFinance).get(), req, &report);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<int64_t> out;
    for (const auto& d : report.differences()) out.push_back(d.ledger_amount().amount_minor());
    return out;
  };
  // March's statement: 1,000.00 owed at its end (today the ledger owes 500.00, due Apr 15).
  EXPECT_TRUE(differences(DateOf(2026, 3, 1), DateOf(2026, 3, 31), 100000).empty());
  EXPECT_EQ(differences(DateOf(2026, 3, 1), DateOf(2026, 3, 31), 50000), std::vector<int64_t>{100000});
  // April's: March paid, April's 500.00 due.
  EXPECT_TRUE(differences(DateOf(2026, 4, 1), DateOf(2026, 4, 30), 50000).empty());
}

TEST_F(CollectionsIntegrationTest, ACheckBouncingAfterItResolvedANoticeReopensItAndTheLadderGoesOn) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  Dun(DateOf(2026, 1, 14));  // first notice: 13 days, less 3 of grace
  ASSERT_EQ(Rungs(id), (std::vector<std::string>{"first"}));
  cv1::PostPaymentRequest pay = PaymentRequest(id, 100000, "CHK-" + NewId());
  pay.set_method(cv1::PAYMENT_METHOD_CHECK);
  cv1::Payment check;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), pay, &check).ok());
  ASSERT_EQ(LadderNotices(id)[0].status(), cv1::NOTICE_STATUS_RESOLVED);
  Dun(DateOf(2026, 3, 6));  // current and nothing open: the episode ends

  ASSERT_EQ(BounceCheck(id, pay.reference(), 100000, DateOf(2026, 3, 9)), cv1::RETURN_OUTCOME_APPLIED);

  // The first notice asks for the money again...
  cv1::Notice first = LadderNotices(id)[0];
  EXPECT_EQ(first.status(), cv1::NOTICE_STATUS_ISSUED);
  EXPECT_FALSE(first.has_resolved_on());
  // ... and the ladder goes on from it: the second notice, not a first one again.
  Dun(DateOf(2026, 3, 10));
  EXPECT_EQ(Rungs(id), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(LadderNotices(id)[1].episode(), first.episode());
}

TEST_F(CollectionsIntegrationTest, ACheckBouncingAfterItWithdrewTheNoticeOfCancellationSuspendsAgainAndItLapses) {
  cv1::Ledger ledger = LedgerAtNoticeOfCancellation();
  const std::string id = ledger.ledger_id();
  const std::string account = ledger.account_id();
  ASSERT_TRUE(testing::Eventually([&] { return AccountStatus(account) == mv1::CLIENT_ACCOUNT_STATUS_SUSPENDED; }));
  auto noc_done = [&](cv1::AccountAction action) {
    cv1::Notice n = LadderNotices(id)[3];
    return n.account_action() == action && n.account_action_state() == cv1::ACCOUNT_ACTION_STATE_DONE;
  };

  // A check for everything owed, on Apr 10: the notice is withdrawn, the account reinstated.
  cv1::GetLedgerRequest get;
  get.set_ledger_id(id);
  cv1::Ledger l;
  ASSERT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), get, &l).ok());
  cv1::PostPaymentRequest pay = PaymentRequest(id, l.outstanding().amount_minor(), "CHK-" + NewId());
  pay.set_method(cv1::PAYMENT_METHOD_CHECK);
  *pay.mutable_payment_date() = DateOf(2026, 4, 10);
  cv1::Payment check;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), pay, &check).ok());
  ASSERT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_WITHDRAWN);
  ASSERT_TRUE(testing::Eventually([&] {
    return noc_done(cv1::ACCOUNT_ACTION_REINSTATE) && AccountStatus(account) == mv1::CLIENT_ACCOUNT_STATUS_ACTIVE;
  }));
  Dun(DateOf(2026, 4, 11));  // current and nothing open: the episode ends

  // It bounces on Apr 12: as if it had never been paid, the notice is ISSUED
  // again with its own grace date, and the account suspended again.
  ASSERT_EQ(BounceCheck(id, pay.reference(), check.amount().amount_minor(), DateOf(2026, 4, 12)),
            cv1::RETURN_OUTCOME_APPLIED);
  std::vector<cv1::Notice> ladder = LadderNotices(id);
  ASSERT_EQ(ladder.size(), 4u);
  for (const cv1::Notice& n : ladder) EXPECT_EQ(n.status(), cv1::NOTICE_STATUS_ISSUED) << n.rung_name();
  EXPECT_FALSE(ladder[3].has_resolved_on());
  EXPECT_EQ(ladder[3].grace_until().day(), 19);
  EXPECT_EQ(ladder[3].account_action(), cv1::ACCOUNT_ACTION_SUSPEND);
  EXPECT_TRUE(testing::Eventually([&] {
    return noc_done(cv1::ACCOUNT_ACTION_SUSPEND) && AccountStatus(account) == mv1::CLIENT_ACCOUNT_STATUS_SUSPENDED;
  })) << LadderNotices(id)[3].DebugString();

  // The ladder goes on from it: no first notice again; unpaid on Apr 19, it lapses and cancels the account.
  Dun(DateOf(2026, 4, 18));
  EXPECT_EQ(Rungs(id), (std::vector<std::string>{"first", "second", "third", "noc"}));
  EXPECT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_ISSUED);
  Dun(DateOf(2026, 4, 19));
  EXPECT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_LAPSED);
  EXPECT_TRUE(testing::Eventually([&] {
    return noc_done(cv1::ACCOUNT_ACTION_CANCEL) && AccountStatus(account) == mv1::CLIENT_ACCOUNT_STATUS_CANCELLED;
  })) << LadderNotices(id)[3].DebugString();
}

TEST_F(CollectionsIntegrationTest, AgingForAPastDateUsesTheBalancesOfThatDate) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 10000));
  cv1::Payment pay;
  ASSERT_TRUE(Pay(id, 10000, &pay).ok());  // dated Mar 5

  // On Feb 10 the payment had not been made: 40 days less 3 of grace.
  cv1::Aging feb = AgingOn(id, DateOf(2026, 2, 10));
  EXPECT_EQ(feb.days_past_due(), 37);
  EXPECT_EQ(feb.bucket(), "31-60");
  EXPECT_EQ(feb.outstanding().amount_minor(), 10000);
  EXPECT_EQ(feb.anchor_due_date().month(), 1);
  cv1::Aging march = AgingOn(id, DateOf(2026, 3, 5));
  EXPECT_EQ(march.days_past_due(), 0);
  EXPECT_EQ(march.outstanding().amount_minor(), 0);

  // A back-filled aging run for Feb 10 records that day's bucket, not today's.
  cv1::RunAgingRequest run;
  *run.mutable_as_of() = DateOf(2026, 2, 10);
  cv1::RunAgingResponse ran;
  ASSERT_TRUE(stub_->RunAging(Ctx(kCollector).get(), run, &ran).ok());
  cv1::GetAgingHistoryRequest hreq;
  hreq.set_ledger_id(id);
  cv1::GetAgingHistoryResponse history;
  ASSERT_TRUE(stub_->GetAgingHistory(Ctx(kCollector).get(), hreq, &history).ok());
  bool recorded = false;
  for (const cv1::AgingChange& c : history.changes()) {
    if (!c.installment_id().empty() || c.as_of().month() != 2 || c.as_of().day() != 10) continue;
    recorded = true;
    EXPECT_EQ(c.bucket(), "31-60");
    EXPECT_EQ(c.balance().amount_minor(), 10000);
  }
  EXPECT_TRUE(recorded);

  // A payment given back never paid: reversed, it does not count on any day.
  ASSERT_TRUE(
      stub_->ReversePayment(Ctx(kCollector).get(), Reversal(pay, false, "posted to the wrong ledger"), &pay).ok());
  EXPECT_EQ(AgingOn(id, DateOf(2026, 3, 5)).days_past_due(), 60);
}

TEST_F(CollectionsIntegrationTest, ABackFilledDunningRunSeesTheBalancesOfItsDay) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  // Paid on Feb 10, while no run had been made (the service was down in January).
  cv1::PostPaymentRequest pay = PaymentRequest(id, 100000, NewId());
  *pay.mutable_payment_date() = DateOf(2026, 2, 10);
  cv1::Payment paid;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), pay, &paid).ok());
  ASSERT_EQ(AgingOn(id, DateOf(2026, 1, 14)).days_past_due(), 10);

  // The back-fill for Jan 14 sees what was owed on Jan 14: the first notice.
  cv1::RunDunningResponse jan14 = Dun(DateOf(2026, 1, 14));
  ASSERT_EQ(Rungs(id), std::vector<std::string>{"first"});
  cv1::Notice first = LadderNotices(id)[0];
  EXPECT_EQ(first.days_past_due(), 10);
  EXPECT_EQ(first.outstanding().amount_minor(), 100000);
  EXPECT_EQ(first.status(), cv1::NOTICE_STATUS_ISSUED);
  // Jan 20 still owed it; the run of the payment's day resolves it, on that day.
  Dun(DateOf(2026, 1, 20));
  EXPECT_EQ(LadderNotices(id)[0].status(), cv1::NOTICE_STATUS_ISSUED);
  Dun(DateOf(2026, 2, 10));
  first = LadderNotices(id)[0];
  EXPECT_EQ(first.status(), cv1::NOTICE_STATUS_RESOLVED);
  EXPECT_EQ(first.resolved_on().month(), 2);
  EXPECT_EQ(first.resolved_on().day(), 10);
  // The same back-fill again issues nothing more.
  EXPECT_EQ(Dun(DateOf(2026, 1, 14)).notices_issued(), 0);
  EXPECT_EQ(Rungs(id), std::vector<std::string>{"first"});
  EXPECT_GE(jan14.notices_issued(), 1);
}

TEST_F(CollectionsIntegrationTest, ANoticeTemplatesFileGivesTheNoticesTheirWording) {
  char dir[] = "/tmp/careops-templates-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/notices.txt";
  std::ofstream(path) << "# wording approved by legal\n[FIRST_NOTICE]\nDear {account_name}, {total} is {days_past_due} "
                         "days late.\n";
  testing::TestSchema schema("collections_templates");
  testing::ServiceProcess worded(
      "collections", schema.dsn(),
      std::vector<std::string>(std::begin(kCollectionsArgs), std::end(kCollectionsArgs)) +
          ("--membership_addr=" + membership_->address()) + ("--notice_templates_file=" + path));
  ASSERT_TRUE(testing::Serving(worded));
  auto stub = cv1::CollectionsService::NewStub(grpc::CreateChannel(worded.address(), grpc::InsecureChannelCredentials()));
  cv1::OpenLedgerRequest open;
  open.set_request_id(NewId());
  open.set_account_id(NewAccount());
  open.set_currency_code("PHP");
  cv1::Ledger ledger;
  ASSERT_TRUE(stub->OpenLedger(Ctx(kCollector).get(), open, &ledger).ok());
  cv1::AddInstallmentRequest add;
  add.set_request_id(NewId());
  *add.mutable_installment() = Row(ledger.ledger_id(), "1", DateOf(2026, 1, 1), 100000);
  cv1::Installment inst;
  ASSERT_TRUE(stub->AddInstallment(Ctx(kFinance).get(), add, &inst).ok());
  Dun(DateOf(2026, 1, 14), stub.get());
  cv1::ListNoticesRequest list;
  list.set_ledger_id(ledger.ledger_id());
  cv1::ListNoticesResponse notices;
  ASSERT_TRUE(stub->ListNotices(Ctx(kCollector).get(), list, &notices).ok());
  ASSERT_EQ(notices.notices_size(), 1);
  EXPECT_EQ(notices.notices(0).text(), absl::StrCat("Dear ", ledger.account_name(), ", PHP 1000.00 is 10 days late."));

  // A template with an unknown placeholder stops the start.
  std::ofstream(path) << "[SECOND_NOTICE]\n{no_such_field}\n";
  testing::TestSchema bad_schema("collections_bad_templates");
  testing::ServiceProcess bad("collections", bad_schema.dsn(),
                              {"--membership_addr=" + membership_->address(), "--notice_templates_file=" + path});
  const int status = bad.process().Wait(absl::Seconds(30));
  ASSERT_NE(status, -1) << "the service started with a bad template";
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(bad.process().output().find("notice_templates"), std::string::npos) << bad.process().output();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Collections and membership of their own, membership's today fixed at
// 2026-04-10 (--test_clock_start), so that a transition dated after it is
// scheduled: the account stays ACTIVE in reads and the change waits in
// scheduled_status_changes, where collections must see it. The suite's
// process and schema slots hold this pair while its tests run, so every helper
// of the fixture talks to it.
class CollectionsWithScheduledStatusTest : public CollectionsIntegrationTest {
 protected:
  static void SetUpTestSuite() {
    membership_schema_ = new testing::TestSchema("membership");
    collections_schema_ = new testing::TestSchema("collections");
    membership_ = new testing::ServiceProcess("membership", membership_schema_->dsn(),
                                              {"--test_clock_start=2026-04-10T12:00:00Z"});
    ASSERT_TRUE(testing::Serving(*membership_));
    collections_ = new testing::ServiceProcess(
        "collections", collections_schema_->dsn(),
        std::vector<std::string>(std::begin(kCollectionsArgs), std::end(kCollectionsArgs)) +
            ("--membership_addr=" + membership_->address()));
    ASSERT_TRUE(testing::Serving(*collections_));
  }

  static void TearDownTestSuite() {
    delete collections_;
    delete membership_;
    delete collections_schema_;
    delete membership_schema_;
    collections_ = membership_ = nullptr;
    collections_schema_ = membership_schema_ = nullptr;
  }

  mv1::ClientAccount Account(const std::string& account_id) {
    mv1::GetClientAccountRequest req;
    req.set_account_id(account_id);
    mv1::ClientAccount a;
    grpc::Status s = membership_stub_->GetClientAccount(Ctx(kAccountOfficer).get(), req, &a);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return a;
  }

  // The account officer suspends the account from `on` (after membership's today: scheduled).
  void OfficerSuspends(const std::string& account_id, common::v1::Date on) {
    mv1::SuspendClientAccountRequest req;
    req.set_request_id(NewId());
    req.set_account_id(account_id);
    req.set_etag(Account(account_id).etag());
    req.set_reason("officer: documents missing");
    *req.mutable_effective_date() = on;
    mv1::ClientAccount a;
    grpc::Status s = membership_stub_->SuspendClientAccount(Ctx(kAccountOfficer).get(), req, &a);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(a.status(), mv1::CLIENT_ACCOUNT_STATUS_ACTIVE);
    ASSERT_EQ(a.scheduled_status_changes_size(), 1);
  }

  // The last transition made (scheduled or in force) and its date, "STATUS yyyy-mm-dd".
  std::string LastTransition(const std::string& account_id) {
    mv1::ClientAccount a = Account(account_id);
    auto text = [](mv1::ClientAccountStatus status, const common::v1::Date& on) {
      return absl::StrCat(mv1::ClientAccountStatus_Name(status), " ", on.year(), "-", on.month(), "-", on.day());
    };
    if (a.scheduled_status_changes().empty()) return text(a.status(), a.status_effective_date());
    const mv1::ScheduledStatusChange& last = *a.scheduled_status_changes().rbegin();
    return text(last.status(), last.effective_date());
  }

  // The ledger's Notice of Cancellation once membership answered for `action`.
  bool NoticeOfCancellationDone(const std::string& ledger_id, cv1::AccountAction action) {
    std::vector<cv1::Notice> ladder = LadderNotices(ledger_id);
    return ladder.size() == 4 && ladder[3].account_action() == action &&
           ladder[3].account_action_state() == cv1::ACCOUNT_ACTION_STATE_DONE;
  }
};

TEST_F(CollectionsWithScheduledStatusTest, APaymentAfterTheNoticeUndoesASuspensionScheduledByTheAccountOfficer) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  Add(Row(id, "1", DateOf(2026, 1, 1), 100000));
  for (auto day : {DateOf(2026, 1, 14), DateOf(2026, 2, 3), DateOf(2026, 3, 5)}) Dun(day);
  OfficerSuspends(ledger.account_id(), DateOf(2026, 4, 30));
  // The Notice of Cancellation finds the account on its way to SUSPENDED: nothing to send.
  Dun(DateOf(2026, 4, 4));
  ASSERT_EQ(Rungs(id), (std::vector<std::string>{"first", "second", "third", "noc"}));
  EXPECT_TRUE(testing::Eventually([&] { return NoticeOfCancellationDone(id, cv1::ACCOUNT_ACTION_SUSPEND); }))
      << LadderNotices(id)[3].DebugString();
  EXPECT_EQ(LastTransition(ledger.account_id()), "CLIENT_ACCOUNT_STATUS_SUSPENDED 2026-4-30");

  // Brought current on Apr 12: withdrawn, and the reinstatement lands on the
  // suspension's day (membership takes none before it), so the account is
  // never suspended.
  cv1::GetLedgerRequest get;
  get.set_ledger_id(id);
  cv1::Ledger l;
  ASSERT_TRUE(stub_->GetLedger(Ctx(kCollector).get(), get, &l).ok());
  cv1::PostPaymentRequest pay = PaymentRequest(id, l.outstanding().amount_minor(), NewId());
  *pay.mutable_payment_date() = DateOf(2026, 4, 12);
  cv1::Payment paid;
  ASSERT_TRUE(stub_->PostPayment(Ctx(kCollector).get(), pay, &paid).ok());
  EXPECT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_WITHDRAWN);
  EXPECT_TRUE(testing::Eventually([&] {
    return NoticeOfCancellationDone(id, cv1::ACCOUNT_ACTION_REINSTATE) &&
           LastTransition(ledger.account_id()) == "CLIENT_ACCOUNT_STATUS_ACTIVE 2026-4-30";
  })) << LastTransition(ledger.account_id()) << "\n" << LadderNotices(id)[3].DebugString();
  EXPECT_EQ(Account(ledger.account_id()).status(), mv1::CLIENT_ACCOUNT_STATUS_ACTIVE);
}

TEST_F(CollectionsWithScheduledStatusTest, ANoticeLapsingTodayBeforeAScheduledSuspensionCancelsTheAccountOnItsDay) {
  cv1::Ledger ledger = NewLedger();
  const std::string id = ledger.ledger_id();
  // Due Dec 23: the Notice of Cancellation on Mar 26, its grace until Apr 10 (membership's today).
  Add(Row(id, "1", DateOf(2025, 12, 23), 100000));
  for (auto day : {DateOf(2026, 1, 5), DateOf(2026, 1, 25), DateOf(2026, 2, 24)}) Dun(day);
  OfficerSuspends(ledger.account_id(), DateOf(2026, 4, 30));
  Dun(DateOf(2026, 3, 26));
  ASSERT_EQ(Rungs(id), (std::vector<std::string>{"first", "second", "third", "noc"}));
  EXPECT_EQ(LadderNotices(id)[3].grace_until().day(), 10);
  EXPECT_TRUE(testing::Eventually([&] { return NoticeOfCancellationDone(id, cv1::ACCOUNT_ACTION_SUSPEND); }));

  // Lapsed unpaid today: membership takes no transition dated before the
  // scheduled suspension, so the cancellation is made on its day, not refused.
  Dun(DateOf(2026, 4, 10));
  EXPECT_EQ(LadderNotices(id)[3].status(), cv1::NOTICE_STATUS_LAPSED);
  EXPECT_TRUE(testing::Eventually([&] {
    return NoticeOfCancellationDone(id, cv1::ACCOUNT_ACTION_CANCEL) &&
           LastTransition(ledger.account_id()) == "CLIENT_ACCOUNT_STATUS_CANCELLED 2026-4-30";
  })) << LastTransition(ledger.account_id()) << "\n" << LadderNotices(id)[3].DebugString();
}

TEST_F(CollectionsIntegrationTest, AReplicaHoldingALedgerIsNeverDunnedTwiceByTheOther) {
  // Two replicas of a schema of their own; A stops inside its first ledger's
  // transaction (the ledger locked, nothing decided) until the test lets it go.
  testing::TestSchema schema("collections_collide");
  char dir[] = "/tmp/careops-failpoints-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string held = std::string(dir) + "/collections.dunning.ledger_locked.held";
  const std::string release = std::string(dir) + "/collections.dunning.ledger_locked.release";
  const std::vector<std::string> args = std::vector<std::string>(std::begin(kCollectionsArgs),
                                                                 std::end(kCollectionsArgs)) +
                                        ("--membership_addr=" + membership_->address());
  testing::ServiceProcess a("collections", schema.dsn(), args,
                            {{"CAREOPS_FAILPOINTS", "collections.dunning.ledger_locked=hold*1"},
                             {"CAREOPS_FAILPOINT_DIR", dir}});
  testing::ServiceProcess b("collections", schema.dsn(), args);
  ASSERT_TRUE(testing::Serving(a));
  ASSERT_TRUE(testing::Serving(b));
  stub_ = cv1::CollectionsService::NewStub(grpc::CreateChannel(a.address(), grpc::InsecureChannelCredentials()));
  auto b_stub = cv1::CollectionsService::NewStub(grpc::CreateChannel(b.address(), grpc::InsecureChannelCredentials()));
  std::vector<std::string> ledgers;
  for (int i = 0; i < 6; ++i) {
    cv1::Ledger l = NewLedger();
    Add(Row(l.ledger_id(), "1", DateOf(2026, 1, 1), 100000));
    ledgers.push_back(l.ledger_id());
  }
  std::sort(ledgers.begin(), ledgers.end());  // A's run visits them in this order
  auto issued_for = [&] {
    std::set<std::string> out;
    for (const std::string& id : ledgers) {
      if (!Notices(id).empty()) out.insert(id);
    }
    return out;
  };

  cv1::RunDunningResponse ra, rb;
  std::atomic<bool> b_done{false};
  std::thread ta([&] { ra = Dun(DateOf(2026, 1, 14)); });
  ASSERT_TRUE(testing::Eventually([&] { return std::filesystem::exists(held); })) << a.process().output();
  std::thread tb([&] {
    rb = Dun(DateOf(2026, 1, 14), b_stub.get());
    b_done = true;
  });
  // B passes the held ledger by and notices every other one, then waits for
  // it: it cannot finish while A holds it.
  const std::set<std::string> others(ledgers.begin() + 1, ledgers.end());
  EXPECT_TRUE(testing::Eventually([&] { return issued_for() == others; }));
  EXPECT_FALSE(b_done.load());
  std::ofstream(release) << "go\n";
  ta.join();
  tb.join();

  // A issued the held ledger's notice, B the others; no ledger got two.
  EXPECT_EQ(ra.issued_notice_ids_size(), 1);
  EXPECT_EQ(rb.issued_notice_ids_size(), 5);
  std::set<std::string> issued;
  for (const auto* r : {&ra, &rb}) {
    for (const std::string& n : r->issued_notice_ids()) EXPECT_TRUE(issued.insert(n).second) << n;
  }
  EXPECT_EQ(Notices(ledgers[0]).size(), 1u);
  EXPECT_EQ(issued.count(Notices(ledgers[0])[0].notice_id()), 1u);
  for (const std::string& id : ledgers) EXPECT_EQ(Rungs(id), std::vector<std::string>{"first"}) << id;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace careops
