-- The rows a client updates carry a version, the etag it reads and sends back
-- (common/mysql/versioned.h): a ledger (UpdateContact), a payment
-- (ReversePayment), a pause (EndPause) and an unposted payment
-- (PostUnpostedPayment). Every change to one of these rows, the client's or the
-- service's own (a bounce, an auto-post, a dunning episode), bumps it, so an
-- etag read before the change is stale after it. Rows written before this
-- migration start at 1, like new ones.
ALTER TABLE ledgers ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE payments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE pauses ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE unposted_payments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
