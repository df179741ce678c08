#include "common/mysql/statement_time.h"

#include <cppconn/prepared_statement.h>

#include <algorithm>

#include "common/deadline.h"
#include "common/mysql/pool.h"

namespace careops::mysql {
namespace {

constexpr char kSetStatementTime[] = "SET SESSION max_statement_time = ?";
constexpr double kMinBoundSeconds = 0.001;

}  // namespace

std::optional<double> StatementTimeToSet(absl::Time deadline, absl::Time now, double current) {
  if (deadline == absl::InfiniteFuture()) {
    if (current == 0) return std::nullopt;
    return 0.0;
  }
  const double left = std::max(kMinBoundSeconds, absl::ToDoubleSeconds(deadline - now));
  if (current > 0 && current <= left && current >= 0.9 * left) return std::nullopt;
  return left;
}

void BoundStatementTime(Connection& conn, absl::Time now) {
  const std::optional<double> bound = StatementTimeToSet(CurrentCallDeadline(), now, conn.statement_time_seconds);
  if (!bound) return;
  auto& st = conn.Prepare(kSetStatementTime);
  st.setDouble(1, *bound);
  st.execute();
  conn.statement_time_seconds = *bound;
}

}  // namespace careops::mysql
