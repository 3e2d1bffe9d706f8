-- Last good nym-api node directory (probes.DirectoryStore), so a restart
-- during a nym-api outage still knows what to probe. One row (id = 1),
-- replaced on each successful refresh; an older snapshot never overwrites a
-- newer one. body is the JSON of probes.Directory in the given format.
CREATE TABLE directory_snapshot (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    format      INTEGER NOT NULL,
    fetched_ms  INTEGER NOT NULL,
    saved_ms    INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    node_count  INTEGER NOT NULL CHECK (node_count >= 0),
    body        BLOB    NOT NULL
) STRICT;
