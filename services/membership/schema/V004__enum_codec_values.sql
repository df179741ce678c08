-- Enum columns hold the one enum codec's short names (common/enum_codec.h): the
-- proto value's name without its type prefix, e.g. CLIENT_ACCOUNT_STATUS_ACTIVE
-- is stored as 'ACTIVE' and MOVEMENT_TYPE_PLAN_CHANGE as 'PLAN_CHANGE'. V002 and
-- V003 stored hand-written lower-case names ('active', 'plan_change'); every one
-- of those is the short name lower-cased, so converting is UPPER(). The audit
-- trail is history and keeps the labels it was written with.

UPDATE client_accounts SET type = UPPER(type), status = UPPER(status);
UPDATE account_status_history SET status = UPPER(status);
UPDATE plans SET status = UPPER(status);
UPDATE members SET status = UPPER(status);
UPDATE movements SET type = UPPER(type), status = UPPER(status);
