// The one keyset list: a page of rows after the previous page's last key, in
// key order, with typed filters, from SQL text made only of named constants.
//
//   constexpr char kClaimsSelect[] = "SELECT " CLAIM_COLUMNS " FROM claims";
//   constexpr char kClaimsByStatus[] = "(? IS NULL OR status = ?)";
//   constexpr char kClaimsBreached[] = "(decision_breached = 1 OR settlement_breached = 1)";
//
//   KeysetQuery q(kClaimsSelect, "claim_id");
//   q.Where(kClaimsByStatus, filter.status)               // always in the text
//    .WhereIf(filter.breached_only, kClaimsBreached, {}); // one of two texts
//   CAREOPS_ASSIGN_OR_RETURN(KeysetPage<Claim> page, q.Fetch<Claim>(pool, page_request, ReadClaim));
//   // page.items (at most page_request.limit), page.more: another page follows
//
// The statement is `<select> WHERE <clause> AND ... AND <key> > ? ORDER BY <key>
// LIMIT ?`, read for limit + 1 rows to know whether another page follows
// (common/paging.h makes the token from the last item's key).
//
// Where the text comes from: `select`, `key` and every clause are compile-time
// constants of the store (the parameters are `const char*` for that reason);
// request data only ever arrives as bound values. A clause's every `?` is bound
// to its one value, so `(? IS NULL OR col = ?)` with an empty optional matches
// every row. Prefer Where() with such clauses: one text for every combination of
// filters, prepared once per connection. WhereIf() adds a clause only when given,
// so n of them make up to 2^n texts: keep it to the few filters that must change
// the query plan.
//
// Status codes: whatever the read or the database returned (UNAVAILABLE when it
// is down, DEADLINE_EXCEEDED past the call's deadline); INTERNAL when a stored
// row does not read back.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/mysql/pool.h"
#include "common/mysql/row.h"
#include "common/paging.h"

namespace careops::mysql {

template <typename T>
struct KeysetPage {
  std::vector<T> items;
  bool more = false;  // rows follow the last item
};

class KeysetQuery {
 public:
  // `select`: "SELECT <columns> FROM <table> [FORCE INDEX (...)]"; `key`: the
  // unique column the list is ordered and continued by.
  KeysetQuery(const char* select, const char* key) : select_(select), key_(key) {}

  // `clause` is part of the statement; each of its `?` is bound to `value`.
  KeysetQuery& Where(const char* clause, SqlValue value = {});
  // `clause` whose `?` take different values: each is bound in turn to the
  // next of `values` (as many as the clause has), e.g. a filter judged as of a
  // day: "(? IS NULL OR ? = <status as of ?>)" with {status, status, day}.
  KeysetQuery& WhereEach(const char* clause, std::vector<SqlValue> values);
  // `clause` is part of the statement only when `given`.
  KeysetQuery& WhereIf(bool given, const char* clause, SqlValue value = {});

  // `suffix` (a constant, e.g. " FOR UPDATE SKIP LOCKED") after the LIMIT: a
  // batch job that claims its page's rows inside a transaction.
  KeysetQuery& Locking(const char* suffix) {
    locking_ = suffix;
    return *this;
  }

  // The statement's text (for tests and plans).
  std::string Sql() const;

  // Binds the clauses' values, then after_id and limit + 1, on `conn`'s
  // prepared statement.
  template <typename T>
  absl::StatusOr<KeysetPage<T>> Fetch(Connection& conn, const PageRequest& page, const ReadRow<T>& read) const {
    const std::string sql = Sql();
    Statement st(conn, sql.c_str());
    Bind(st, page);
    absl::StatusOr<std::vector<T>> rows = QueryAll<T>(st, read);
    if (!rows.ok()) return rows.status();
    KeysetPage<T> out{*std::move(rows), false};
    if (static_cast<int>(out.items.size()) > page.limit) {
      out.items.resize(page.limit);
      out.more = true;
    }
    return out;
  }

  // The same on a pooled connection, in autocommit.
  template <typename T>
  absl::StatusOr<KeysetPage<T>> Fetch(ConnectionPool& pool, const PageRequest& page, const ReadRow<T>& read) const {
    KeysetPage<T> out;
    absl::Status status = WithConnection(pool, [&](Connection& conn) -> absl::Status {
      absl::StatusOr<KeysetPage<T>> fetched = Fetch<T>(conn, page, read);
      if (!fetched.ok()) return fetched.status();
      out = *std::move(fetched);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return out;
  }

 private:
  void Bind(Statement& st, const PageRequest& page) const;

  const char* select_;
  const char* key_;
  const char* locking_ = "";
  struct Clause {
    const char* text;
    std::vector<SqlValue> values;  // one per `?`; or a single one bound to every `?`
    bool each = false;
  };
  std::vector<Clause> clauses_;
};

}  // namespace careops::mysql
