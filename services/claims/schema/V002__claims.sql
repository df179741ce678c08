-- careops_claims: claims and pre-authorisations, their history, and
-- non-conformance investigations.
CREATE TABLE claims (
  claim_id CHAR(26) NOT NULL PRIMARY KEY,
  claim_type VARCHAR(24) NOT NULL,
  member_id VARCHAR(64) NOT NULL,
  account_id VARCHAR(64) NOT NULL,
  plan_id VARCHAR(64) NOT NULL,
  benefit_code VARCHAR(64) NOT NULL,
  benefit_category VARCHAR(64) NOT NULL,
  service_date DATE NOT NULL,
  provider_id VARCHAR(128) NOT NULL,
  currency CHAR(3) NOT NULL,
  amount_claimed_minor BIGINT NOT NULL,
  amount_approved_minor BIGINT NOT NULL,
  channel VARCHAR(16) NOT NULL,
  diagnosis_codes TEXT NOT NULL,    -- one code per line
  procedure_codes TEXT NOT NULL,
  attachment_refs TEXT NOT NULL,
  status VARCHAR(24) NOT NULL,
  rejection_reasons TEXT NOT NULL,  -- CODE<TAB>message per line
  possible_duplicate TINYINT NOT NULL,
  duplicate_of VARCHAR(26) NOT NULL,
  assignee VARCHAR(128) NOT NULL,
  routed_role VARCHAR(64) NOT NULL,
  submitted_by VARCHAR(128) NOT NULL,
  submitted_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  decided_at DATETIME(6) NULL,
  settled_at DATETIME(6) NULL,
  payment_reference VARCHAR(128) NOT NULL,
  decision_due_at DATETIME(6) NOT NULL,
  settlement_due_at DATETIME(6) NULL,
  decision_breached TINYINT NOT NULL,
  settlement_breached TINYINT NOT NULL,
  utilization_ref VARCHAR(64) NOT NULL,
  utilization_seq INT NOT NULL,
  version BIGINT NOT NULL,
  KEY claims_by_status (status, claim_id),
  KEY claims_by_member (member_id, benefit_code, service_date),
  KEY claims_by_account (account_id, claim_id),
  KEY claims_by_assignee (assignee, claim_id),
  KEY claims_by_decision_due (decision_breached, decision_due_at),
  KEY claims_by_settlement_due (settlement_breached, settlement_due_at),
  KEY claims_by_decided_at (decided_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE claim_history (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  claim_id CHAR(26) NOT NULL,
  at DATETIME(6) NOT NULL,
  action VARCHAR(32) NOT NULL,
  from_status VARCHAR(24) NOT NULL,
  to_status VARCHAR(24) NOT NULL,
  actor_user VARCHAR(128) NOT NULL,
  actor_role VARCHAR(64) NOT NULL,
  reason VARCHAR(1024) NOT NULL,
  details VARCHAR(1024) NOT NULL,
  KEY history_by_claim (claim_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE investigations (
  investigation_id CHAR(26) NOT NULL PRIMARY KEY,
  claim_id CHAR(26) NOT NULL,
  category VARCHAR(32) NOT NULL,
  notes TEXT NOT NULL,
  status VARCHAR(24) NOT NULL,
  flagged_by VARCHAR(128) NOT NULL,
  investigator VARCHAR(128) NOT NULL,
  findings TEXT NOT NULL,
  remedial_action TEXT NOT NULL,
  flagged_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  closed_at DATETIME(6) NULL,
  version BIGINT NOT NULL,
  KEY investigations_by_status (status, investigation_id),
  KEY investigations_by_claim (claim_id, investigation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
