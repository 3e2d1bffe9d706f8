-- The PostgreSQL twin of migrations/0008_publication.sql (keep the two in
-- step).
ALTER TABLE incidents ADD COLUMN published_at BIGINT;

CREATE TABLE incident_publications (
    incident_id  TEXT    NOT NULL REFERENCES incidents (id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    published_at BIGINT  NOT NULL,
    published_by TEXT    NOT NULL,
    class        TEXT    NOT NULL CHECK (class IN ('security', 'operational')),
    architecture TEXT    NOT NULL CHECK (architecture IN ('decentralized', 'centralized')),
    report       TEXT    NOT NULL CHECK (report::jsonb IS NOT NULL),
    markdown     TEXT    NOT NULL,
    PRIMARY KEY (incident_id, version)
);

CREATE TABLE incident_status_updates (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT   NOT NULL REFERENCES incidents (id),
    at          BIGINT NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    body        TEXT   NOT NULL CHECK (body <> ''),
    created_by  TEXT   NOT NULL
);

CREATE INDEX incident_status_updates_incident ON incident_status_updates (incident_id, seq);
CREATE INDEX incidents_published ON incidents (published_at) WHERE published_at IS NOT NULL;

-- nymwatch_forbid() comes from 0001_incidents.sql.
CREATE TRIGGER incident_publications_frozen BEFORE UPDATE OR DELETE ON incident_publications
    FOR EACH ROW EXECUTE FUNCTION nymwatch_forbid('a published version is frozen');
CREATE TRIGGER incident_publications_no_truncate BEFORE TRUNCATE ON incident_publications
    FOR EACH STATEMENT EXECUTE FUNCTION nymwatch_forbid('a published version is frozen');
CREATE TRIGGER incident_status_updates_frozen BEFORE UPDATE OR DELETE ON incident_status_updates
    FOR EACH ROW EXECUTE FUNCTION nymwatch_forbid('published updates are append-only');
CREATE TRIGGER incident_status_updates_no_truncate BEFORE TRUNCATE ON incident_status_updates
    FOR EACH STATEMENT EXECUTE FUNCTION nymwatch_forbid('published updates are append-only');
