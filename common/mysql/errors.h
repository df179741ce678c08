// Mapping of MySQL/MariaDB errors to canonical status codes.
//
//   duplicate key (1062, 1586)                 -> ALREADY_EXISTS
//   lock wait timeout (1205), deadlock (1213)  -> ABORTED: retry the whole transaction
//   lost or refused connection (2002, 2003, 2006, 2013, 2055), server
//   shutting down (1053), too many connections (1040)  -> UNAVAILABLE
//   statement stopped by max_statement_time (1969; MySQL 3024)  -> DEADLINE_EXCEEDED
//   access denied (1044, 1045, 1142, 1143)     -> PERMISSION_DENIED
//   anything else                              -> INTERNAL
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace sql {
class SQLException;
}

namespace careops::mysql {

absl::StatusCode CodeForMysqlError(int error_code);

// `what` names the operation for the message, e.g. "insert member".
absl::Status FromSqlException(const sql::SQLException& e, std::string_view what);

// True for error codes after which the connection must be discarded.
bool IsConnectionLost(int error_code);

}  // namespace careops::mysql
