-- Maintenance windows (disclosure package): planned work a human declares,
-- during which failures of what a window matches are internal (policy II:
-- "operational improvements during routine maintenance"). Times are INTEGER
-- unix milliseconds, UTC. A window is never deleted or rewritten: ending it
-- early sets ended_at/ended_by once. Its id is "M-<seq>".
CREATE TABLE maintenance_windows (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- JSON array of {"name": "component|service|node", "value": "..."}
    matchers   TEXT    NOT NULL CHECK (json_valid(matchers) AND json_array_length(matchers) > 0),
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL CHECK (end_ms > start_ms),
    reason     TEXT    NOT NULL CHECK (reason <> ''),
    created_by TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    ended_ms   INTEGER,
    ended_by   TEXT,
    CHECK ((ended_ms IS NULL) = (ended_by IS NULL))
) STRICT;

-- "active and upcoming": windows whose (planned) end is still ahead
CREATE INDEX maintenance_windows_end ON maintenance_windows (end_ms);

-- Append-only audit trail of windows: who created or ended which, when, why.
CREATE TABLE maintenance_audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    window_seq  INTEGER NOT NULL REFERENCES maintenance_windows (seq),
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    remote_addr TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;

CREATE INDEX maintenance_audit_window ON maintenance_audit (window_seq, seq);

CREATE TRIGGER maintenance_audit_no_update BEFORE UPDATE ON maintenance_audit
BEGIN
    SELECT RAISE(ABORT, 'maintenance_audit is append-only');
END;

CREATE TRIGGER maintenance_audit_no_delete BEFORE DELETE ON maintenance_audit
BEGIN
    SELECT RAISE(ABORT, 'maintenance_audit is append-only');
END;

CREATE TRIGGER maintenance_windows_no_delete BEFORE DELETE ON maintenance_windows
BEGIN
    SELECT RAISE(ABORT, 'maintenance windows are never deleted');
END;
