#include "common/mysql/row.h"

#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/text.h"

namespace careops::mysql {

int CountPlaceholders(std::string_view sql) {
  int count = 0;
  char quote = 0;  // the open quote: ', " or `
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == '\\' && quote != '`') {
        ++i;  // an escaped character inside a string
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else if (c == '?') {
      ++count;
    } else if (c == '#' || (c == '-' && i + 2 < sql.size() && sql[i + 1] == '-' && sql[i + 2] == ' ')) {
      const size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) break;
      i = end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const size_t end = sql.find("*/", i + 2);
      if (end == std::string_view::npos) break;
      i = end + 1;
    }
  }
  return count;
}

// ---- Statement ------------------------------------------------------------------

Statement::Statement(Connection& conn, const char* sql) : st_(conn.Prepare(sql)), sql_(sql) {}

Statement& Statement::Add(const SqlValue& value) {
  const int i = next_++;
  std::visit(
      [&](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::monostate>) {
          st_.setNull(i, sql::DataType::VARCHAR);
        } else if constexpr (std::is_same_v<V, std::string>) {
          st_.setString(i, v);
        } else if constexpr (std::is_same_v<V, int64_t>) {
          st_.setInt64(i, v);
        } else if constexpr (std::is_same_v<V, absl::Time>) {
          st_.setString(i, ToSqlDatetime(v));
        } else {
          st_.setString(i, ToSqlDate(v));
        }
      },
      value.value());
  return *this;
}

Statement& Statement::AddRepeated(const SqlValue& value, int n) {
  for (int k = 0; k < n; ++k) Add(value);
  return *this;
}

absl::Status Statement::CheckComplete() const {
  const int expected = CountPlaceholders(sql_);
  if (added() == expected) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("statement given ", added(), " of its ", expected,
                                          " parameters: ", Abs(std::string_view(sql_).substr(0, 80))));
}

absl::StatusOr<int64_t> Statement::Update() {
  CAREOPS_RETURN_IF_ERROR(CheckComplete());
  return static_cast<int64_t>(st_.executeUpdate());
}

absl::StatusOr<Rows> Statement::Query() {
  CAREOPS_RETURN_IF_ERROR(CheckComplete());
  return Rows(std::unique_ptr<sql::ResultSet>(st_.executeQuery()));
}

// ---- Rows -------------------------------------------------------------------------

Rows::Rows(std::unique_ptr<sql::ResultSet> rs) : rs_(std::move(rs)) {}
Rows::Rows(Rows&&) noexcept = default;
Rows& Rows::operator=(Rows&&) noexcept = default;
Rows::~Rows() = default;

bool Rows::Next() {
  if (!rs_->next()) return false;
  row_ = std::make_unique<RowReader>(*rs_);
  return true;
}

// ---- RowReader ------------------------------------------------------------------

void RowReader::Fail(int col, std::string_view what) {
  if (!status_.ok()) return;
  std::string name;
  try {
    name = std::string(rs_.getMetaData()->getColumnLabel(col));
  } catch (const sql::SQLException&) {
    name = absl::StrCat("#", col);
  }
  status_ = absl::InternalError(absl::StrCat("stored column ", name, ": ", Abs(what)));
}

int RowReader::ColumnOf(std::string_view column) {
  try {
    const uint32_t col = rs_.findColumn(sql::SQLString(std::string(column)));
    if (col != 0) return static_cast<int>(col);
  } catch (const sql::SQLException&) {
  }
  if (status_.ok()) status_ = absl::InternalError(absl::StrCat("no column ", Abs(column), " in the result"));
  return 0;
}

bool RowReader::IsNull(int col) { return col == 0 || rs_.isNull(col); }

std::string RowReader::TextAt(int col) {
  if (col == 0) return "";
  if (rs_.isNull(col)) {
    Fail(col, "is NULL");
    return "";
  }
  return std::string(rs_.getString(col));
}

int64_t RowReader::IntAt(int col) {
  if (col == 0) return 0;
  if (rs_.isNull(col)) {
    Fail(col, "is NULL");
    return 0;
  }
  return rs_.getInt64(col);
}

absl::Time RowReader::TimeAt(int col) {
  const std::string text = TextAt(col);
  if (!ok()) return absl::UnixEpoch();
  absl::StatusOr<absl::Time> t = ParseSqlDatetime(text);
  if (!t.ok()) {
    Fail(col, "is not a DATETIME");
    return absl::UnixEpoch();
  }
  return *t;
}

std::string RowReader::String() { return TextAt(NextColumn()); }
std::string RowReader::String(std::string_view column) { return TextAt(ColumnOf(column)); }
int64_t RowReader::Int64() { return IntAt(NextColumn()); }
int64_t RowReader::Int64(std::string_view column) { return IntAt(ColumnOf(column)); }
int RowReader::Int() { return static_cast<int>(IntAt(NextColumn())); }
bool RowReader::Bool() { return IntAt(NextColumn()) != 0; }
absl::Time RowReader::Timestamp() { return TimeAt(NextColumn()); }
absl::Time RowReader::Timestamp(std::string_view column) { return TimeAt(ColumnOf(column)); }

absl::CivilDay RowReader::Date() {
  const int col = NextColumn();
  const std::string text = TextAt(col);
  if (!ok()) return absl::CivilDay();
  absl::StatusOr<absl::CivilDay> day = ParseSqlDate(text);
  if (!day.ok()) {
    Fail(col, "is not a DATE");
    return absl::CivilDay();
  }
  return *day;
}

std::optional<std::string> RowReader::OptionalString() {
  const int col = NextColumn();
  if (IsNull(col)) return std::nullopt;
  return TextAt(col);
}

std::optional<int64_t> RowReader::OptionalInt64() {
  const int col = NextColumn();
  if (IsNull(col)) return std::nullopt;
  return IntAt(col);
}

std::optional<absl::Time> RowReader::OptionalTimestamp() {
  const int col = NextColumn();
  if (IsNull(col)) return std::nullopt;
  return TimeAt(col);
}

std::optional<absl::CivilDay> RowReader::OptionalDate() {
  if (IsNull(next_)) {
    ++next_;
    return std::nullopt;
  }
  return Date();
}

Money RowReader::Amount(const std::string& currency) { return Money(currency, IntAt(NextColumn())); }

}  // namespace careops::mysql
