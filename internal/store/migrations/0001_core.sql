-- Core tables shared by every part of nymwatch.
-- Key/value state (e.g. last successful directory load), small values only.
CREATE TABLE kv (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
