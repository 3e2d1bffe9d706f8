-- Incidents (disclosure package). Times are INTEGER unix milliseconds, UTC.
--
-- An incident groups the anomalies of one event. Disclosable incidents
-- (class security|operational) move draft -> confirmed -> resolved or
-- draft -> dismissed; internal ones (the internal knowledge base) stay in
-- state 'internal'. The report_* columns hold a human's edit of a report
-- field; NULL means "use the generated draft".
CREATE TABLE incidents (
    id                          TEXT PRIMARY KEY,
    class                       TEXT NOT NULL CHECK (class IN ('security', 'operational', 'internal')),
    state                       TEXT NOT NULL CHECK (state IN ('internal', 'draft', 'confirmed', 'dismissed', 'resolved')),
    title                       TEXT NOT NULL,
    component                   TEXT NOT NULL,
    architecture                TEXT NOT NULL CHECK (architecture IN ('decentralized', 'centralized')),
    reason                      TEXT NOT NULL,
    affected                    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(affected)),
    -- components of all anomalies, in the order they joined (JSON array);
    -- component is the first one and never changes (stable page labels)
    components                  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(components)),
    last_healthy                INTEGER,
    first_seen                  INTEGER NOT NULL,
    detected_at                 INTEGER NOT NULL,
    acknowledged_at             INTEGER,
    resolved_at                 INTEGER,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL,
    dismiss_reason              TEXT,
    -- set on an internal record whose anomaly was promoted and joined
    -- another (disclosable) incident of the same event
    superseded_by               TEXT REFERENCES incidents (id),
    report_title                TEXT,
    report_summary              TEXT,
    report_timeline             TEXT,
    report_root_cause           TEXT,
    report_architecture_context TEXT,
    report_privacy_impact       TEXT,
    report_acknowledgments      TEXT,
    report_remediation          TEXT,
    report_user_actions         TEXT,
    -- internal class <=> internal state: a dismissed draft keeps its class
    CHECK ((class = 'internal') = (state = 'internal')),
    CHECK (state <> 'dismissed' OR (dismiss_reason IS NOT NULL AND dismiss_reason <> ''))
) STRICT;

CREATE INDEX incidents_created ON incidents (created_at DESC, id DESC);
CREATE INDEX incidents_class_state ON incidents (class, state);
-- the grouping lookup: open disclosable incidents of one architecture
CREATE INDEX incidents_grouping ON incidents (architecture, state, first_seen)
    WHERE resolved_at IS NULL;

-- Each anomaly belongs to exactly one incident (the primary key makes a
-- re-emitted or twice-applied anomaly an update, never a second incident).
CREATE TABLE incident_anomalies (
    anomaly_id     TEXT PRIMARY KEY,
    incident_id    TEXT NOT NULL REFERENCES incidents (id),
    class          TEXT NOT NULL CHECK (class IN ('security', 'operational', 'internal')),
    component      TEXT NOT NULL,
    first_seen     INTEGER NOT NULL,
    resolved_at    INTEGER,
    -- when the anomaly was first known to be disclosable (NULL while internal)
    disclosable_at INTEGER,
    joined_at      INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    anomaly        TEXT NOT NULL CHECK (json_valid(anomaly))
) STRICT;

CREATE INDEX incident_anomalies_incident ON incident_anomalies (incident_id, joined_at);

-- Per-day counters behind IDs like INC-20261125-0003.
CREATE TABLE incident_id_counters (
    day  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
) STRICT;

-- Append-only audit trail: who did what to which incident, and when.
CREATE TABLE incident_audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;

CREATE INDEX incident_audit_incident ON incident_audit (incident_id, seq);

CREATE TRIGGER incident_audit_no_update BEFORE UPDATE ON incident_audit
BEGIN
    SELECT RAISE(ABORT, 'incident_audit is append-only');
END;

CREATE TRIGGER incident_audit_no_delete BEFORE DELETE ON incident_audit
BEGIN
    SELECT RAISE(ABORT, 'incident_audit is append-only');
END;

-- Incidents are records of what happened: never deleted.
CREATE TRIGGER incidents_no_delete BEFORE DELETE ON incidents
BEGIN
    SELECT RAISE(ABORT, 'incidents are never deleted');
END;
