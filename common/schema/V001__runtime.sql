-- The tables every careops service keeps in its own schema, applied as each
-- service's first migration (cmake/careops.cmake puts this file before the
-- service's own schema/V002__*.sql and later).

-- The audit trail: every state change appends a row in the same transaction
-- (common/mysql/audit.h).
CREATE TABLE audit_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(6) NOT NULL,
  actor_user VARCHAR(128) NOT NULL,
  actor_role VARCHAR(64) NOT NULL,
  actor_team VARCHAR(64) NOT NULL,
  action VARCHAR(64) NOT NULL,
  resource_type VARCHAR(64) NOT NULL,
  resource_id VARCHAR(64) NOT NULL,
  reason VARCHAR(1024) NOT NULL,
  details TEXT NOT NULL,
  request_id VARCHAR(64) NOT NULL,
  KEY audit_by_resource (resource_type, resource_id, id),
  KEY audit_by_time (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Answers of mutating RPCs by request_id, so a retry never applies twice
-- (common/mysql/idempotency.h).
CREATE TABLE request_log (
  request_id VARCHAR(64) NOT NULL PRIMARY KEY,
  method VARCHAR(128) NOT NULL,
  request_hash CHAR(16) NOT NULL,
  response LONGBLOB NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
