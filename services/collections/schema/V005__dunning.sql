-- The dunning ladder (dunning_rules.h): every notice a ledger was sent, what it
-- covered and asked for, its rendered text, its delivery and what it asked
-- membership to do to the account.
--
-- (ledger_id, subject) is what makes a notice issued once: "ladder/<episode>/<n>"
-- for the n-th rung of a past-due episode, "reminder/<installment>/<lead>" for a
-- reminder. A second run, a replay or another replica collides on it.
ALTER TABLE ledgers ADD COLUMN dunning_episode INT NOT NULL DEFAULT 1;

CREATE TABLE notices (
  notice_id CHAR(26) NOT NULL PRIMARY KEY,
  ledger_id CHAR(26) NOT NULL,
  subject VARCHAR(96) NOT NULL,
  rung VARCHAR(32) NOT NULL,
  rung_name VARCHAR(32) NOT NULL,
  episode INT NOT NULL,
  sequence INT NOT NULL,
  issued_on DATE NOT NULL,
  days_past_due INT NOT NULL,
  currency CHAR(3) NOT NULL,
  outstanding_minor BIGINT NOT NULL,
  fee_minor BIGINT NOT NULL,
  interest_minor BIGINT NOT NULL,
  fee_installment_id CHAR(26) NULL,
  interest_installment_id CHAR(26) NULL,
  channel VARCHAR(16) NOT NULL,
  recipient VARCHAR(500) NOT NULL,
  body TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  resolved_on DATE NULL,
  grace_until DATE NULL,
  delivery_state VARCHAR(24) NOT NULL,
  delivery_attempts INT NOT NULL DEFAULT 0,
  delivery_error VARCHAR(500) NOT NULL DEFAULT '',
  delivered_at DATETIME(6) NULL,
  account_action VARCHAR(16) NOT NULL DEFAULT '',
  account_action_state VARCHAR(16) NOT NULL DEFAULT '',
  account_action_error VARCHAR(1024) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY notices_once (ledger_id, subject),
  KEY notices_by_ledger (ledger_id, status, episode),
  KEY notices_by_state (status, rung, grace_until),
  KEY notices_by_delivery (delivery_state, channel)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What each notice asked for: its installments with their balances when issued
-- (its own fee and interest installments included).
CREATE TABLE notice_installments (
  notice_id CHAR(26) NOT NULL,
  installment_id CHAR(26) NOT NULL,
  number VARCHAR(64) NOT NULL,
  balance_minor BIGINT NOT NULL,
  PRIMARY KEY (notice_id, installment_id),
  KEY notice_installments_by_installment (installment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
