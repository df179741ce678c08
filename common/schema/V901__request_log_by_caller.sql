-- The request log keyed by who asked: (caller, method, request_id), so two
-- callers' request ids never collide and nobody can replay another caller's
-- answer (common/mysql/mutation_runner.h). Applied after every service's own
-- V002..V899: common migrations of this series take versions 901 and up.

ALTER TABLE request_log ADD COLUMN caller VARCHAR(128) NOT NULL DEFAULT '' FIRST;

-- Rows written before this migration were keyed by request_id alone, which was
-- then unique per schema: each one's caller is the actor of the audit entries its
-- mutation wrote under that request_id. A row without such an entry keeps '' and
-- is never replayed again; the purge removes it once it is old.
UPDATE request_log r
  JOIN (SELECT request_id, MIN(actor_user) AS actor_user
          FROM audit_log WHERE request_id <> '' GROUP BY request_id) a
    ON a.request_id = r.request_id
   SET r.caller = a.actor_user;

ALTER TABLE request_log
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (caller, method, request_id),
  ADD KEY request_log_by_age (created_at);
