package nymapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"
)

// dirSnapshotFormat versions the JSON in directory_snapshot.body; Load
// refuses formats it does not know rather than misreading them.
const dirSnapshotFormat = 1

// DirectoryStore persists the last good Directory in SQLite
// (table directory_snapshot, migration 0002).
type DirectoryStore struct {
	db  *store.DB
	now func() time.Time
}

// NewDirectoryStore returns a store over db. now stamps saved_ms; nil means
// time.Now.
func NewDirectoryStore(db *store.DB, now func() time.Time) *DirectoryStore {
	if now == nil {
		now = time.Now
	}
	return &DirectoryStore{db: db, now: now}
}

// Save replaces the stored directory by d, unless the stored one was fetched
// later (so a delayed or duplicate refresh cannot roll it back).
func (s *DirectoryStore) Save(ctx context.Context, d Directory) error {
	if d.FetchedAt.IsZero() {
		return errors.New("save directory: no fetch time")
	}
	if len(d.Nodes) == 0 {
		return fmt.Errorf("save directory: %w", ErrEmptyDirectory)
	}
	d.FetchedAt = d.FetchedAt.UTC()
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("save directory: encode: %w", err)
	}
	_, err = s.db.W.ExecContext(ctx, `
INSERT INTO directory_snapshot (id, format, fetched_ms, saved_ms, source, node_count, body)
VALUES (1, $1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET
    format = excluded.format, fetched_ms = excluded.fetched_ms, saved_ms = excluded.saved_ms,
    source = excluded.source, node_count = excluded.node_count, body = excluded.body
WHERE excluded.fetched_ms >= directory_snapshot.fetched_ms`,
		dirSnapshotFormat, unixms.From(d.FetchedAt), unixms.From(s.now()), d.Source, len(d.Nodes), body)
	if err != nil {
		return fmt.Errorf("save directory: %w", err)
	}
	return nil
}

// Load returns the stored directory; ok is false if none was ever saved.
func (s *DirectoryStore) Load(ctx context.Context) (Directory, bool, error) {
	var (
		format, fetchedMS int64
		count             int
		body              []byte
	)
	err := s.db.R.QueryRowContext(ctx,
		`SELECT format, fetched_ms, node_count, body FROM directory_snapshot WHERE id = 1`).
		Scan(&format, &fetchedMS, &count, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return Directory{}, false, nil
	}
	if err != nil {
		return Directory{}, false, fmt.Errorf("load directory: %w", err)
	}
	if format != dirSnapshotFormat {
		return Directory{}, false, fmt.Errorf("load directory: unknown snapshot format %d", format)
	}
	var d Directory
	if err := json.Unmarshal(body, &d); err != nil {
		return Directory{}, false, fmt.Errorf("load directory: decode: %w", err)
	}
	if len(d.Nodes) != count {
		return Directory{}, false, fmt.Errorf("load directory: %d nodes, row says %d", len(d.Nodes), count)
	}
	d.FetchedAt = unixms.Time(fetchedMS)
	return d, true, nil
}
