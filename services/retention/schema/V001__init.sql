-- careops_retention: the audit trail every change writes to, in the same transaction.
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
