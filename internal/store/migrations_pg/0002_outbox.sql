-- Shared page outbox: the PostgreSQL twin of migrations/0005_outbox.sql.
-- Every instance enqueues into it (inside its incident transactions); only
-- the holder of the "page-outbox" session lock drains it. One row per
-- (page, pager); page_key is unique per due send, so enqueueing is
-- INSERT … ON CONFLICT DO NOTHING and instances enqueueing the same page
-- add one row. resolved stays an integer 0/1, as on SQLite.
CREATE TABLE page_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    page_key        TEXT    NOT NULL,
    pager           TEXT    NOT NULL,
    pager_kind      TEXT    NOT NULL,
    incident_id     TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL,
    resolved        INTEGER NOT NULL CHECK (resolved IN (0, 1)),
    payload         TEXT    NOT NULL CHECK (payload::jsonb IS NOT NULL),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT  NOT NULL,
    last_error      TEXT,
    created_ms      BIGINT  NOT NULL,
    delivered_ms    BIGINT,
    done_ms         BIGINT,
    outcome         TEXT CHECK (outcome IN ('delivered', 'rejected', 'expired', 'superseded')),
    CHECK ((done_ms IS NULL) = (outcome IS NULL)),
    UNIQUE (page_key, pager)
);

CREATE INDEX page_outbox_due ON page_outbox (pager, next_attempt_ms, id) WHERE done_ms IS NULL;
CREATE INDEX page_outbox_incident ON page_outbox (incident_id, pager, resolved);
CREATE INDEX page_outbox_pending_fp ON page_outbox (pager, fingerprint, id) WHERE done_ms IS NULL;
CREATE INDEX page_outbox_expiry ON page_outbox (created_ms) WHERE done_ms IS NULL;
CREATE INDEX page_outbox_done ON page_outbox (done_ms) WHERE done_ms IS NOT NULL;
