-- One schema and one user per service, each granted only its own schema.
CREATE DATABASE IF NOT EXISTS careops_membership CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_claims CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_collections CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_retention CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS careops_reporting CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'careops_membership'@'%' IDENTIFIED BY 'dev-membership';
CREATE USER IF NOT EXISTS 'careops_claims'@'%' IDENTIFIED BY 'dev-claims';
CREATE USER IF NOT EXISTS 'careops_collections'@'%' IDENTIFIED BY 'dev-collections';
CREATE USER IF NOT EXISTS 'careops_retention'@'%' IDENTIFIED BY 'dev-retention';
CREATE USER IF NOT EXISTS 'careops_reporting'@'%' IDENTIFIED BY 'dev-reporting';
GRANT ALL ON careops_membership.* TO 'careops_membership'@'%';
GRANT ALL ON careops_claims.* TO 'careops_claims'@'%';
GRANT ALL ON careops_collections.* TO 'careops_collections'@'%';
GRANT ALL ON careops_retention.* TO 'careops_retention'@'%';
GRANT ALL ON careops_reporting.* TO 'careops_reporting'@'%';
