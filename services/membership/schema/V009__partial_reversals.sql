-- Partial reversals of a utilisation record (ReverseUtilization with an amount).
--
-- reversed_minor is what the reversals gave back of the record so far; the
-- record counts amount_minor - reversed_minor against the annual limit, and
-- `reversed` stays the flag of a wholly reversed record (reversed_minor =
-- amount_minor). utilization_reversals keeps one row per reversal, in order
-- (seq from 1), so the ledger shows each with its amount.
--
-- A record reversed before this migration was reversed whole: it gets its
-- amount as reversed_minor and one reversal row with its reason and time.
ALTER TABLE utilizations
  ADD COLUMN reversed_minor BIGINT NOT NULL DEFAULT 0;

UPDATE utilizations SET reversed_minor = amount_minor WHERE reversed = 1;

CREATE TABLE utilization_reversals (
  utilization_id CHAR(26) NOT NULL,
  seq INT NOT NULL,
  amount_minor BIGINT NOT NULL,
  reason VARCHAR(1024) NOT NULL,
  reversed_at DATETIME(6) NOT NULL,
  PRIMARY KEY (utilization_id, seq),
  CONSTRAINT utilization_reversals_record FOREIGN KEY (utilization_id) REFERENCES utilizations (utilization_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO utilization_reversals (utilization_id, seq, amount_minor, reason, reversed_at)
  SELECT utilization_id, 1, amount_minor, reverse_reason, COALESCE(reversed_at, recorded_at)
  FROM utilizations WHERE reversed = 1;
