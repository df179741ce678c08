#include "common/mysql/audit.h"

#include <cppconn/prepared_statement.h>

#include "common/proto_time.h"

namespace careops::mysql {
namespace {
constexpr char kInsertAudit[] =
    "INSERT INTO audit_log (at, actor_user, actor_role, actor_team, action, resource_type,"
    " resource_id, reason, details, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
}

void AppendAudit(Connection& conn, const AuditEntry& e) {
  auto& st = conn.Prepare(kInsertAudit);
  st.setString(1, ToSqlDatetime(e.at));
  st.setString(2, e.actor.user);
  st.setString(3, e.actor.role);
  st.setString(4, e.actor.team);
  st.setString(5, e.action);
  st.setString(6, e.resource_type);
  st.setString(7, e.resource_id);
  st.setString(8, e.reason);
  st.setString(9, e.details_json.empty() ? "{}" : e.details_json);
  st.setString(10, e.request_id);
  st.executeUpdate();
}

}  // namespace careops::mysql
