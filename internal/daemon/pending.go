package daemon

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"
)

// pendingKey holds, in the local store's kv table, the anomaly emissions
// the incident store has not recorded yet. The detector re-emits only what
// is still open after a restart, so without this a resolution emitted just
// before a crash (or while the shared store was down) would be lost.
const pendingKey = "daemon.pending_anomalies"

// pendingSet is the anomalies emitted by the detector and not yet recorded
// by the incident service, newest version per anomaly id.
type pendingSet struct {
	mu  sync.Mutex
	seq uint64
	m   map[string]pendingEntry
}

type pendingEntry struct {
	a   detector.Anomaly
	seq uint64 // tells a newer emission from the one being recorded
}

func newPendingSet() *pendingSet { return &pendingSet{m: map[string]pendingEntry{}} }

func (p *pendingSet) add(as ...detector.Anomaly) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range as {
		p.seq++
		p.m[a.ID] = pendingEntry{a: a, seq: p.seq}
	}
}

// batch returns the pending entries, oldest first_seen first, so grouping
// into incidents does not depend on map order.
func (p *pendingSet) batch() []pendingEntry {
	p.mu.Lock()
	out := make([]pendingEntry, 0, len(p.m))
	for _, e := range p.m {
		out = append(out, e)
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].a, out[j].a
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		return a.ID < b.ID
	})
	return out
}

// done drops e unless a newer emission of the same anomaly arrived since.
func (p *pendingSet) done(e pendingEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.m[e.a.ID]; ok && cur.seq == e.seq {
		delete(p.m, e.a.ID)
	}
}

func (p *pendingSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

func (p *pendingSet) list() []detector.Anomaly {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]detector.Anomaly, 0, len(p.m))
	for _, e := range p.m {
		out = append(out, e.a)
	}
	return out
}

func savePending(ctx context.Context, db *store.DB, list []detector.Anomaly, now time.Time) error {
	b, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encode pending anomalies: %w", err)
	}
	return db.Tx(ctx, writePending(ctx, b, now))
}

// writePending writes the encoded pending list in tx (with the detector's
// state: one transaction per save).
func writePending(ctx context.Context, b []byte, now time.Time) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (key, value, updated_ms) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms`,
			pendingKey, b, unixms.From(now))
		if err != nil {
			return fmt.Errorf("save pending anomalies: %w", err)
		}
		return nil
	}
}

func loadPending(ctx context.Context, db *store.DB) ([]detector.Anomaly, error) {
	var b []byte
	err := db.R.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = $1`, pendingKey).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load pending anomalies: %w", err)
	}
	var list []detector.Anomaly
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("decode pending anomalies: %w", err)
	}
	return list, nil
}
