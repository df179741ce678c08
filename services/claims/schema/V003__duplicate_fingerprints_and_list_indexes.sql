-- Duplicate detection that holds under concurrency, and indexes for the
-- ListClaims filters that had none.
--
-- claim_fingerprints has one row per (member, benefit, provider, service date,
-- amount) ever submitted by an eligible claim. SubmitClaim upserts that row
-- (INSERT ... ON DUPLICATE KEY UPDATE) before it looks for a live twin, inside
-- the submit transaction: the row lock serialises identical submissions, so the
-- second of two concurrent twins waits for the first to commit and then sees it.
CREATE TABLE claim_fingerprints (
  member_id VARCHAR(64) NOT NULL,
  benefit_code VARCHAR(64) NOT NULL,
  provider_id VARCHAR(128) NOT NULL,
  service_date DATE NOT NULL,
  currency CHAR(3) NOT NULL,
  amount_claimed_minor BIGINT NOT NULL,
  submissions BIGINT NOT NULL,
  last_claim_id CHAR(26) NOT NULL,
  PRIMARY KEY (member_id, benefit_code, provider_id, service_date, currency, amount_claimed_minor)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The live-twin lookup reads exactly the fingerprint's claims.
ALTER TABLE claims
  ADD KEY claims_by_fingerprint (member_id, benefit_code, provider_id, service_date, currency,
                                 amount_claimed_minor),
  -- ListClaims pages in claim_id order within its leading filter (see
  -- mysql_claim_store.cc); status, account and assignee have theirs since V002.
  ADD KEY claims_by_member_page (member_id, claim_id),
  ADD KEY claims_by_channel_page (channel, claim_id);
