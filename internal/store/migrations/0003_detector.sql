-- Detector state (owned by detector/): what a restart mid-outage needs to
-- keep the same anomaly IDs and first_seen, and not open duplicates.
-- StateStore.Save replaces the whole state in one transaction.
-- Times are UTC unix milliseconds; JSON columns hold the rest of each
-- record (detector.Snapshot's internal form, versioned by detector_meta).

-- Per-target hysteresis state: streak counters, first failing observation,
-- last good observation, flap transitions.
CREATE TABLE detector_targets (
    target_id       TEXT PRIMARY KEY,
    failing         INTEGER NOT NULL CHECK (failing IN (0, 1)),
    since_ms        INTEGER,            -- first failing observation, NULL if healthy
    last_healthy_ms INTEGER,            -- last good observation before it
    last_at_ms      INTEGER,            -- latest observation
    state           TEXT NOT NULL CHECK (json_valid(state))
) STRICT;

-- Open anomalies, one per component at most.
CREATE TABLE detector_anomalies (
    id              TEXT PRIMARY KEY,
    component       TEXT NOT NULL UNIQUE,
    class           TEXT NOT NULL CHECK (class IN ('security', 'operational', 'internal')),
    last_healthy_ms INTEGER,
    first_seen_ms   INTEGER NOT NULL,
    detected_at_ms  INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (json_valid(state))
) STRICT;

-- Per-component baselines and degradation state.
CREATE TABLE detector_components (
    component TEXT PRIMARY KEY,
    state     TEXT NOT NULL CHECK (json_valid(state))
) STRICT;

-- Firing Alertmanager alerts held by the detector, and recently resolved
-- ones (ends_at_ms set) so a late re-delivery stays idempotent.
CREATE TABLE detector_alerts (
    fingerprint   TEXT PRIMARY KEY,
    component     TEXT NOT NULL,
    starts_at_ms  INTEGER NOT NULL,
    ends_at_ms    INTEGER,
    state         TEXT NOT NULL CHECK (json_valid(state))
) STRICT;

-- Singleton facts: snapshot version, saved_at, vantage point state.
CREATE TABLE detector_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
