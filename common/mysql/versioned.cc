#include "common/mysql/versioned.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/text.h"
#include "common/validation.h"

namespace careops::mysql {

absl::StatusOr<ExpectedVersion> ExpectedVersion::FromEtag(std::string_view etag, std::string_view field) {
  CAREOPS_ASSIGN_OR_RETURN(int64_t version, ParseEtag(etag, field));
  return ExpectedVersion(version);
}

std::string EtagOf(int64_t version) { return absl::StrCat(version); }

absl::Status CheckVersionedUpdateSql(std::string_view update_sql) {
  const absl::string_view sql = Abs(update_sql);
  if (absl::StartsWith(sql, "UPDATE ") && absl::EndsWith(sql, " = ? AND version = ?") &&
      absl::StrContains(sql, "version = ? WHERE ")) {
    return absl::OkStatus();
  }
  return absl::InternalError(
      absl::StrCat("versioned update must end \"version = ? WHERE <key> = ? AND version = ?\": ", sql.substr(0, 80)));
}

absl::Status StaleEtag(std::string_view resource, int64_t current_version) {
  return absl::AbortedError(absl::StrCat("etag: the ", Abs(resource), " changed since it was read (etag is now \"",
                                         EtagOf(current_version), "\"); read it again and retry"));
}

absl::Status NoSuchRow(const VersionedTable& table, std::string_view key) {
  return absl::NotFoundError(absl::StrCat(Abs(table.key_field), ": no ", Abs(table.resource), " ", Quote(key)));
}

absl::StatusOr<int64_t> WriteVersioned(Connection& conn, const VersionedTable& table, std::string_view key,
                                       int64_t locked_version, const std::function<void(Statement&)>& bind_set) {
  CAREOPS_RETURN_IF_ERROR(CheckVersionedUpdateSql(table.update_sql));
  const int64_t next = locked_version + 1;
  Statement st(conn, table.update_sql);
  bind_set(st);
  st.Add(next).Add(key).Add(locked_version);
  CAREOPS_ASSIGN_OR_RETURN(int64_t rows, st.Update());
  if (rows != 1) return StaleEtag(table.resource, locked_version);
  return next;
}

}  // namespace careops::mysql
