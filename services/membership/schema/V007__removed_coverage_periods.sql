-- A cancellation no longer leaves a period that begins on or after its date
-- covering nothing (starting and ending on the same day): it removes the
-- period whole, and the cut row keeps what is needed to give it back when the
-- cancellation is withdrawn. `removed_plan_id` is the removed period's plan
-- (NULL: the period was only ended, as before), `previous_end_date` its own
-- end, and `follows_end_date` the end the member's period before it had when
-- it was removed (NULL with removed_plan_id set: it was the member's first),
-- so that it comes back only where that period still ends (a termination made
-- since keeps it withdrawn).

ALTER TABLE coverage_cuts
  ADD COLUMN removed_plan_id CHAR(26) NULL AFTER previous_end_date,
  ADD COLUMN follows_end_date DATE NULL AFTER removed_plan_id;
