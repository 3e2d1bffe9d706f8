-- The incident's life after "confirm" (issue 12.2-12.4): the section V
-- channels checklist, the section VII follow-ups, credit to reporters, and
-- the closed state. Times are INTEGER unix milliseconds, UTC.
--
-- closed (every dated follow-up done, or closed by a human) is stored as
-- state 'resolved' with closed_at set, and read back as state closed: the
-- state CHECK cannot be widened in SQLite without a table rebuild, which
-- needs foreign_keys off, which cannot change inside a migration's
-- transaction.
-- when the incident was closed (NULL unless closed; state is then 'resolved')
ALTER TABLE incidents ADD COLUMN closed_at INTEGER;

-- Section V channels, one row per channel, created when the incident is
-- confirmed from disclosure.channels. A tick or un-tick sets or clears
-- done_at/done_by/note; the audit trail keeps the history.
CREATE TABLE incident_channels (
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    name        TEXT    NOT NULL CHECK (name <> ''),
    position    INTEGER NOT NULL,
    done_at     INTEGER,
    done_by     TEXT,
    note        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, name)
) STRICT;

-- Section VII follow-ups: created on confirmation (due relative to it) or
-- added by a human. due_at NULL: no date (long term). last_paged_at: when
-- the overdue page was last queued (at most once a day).
CREATE TABLE incident_followups (
    incident_id   TEXT    NOT NULL REFERENCES incidents (id),
    seq           INTEGER NOT NULL,
    title         TEXT    NOT NULL CHECK (title <> ''),
    phase         TEXT    NOT NULL,
    due_at        INTEGER,
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    done_at       INTEGER,
    done_by       TEXT,
    note          TEXT    NOT NULL DEFAULT '',
    last_paged_at INTEGER,
    PRIMARY KEY (incident_id, seq)
) STRICT;

CREATE INDEX incident_followups_due ON incident_followups (due_at) WHERE done_at IS NULL;

-- Reporters credited in the acknowledgment section (policy III and V).
CREATE TABLE incident_reporters (
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    seq         INTEGER NOT NULL,
    name        TEXT    NOT NULL CHECK (name <> ''),
    channel     TEXT    NOT NULL,
    reported_at INTEGER NOT NULL,
    link        TEXT    NOT NULL DEFAULT '',
    added_at    INTEGER NOT NULL,
    added_by    TEXT    NOT NULL,
    PRIMARY KEY (incident_id, seq)
) STRICT;
