-- Repairs what V006's back-fill recorded for cancellations made before it,
-- and the periods those cancellations left covering nothing.
--
-- 1. V006 took every period a cancellation had ended to have been open. A
--    period followed by another one (a plan change, a reinstatement after a
--    lapse) was not: it ran at most until the next one begins. Withdrawing the
--    cancellation gave it back open, overlapping the next period. It gets the
--    next period's start (exact for a plan change, the nearest safe day after
--    a lapse, which the cancellation overwrote).
UPDATE coverage_cuts k
JOIN (SELECT c.member_id, c.effective_date,
             (SELECT MIN(n.effective_date) FROM coverage_periods n
              WHERE n.member_id = c.member_id AND n.effective_date > c.effective_date) AS next_start
      FROM coverage_periods c) p ON p.member_id = k.member_id AND p.effective_date = k.effective_date
SET k.previous_end_date = p.next_start
WHERE k.removed_plan_id IS NULL AND p.next_start IS NOT NULL
  AND (k.previous_end_date IS NULL OR k.previous_end_date > p.next_start);

-- 2. A period a cancellation ended as it began (it would only have begun on
--    or after the cancellation date) is recorded as removed (V007): its plan,
--    and the end the period before it had before the cancellation (its cut's
--    previous end when the cancellation ended it too, else its end; NULL when
--    it was the member's first) ...
UPDATE coverage_cuts k
JOIN coverage_periods c ON c.member_id = k.member_id AND c.effective_date = k.effective_date
SET k.removed_plan_id = c.plan_id,
    k.follows_end_date = (
      SELECT IF(pk.member_id IS NULL, pc.end_date, pk.previous_end_date)
      FROM coverage_periods pc
      LEFT JOIN coverage_cuts pk ON pk.member_id = pc.member_id AND pk.effective_date = pc.effective_date
      WHERE pc.member_id = c.member_id AND pc.effective_date < c.effective_date
      ORDER BY pc.effective_date DESC LIMIT 1)
WHERE c.end_date IS NOT NULL AND c.end_date <= c.effective_date AND k.removed_plan_id IS NULL;

-- ... and the period itself goes ...
DELETE c FROM coverage_periods c
JOIN coverage_cuts k ON k.member_id = c.member_id AND k.effective_date = c.effective_date
WHERE c.end_date IS NOT NULL AND c.end_date <= c.effective_date AND k.removed_plan_id IS NOT NULL;

-- ... so the member's plan column is the plan of its last period left (a
-- member left without any keeps its columns: its first day, and the
-- cancellation date as termination_date).
UPDATE members m
SET m.plan_id = (SELECT c.plan_id FROM coverage_periods c WHERE c.member_id = m.member_id
                 ORDER BY c.effective_date DESC LIMIT 1),
    m.version = m.version + 1
WHERE EXISTS (SELECT 1 FROM coverage_cuts k WHERE k.member_id = m.member_id AND k.removed_plan_id IS NOT NULL)
  AND EXISTS (SELECT 1 FROM coverage_periods c WHERE c.member_id = m.member_id);
