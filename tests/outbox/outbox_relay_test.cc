// The outbox relay against the real MariaDB (the schema of common/schema),
// with a fake peer and a fake clock: success finalises and failure compensates
// in the completion transaction, transient answers are retried after the
// backoff, a crashed delivery is taken over after its lease, and two relays on
// one schema deliver and complete each intent exactly once.
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/migrations.h"
#include "common/mysql/pool.h"
#include "common/outbox.h"
#include "common/outbox_relay.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "tests/support/harness.h"

namespace careops {
std::vector<Migration> careops_runtime_migrations();
namespace {

constexpr char kMethod[] = "/careops.test.v1.Peer/Apply";

// Answers from a script per idempotency key (OK when none), and counts calls.
class FakePeer final : public outbox::OutboxPeer {
 public:
  outbox::PeerReply Call(const std::string& method, const std::string& request, const std::string& key,
                         absl::Time) override {
    std::function<void()> during;
    absl::Status answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_[key];
      auto it = script_.find(key);
      if (it != script_.end() && !it->second.empty()) {
        answer = it->second.front();
        it->second.erase(it->second.begin());
      }
      during = during_call_;
    }
    if (during) during();
    return {answer, answer.ok() ? absl::StrCat("applied:", request) : ""};
  }
  void Script(const std::string& key, std::vector<absl::Status> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    script_[key] = std::move(answers);
  }
  int Calls(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[key];
  }
  std::map<std::string, int> AllCalls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void DuringCall(std::function<void()> f) {
    std::lock_guard<std::mutex> lock(mu_);
    during_call_ = std::move(f);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<absl::Status>> script_;
  std::map<std::string, int> calls_;
  std::function<void()> during_call_;
};

mysql::PoolOptions Options(const MysqlDsn& dsn) {
  mysql::PoolOptions o;
  o.dsn = dsn;
  o.max_size = 8;
  o.acquire_timeout = absl::Seconds(5);
  return o;
}

class OutboxRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = std::make_unique<testing::TestSchema>("outbox");
    pool_ = std::make_unique<mysql::ConnectionPool>(Options(schema_->dsn()));
    ASSERT_TRUE(Migrate(*pool_, careops_runtime_migrations()).ok());
    // What the completion handlers write: one row per finalisation or compensation.
    Exec("CREATE TABLE settled (id BIGINT AUTO_INCREMENT PRIMARY KEY, intent_key VARCHAR(191) NOT NULL,"
         " outcome VARCHAR(16) NOT NULL) ENGINE=InnoDB");
  }

  std::unique_ptr<outbox::OutboxRelay> NewRelay(prometheus::Registry& registry) {
    outbox::RelayOptions o;
    o.retry = {.initial_backoff = absl::Seconds(1), .max_backoff = absl::Seconds(8), .multiplier = 2};
    o.lease = absl::Seconds(30);
    o.batch_size = 20;
    auto relay = std::make_unique<outbox::OutboxRelay>(*pool_, peer_, clock_, registry, o);
    relay->Register({.peer_method = kMethod,
                     .also_delivered = {absl::StatusCode::kNotFound},
                     .on_delivered = Handler("finalised"),
                     .on_refused = Handler("compensated")});
    return relay;
  }

  outbox::CompletionHandler Handler(std::string outcome) {
    return [this, outcome](mysql::Connection& conn, const outbox::IntentRecord& r, const outbox::PeerReply& reply,
                           absl::Time) -> absl::StatusOr<std::string> {
      auto& st = conn.Prepare("INSERT INTO settled (intent_key, outcome) VALUES (?, ?)");
      st.setString(1, r.intent.key);
      st.setString(2, outcome);
      st.executeUpdate();
      if (fail_completion_) return absl::UnavailableError("completion failed");
      return absl::StrCat(outcome, "|", reply.response);
    };
  }

  // Writes an intent in a transaction of its own; `commit` false rolls it back.
  absl::Status Write(const std::string& key, bool commit = true) {
    MutationContext m;
    m.request_id = "req-" + key;
    m.now = clock_.Now();
    absl::Status s = mysql::RunInTransaction(*pool_, [&](mysql::Connection& conn) -> absl::Status {
      outbox::Enqueue(conn, m,
                      {.key = key, .peer_method = kMethod, .request = "body-" + key, .idempotency_key = key,
                       .resource_kind = "thing", .resource_id = key});
      return commit ? absl::OkStatus() : absl::AbortedError("rolled back on purpose");
    }, {.max_attempts = 1});
    return s;
  }

  void Exec(const std::string& sql) {
    ASSERT_TRUE(mysql::WithConnection(*pool_, [&](mysql::Connection& c) {
                  c.Execute(sql);
                  return absl::OkStatus();
                }).ok());
  }

  int64_t Scalar(const std::string& sql) {
    int64_t v = -1;
    EXPECT_TRUE(mysql::WithConnection(*pool_, [&](mysql::Connection& c) {
                  std::unique_ptr<sql::ResultSet> rs(c.Prepare(sql).executeQuery());
                  if (rs->next()) v = rs->getInt64(1);
                  return absl::OkStatus();
                }).ok());
    return v;
  }

