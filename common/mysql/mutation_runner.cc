#include "common/mysql/mutation_runner.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/fingerprint.h"
#include "common/mysql/errors.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"

namespace careops::mysql {
namespace {

constexpr char kSelect[] =
    "SELECT request_hash, response FROM request_log WHERE caller = ? AND method = ? AND request_id = ?";
constexpr char kClaim[] =
    "INSERT INTO request_log (caller, method, request_id, request_hash, created_at) VALUES (?, ?, ?, ?, ?)";
constexpr char kStore[] = "UPDATE request_log SET response = ? WHERE caller = ? AND method = ? AND request_id = ?";
constexpr char kPurge[] = "DELETE FROM request_log WHERE created_at < ? ORDER BY created_at LIMIT ?";

std::string Fingerprint(std::string_view method, const google::protobuf::Message& request) {
  return Fnv1a64Hex(absl::StrCat(Abs(method), "\n", DeterministicBytes(request)));
}

// A store that builds its context wrongly must fail loudly, not key rows by ''.
absl::Status CheckContext(const MutationContext& m) {
  std::string_view missing;
  if (m.caller.user.empty()) {
    missing = "caller";
  } else if (m.method.empty()) {
    missing = "method";
  } else if (m.request == nullptr) {
    missing = "request";
  } else if (m.response == nullptr) {
    missing = "response";
  } else if (m.now == absl::Time() || m.now == absl::InfinitePast() || m.now == absl::InfiniteFuture()) {
    missing = "now";
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("mutation context without ", Abs(missing), " (method '", m.method, "')"));
}

void BindKey(sql::PreparedStatement& st, int first, const MutationContext& m) {
  st.setString(first, m.caller.user);
  st.setString(first + 1, m.method);
  st.setString(first + 2, m.request_id);
}

enum class Lookup { kAbsent, kReplayed };

// The stored answer for m's key, parsed into m.response.
absl::StatusOr<Lookup> FindStored(Connection& conn, const MutationContext& m, const std::string& hash) {
  auto& sel = conn.Prepare(kSelect);
  BindKey(sel, 1, m);
  std::unique_ptr<sql::ResultSet> rs(sel.executeQuery());
  if (!rs->next()) return Lookup::kAbsent;
  if (std::string(rs->getString(1)) != hash) {
    return absl::AlreadyExistsError(absl::StrCat("request_id: '", m.request_id,
                                                 "' was already used for a different request; use a new request_id"));
  }
  std::unique_ptr<std::istream> blob(rs->getBlob(2));
  std::stringstream bytes;
  if (blob) bytes << blob->rdbuf();
  if (!m.response->ParseFromString(bytes.str())) {
    return absl::InternalError("request_log: the stored response is unreadable");
  }
  return Lookup::kReplayed;
}

enum class ClaimOutcome { kClaimed, kTwinCommittedFirst };

// Inserts m's row. The duplicate key is caught here, on this statement only:
// it means a twin committed the same key while this transaction looked.
ClaimOutcome ClaimKey(Connection& conn, const MutationContext& m, const std::string& hash) {
  auto& claim = conn.Prepare(kClaim);
  BindKey(claim, 1, m);
  claim.setString(4, hash);
  claim.setString(5, ToSqlDatetime(m.now));
  try {
    claim.executeUpdate();
  } catch (const sql::SQLException& e) {
    if (CodeForMysqlError(e.getErrorCode()) == absl::StatusCode::kAlreadyExists) {
      return ClaimOutcome::kTwinCommittedFirst;
    }
    throw;
  }
  return ClaimOutcome::kClaimed;
}

void StoreResponse(Connection& conn, const MutationContext& m) {
  std::string bytes;
  m.response->SerializeToString(&bytes);
  std::istringstream in(bytes);
  auto& store = conn.Prepare(kStore);
  store.setBlob(1, &in);
  BindKey(store, 2, m);
  store.executeUpdate();
}

}  // namespace

absl::Status ValidateRequestId(std::string_view request_id) {
  if (request_id.empty() || request_id.size() > 64) {
    return InvalidArgument("request_id", "must be 1 to 64 characters (a client-chosen id, e.g. a UUID)");
  }
  for (unsigned char c : request_id) {
    if (c < 0x21 || c > 0x7e) return InvalidArgument("request_id", "must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status RunMutation(ConnectionPool& pool, const MutationContext& m,
                         const std::function<absl::Status(Connection&)>& mutate, TransactionOptions options) {
  CAREOPS_RETURN_IF_ERROR(ValidateRequestId(m.request_id));
  CAREOPS_RETURN_IF_ERROR(CheckContext(m));
  const std::string hash = Fingerprint(m.method, *m.request);
  // Two rounds at most: a twin that committed first sends this call to a second
  // transaction, whose read (a new READ COMMITTED snapshot) finds its answer.
  for (int round = 0; round < 2; ++round) {
    bool twin_committed_first = false;
    absl::Status status = RunInTransaction(
        pool,
        [&](Connection& conn) -> absl::Status {
          twin_committed_first = false;
          m.response->Clear();
          CAREOPS_ASSIGN_OR_RETURN(Lookup found, FindStored(conn, m, hash));
          if (found == Lookup::kReplayed) return absl::OkStatus();
          if (ClaimKey(conn, m, hash) == ClaimOutcome::kTwinCommittedFirst) {
            twin_committed_first = true;
            return absl::AbortedError("request_id: a concurrent call with this request_id committed first");
          }
          CAREOPS_RETURN_IF_ERROR(mutate(conn));
          StoreResponse(conn, m);
          return absl::OkStatus();
        },
        options);
    if (!twin_committed_first) return status;
    m.response->Clear();
  }
  // The twin's row vanished between the two rounds (purged or rolled back by hand).
  return absl::AbortedError(absl::StrCat("request_id: '", m.request_id,
                                         "' is being used by a concurrent call; retry with the same request_id"));
}

absl::StatusOr<bool> AnswerIfReplayed(ConnectionPool& pool, const MutationContext& m) {
  CAREOPS_RETURN_IF_ERROR(ValidateRequestId(m.request_id));
  CAREOPS_RETURN_IF_ERROR(CheckContext(m));
  const std::string hash = Fingerprint(m.method, *m.request);
  Lookup found = Lookup::kAbsent;
  CAREOPS_RETURN_IF_ERROR(WithConnection(pool, [&](Connection& conn) -> absl::Status {
    m.response->Clear();
    CAREOPS_ASSIGN_OR_RETURN(found, FindStored(conn, m, hash));
    return absl::OkStatus();
  }));
  return found == Lookup::kReplayed;
}

absl::StatusOr<int64_t> PurgeRequestLog(ConnectionPool& pool, absl::Time now, const RequestLogPurge& purge) {
  const std::string cutoff = ToSqlDatetime(now - purge.retention);
  int64_t deleted = 0;
  for (int batch = 0; batch < purge.max_batches; ++batch) {
    int count = 0;
    CAREOPS_RETURN_IF_ERROR(WithConnection(pool, [&](Connection& conn) {
      auto& st = conn.Prepare(kPurge);
      st.setString(1, cutoff);
      st.setInt(2, purge.batch_size);
      count = st.executeUpdate();
      return absl::OkStatus();
    }));
    deleted += count;
    if (count < purge.batch_size) break;
  }
  return deleted;
}

}  // namespace careops::mysql
