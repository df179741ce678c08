#include "common/mysql/batch.h"

namespace careops::mysql {

void ForEachChunk(size_t total, const std::function<void(size_t, int)>& chunk) {
  for (size_t done = 0; done < total;) {
    int n = 1;
    for (int size : kBatchChunkSizes) {
      if (total - done >= static_cast<size_t>(size)) {
        n = size;
        break;
      }
    }
    chunk(done, n);
    done += n;
  }
}

std::string MultiRowSql(std::string_view head, std::string_view row, int rows, std::string_view tail) {
  std::string sql(head);
  for (int i = 0; i < rows; ++i) {
    if (i) sql += ", ";
    sql += row;
  }
  sql += tail;
  return sql;
}

}  // namespace careops::mysql
