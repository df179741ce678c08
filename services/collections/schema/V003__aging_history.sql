-- The aging runs' record: one row per subject (the account as a whole, with
-- installment_id '', or one installment) and date on which its bucket changed
-- (and the first time it was aged). The bucket on any past date is the latest
-- row on or before it.
CREATE TABLE aging_history (
  ledger_id CHAR(26) NOT NULL,
  installment_id VARCHAR(26) NOT NULL,
  as_of DATE NOT NULL,
  bucket VARCHAR(32) NOT NULL,
  days_past_due INT NOT NULL,
  balance_minor BIGINT NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  PRIMARY KEY (ledger_id, installment_id, as_of),
  KEY aging_history_by_date (installment_id, as_of)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
