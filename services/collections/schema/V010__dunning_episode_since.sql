-- The day the ledger's current dunning episode began: the run that closed the
-- previous one (NULL for the first). A run dated before it is a back-fill over
-- the previous episode, whose notices already cover those days, so it issues
-- no ladder notice in the current one (dunning_rules.h DunningInputs).
ALTER TABLE ledgers
  ADD COLUMN dunning_episode_since DATE NULL;
