-- Failed auto-debits and bounced checks from the bank's daily report, one row
-- per bank reference (applied at most once), with the payment it reversed and
-- the bounce fee installment it added, if any.
CREATE TABLE bank_returns (
  bank_reference VARCHAR(128) NOT NULL PRIMARY KEY,
  ledger_id CHAR(26) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  reason VARCHAR(32) NOT NULL,
  amount_minor BIGINT NOT NULL,
  return_date DATE NOT NULL,
  payment_id CHAR(26) NULL,
  fee_installment_id CHAR(26) NULL,
  recorded_by VARCHAR(128) NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  KEY bank_returns_by_ledger (ledger_id, return_date),
  KEY bank_returns_by_reason (reason)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
