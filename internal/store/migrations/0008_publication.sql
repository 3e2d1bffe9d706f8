-- Publication (issue 12.1). Times are INTEGER unix milliseconds, UTC.
--
-- published_at is set once, when a human publishes a confirmed (or
-- resolved) disclosable incident. The published report is frozen in
-- incident_publications (version 1): the rendered Markdown and the fields
-- as they were, never regenerated. Later public statements are appended to
-- incident_status_updates, never rewritten.
ALTER TABLE incidents ADD COLUMN published_at INTEGER;

CREATE TABLE incident_publications (
    incident_id  TEXT    NOT NULL REFERENCES incidents (id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    published_at INTEGER NOT NULL,
    published_by TEXT    NOT NULL,
    class        TEXT    NOT NULL CHECK (class IN ('security', 'operational')),
    architecture TEXT    NOT NULL CHECK (architecture IN ('decentralized', 'centralized')),
    -- the frozen report: its fields (JSON object) and its Markdown
    report       TEXT    NOT NULL CHECK (json_valid(report)),
    markdown     TEXT    NOT NULL,
    PRIMARY KEY (incident_id, version)
) STRICT;

CREATE TABLE incident_status_updates (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    at          INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    body        TEXT    NOT NULL CHECK (body <> ''),
    created_by  TEXT    NOT NULL
) STRICT;

CREATE INDEX incident_status_updates_incident ON incident_status_updates (incident_id, seq);
CREATE INDEX incidents_published ON incidents (published_at) WHERE published_at IS NOT NULL;

CREATE TRIGGER incident_publications_no_update BEFORE UPDATE ON incident_publications
BEGIN
    SELECT RAISE(ABORT, 'a published version is frozen');
END;
CREATE TRIGGER incident_publications_no_delete BEFORE DELETE ON incident_publications
BEGIN
    SELECT RAISE(ABORT, 'a published version is frozen');
END;
CREATE TRIGGER incident_status_updates_no_update BEFORE UPDATE ON incident_status_updates
BEGIN
    SELECT RAISE(ABORT, 'published updates are append-only');
END;
CREATE TRIGGER incident_status_updates_no_delete BEFORE DELETE ON incident_status_updates
BEGIN
    SELECT RAISE(ABORT, 'published updates are append-only');
END;
