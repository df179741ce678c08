-- careops_membership: client accounts, plans and benefits, members, movements,
-- benefit balances and utilisation. Money is BIGINT minor units + CHAR(3) currency;
-- dates are DATE, instants DATETIME(6) UTC. `version` backs each resource's etag.

CREATE TABLE client_accounts (
  account_id CHAR(26) NOT NULL PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  type VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  account_officer VARCHAR(128) NOT NULL,
  contact_email VARCHAR(254) NOT NULL,
  start_date DATE NOT NULL,
  status_effective_date DATE NOT NULL,
  status_reason VARCHAR(1024) NOT NULL,
  version BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  KEY accounts_by_type (type, account_id),
  KEY accounts_by_status (status, account_id),
  KEY accounts_by_officer (account_officer, account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE plans (
  plan_id CHAR(26) NOT NULL PRIMARY KEY,
  account_id CHAR(26) NOT NULL,
  name VARCHAR(200) NOT NULL,
  currency CHAR(3) NOT NULL,
  plan_version INT NOT NULL,
  supersedes_plan_id CHAR(26) NOT NULL,
  status VARCHAR(16) NOT NULL,
  version BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  KEY plans_by_account (account_id, plan_id),
  CONSTRAINT plans_account FOREIGN KEY (account_id) REFERENCES client_accounts (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE plan_benefits (
  plan_id CHAR(26) NOT NULL,
  code VARCHAR(32) NOT NULL,
  category VARCHAR(64) NOT NULL,
  unlimited BOOLEAN NOT NULL,
  annual_limit_minor BIGINT NOT NULL,
  per_visit_cap_minor BIGINT NOT NULL,
  copay_basis_points INT NOT NULL,
  waiting_period_days INT NOT NULL,
  position INT NOT NULL,
  PRIMARY KEY (plan_id, code),
  CONSTRAINT benefits_plan FOREIGN KEY (plan_id) REFERENCES plans (plan_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE members (
  member_id CHAR(26) NOT NULL PRIMARY KEY,
  account_id CHAR(26) NOT NULL,
  plan_id CHAR(26) NOT NULL,
  external_ref VARCHAR(64) NOT NULL,
  status VARCHAR(16) NOT NULL,
  given_name VARCHAR(100) NOT NULL,
  family_name VARCHAR(100) NOT NULL,
  birth_date DATE NOT NULL,
  sex VARCHAR(1) NOT NULL,
  email VARCHAR(254) NOT NULL,
  phone VARCHAR(32) NOT NULL,
  effective_date DATE NOT NULL,
  termination_date DATE NULL,
  version BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY members_by_external_ref (account_id, external_ref),
  KEY members_by_account (account_id, member_id),
  KEY members_by_plan (plan_id, member_id),
  KEY members_by_status (status, member_id),
  CONSTRAINT members_account FOREIGN KEY (account_id) REFERENCES client_accounts (account_id),
  CONSTRAINT members_plan FOREIGN KEY (plan_id) REFERENCES plans (plan_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE movements (
  movement_id CHAR(26) NOT NULL PRIMARY KEY,
  account_id CHAR(26) NOT NULL,
  member_id VARCHAR(26) NOT NULL,
  type VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  effective_date DATE NOT NULL,
  new_plan_id VARCHAR(26) NOT NULL,
  -- ENROLLMENT details or the DETAIL_CHANGE person, as a serialized Movement proto.
  details LONGBLOB NOT NULL,
  note VARCHAR(1024) NOT NULL,
  requested_by VARCHAR(128) NOT NULL,
  requested_at DATETIME(6) NOT NULL,
  due_at DATETIME(6) NOT NULL,
  decided_by VARCHAR(128) NOT NULL,
  decided_at DATETIME(6) NULL,
  rejection_reason VARCHAR(1024) NOT NULL,
  version BIGINT NOT NULL,
  KEY movements_by_account (account_id, movement_id),
  KEY movements_by_status_due (status, due_at),
  CONSTRAINT movements_account FOREIGN KEY (account_id) REFERENCES client_accounts (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per member, benefit and calendar year: the row RecordUtilization locks
-- (SELECT ... FOR UPDATE) so concurrent records never overspend the annual limit.
CREATE TABLE benefit_balances (
  member_id CHAR(26) NOT NULL,
  benefit_code VARCHAR(32) NOT NULL,
  year INT NOT NULL,
  used_minor BIGINT NOT NULL,
  PRIMARY KEY (member_id, benefit_code, year)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE utilizations (
  utilization_id CHAR(26) NOT NULL PRIMARY KEY,
  source_reference VARCHAR(64) NOT NULL,
  member_id CHAR(26) NOT NULL,
  benefit_code VARCHAR(32) NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency CHAR(3) NOT NULL,
  service_date DATE NOT NULL,
  reversed BOOLEAN NOT NULL,
  reverse_reason VARCHAR(1024) NOT NULL,
  recorded_at DATETIME(6) NOT NULL,
  reversed_at DATETIME(6) NULL,
  UNIQUE KEY utilizations_by_source (source_reference),
  KEY utilizations_by_member (member_id, benefit_code, service_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
