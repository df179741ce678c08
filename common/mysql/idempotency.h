// Exactly-once mutating RPCs keyed by the client's request_id.
//
// RunIdempotent() runs a mutation in one transaction together with a row in the
// service's `request_log` table (common/schema/V001__runtime.sql):
//   - first time: the row is inserted (claiming the id), the mutation runs, and
//     its response is stored with the row; all commit together or not at all;
//   - same id, same request: the stored response is returned, nothing runs;
//   - same id, different request (or method): ALREADY_EXISTS naming request_id.
// Two concurrent calls with one id serialise on the row's key: the second waits,
// then sees the first's stored response.
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/mysql/pool.h"

namespace careops::mysql {

// INVALID_ARGUMENT unless request_id is 1..64 printable ASCII characters.
absl::Status ValidateRequestId(std::string_view request_id);

// `mutate` runs inside the transaction and fills `response`.
absl::Status RunIdempotent(ConnectionPool& pool, std::string_view method, std::string_view request_id,
                           const google::protobuf::Message& request, google::protobuf::Message* response,
                           const std::function<absl::Status(Connection&)>& mutate,
                           TransactionOptions options = {});

}  // namespace careops::mysql
