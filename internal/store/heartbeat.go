package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// heartbeatKey is the kv row ProbeWrite rewrites.
const heartbeatKey = "nymwatch.heartbeat"

// ProbeWrite proves that the database takes a write: it upserts one small
// heartbeat row and commits, so a read-only file, a full disk or a lost
// lock shows up as an error (a ping only proves the connection is open).
// On PostgreSQL, which holds no kv table, it pings the server.
func (db *DB) ProbeWrite(ctx context.Context, at time.Time) error {
	if db.dialect == DialectPostgres {
		if err := db.W.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
		return nil
	}
	ms := unixms.From(at)
	_, err := db.W.ExecContext(ctx,
		`INSERT INTO kv (key, value, updated_ms) VALUES ($1, $2, $3)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
		heartbeatKey, []byte(fmt.Sprint(ms)), ms)
	if err != nil {
		return fmt.Errorf("store: heartbeat write: %w", err)
	}
	return nil
}
