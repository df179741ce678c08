-- Effective-dated history of each client account's status, so eligibility judges
-- a service date by the status in force on that day (a claim dated inside a
-- suspension that was later lifted is still refused, one dated before a
-- suspension is still covered). One row per status change, in the order they
-- were made (`seq`). Transitions never predate the status they replace, so the
-- row in force on day d is the last one with effective_date <= d.

CREATE TABLE account_status_history (
  seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id CHAR(26) NOT NULL,
  effective_date DATE NOT NULL,
  status VARCHAR(16) NOT NULL,
  reason VARCHAR(1024) NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  KEY status_history_by_account (account_id, effective_date, seq),
  CONSTRAINT status_history_account FOREIGN KEY (account_id) REFERENCES client_accounts (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Back-fill accounts created before this migration: active from the start date,
-- then every transition the audit trail recorded (V002 wrote from/to/effective_date
-- into each account.suspend|reinstate|cancel entry), in the order it was made.
INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at)
SELECT account_id, start_date, 'active', '', created_at FROM client_accounts ORDER BY created_at, account_id;

INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at)
SELECT l.resource_id, JSON_VALUE(l.details, '$.effective_date'), JSON_VALUE(l.details, '$.to'), l.reason, l.at
FROM audit_log l JOIN client_accounts a ON a.account_id = l.resource_id
WHERE l.resource_type = 'account' AND l.action IN ('account.suspend', 'account.reinstate', 'account.cancel')
ORDER BY l.id;

-- Whatever the audit trail could not explain: the current status from its date.
INSERT INTO account_status_history (account_id, effective_date, status, reason, recorded_at)
SELECT a.account_id, a.status_effective_date, a.status, a.status_reason, a.updated_at FROM client_accounts a
WHERE a.status <> 'active' AND NOT EXISTS (
  SELECT 1 FROM account_status_history h
  WHERE h.account_id = a.account_id AND h.status = a.status AND h.effective_date = a.status_effective_date);
