#include "common/outbox_relay.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <future>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/failpoint.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/mysql/pool.h"
#include "common/proto_time.h"
#include "common/server.h"
#include "common/status.h"

namespace careops::outbox {
namespace {

#define OUTBOX_COLUMNS                                                                                   \
  "id, intent_key, peer_method, request, idempotency_key, resource_kind, resource_id, state, attempts," \
  " next_attempt_at, last_error, result, request_id, created_at, updated_at"

constexpr char kSelectByKey[] = "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE intent_key = ?";
constexpr char kSelectById[] = "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = ?";
// A row another relay is claiming right now is skipped, never waited for.
constexpr char kLockKeyForClaim[] =
    "SELECT id, state, claimed_until FROM outbox WHERE intent_key = ? FOR UPDATE SKIP LOCKED";
constexpr char kLockDueBatch[] =
    "SELECT id FROM outbox WHERE state = 'PENDING' AND next_attempt_at <= ?"
    " AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at, id LIMIT ?"
    " FOR UPDATE SKIP LOCKED";
constexpr char kTakeLease[] =
    "UPDATE outbox SET claimed_until = ?, claim_token = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?";
constexpr char kLockForCompletion[] = "SELECT state, claim_token FROM outbox WHERE id = ? FOR UPDATE";
constexpr char kFinish[] =
    "UPDATE outbox SET state = ?, result = ?, last_error = ?, claimed_until = NULL, claim_token = '',"
    " updated_at = ? WHERE id = ?";
constexpr char kReschedule[] =
    "UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_until = NULL, claim_token = '',"
    " updated_at = ? WHERE id = ?";
constexpr char kPendingByMethod[] =
    "SELECT peer_method, COUNT(*), MIN(created_at) FROM outbox WHERE state = 'PENDING' GROUP BY peer_method";
constexpr char kPurgeSettled[] =
    "DELETE FROM outbox WHERE state IN ('DELIVERED', 'FAILED') AND updated_at < ? LIMIT 500";

constexpr size_t kMaxError = 1024;

std::string Str(const sql::ResultSet& rs, int col) { return std::string(rs.getString(col)); }

std::string Blob(const sql::ResultSet& rs, int col) {
  if (rs.isNull(col)) return "";
  std::unique_ptr<std::istream> in(rs.getBlob(col));
  if (!in) return "";
  std::stringstream ss;
  ss << in->rdbuf();
  return ss.str();
}

IntentState ParseState(const std::string& s) {
  if (s == "DELIVERED") return IntentState::kDelivered;
  if (s == "FAILED") return IntentState::kFailed;
  return IntentState::kPending;
}

absl::StatusOr<IntentRecord> ReadRecord(const sql::ResultSet& rs) {
  IntentRecord r;
  r.id = rs.getInt64(1);
  r.intent.key = Str(rs, 2);
  r.intent.peer_method = Str(rs, 3);
  r.intent.request = Blob(rs, 4);
  r.intent.idempotency_key = Str(rs, 5);
  r.intent.resource_kind = Str(rs, 6);
  r.intent.resource_id = Str(rs, 7);
  r.state = ParseState(Str(rs, 8));
  r.attempts = rs.getInt(9);
  CAREOPS_ASSIGN_OR_RETURN(r.next_attempt_at, ParseSqlDatetime(Str(rs, 10)));
  r.last_error = Str(rs, 11);
  r.result = Blob(rs, 12);
  r.request_id = Str(rs, 13);
  CAREOPS_ASSIGN_OR_RETURN(r.created_at, ParseSqlDatetime(Str(rs, 14)));
  CAREOPS_ASSIGN_OR_RETURN(r.updated_at, ParseSqlDatetime(Str(rs, 15)));
  return r;
}

absl::StatusOr<std::optional<IntentRecord>> SelectOne(mysql::Connection& conn, const char* sql,
                                                      const std::function<void(sql::PreparedStatement&)>& bind) {
  auto& st = conn.Prepare(sql);
  bind(st);
  std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
  if (!rs->next()) return std::optional<IntentRecord>();
  CAREOPS_ASSIGN_OR_RETURN(IntentRecord r, ReadRecord(*rs));
  return std::optional<IntentRecord>(std::move(r));
}

std::string ErrorText(const absl::Status& s) {
  if (s.ok()) return "";
  std::string text = absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message());
  if (text.size() > kMaxError) text.resize(kMaxError);
  return text;
}

void TakeLease(mysql::Connection& conn, int64_t id, const std::string& token, absl::Time now, absl::Duration lease) {
  auto& st = conn.Prepare(kTakeLease);
  st.setString(1, ToSqlDatetime(now + lease));
  st.setString(2, token);
  st.setString(3, ToSqlDatetime(now));
  st.setInt64(4, id);
  st.executeUpdate();
}

}  // namespace

