// Statements over many rows in few round trips (census enrolment, installment
// downloads), with a bounded set of SQL texts.
//
// Each pooled connection caches prepared statements by SQL text (pool.h), so a
// batch must not build one text per batch size: ForEachChunk() cuts any count
// into chunks of the fixed sizes kBatchChunkSizes, and MultiRowSql() builds the
// text for one chunk. A 1,234-row batch is 2x500 + 4x50 + 6x5 + 4x1 statements,
// from at most four distinct texts per query.
//
//   ForEachChunk(refs.size(), [&](size_t start, int n) {
//     auto& st = conn.Prepare(MultiRowSql(kExistingHead, "?", n, ")"));
//     ...bind refs[start .. start + n)...
//   });
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace careops::mysql {

inline constexpr int kBatchChunkSizes[] = {500, 50, 5, 1};

// Calls `chunk(start, n)` over [0, total) in the largest chunk sizes that fit.
void ForEachChunk(size_t total, const std::function<void(size_t start, int n)>& chunk);

// `head` + `row` repeated `rows` times, comma-separated, + `tail`.
std::string MultiRowSql(std::string_view head, std::string_view row, int rows, std::string_view tail = "");

}  // namespace careops::mysql
