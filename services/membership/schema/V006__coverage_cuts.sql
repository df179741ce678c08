-- What a cancellation did to each coverage period it ended, so that a
-- cancellation withdrawn before its day (WithdrawScheduledStatusChange) gives
-- the members their coverage back: the period of `member_id` starting on
-- `effective_date` ran until `previous_end_date` (NULL: open) before the
-- account's cancellation ended it. Written in the transaction that ends the
-- period (the cancellation itself, or an enrolment or movement made while the
-- cancellation is scheduled); removed when the cancellation is withdrawn.
-- Periods are rewritten whole under the member's lock, so this keys on the
-- period's start rather than referencing the row.

CREATE TABLE coverage_cuts (
  member_id CHAR(26) NOT NULL,
  effective_date DATE NOT NULL,
  account_id CHAR(26) NOT NULL,
  previous_end_date DATE NULL,
  recorded_at DATETIME(6) NOT NULL,
  PRIMARY KEY (member_id, effective_date),
  KEY coverage_cuts_by_account (account_id, member_id),
  CONSTRAINT coverage_cuts_member FOREIGN KEY (member_id) REFERENCES members (member_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Cancellations made before this migration recorded nothing: every period of
-- a cancelled account's members that ends on the cancellation's cut is taken
-- to have been open before it (what V002-V005 cancellations overwrote cannot
-- be told apart from a termination on the same day).
INSERT INTO coverage_cuts (member_id, effective_date, account_id, previous_end_date, recorded_at)
SELECT c.member_id, c.effective_date, a.account_id, NULL, a.updated_at
FROM client_accounts a JOIN members m ON m.account_id = a.account_id JOIN coverage_periods c ON c.member_id = m.member_id
WHERE a.status = 'CANCELLED' AND c.end_date = GREATEST(c.effective_date, a.status_effective_date);