// ---- gRPC peer -------------------------------------------------------------------

struct GrpcOutboxPeer::Impl {
  explicit Impl(PeerOptions options) : channel(std::move(options)), stub(channel.channel()) {}
  PeerChannel channel;
  grpc::GenericStub stub;
};

GrpcOutboxPeer::GrpcOutboxPeer(PeerOptions options) {
  options.idempotent_methods.clear();  // the relay retries, with its own backoff
  impl_ = std::make_unique<Impl>(std::move(options));
}

GrpcOutboxPeer::~GrpcOutboxPeer() = default;

PeerReply GrpcOutboxPeer::Call(const std::string& method, const std::string& request,
                               const std::string& idempotency_key, absl::Time deadline) {
  std::unique_ptr<grpc::ClientContext> ctx = impl_->channel.NewContext(idempotency_key);
  ctx->set_deadline(absl::ToChronoTime(deadline));
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  grpc::ByteBuffer resp;
  std::promise<grpc::Status> done;
  impl_->stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &req, &resp,
                        [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status s = done.get_future().get();
  PeerReply reply{FromGrpcStatus(s), ""};
  if (s.ok()) {
    std::vector<grpc::Slice> slices;
    if (resp.Dump(&slices).ok()) {
      for (const grpc::Slice& part : slices) {
        reply.response.append(reinterpret_cast<const char*>(part.begin()), part.size());
      }
    }
  }
  return reply;
}

// ---- Relay --------------------------------------------------------------------------

OutboxRelay::OutboxRelay(mysql::ConnectionPool& pool, OutboxPeer& peer, const Clock& clock,
                         prometheus::Registry& registry, RelayOptions options)
    : pool_(pool),
      peer_(peer),
      clock_(clock),
      options_(std::move(options)),
      pending_(prometheus::BuildGauge()
                   .Name("careops_outbox_pending")
                   .Help("Outbox intents not yet delivered or refused, by peer method (read from the database)")
                   .Register(registry)),
      oldest_(prometheus::BuildGauge()
                  .Name("careops_outbox_oldest_pending_seconds")
                  .Help("Age of the oldest pending outbox intent, 0 when none (read from the database)")
                  .Register(registry)
                  .Add({})),
      deliveries_(prometheus::BuildCounter()
                      .Name("careops_outbox_deliveries_total")
                      .Help("Outbox delivery attempts by peer method and result: delivered, refused, retried")
                      .Register(registry)) {}

void OutboxRelay::Register(MethodHandlers handlers) {
  const std::string method = handlers.peer_method;
  pending_.Add({{"peer_method", method}}).Set(0);
  for (const char* result : {"delivered", "refused", "retried"}) {
    deliveries_.Add({{"peer_method", method}, {"result", result}});
  }
  handlers_[method] = std::move(handlers);
}

const MethodHandlers* OutboxRelay::HandlersFor(const std::string& method) const {
  auto it = handlers_.find(method);
  return it == handlers_.end() ? nullptr : &it->second;
}

void OutboxRelay::Count(const std::string& method, Outcome outcome) {
  const char* result = outcome == Outcome::kDelivered ? "delivered"
                       : outcome == Outcome::kRefused ? "refused"
                       : outcome == Outcome::kRetried ? "retried"
                                                      : nullptr;
  if (result != nullptr && HandlersFor(method) != nullptr) {
    deliveries_.Add({{"peer_method", method}, {"result", result}}).Increment();
  }
}

absl::StatusOr<IntentRecord> OutboxRelay::Find(const std::string& key) {
  std::optional<IntentRecord> found;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    CAREOPS_ASSIGN_OR_RETURN(found, SelectOne(conn, kSelectByKey, [&](auto& st) { st.setString(1, key); }));
    return absl::OkStatus();
  }));
  if (!found) return absl::NotFoundError(absl::StrCat("outbox: no intent '", key, "'"));
  return std::move(*found);
}

