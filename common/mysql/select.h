// Reading rows by key, the two ways every store does it:
//
//   - the one row a key names, or NOT_FOUND in the words every careops lookup
//     uses ("<field>: no <what> '<key>'", like versioned.h NoSuchRow):
//
//       CAREOPS_ASSIGN_OR_RETURN(Ledger l, SelectOne<Ledger>(conn, kSelectLedger, ledger_id, ReadLedger,
//                                                            "ledger_id", "ledger"));
//
//   - the rows of many keys (a page's children: a list's allocations, covered
//     installments, histories) in a few chunked statements instead of one per
//     key, so that reading N parents costs a bounded number of round trips:
//
//       constexpr char kAllocationsHead[] = "SELECT payment_id, ... FROM allocations WHERE payment_id IN (";
//       ForEachRowOf<Line>(conn, payment_ids, kAllocationsHead, ") ORDER BY id", ReadLine,
//                          [&](Line& line) { by_payment[line.payment_id]->Add(line); });
//
//     The statement is `head` + "?, ?, ..." + `tail` per chunk (batch.h: a fixed
//     set of chunk sizes, so a bounded set of prepared texts). `leading` values
//     are bound first, for `?` in `head` ("... WHERE ledger_id = ? AND number IN (").
//     Rows come chunk by chunk, each chunk in its statement's order: order by
//     something that also orders within one key when the order matters.
//
// Status codes: NOT_FOUND as above; otherwise whatever `read` or the database
// returned (INTERNAL for a stored row that does not read back). The first error
// stops the read; `each` has then seen only rows before it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/mysql/batch.h"
#include "common/mysql/pool.h"
#include "common/mysql/row.h"
#include "common/text.h"
#include "common/validation.h"

namespace careops::mysql {

// The one row `sql` (one `?`) finds for `key`; NOT_FOUND "<field>: no <what> '<key>'".
template <typename T>
absl::StatusOr<T> SelectOne(Connection& c, const char* sql, const std::string& key, const ReadRow<T>& read,
                            std::string_view field, std::string_view what) {
  Statement st(c, sql);
  st.Add(key);
  absl::StatusOr<std::vector<T>> rows = QueryAll<T>(st, read);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::NotFoundError(absl::StrCat(Abs(field), ": no ", Abs(what), " ", Quote(key)));
  return std::move(rows->front());
}

// Every row of `head` + "?, ..." + `tail` over `ids`, in chunks, handed to `each`.
template <typename Row>
absl::Status ForEachRowOf(Connection& c, const std::vector<std::string>& ids, const char* head, const char* tail,
                          const ReadRow<Row>& read, const std::function<void(Row&)>& each,
                          const std::vector<SqlValue>& leading = {}) {
  absl::Status status = absl::OkStatus();
  ForEachChunk(ids.size(), [&](size_t start, int n) {
    if (!status.ok()) return;
    const std::string sql = MultiRowSql(head, "?", n, tail);
    Statement st(c, sql.c_str());
    for (const SqlValue& v : leading) st.Add(v);
    for (int i = 0; i < n; ++i) st.Add(ids[start + i]);
    absl::StatusOr<std::vector<Row>> rows = QueryAll<Row>(st, read);
    if (!rows.ok()) {
      status = rows.status();
      return;
    }
    for (Row& row : *rows) each(row);
  });
  return status;
}

}  // namespace careops::mysql
