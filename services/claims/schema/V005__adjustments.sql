-- Adjustment claims: the correction of a settled claim is a claim of its own
-- (claim_type ADJUSTMENT) that names the original, with a signed amount.
--
-- original_claim_id finds an original's adjustments (claims_by_original); a
-- claw-back keeps the utilisation record it gives back in membership and the
-- rest it records again (claim_rules.h PlanClawback), so a redelivery or a
-- re-approval after a refusal uses the same record.
ALTER TABLE claims
  ADD COLUMN original_claim_id CHAR(26) NULL,
  ADD COLUMN clawback_ref VARCHAR(64) NOT NULL DEFAULT '',
  ADD COLUMN clawback_rest_minor BIGINT NOT NULL DEFAULT 0,
  ADD KEY claims_by_original (original_claim_id, claim_id);
