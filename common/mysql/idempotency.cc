#include "common/mysql/idempotency.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/fingerprint.h"
#include "common/status.h"
#include "common/text.h"

namespace careops::mysql {
namespace {

constexpr char kSelect[] = "SELECT method, request_hash, response FROM request_log WHERE request_id = ?";
constexpr char kClaim[] = "INSERT INTO request_log (request_id, method, request_hash) VALUES (?, ?, ?)";
constexpr char kStore[] = "UPDATE request_log SET response = ? WHERE request_id = ?";

std::string Fingerprint(std::string_view method, const google::protobuf::Message& request) {
  return Fnv1a64Hex(absl::StrCat(Abs(method), "\n", DeterministicBytes(request)));
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

absl::Status RunIdempotent(ConnectionPool& pool, std::string_view method, std::string_view request_id,
                           const google::protobuf::Message& request, google::protobuf::Message* response,
                           const std::function<absl::Status(Connection&)>& mutate,
                           TransactionOptions options) {
  CAREOPS_RETURN_IF_ERROR(ValidateRequestId(request_id));
  const std::string hash = Fingerprint(method, request);
  const std::string id(request_id);
  // Up to two rounds: a concurrent twin that commits first turns our claim into a
  // duplicate key; the second round then finds its stored answer.
  absl::Status status;
  for (int round = 0; round < 2; ++round) {
    status = RunInTransaction(
        pool,
        [&](Connection& conn) -> absl::Status {
          // A deadlock retry runs this again: nothing a rolled-back attempt put in
          // the response may be returned or stored.
          response->Clear();
          {
            auto& sel = conn.Prepare(kSelect);
            sel.setString(1, id);
            std::unique_ptr<sql::ResultSet> rs(sel.executeQuery());
            if (rs->next()) {
              if (std::string(rs->getString(1)) != method || std::string(rs->getString(2)) != hash) {
                return absl::AlreadyExistsError(absl::StrCat(
                    "request_id: '", id, "' was already used for a different request; use a new request_id"));
              }
              std::unique_ptr<std::istream> blob(rs->getBlob(3));
              std::stringstream ss;
              if (blob) ss << blob->rdbuf();
              if (!response->ParseFromString(ss.str())) {
                return absl::InternalError("request_log: stored response is unreadable");
              }
              return absl::OkStatus();
            }
          }
          auto& claim = conn.Prepare(kClaim);
          claim.setString(1, id);
          claim.setString(2, std::string(method));
          claim.setString(3, hash);
          claim.executeUpdate();
          CAREOPS_RETURN_IF_ERROR(mutate(conn));
          std::string bytes;
          response->SerializeToString(&bytes);
          std::istringstream in(bytes);
          auto& store = conn.Prepare(kStore);
          store.setBlob(1, &in);
          store.setString(2, id);
          store.executeUpdate();
          return absl::OkStatus();
        },
        options);
    if (status.code() != absl::StatusCode::kAlreadyExists ||
        status.message().find("request_id") == 0) {
      return status;
    }
    // ALREADY_EXISTS from the claim insert (a concurrent twin): retry once. A
    // duplicate key raised by `mutate` itself also lands here and fails the same
    // way on the second round, which then returns it.
    response->Clear();
  }
  return status;
}

}  // namespace careops::mysql
