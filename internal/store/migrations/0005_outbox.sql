-- Durable page outbox (disclosure package). One row per (page, pager): a page
-- goes to every configured pager, each Alertmanager of a cluster included.
-- Times are INTEGER unix milliseconds, UTC.
--
-- page_key is unique per due send ("<incident>/open", "<incident>/resend/<n>/
-- <severity>", ...), so enqueueing is INSERT ... ON CONFLICT DO NOTHING and a
-- duplicated scheduler run adds nothing. A row is pending while done_ms is
-- NULL; outcome says how it ended. last_error is bounded and redacted.
CREATE TABLE page_outbox (
    id              INTEGER PRIMARY KEY,
    page_key        TEXT    NOT NULL,
    pager           TEXT    NOT NULL,
    pager_kind      TEXT    NOT NULL,
    incident_id     TEXT    NOT NULL,
    -- hash of the label set: the alert's identity in Alertmanager
    fingerprint     TEXT    NOT NULL,
    resolved        INTEGER NOT NULL CHECK (resolved IN (0, 1)),
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    created_ms      INTEGER NOT NULL,
    delivered_ms    INTEGER,
    done_ms         INTEGER,
    outcome         TEXT CHECK (outcome IN ('delivered', 'rejected', 'expired', 'superseded')),
    CHECK ((done_ms IS NULL) = (outcome IS NULL)),
    UNIQUE (page_key, pager)
) STRICT;

-- due rows of one pager, oldest first
CREATE INDEX page_outbox_due ON page_outbox (pager, next_attempt_ms, id) WHERE done_ms IS NULL;
-- "has this incident been ended for this pager?"
CREATE INDEX page_outbox_incident ON page_outbox (incident_id, pager, resolved);
-- "is a newer pending row for the same alert queued?"
CREATE INDEX page_outbox_pending_fp ON page_outbox (pager, fingerprint, id) WHERE done_ms IS NULL;
CREATE INDEX page_outbox_expiry ON page_outbox (created_ms) WHERE done_ms IS NULL;
CREATE INDEX page_outbox_done ON page_outbox (done_ms) WHERE done_ms IS NOT NULL;
