-- Two users per service, each granted only its own schema:
--   careops_<svc>_migrate: DDL (and GRANT OPTION) for the `migrate` init container;
--   careops_<svc>: the runtime, holding only the role careops_<svc>_runtime, to
--   which the migrate step grants DML per table (audit_log: SELECT, INSERT only).

CREATE DATABASE IF NOT EXISTS careops_membership CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_claims CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_collections CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_retention CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_reporting CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'careops_membership_migrate'@'%' IDENTIFIED BY 'dev-membership-migrate';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON careops_membership.* TO 'careops_membership_migrate'@'%' WITH GRANT OPTION;
CREATE ROLE IF NOT EXISTS careops_membership_runtime;
CREATE USER IF NOT EXISTS 'careops_membership'@'%' IDENTIFIED BY 'dev-membership';
GRANT careops_membership_runtime TO 'careops_membership'@'%';
SET DEFAULT ROLE careops_membership_runtime FOR 'careops_membership'@'%';
CREATE USER IF NOT EXISTS 'careops_claims_migrate'@'%' IDENTIFIED BY 'dev-claims-migrate';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON careops_claims.* TO 'careops_claims_migrate'@'%' WITH GRANT OPTION;
CREATE ROLE IF NOT EXISTS careops_claims_runtime;
CREATE USER IF NOT EXISTS 'careops_claims'@'%' IDENTIFIED BY 'dev-claims';
GRANT careops_claims_runtime TO 'careops_claims'@'%';
SET DEFAULT ROLE careops_claims_runtime FOR 'careops_claims'@'%';
CREATE USER IF NOT EXISTS 'careops_collections_migrate'@'%' IDENTIFIED BY 'dev-collections-migrate';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON careops_collections.* TO 'careops_collections_migrate'@'%' WITH GRANT OPTION;
CREATE ROLE IF NOT EXISTS careops_collections_runtime;
CREATE USER IF NOT EXISTS 'careops_collections'@'%' IDENTIFIED BY 'dev-collections';
GRANT careops_collections_runtime TO 'careops_collections'@'%';
SET DEFAULT ROLE careops_collections_runtime FOR 'careops_collections'@'%';
CREATE USER IF NOT EXISTS 'careops_retention_migrate'@'%' IDENTIFIED BY 'dev-retention-migrate';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON careops_retention.* TO 'careops_retention_migrate'@'%' WITH GRANT OPTION;
CREATE ROLE IF NOT EXISTS careops_retention_runtime;
CREATE USER IF NOT EXISTS 'careops_retention'@'%' IDENTIFIED BY 'dev-retention';
GRANT careops_retention_runtime TO 'careops_retention'@'%';
SET DEFAULT ROLE careops_retention_runtime FOR 'careops_retention'@'%';
CREATE USER IF NOT EXISTS 'careops_reporting_migrate'@'%' IDENTIFIED BY 'dev-reporting-migrate';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES ON careops_reporting.* TO 'careops_reporting_migrate'@'%' WITH GRANT OPTION;
CREATE ROLE IF NOT EXISTS careops_reporting_runtime;
CREATE USER IF NOT EXISTS 'careops_reporting'@'%' IDENTIFIED BY 'dev-reporting';
GRANT careops_reporting_runtime TO 'careops_reporting'@'%';
SET DEFAULT ROLE careops_reporting_runtime FOR 'careops_reporting'@'%';
