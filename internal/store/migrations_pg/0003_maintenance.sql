-- Maintenance windows: the PostgreSQL twin of migrations/0006_maintenance.sql
-- (keep the two in step: the disclosure package runs the same queries on
-- both). Shared by every instance, so a window declared once applies to all
-- vantage points. Times are BIGINT unix milliseconds, UTC.
CREATE TABLE maintenance_windows (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    matchers   TEXT   NOT NULL CHECK (jsonb_typeof(matchers::jsonb) = 'array' AND jsonb_array_length(matchers::jsonb) > 0),
    start_ms   BIGINT NOT NULL,
    end_ms     BIGINT NOT NULL CHECK (end_ms > start_ms),
    reason     TEXT   NOT NULL CHECK (reason <> ''),
    created_by TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    ended_ms   BIGINT,
    ended_by   TEXT,
    CHECK ((ended_ms IS NULL) = (ended_by IS NULL))
);

CREATE INDEX maintenance_windows_end ON maintenance_windows (end_ms);

CREATE TABLE maintenance_audit (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    window_seq  BIGINT NOT NULL REFERENCES maintenance_windows (seq),
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    remote_addr TEXT   NOT NULL DEFAULT '',
    action      TEXT   NOT NULL,
    detail      TEXT   NOT NULL DEFAULT '{}' CHECK (detail::jsonb IS NOT NULL)
);

CREATE INDEX maintenance_audit_window ON maintenance_audit (window_seq, seq);

-- nymwatch_forbid() comes from 0001_incidents.sql.
CREATE TRIGGER maintenance_audit_no_update BEFORE UPDATE OR DELETE ON maintenance_audit
    FOR EACH ROW EXECUTE FUNCTION nymwatch_forbid('maintenance_audit is append-only');
CREATE TRIGGER maintenance_audit_no_truncate BEFORE TRUNCATE ON maintenance_audit
    FOR EACH STATEMENT EXECUTE FUNCTION nymwatch_forbid('maintenance_audit is append-only');
CREATE TRIGGER maintenance_windows_no_delete BEFORE DELETE ON maintenance_windows
    FOR EACH ROW EXECUTE FUNCTION nymwatch_forbid('maintenance windows are never deleted');
CREATE TRIGGER maintenance_windows_no_truncate BEFORE TRUNCATE ON maintenance_windows
    FOR EACH STATEMENT EXECUTE FUNCTION nymwatch_forbid('maintenance windows are never deleted');
