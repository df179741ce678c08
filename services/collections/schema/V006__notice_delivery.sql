-- Email notices are sent by a delivery job outside any transaction
-- (notice_delivery.h): a PENDING email is claimed with SKIP LOCKED and a lease
-- (delivery_claimed_until, delivery_token), sent, and its outcome recorded
-- under the same token; a failed attempt waits until delivery_next_at.
ALTER TABLE notices
  ADD COLUMN delivery_next_at DATETIME(6) NULL,
  ADD COLUMN delivery_claimed_until DATETIME(6) NULL,
  ADD COLUMN delivery_token VARCHAR(32) NOT NULL DEFAULT '',
  ADD KEY notices_to_deliver (delivery_state, channel, delivery_next_at);
