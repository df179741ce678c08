-- The transactional outbox (common/outbox.h): a change in this service that needs
-- a change in another is written here in the same transaction as the local
-- change, and delivered afterwards by the relay (common/outbox_relay.h). Rows
-- are claimed with FOR UPDATE SKIP LOCKED and a lease (claimed_until,
-- claim_token), so the peer is called with no transaction open and any number of
-- replicas deliver each intent once.
CREATE TABLE outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  -- The writer's stable name for the intent, to find it again (e.g. the claim and
  -- the version that wrote it).
  intent_key VARCHAR(191) NOT NULL,
  -- Full gRPC method name: /careops.membership.v1.MembershipService/RecordUtilization.
  peer_method VARCHAR(191) NOT NULL,
  request LONGBLOB NOT NULL,
  -- Sent as x-request-id and inside the request: the peer de-duplicates by it.
  idempotency_key VARCHAR(191) NOT NULL,
  resource_kind VARCHAR(64) NOT NULL,
  resource_id VARCHAR(64) NOT NULL,
  state VARCHAR(16) NOT NULL,  -- PENDING, DELIVERED, FAILED
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6) NOT NULL,
  claimed_until DATETIME(6) NULL,
  claim_token VARCHAR(32) NOT NULL DEFAULT '',
  -- The peer's last answer (code and message); never driver text.
  last_error VARCHAR(1024) NOT NULL DEFAULT '',
  -- What the completion handler recorded (e.g. the settled resource), for replays.
  result LONGBLOB NULL,
  request_id VARCHAR(64) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY outbox_by_key (intent_key),
  KEY outbox_due (state, next_attempt_at, id),
  KEY outbox_by_resource (resource_kind, resource_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
