-- The PostgreSQL twin of migrations/0009_lifecycle.sql.
-- closed is state 'resolved' with closed_at set, as in SQLite.
ALTER TABLE incidents ADD COLUMN closed_at BIGINT;

CREATE TABLE incident_channels (
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    name        TEXT    NOT NULL CHECK (name <> ''),
    position    INTEGER NOT NULL,
    done_at     BIGINT,
    done_by     TEXT,
    note        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, name)
);

CREATE TABLE incident_followups (
    incident_id   TEXT    NOT NULL REFERENCES incidents (id),
    seq           INTEGER NOT NULL,
    title         TEXT    NOT NULL CHECK (title <> ''),
    phase         TEXT    NOT NULL,
    due_at        BIGINT,
    created_at    BIGINT  NOT NULL,
    created_by    TEXT    NOT NULL,
    done_at       BIGINT,
    done_by       TEXT,
    note          TEXT    NOT NULL DEFAULT '',
    last_paged_at BIGINT,
    PRIMARY KEY (incident_id, seq)
);

CREATE INDEX incident_followups_due ON incident_followups (due_at) WHERE done_at IS NULL;

CREATE TABLE incident_reporters (
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    seq         INTEGER NOT NULL,
    name        TEXT    NOT NULL CHECK (name <> ''),
    channel     TEXT    NOT NULL,
    reported_at BIGINT  NOT NULL,
    link        TEXT    NOT NULL DEFAULT '',
    added_at    BIGINT  NOT NULL,
    added_by    TEXT    NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
