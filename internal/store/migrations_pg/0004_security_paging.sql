-- The PostgreSQL twin of migrations/0007_security_paging.sql.
ALTER TABLE incidents ADD COLUMN page_round INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN paging_since BIGINT;
ALTER TABLE incidents ADD COLUMN security_unacknowledged_since BIGINT;

ALTER TABLE page_outbox ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
