-- careops_collections: receivable ledgers per membership client account, their
-- installments, payments and allocations, the contact for notices with its
-- change history, and the pauses of the overdue count.
CREATE TABLE ledgers (
  ledger_id CHAR(26) NOT NULL PRIMARY KEY,
  account_id VARCHAR(64) NOT NULL,
  account_name VARCHAR(200) NOT NULL,
  currency CHAR(3) NOT NULL,
  billing_email VARCHAR(254) NOT NULL,
  mobile VARCHAR(32) NOT NULL,
  postal_address VARCHAR(500) NOT NULL,
  preferred_channel VARCHAR(16) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY ledgers_by_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Amounts by component; paid_* grow with allocations and shrink with reversals,
-- so the balance is (fee + interest + principal) - (paid_fee + ...).
CREATE TABLE installments (
  installment_id CHAR(26) NOT NULL PRIMARY KEY,
  ledger_id CHAR(26) NOT NULL,
  number VARCHAR(64) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  due_date DATE NOT NULL,
  fee_minor BIGINT NOT NULL,
  interest_minor BIGINT NOT NULL,
  principal_minor BIGINT NOT NULL,
  paid_fee_minor BIGINT NOT NULL DEFAULT 0,
  paid_interest_minor BIGINT NOT NULL DEFAULT 0,
  paid_principal_minor BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY installments_by_number (ledger_id, number),
  KEY installments_by_due (ledger_id, due_date, number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- reference is NULL for cash without one; a bank or check reference is posted
-- to a ledger once.
CREATE TABLE payments (
  payment_id CHAR(26) NOT NULL PRIMARY KEY,
  ledger_id CHAR(26) NOT NULL,
  amount_minor BIGINT NOT NULL,
  payment_date DATE NOT NULL,
  method VARCHAR(16) NOT NULL,
  reference VARCHAR(128) NULL,
  status VARCHAR(16) NOT NULL,
  reversal_reason VARCHAR(500) NOT NULL,
  posted_by VARCHAR(128) NOT NULL,
  posted_at DATETIME(6) NOT NULL,
  reversed_at DATETIME(6) NULL,
  UNIQUE KEY payments_by_reference (ledger_id, reference),
  KEY payments_by_ledger (ledger_id, payment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per (payment, installment, component) paid; kept when the payment is
-- reversed (reversed = 1), so what it had paid stays readable.
CREATE TABLE allocations (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  payment_id CHAR(26) NOT NULL,
  installment_id CHAR(26) NOT NULL,
  component VARCHAR(16) NOT NULL,
  amount_minor BIGINT NOT NULL,
  reversed TINYINT NOT NULL DEFAULT 0,
  KEY allocations_by_payment (payment_id, id),
  KEY allocations_by_installment (installment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE contact_history (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ledger_id CHAR(26) NOT NULL,
  billing_email VARCHAR(254) NOT NULL,
  mobile VARCHAR(32) NOT NULL,
  postal_address VARCHAR(500) NOT NULL,
  preferred_channel VARCHAR(16) NOT NULL,
  changed_by VARCHAR(128) NOT NULL,
  source VARCHAR(200) NOT NULL,
  changed_at DATETIME(6) NOT NULL,
  KEY contact_history_by_ledger (ledger_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A pause of the overdue count: [start_date, end_date), open while end_date is NULL.
CREATE TABLE pauses (
  pause_id CHAR(26) NOT NULL PRIMARY KEY,
  ledger_id CHAR(26) NOT NULL,
  kind VARCHAR(24) NOT NULL,
  start_date DATE NOT NULL,
  end_date DATE NULL,
  note VARCHAR(500) NOT NULL,
  created_by VARCHAR(128) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  KEY pauses_by_ledger (ledger_id, start_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
