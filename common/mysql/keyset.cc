#include "common/mysql/keyset.h"

#include "absl/strings/str_cat.h"

namespace careops::mysql {

KeysetQuery& KeysetQuery::Where(const char* clause, SqlValue value) {
  clauses_.emplace_back(clause, std::move(value));
  return *this;
}

KeysetQuery& KeysetQuery::WhereIf(bool given, const char* clause, SqlValue value) {
  if (given) clauses_.emplace_back(clause, std::move(value));
  return *this;
}

std::string KeysetQuery::Sql() const {
  std::string sql = absl::StrCat(select_, " WHERE ");
  for (const auto& [clause, value] : clauses_) absl::StrAppend(&sql, clause, " AND ");
  absl::StrAppend(&sql, key_, " > ? ORDER BY ", key_, " LIMIT ?", locking_);
  return sql;
}

void KeysetQuery::Bind(Statement& st, const PageRequest& page) const {
  for (const auto& [clause, value] : clauses_) st.AddRepeated(value, CountPlaceholders(clause));
  st.Add(page.after_id).Add(page.limit + 1);
}

}  // namespace careops::mysql
