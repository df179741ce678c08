-- A member's coverage as a history of periods, each on one plan version, so a
-- service date is judged by the period in force on it: a PLAN_CHANGE takes
-- effect on its day (the old plan's caps and limits still apply before it), and
-- a reinstatement after a termination starts a new period, the days between
-- staying uncovered. Periods never overlap; end_date is exclusive and NULL while
-- the period is open. The members row keeps its summary columns (first start,
-- last end, status, last plan) in step with these rows.

CREATE TABLE coverage_periods (
  member_id CHAR(26) NOT NULL,
  effective_date DATE NOT NULL,
  end_date DATE NULL,
  plan_id CHAR(26) NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  PRIMARY KEY (member_id, effective_date),
  KEY coverage_by_plan (plan_id, member_id),
  CONSTRAINT coverage_member FOREIGN KEY (member_id) REFERENCES members (member_id),
  CONSTRAINT coverage_plan FOREIGN KEY (plan_id) REFERENCES plans (plan_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every existing member gets one period: its coverage as the row describes it
-- (open unless it was terminated), on the plan it is on.
INSERT INTO coverage_periods (member_id, effective_date, end_date, plan_id, recorded_at)
SELECT member_id, effective_date, termination_date, plan_id, created_at FROM members;