absl::StatusOr<OutboxRelay::Outcome> OutboxRelay::Deliver(const IntentRecord& claimed, const std::string& token,
                                                          absl::Time deadline) {
  const MethodHandlers* handlers = HandlersFor(claimed.intent.peer_method);
  absl::Time call_deadline = std::min(deadline, absl::Now() + options_.peer_deadline);
  PeerReply reply = handlers == nullptr
                        ? PeerReply{absl::UnimplementedError(absl::StrCat("no completion handler for ",
                                                                          claimed.intent.peer_method)),
                                    ""}
                        : peer_.Call(claimed.intent.peer_method, claimed.intent.request,
                                     claimed.intent.idempotency_key, call_deadline);
  // A crash here: the peer has applied it, this service has not finished it.
  CAREOPS_RETURN_IF_ERROR(Failpoint("outbox.after_peer_answered"));
  const absl::Time now = TruncateToMicros(clock_.Now());
  static const std::vector<absl::StatusCode> kNone;
  Decision d = Decide(reply.status.code(), handlers ? handlers->also_delivered : kNone, claimed.attempts, now,
                      options_.retry);
  Outcome outcome = Outcome::kLost;
  CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
    outcome = Outcome::kLost;
    {
      auto& st = conn.Prepare(kLockForCompletion);
      st.setInt64(1, claimed.id);
      std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
      // Someone else finished it, or took it over after our lease ran out.
      if (!rs->next() || Str(*rs, 1) != "PENDING" || Str(*rs, 2) != token) return absl::OkStatus();
    }
    const std::string error = ErrorText(reply.status);
    if (d.verdict == Verdict::kRetry) {
      auto& st = conn.Prepare(kReschedule);
      st.setString(1, ToSqlDatetime(d.next_attempt_at));
      st.setString(2, error);
      st.setString(3, ToSqlDatetime(now));
      st.setInt64(4, claimed.id);
      st.executeUpdate();
      outcome = Outcome::kRetried;
      return absl::OkStatus();
    }
    const bool delivered = d.verdict == Verdict::kDelivered;
    const CompletionHandler& handler = delivered ? handlers->on_delivered : handlers->on_refused;
    CAREOPS_ASSIGN_OR_RETURN(std::string result, handler(conn, claimed, reply, now));
    // A crash here: the compensation was written but not committed.
    if (!delivered) CAREOPS_RETURN_IF_ERROR(Failpoint("outbox.during_compensation"));
    auto& st = conn.Prepare(kFinish);
    st.setString(1, std::string(IntentStateName(delivered ? IntentState::kDelivered : IntentState::kFailed)));
    std::istringstream in(result);
    st.setBlob(2, &in);
    st.setString(3, error);
    st.setString(4, ToSqlDatetime(now));
    st.setInt64(5, claimed.id);
    st.executeUpdate();
    outcome = delivered ? Outcome::kDelivered : Outcome::kRefused;
    return absl::OkStatus();
  }));
  Count(claimed.intent.peer_method, outcome);
  if (outcome == Outcome::kRetried) {
    log::Warn("outbox delivery will be retried", {{"peer_method", claimed.intent.peer_method},
                                                  {"intent", claimed.intent.key},
                                                  {"attempts", claimed.attempts},
                                                  {"error", ErrorText(reply.status)}});
  }
  return outcome;
}

absl::StatusOr<IntentRecord> OutboxRelay::DeliverNow(const std::string& key, absl::Time deadline) {
  for (;;) {
    enum class Seen { kMissing, kBusy, kSettled, kClaimed } seen = Seen::kMissing;
    const std::string token = NewId();
    std::optional<IntentRecord> claimed;
    CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
      seen = Seen::kMissing;
      claimed.reset();
      const absl::Time now = TruncateToMicros(clock_.Now());
      int64_t id = 0;
      {
        auto& st = conn.Prepare(kLockKeyForClaim);
        st.setString(1, key);
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        if (!rs->next()) {
          // Locked by another relay's claim (or absent: Find below tells).
          seen = Seen::kBusy;
          return absl::OkStatus();
        }
        id = rs->getInt64(1);
        if (Str(*rs, 2) != "PENDING") {
          seen = Seen::kSettled;
          return absl::OkStatus();
        }
        if (!rs->isNull(3)) {
          CAREOPS_ASSIGN_OR_RETURN(absl::Time until, ParseSqlDatetime(Str(*rs, 3)));
          if (until > now) {
            seen = Seen::kBusy;
            return absl::OkStatus();
          }
        }
      }
      TakeLease(conn, id, token, now, options_.lease);
      CAREOPS_ASSIGN_OR_RETURN(claimed, SelectOne(conn, kSelectById, [&](auto& st) { st.setInt64(1, id); }));
      seen = Seen::kClaimed;
      return absl::OkStatus();
    }));
    if (seen == Seen::kClaimed && claimed) {
      CAREOPS_RETURN_IF_ERROR(Deliver(*claimed, token, deadline).status());
      return Find(key);
    }
    CAREOPS_ASSIGN_OR_RETURN(IntentRecord current, Find(key));
    if (current.state != IntentState::kPending || absl::Now() + options_.poll_interval >= deadline) return current;
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.poll_interval));
  }
}

