#include "common/mysql/keyset.h"

#include "absl/strings/str_cat.h"

namespace careops::mysql {

KeysetQuery& KeysetQuery::Where(const char* clause, SqlValue value) {
  clauses_.push_back({clause, {std::move(value)}, false});
  return *this;
}

KeysetQuery& KeysetQuery::WhereEach(const char* clause, std::vector<SqlValue> values) {
  clauses_.push_back({clause, std::move(values), true});
  return *this;
}

KeysetQuery& KeysetQuery::WhereIf(bool given, const char* clause, SqlValue value) {
  if (given) clauses_.push_back({clause, {std::move(value)}, false});
  return *this;
}

std::string KeysetQuery::Sql() const {
  std::string sql = absl::StrCat(select_, " WHERE ");
  for (const Clause& clause : clauses_) absl::StrAppend(&sql, clause.text, " AND ");
  absl::StrAppend(&sql, key_, " > ? ORDER BY ", key_, " LIMIT ?", locking_);
  return sql;
}

void KeysetQuery::Bind(Statement& st, const PageRequest& page) const {
  for (const Clause& clause : clauses_) {
    if (!clause.each) {
      st.AddRepeated(clause.values.front(), CountPlaceholders(clause.text));
      continue;
    }
    for (const SqlValue& value : clause.values) st.Add(value);
  }
  st.Add(page.after_id).Add(page.limit + 1);
}

}  // namespace careops::mysql
