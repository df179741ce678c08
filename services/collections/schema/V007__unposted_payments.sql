-- Unposted payments: the bank's deposit lines that came without a ledger, one
-- row per bank reference (recorded at most once). A line is OPEN until it is
-- posted, by a clerk or by the ingest's auto-post, as payment_id to ledger_id.
CREATE TABLE unposted_payments (
  unposted_id CHAR(26) NOT NULL PRIMARY KEY,
  bank_reference VARCHAR(128) NOT NULL,
  payer_name VARCHAR(200) NOT NULL,
  reference_text VARCHAR(500) NOT NULL,
  currency CHAR(3) NOT NULL,
  amount_minor BIGINT NOT NULL,
  deposit_date DATE NOT NULL,
  status VARCHAR(16) NOT NULL,
  ledger_id CHAR(26) NULL,
  payment_id CHAR(26) NULL,
  auto_posted TINYINT NOT NULL DEFAULT 0,
  score INT NOT NULL DEFAULT 0,
  received_by VARCHAR(128) NOT NULL,
  received_at DATETIME(6) NOT NULL,
  posted_by VARCHAR(128) NULL,
  posted_at DATETIME(6) NULL,
  UNIQUE KEY unposted_by_bank_reference (bank_reference),
  KEY unposted_by_status (status, deposit_date, unposted_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