absl::StatusOr<RunResult> OutboxRelay::RunOnce() {
  RunResult result;
  for (bool more = true; more;) {
    const std::string token = NewId();
    std::vector<IntentRecord> batch;
    const absl::Time claimed_at = clock_.Now();
    CAREOPS_RETURN_IF_ERROR(mysql::RunInTransaction(pool_, [&](mysql::Connection& conn) -> absl::Status {
      batch.clear();
      const absl::Time now = claimed_at;
      std::vector<int64_t> ids;
      {
        auto& st = conn.Prepare(kLockDueBatch);
        st.setString(1, ToSqlDatetime(now));
        st.setString(2, ToSqlDatetime(now));
        st.setInt(3, options_.batch_size);
        std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
        while (rs->next()) ids.push_back(rs->getInt64(1));
      }
      for (int64_t id : ids) {
        TakeLease(conn, id, token, now, options_.lease);
        CAREOPS_ASSIGN_OR_RETURN(std::optional<IntentRecord> r,
                                 SelectOne(conn, kSelectById, [&](auto& st) { st.setInt64(1, id); }));
        if (r) batch.push_back(std::move(*r));
      }
      return absl::OkStatus();
    }));
    more = static_cast<int>(batch.size()) == options_.batch_size;
    for (const IntentRecord& r : batch) {
      // The batch's lease runs while earlier rows are delivered: a row whose
      // lease could run out during its call is left for a later run (any
      // replica takes it once the lease has expired), never sent twice at once.
      if (clock_.Now() + options_.peer_deadline >= claimed_at + options_.lease) {
        more = false;
        break;
      }
      CAREOPS_ASSIGN_OR_RETURN(Outcome o, Deliver(r, token, absl::InfiniteFuture()));
      switch (o) {
        case Outcome::kDelivered: ++result.delivered; break;
        case Outcome::kRefused: ++result.refused; break;
        case Outcome::kRetried: ++result.retried; break;
        case Outcome::kLost: ++result.lost; break;
      }
    }
  }
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kPurgeSettled);
    st.setString(1, ToSqlDatetime(clock_.Now() - options_.retention));
    st.executeUpdate();
    return absl::OkStatus();
  }));
  CAREOPS_RETURN_IF_ERROR(RefreshGauges());
  return result;
}

absl::Status OutboxRelay::RefreshGauges() {
  std::map<std::string, int64_t> pending;
  std::optional<absl::Time> oldest;
  CAREOPS_RETURN_IF_ERROR(mysql::WithConnection(pool_, [&](mysql::Connection& conn) -> absl::Status {
    auto& st = conn.Prepare(kPendingByMethod);
    std::unique_ptr<sql::ResultSet> rs(st.executeQuery());
    while (rs->next()) {
      pending[Str(*rs, 1)] = rs->getInt64(2);
      CAREOPS_ASSIGN_OR_RETURN(absl::Time t, ParseSqlDatetime(Str(*rs, 3)));
      if (!oldest || t < *oldest) oldest = t;
    }
    return absl::OkStatus();
  }));
  for (const auto& [method, handlers] : handlers_) {
    auto it = pending.find(method);
    pending_.Add({{"peer_method", method}}).Set(it == pending.end() ? 0 : static_cast<double>(it->second));
  }
  oldest_.Set(oldest ? std::max(0.0, absl::ToDoubleSeconds(clock_.Now() - *oldest)) : 0.0);
  return absl::OkStatus();
}

BackgroundJob OutboxRelay::Job(absl::Duration interval) {
  return BackgroundJob{"outbox-relay", interval, [this] { return RunOnce().status(); }};
}

}  // namespace careops::outbox
