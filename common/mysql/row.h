// Typed statements and rows: parameters bound in the order they are written,
// columns read in the order they are selected (or by name), with no index
// counted by hand anywhere.
//
//   Statement st(conn, kInsertClaim);                  // a named SQL constant
//   st.Add(c.claim_id).Add(c.amount.minor()).Add(c.decided_at);   // optional -> NULL
//   CAREOPS_ASSIGN_OR_RETURN(int64_t rows, st.Update());
//
//   CAREOPS_ASSIGN_OR_RETURN(Rows rows, st.Query());
//   while (rows.Next()) {
//     RowReader& r = rows.row();
//     c.claim_id = r.String();                  // column 1
//     c.service_date = r.Date();                // column 2
//     c.amount = r.Amount(r.String("currency"));  // by name; the sequence goes on
//     CAREOPS_RETURN_IF_ERROR(r.status());
//   }
//
// Values (SqlValue) map to columns one way everywhere: text as is, integers and
// bools as integers, absl::Time as DATETIME(6) text in UTC (microseconds, the
// precision every careops store keeps), absl::CivilDay as DATE, a proto enum as
// its short name (common/enum_codec.h), an empty std::optional as NULL.
//
// Contract and status codes:
//   - Update()/Query() answer INTERNAL, before anything reaches the server, when
//     the number of values added differs from the number of `?` in the SQL: a
//     statement is never run with a parameter left over from its previous use.
//   - A RowReader keeps the first conversion failure (a NULL where a value is
//     required, a malformed date, an unknown enum name, an unknown column) and
//     answers it from status() as INTERNAL naming the column: stored data that
//     does not read back is the service's fault, not the caller's. Getters keep
//     returning empty values after a failure, so a row is read straight through
//     and checked once.
//   - Driver exceptions are not caught here: statements run inside
//     RunInTransaction / WithConnection / RunMutation (pool.h), which turn them
//     into statuses.
#pragma once

#include <google/protobuf/generated_enum_reflection.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/enum_codec.h"
#include "common/money.h"
#include "common/mysql/pool.h"

namespace sql {
class PreparedStatement;
class ResultSet;
}  // namespace sql

namespace careops::mysql {

// One parameter value; see the header comment for how each kind is stored.
class SqlValue {
 public:
  using Variant = std::variant<std::monostate, std::string, int64_t, absl::Time, absl::CivilDay>;

  SqlValue() = default;  // NULL
  SqlValue(std::nullopt_t) {}
  SqlValue(std::string v) : v_(std::move(v)) {}
  SqlValue(std::string_view v) : v_(std::string(v)) {}
  SqlValue(const char* v) : v_(std::string(v)) {}
  SqlValue(int64_t v) : v_(v) {}
  SqlValue(int v) : v_(static_cast<int64_t>(v)) {}
  SqlValue(bool v) : v_(static_cast<int64_t>(v ? 1 : 0)) {}
  SqlValue(absl::Time v) : v_(v) {}
  SqlValue(absl::CivilDay v) : v_(v) {}
  template <typename E, typename = std::enable_if_t<google::protobuf::is_proto_enum<E>::value>>
  SqlValue(E e) : v_(EnumShortName(e)) {}
  template <typename T>
  SqlValue(const std::optional<T>& v) {
    if (v) *this = SqlValue(*v);
  }

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  const Variant& value() const { return v_; }

 private:
  Variant v_;
};

// `?` placeholders in `sql`, outside quoted strings, identifiers and comments.
int CountPlaceholders(std::string_view sql);

class Rows;

// A prepared statement (cached per connection, pool.h) and its values in order.
class Statement {
 public:
  Statement(Connection& conn, const char* sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // The next parameter.
  Statement& Add(const SqlValue& value);
  // The same value for `n` parameters in a row (`(? IS NULL OR col = ?)`).
  Statement& AddRepeated(const SqlValue& value, int n);

  int added() const { return next_ - 1; }

  // Runs an INSERT/UPDATE/DELETE; the affected row count.
  absl::StatusOr<int64_t> Update();
  // Runs a SELECT.
  absl::StatusOr<Rows> Query();

 private:
  absl::Status CheckComplete() const;

  sql::PreparedStatement& st_;
  const char* sql_;
  int next_ = 1;
};

// The current row of a result set. Sequential getters read column 1, 2, ...;
// the named ones read that column and leave the sequence where it was.
class RowReader {
 public:
  explicit RowReader(const sql::ResultSet& rs) : rs_(rs) {}

  std::string String();
  std::string String(std::string_view column);
  int64_t Int64();
  int64_t Int64(std::string_view column);
  int Int();
  bool Bool();
  absl::Time Timestamp();
  absl::Time Timestamp(std::string_view column);
  absl::CivilDay Date();
  std::optional<std::string> OptionalString();
  std::optional<int64_t> OptionalInt64();
  std::optional<absl::Time> OptionalTimestamp();
  std::optional<absl::CivilDay> OptionalDate();
  // The next column as minor units of `currency`.
  Money Amount(const std::string& currency);
  // A proto enum stored by its short name; an unknown name is a failure.
  template <typename E>
  E Enum() {
    const int col = NextColumn();
    const std::string name = TextAt(col);
    E value = EnumFromShortName<E>(name);
    if (ok() && static_cast<int>(value) == 0 && name != "UNSPECIFIED") Fail(col, "unknown enum name");
    return value;
  }
  // A domain enum stored by name, read with its parser (nullopt: unknown).
  template <typename T>
  T Mapped(const std::function<std::optional<T>(std::string_view)>& parse) {
    const int col = NextColumn();
    std::optional<T> v = parse(TextAt(col));
    if (!v) {
      Fail(col, "unknown value");
      return T{};
    }
    return *v;
  }

  // OK, or INTERNAL naming the first column that did not read.
  absl::Status status() const { return status_; }
  bool ok() const { return status_.ok(); }

 private:
  int NextColumn() { return next_++; }
  int ColumnOf(std::string_view column);
  bool IsNull(int col);
  std::string TextAt(int col);  // "" and a failure for NULL
  int64_t IntAt(int col);
  absl::Time TimeAt(int col);
  void Fail(int col, std::string_view what);

  const sql::ResultSet& rs_;
  int next_ = 1;
  absl::Status status_;
};

// A result set being read row by row.
class Rows {
 public:
  explicit Rows(std::unique_ptr<sql::ResultSet> rs);
  Rows(Rows&&) noexcept;
  Rows& operator=(Rows&&) noexcept;
  ~Rows();

  // Moves to the next row (a fresh RowReader); false after the last.
  bool Next();
  RowReader& row() { return *row_; }

 private:
  std::unique_ptr<sql::ResultSet> rs_;
  std::unique_ptr<RowReader> row_;
};

// How a store turns one row into its type.
template <typename T>
using ReadRow = std::function<absl::StatusOr<T>(RowReader&)>;

// Every row of `st`'s query, read with `read`; the first error stops the read.
template <typename T>
absl::StatusOr<std::vector<T>> QueryAll(Statement& st, const ReadRow<T>& read) {
  absl::StatusOr<Rows> rows = st.Query();
  if (!rows.ok()) return rows.status();
  std::vector<T> out;
  while (rows->Next()) {
    absl::StatusOr<T> item = read(rows->row());
    if (!item.ok()) return item.status();
    if (!rows->row().ok()) return rows->row().status();
    out.push_back(*std::move(item));
  }
  return out;
}

}  // namespace careops::mysql
