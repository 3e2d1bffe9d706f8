-- The PostgreSQL twin of migrations/0006_security_paging.sql (planned as
-- 0004 here; renumbered at merge, the runner wants consecutive versions).
ALTER TABLE incidents ADD COLUMN page_round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN paging_since BIGINT;
ALTER TABLE incidents ADD COLUMN security_unacknowledged_since BIGINT;

ALTER TABLE page_outbox ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
