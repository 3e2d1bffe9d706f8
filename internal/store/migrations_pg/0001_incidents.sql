-- Shared incident state (storage.driver: postgres): the PostgreSQL twin of
-- migrations/0004_disclosure.sql. Keep the two in step: the disclosure
-- package runs the same queries on both. Times are BIGINT unix
-- milliseconds, UTC; JSON columns are TEXT (kept byte for byte: the
-- disclosure code compares stored anomaly JSON with a re-emission), checked
-- by a cast to jsonb, which fails on malformed JSON.
--
-- Concurrent instances never open two incidents for one event: a write
-- transaction that applies an anomaly first takes a transaction-scoped
-- advisory lock on the anomaly's architecture side (store.DB.LockTx), so
-- the grouping lookup of the next one sees the incident the first opened;
-- incident_anomalies' primary key keeps one anomaly in one incident, and
-- incident_id_counters' upsert hands out each ID once.

CREATE TABLE incidents (
    id                          TEXT PRIMARY KEY,
    class                       TEXT NOT NULL CHECK (class IN ('security', 'operational', 'internal')),
    state                       TEXT NOT NULL CHECK (state IN ('internal', 'draft', 'confirmed', 'dismissed', 'resolved')),
    title                       TEXT NOT NULL,
    component                   TEXT NOT NULL,
    architecture                TEXT NOT NULL CHECK (architecture IN ('decentralized', 'centralized')),
    reason                      TEXT NOT NULL,
    affected                    TEXT NOT NULL DEFAULT '[]' CHECK (affected::jsonb IS NOT NULL),
    components                  TEXT NOT NULL DEFAULT '[]' CHECK (components::jsonb IS NOT NULL),
    last_healthy                BIGINT,
    first_seen                  BIGINT NOT NULL,
    detected_at                 BIGINT NOT NULL,
    acknowledged_at             BIGINT,
    resolved_at                 BIGINT,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL,
    dismiss_reason              TEXT,
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
    CHECK ((class = 'internal') = (state = 'internal')),
    CHECK (state <> 'dismissed' OR (dismiss_reason IS NOT NULL AND dismiss_reason <> ''))
);

CREATE INDEX incidents_created ON incidents (created_at DESC, id DESC);
CREATE INDEX incidents_class_state ON incidents (class, state);
CREATE INDEX incidents_grouping ON incidents (architecture, state, first_seen)
    WHERE resolved_at IS NULL;

CREATE TABLE incident_anomalies (
    anomaly_id     TEXT PRIMARY KEY,
    incident_id    TEXT NOT NULL REFERENCES incidents (id),
    class          TEXT NOT NULL CHECK (class IN ('security', 'operational', 'internal')),
    component      TEXT NOT NULL,
    first_seen     BIGINT NOT NULL,
    resolved_at    BIGINT,
    disclosable_at BIGINT,
    joined_at      BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    anomaly        TEXT NOT NULL CHECK (anomaly::jsonb IS NOT NULL)
);

CREATE INDEX incident_anomalies_incident ON incident_anomalies (incident_id, joined_at);

-- Per-day counters behind IDs like INC-20261125-0003, shared by every
-- instance, so an ID is never handed out twice.
CREATE TABLE incident_id_counters (
    day  TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);

CREATE TABLE incident_audit (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}' CHECK (detail::jsonb IS NOT NULL)
);

CREATE INDEX incident_audit_incident ON incident_audit (incident_id, seq);

-- Records of what happened are never changed or removed: the message is
-- the trigger's argument.
CREATE FUNCTION nymwatch_forbid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER incident_audit_no_update BEFORE UPDATE OR DELETE ON incident_audit
    FOR EACH ROW EXECUTE FUNCTION nymwatch_forbid('incident_audit is append-only');
CREATE TRIGGER incident_audit_no_truncate BEFORE TRUNCATE ON incident_audit
    FOR EACH STATEMENT EXECUTE FUNCTION nymwatch_forbid('incident_audit is append-only');
CREATE TRIGGER incidents_no_delete BEFORE DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION nymwatch_forbid('incidents are never deleted');
CREATE TRIGGER incidents_no_truncate BEFORE TRUNCATE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION nymwatch_forbid('incidents are never deleted');
