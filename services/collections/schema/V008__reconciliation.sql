-- Ledger reconciliation reports: billing finance's statement compared with the
-- ledgers (reconciliation_rules.h). The totals are not stored: they are summed
-- from the differences whenever the report is read, so they always equal them.
CREATE TABLE reconciliation_reports (
  report_id CHAR(26) NOT NULL PRIMARY KEY,
  statement_reference VARCHAR(128) NOT NULL,
  period_start DATE NOT NULL,
  period_end DATE NOT NULL,
  ledgers INT NOT NULL,
  created_by VARCHAR(128) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  KEY reconciliation_by_time (created_at, report_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE reconciliation_differences (
  report_id CHAR(26) NOT NULL,
  seq INT NOT NULL,
  ledger_id VARCHAR(26) NOT NULL,
  kind VARCHAR(24) NOT NULL,
  subject VARCHAR(16) NOT NULL,
  reference VARCHAR(128) NOT NULL,
  currency CHAR(3) NOT NULL,
  statement_minor BIGINT NOT NULL,
  ledger_minor BIGINT NOT NULL,
  statement_date DATE NULL,
  ledger_date DATE NULL,
  PRIMARY KEY (report_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