  int64_t Settled(const std::string& key, const std::string& outcome) {
    return Scalar(absl::StrCat("SELECT COUNT(*) FROM settled WHERE intent_key = '", key, "' AND outcome = '",
                               outcome, "'"));
  }

  static std::string Metrics(prometheus::Registry& registry) {
    return prometheus::TextSerializer().Serialize(registry.Collect());
  }

  absl::Time Soon() { return absl::Now() + absl::Seconds(5); }

  std::unique_ptr<testing::TestSchema> schema_;
  std::unique_ptr<mysql::ConnectionPool> pool_;
  FakePeer peer_;
  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2026, 11, 20, 9, 0, 0), absl::UTCTimeZone())};
  bool fail_completion_ = false;
};

TEST_F(OutboxRelayTest, SuccessIsFinalisedInTheCompletionTransaction) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);
  ASSERT_TRUE(Write("a").ok());
  auto r = relay->DeliverNow("a", Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, outbox::IntentState::kDelivered);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(r->result, "finalised|applied:body-a");
  EXPECT_EQ(r->request_id, "req-a");
  EXPECT_EQ(Settled("a", "finalised"), 1);
  EXPECT_EQ(peer_.Calls("a"), 1);
  // Asking again reads the settled intent; the peer is not called again.
  auto again = relay->DeliverNow("a", Soon());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state, outbox::IntentState::kDelivered);
  EXPECT_EQ(peer_.Calls("a"), 1);
  EXPECT_NE(Metrics(registry).find(absl::StrCat("careops_outbox_deliveries_total{peer_method=\"", kMethod,
                                                "\",result=\"delivered\"} 1")),
            std::string::npos)
      << Metrics(registry);
}

TEST_F(OutboxRelayTest, ADefiniteRefusalIsCompensatedAndNeverRetried) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);
  ASSERT_TRUE(Write("b").ok());
  peer_.Script("b", {absl::FailedPreconditionError("limit exhausted")});
  auto r = relay->DeliverNow("b", Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, outbox::IntentState::kFailed);
  EXPECT_EQ(r->last_error, "FAILED_PRECONDITION: limit exhausted");
  EXPECT_EQ(Settled("b", "compensated"), 1);
  EXPECT_EQ(Settled("b", "finalised"), 0);
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(relay->RunOnce().ok());
  EXPECT_EQ(peer_.Calls("b"), 1);
}

TEST_F(OutboxRelayTest, ACodeTheMethodCountsAsSuccessIsFinalised) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);
  ASSERT_TRUE(Write("nf").ok());
  peer_.Script("nf", {absl::NotFoundError("nothing recorded")});
  auto r = relay->DeliverNow("nf", Soon());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, outbox::IntentState::kDelivered);
  EXPECT_EQ(Settled("nf", "finalised"), 1);
}

TEST_F(OutboxRelayTest, TransientAnswersAreRetriedByTheBackgroundRelayAfterTheBackoff) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);
  ASSERT_TRUE(Write("c").ok());
  peer_.Script("c", {absl::UnavailableError("down"), absl::DeadlineExceededError("slow")});
  auto r = relay->DeliverNow("c", Soon());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, outbox::IntentState::kPending);
  EXPECT_EQ(r->last_error, "UNAVAILABLE: down");
  EXPECT_EQ(r->next_attempt_at, clock_.Now() + absl::Seconds(1));

  // Not due yet: nothing is sent.
  auto run = relay->RunOnce();
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(peer_.Calls("c"), 1);
  clock_.Advance(absl::Seconds(1));
  run = relay->RunOnce();
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->retried, 1);
  EXPECT_EQ(relay->Find("c")->next_attempt_at, clock_.Now() + absl::Seconds(2));  // doubled
  clock_.Advance(absl::Seconds(2));
  run = relay->RunOnce();
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->delivered, 1);
  EXPECT_EQ(peer_.Calls("c"), 3);
  EXPECT_EQ(relay->Find("c")->state, outbox::IntentState::kDelivered);
  EXPECT_EQ(relay->Find("c")->attempts, 3);
  EXPECT_EQ(Settled("c", "finalised"), 1);
}

TEST_F(OutboxRelayTest, AnIntentRolledBackWithItsTransactionIsNeverDelivered) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);
  EXPECT_EQ(Write("gone", /*commit=*/false).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(relay->DeliverNow("gone", Soon()).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(relay->RunOnce().ok());
  EXPECT_EQ(peer_.Calls("gone"), 0);
}

TEST_F(OutboxRelayTest, AFailedCompletionLeavesTheIntentPendingUntilItsLeaseExpires) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);
  ASSERT_TRUE(Write("d").ok());
  fail_completion_ = true;  // e.g. the database went away after the peer answered
  EXPECT_FALSE(relay->DeliverNow("d", Soon()).ok());
  EXPECT_EQ(Settled("d", "finalised"), 0);  // rolled back with the completion
  fail_completion_ = false;
  ASSERT_TRUE(relay->RunOnce().ok());
  EXPECT_EQ(peer_.Calls("d"), 1);  // still leased: nobody delivers it twice at once
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(relay->RunOnce().ok());
  EXPECT_EQ(peer_.Calls("d"), 2);  // redelivered: the peer de-duplicates by the key
  EXPECT_EQ(relay->Find("d")->state, outbox::IntentState::kDelivered);
  EXPECT_EQ(Settled("d", "finalised"), 1);
}

