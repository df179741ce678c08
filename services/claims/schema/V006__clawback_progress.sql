-- A claw-back's progress in membership (claims_outbox.h): it records its rest
-- first and gives its records back after, so that a refusal (which only the
-- record can meet) leaves nothing applied. The row says how far it got:
-- clawback_ref lists the records it gives back (space-separated, at most 16 of
-- 64 characters), clawback_given how many membership has given back, and
-- clawback_rest_recorded whether the rest is recorded under utilization_ref.
--
-- Claw-backs from before this migration gave their one record back first. Those
-- decided or back in review have it given back; those still waiting on
-- membership start at 0 and find out from membership's answers (giving back a
-- record already given back is a replay there).
ALTER TABLE claims
  MODIFY clawback_ref VARCHAR(1040) NOT NULL DEFAULT '',
  ADD COLUMN clawback_given INT NOT NULL DEFAULT 0,
  ADD COLUMN clawback_rest_recorded BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE claims SET clawback_given = 1
  WHERE clawback_ref <> '' AND status <> 'APPROVAL_PENDING';

UPDATE claims SET clawback_rest_recorded = TRUE
  WHERE clawback_ref <> '' AND clawback_rest_minor > 0
    AND (status IN ('APPROVED', 'SETTLED') OR (status = 'CLOSED' AND settled_at IS NOT NULL));
