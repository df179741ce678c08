// The audit trail every careops service keeps in its own schema.
//
// Each service's first migration creates the `audit_log` table (see
// common/schema/V001__runtime.sql); every state change appends one entry in the
// same transaction as the change itself, so the trail and the data never disagree.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "common/auth.h"
#include "common/mysql/pool.h"

namespace careops::mysql {

struct AuditEntry {
  absl::Time at;
  Principal actor;
  std::string action;         // "account.suspend", "claim.approve"
  std::string resource_type;  // "account", "claim"
  std::string resource_id;
  std::string reason;         // free text from the caller, may be empty
  std::string details_json;   // "{}" when nothing more to say
  std::string request_id;
};

// Appends `entry`. Throws sql::SQLException like any statement (call it inside
// RunInTransaction / RunMutation).
void AppendAudit(Connection& conn, const AuditEntry& entry);

}  // namespace careops::mysql