TEST_F(OutboxRelayTest, AnAnswerArrivingAfterTheLeaseWasTakenOverIsDropped) {
  prometheus::Registry registry_a, registry_b;
  auto a = NewRelay(registry_a);
  auto b = NewRelay(registry_b);
  ASSERT_TRUE(Write("e").ok());
  // While relay a waits for the peer, its lease runs out and relay b delivers.
  bool once = true;
  peer_.DuringCall([&] {
    if (!once) return;
    once = false;
    clock_.Advance(absl::Seconds(31));
    auto run = b->RunOnce();
    EXPECT_TRUE(run.ok());
    EXPECT_EQ(run->delivered, 1);
  });
  auto r = a->DeliverNow("e", Soon());
  peer_.DuringCall(nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, outbox::IntentState::kDelivered);
  EXPECT_EQ(peer_.Calls("e"), 2);
  EXPECT_EQ(Settled("e", "finalised"), 1);  // completed once, by b
}

TEST_F(OutboxRelayTest, ABatchStopsBeforeALeaseCouldRunOutDuringACall) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);  // lease 30s, peer deadline 3s
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Write(absl::StrCat("slow", i)).ok());
  peer_.DuringCall([&] { clock_.Advance(absl::Seconds(10)); });  // a slow peer
  auto run = relay->RunOnce();
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->delivered, 3);  // at +0s, +10s, +20s; +30s would outlive the lease
  run = relay->RunOnce();        // the rest, once their lease has expired
  ASSERT_TRUE(run.ok());
  EXPECT_GE(run->delivered, 1);
  ASSERT_TRUE(relay->RunOnce().ok());
  peer_.DuringCall(nullptr);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(peer_.Calls(absl::StrCat("slow", i)), 1) << i;
    EXPECT_EQ(relay->Find(absl::StrCat("slow", i))->state, outbox::IntentState::kDelivered) << i;
  }
}

TEST_F(OutboxRelayTest, PendingGaugesAreReadFromTheDatabase) {
  prometheus::Registry registry;
  auto relay = NewRelay(registry);
  ASSERT_TRUE(Write("f").ok());
  ASSERT_TRUE(Write("g").ok());
  peer_.Script("f", {absl::UnavailableError("down")});
  peer_.Script("g", {absl::UnavailableError("down")});
  clock_.Advance(absl::Seconds(90));
  ASSERT_TRUE(relay->RunOnce().ok());
  std::string text = Metrics(registry);
  EXPECT_NE(text.find(absl::StrCat("careops_outbox_pending{peer_method=\"", kMethod, "\"} 2")), std::string::npos)
      << text;
  EXPECT_NE(text.find("careops_outbox_oldest_pending_seconds 90"), std::string::npos) << text;
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(relay->RunOnce().ok());
  text = Metrics(registry);
  EXPECT_NE(text.find(absl::StrCat("careops_outbox_pending{peer_method=\"", kMethod, "\"} 0")), std::string::npos)
      << text;
  EXPECT_NE(text.find("careops_outbox_oldest_pending_seconds 0"), std::string::npos) << text;
}

TEST_F(OutboxRelayTest, TwoRelaysOnOneSchemaDeliverEachIntentExactlyOnce) {
  prometheus::Registry registry_a, registry_b;
  auto a = NewRelay(registry_a);
  auto b = NewRelay(registry_b);
  constexpr int kIntents = 120;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < kIntents; ++i) {
      std::string key = absl::StrCat("k", i);
      EXPECT_TRUE(Write(key).ok());
      // The writer's own synchronous delivery races both background relays.
      if (i % 3 == 0) {
        EXPECT_TRUE(a->DeliverNow(key, Soon()).ok());
      }
    }
    writing = false;
  });
  auto background = [&](outbox::OutboxRelay& relay) {
    while (writing) EXPECT_TRUE(relay.RunOnce().ok());
    EXPECT_TRUE(relay.RunOnce().ok());
  };
  std::thread ta([&] { background(*a); });
  std::thread tb([&] { background(*b); });
  writer.join();
  ta.join();
  tb.join();
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM outbox WHERE state = 'DELIVERED'"), kIntents);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM settled"), kIntents);
  EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT intent_key) FROM settled"), kIntents);
  std::map<std::string, int> calls = peer_.AllCalls();
  EXPECT_EQ(calls.size(), static_cast<size_t>(kIntents));
  for (const auto& [key, n] : calls) EXPECT_EQ(n, 1) << key;
}

}  // namespace
}  // namespace careops
