#include "common/mysql/errors.h"

#include <cppconn/exception.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/text.h"

namespace careops::mysql {

absl::StatusCode CodeForMysqlError(int error_code) {
  switch (error_code) {
    case 1062:  // ER_DUP_ENTRY
    case 1586:  // ER_DUP_ENTRY_WITH_KEY_NAME
      return absl::StatusCode::kAlreadyExists;
    case 1205:  // ER_LOCK_WAIT_TIMEOUT
    case 1213:  // ER_LOCK_DEADLOCK
      return absl::StatusCode::kAborted;
    case 1040:  // ER_CON_COUNT_ERROR
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1927:  // ER_CONNECTION_KILLED (MariaDB)
    case 2002:  // CR_CONNECTION_ERROR
    case 2003:  // CR_CONN_HOST_ERROR
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
      return absl::StatusCode::kUnavailable;
    case 1969:  // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time, statement_time.h)
    case 3024:  // ER_QUERY_TIMEOUT (MySQL max_execution_time)
      return absl::StatusCode::kDeadlineExceeded;
    case 1044:  // ER_DBACCESS_DENIED_ERROR
    case 1045:  // ER_ACCESS_DENIED_ERROR
    case 1142:  // ER_TABLEACCESS_DENIED_ERROR
    case 1143:  // ER_COLUMNACCESS_DENIED_ERROR
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

bool IsConnectionLost(int error_code) {
  return CodeForMysqlError(error_code) == absl::StatusCode::kUnavailable;
}

absl::Status FromSqlException(const sql::SQLException& e, std::string_view what) {
  absl::StatusCode code = CodeForMysqlError(e.getErrorCode());
  // Connector/C++ reports some lost connections with code 0 and SQLSTATE HY000/08xxx.
  std::string state = e.getSQLState();
  if (code == absl::StatusCode::kInternal && state.rfind("08", 0) == 0) {
    code = absl::StatusCode::kUnavailable;
  }
  // The driver's text (SQL fragments, key names, server versions) goes to the
  // log only; the status says what failed and what the caller can do.
  log::Warn("database error", {{"operation", what},
                               {"mysql_error", e.getErrorCode()},
                               {"sqlstate", state},
                               {"driver_message", e.what()}});
  std::string message;
  switch (code) {
    case absl::StatusCode::kUnavailable:
      message = absl::StrCat(Abs(what), ": database unavailable; retry later");
      break;
    case absl::StatusCode::kAborted:
      message = absl::StrCat(Abs(what), ": conflicting concurrent change; retry");
      break;
    case absl::StatusCode::kAlreadyExists:
      message = absl::StrCat(Abs(what), ": already exists");
      break;
    case absl::StatusCode::kDeadlineExceeded:
      message = absl::StrCat(Abs(what), ": the call's deadline passed while the database was working");
      break;
    case absl::StatusCode::kPermissionDenied:
      message = absl::StrCat(Abs(what), ": the service's database user may not do this");
      break;
    default:
      message = absl::StrCat(Abs(what), ": database error ", e.getErrorCode());
  }
  return absl::Status(code, message);
}

}  // namespace careops::mysql
