-- What a claim pays, and the approvers' queues.
--
-- The plan's terms at screening (co-pay in basis points, per-visit cap) and the
-- payable amount they give (claim_rules.h PayableAmount) are kept with the
-- claim, so an approval inside its transaction needs nothing from membership.
-- Claims from before this migration pay what was claimed, as they did.
ALTER TABLE claims
  ADD COLUMN copay_basis_points INT NOT NULL DEFAULT 0,
  ADD COLUMN per_visit_cap_minor BIGINT NULL,
  ADD COLUMN payable_minor BIGINT NULL;

UPDATE claims SET payable_minor = amount_claimed_minor;

ALTER TABLE claims
  MODIFY payable_minor BIGINT NOT NULL,
  -- ListClaims by routed_role: each approver's queue in claim_id order.
  ADD KEY claims_by_routed_role (routed_role, claim_id);
