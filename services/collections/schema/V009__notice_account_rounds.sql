-- A Notice of Cancellation WITHDRAWN after a payment is reopened when that
-- payment is given back (dunning_rules.h ReopenedNotices): the account is
-- suspended again, and later reinstated or cancelled, by new membership
-- requests. account_round counts those rounds (0 as issued) and names each
-- round's intents (dunning_outbox.h AccountIntentKey).
ALTER TABLE notices
  ADD COLUMN account_round INT NOT NULL DEFAULT 0;
