package nymapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/nymwatch/nymwatch/probes"
)

// DirectoryFetcher gets a fresh directory (DirectoryClient does).
type DirectoryFetcher interface {
	Fetch(ctx context.Context) (Directory, error)
}

// DirectoryPersister keeps the last good directory (DirectoryStore does).
type DirectoryPersister interface {
	Save(ctx context.Context, d Directory) error
	Load(ctx context.Context) (Directory, bool, error)
}

// DiscoveryOptions configures a Discovery.
type DiscoveryOptions struct {
	Fetcher    DirectoryFetcher      // required
	Store      DirectoryPersister    // optional: nil keeps the directory in memory only
	Registerer prometheus.Registerer // optional: nil registers no metrics
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now
}

// Discovery owns the current directory: Refresh replaces it on success and
// keeps the last good one (in memory, else from the store) on failure.
// Scheduling Refresh is the caller's job. Safe for concurrent use.
type Discovery struct {
	fetcher DirectoryFetcher
	store   DirectoryPersister
	logger  *slog.Logger
	now     func() time.Time

	refreshMu sync.Mutex // one refresh at a time (gocron may double-fire)

	mu          sync.RWMutex
	current     Directory
	lastErr     error
	lastSuccess time.Time
	restored    bool // the store was read (or there is none)

	nodes       *prometheus.GaugeVec
	undescribed prometheus.Gauge
	refreshes   *prometheus.CounterVec
	lastOK      prometheus.Gauge
	lastOKTime  prometheus.Gauge
}

var dirMetricRoles = [...]probes.Role{probes.RoleEntryGateway, probes.RoleExitGateway, probes.RoleMixnode, probes.RoleStandby, probes.RoleInactive}

// NewDiscovery returns a Discovery with no directory yet; call Restore at
// startup to load the persisted one.
func NewDiscovery(opts DiscoveryOptions) (*Discovery, error) {
	if opts.Fetcher == nil {
		return nil, errors.New("discovery: no fetcher")
	}
	d := &Discovery{
		fetcher: opts.Fetcher,
		store:   opts.Store,
		logger:  opts.Logger,
		now:     opts.Now,
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.restored = d.store == nil
	f := promauto.With(opts.Registerer)
	d.nodes = f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nymwatch_directory_nodes",
		Help: "Nodes in the current nym-api directory, by role in the current epoch.",
	}, []string{"role"})
	d.undescribed = f.NewGauge(prometheus.GaugeOpts{
		Name: "nymwatch_directory_undescribed_nodes",
		Help: "Bonded nodes nym-api could not describe in its last run, kept from an earlier directory.",
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nymwatch_directory_age_seconds",
		Help: "Age of the directory in use (NaN if there is none).",
	}, d.ageSeconds)
	d.refreshes = f.NewCounterVec(prometheus.CounterOpts{
		Name: "nymwatch_directory_refreshes_total",
		Help: "Directory refreshes from nym-api, by result.",
	}, []string{"result"})
	d.lastOK = f.NewGauge(prometheus.GaugeOpts{
		Name: "nymwatch_directory_last_refresh_success",
		Help: "Whether the last directory refresh succeeded (1) or failed (0).",
	})
	d.lastOKTime = f.NewGauge(prometheus.GaugeOpts{
		Name: "nymwatch_directory_last_success_timestamp_seconds",
		Help: "Fetch time of the directory in use, as a unix timestamp.",
	})
	for _, r := range []string{"success", "failure"} {
		d.refreshes.WithLabelValues(r)
	}
	for _, r := range dirMetricRoles {
		d.nodes.WithLabelValues(string(r))
	}
	return d, nil
}

func (d *Discovery) ageSeconds() float64 {
	d.mu.RLock()
	at := d.current.FetchedAt
	d.mu.RUnlock()
	if at.IsZero() {
		return math.NaN()
	}
	return d.now().Sub(at).Seconds()
}

// SetFetcher replaces the fetcher, e.g. after a config reload changed
// network.nym_api_url; the current directory and metrics are kept.
func (d *Discovery) SetFetcher(f DirectoryFetcher) error {
	if f == nil {
		return errors.New("discovery: no fetcher")
	}
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()
	d.fetcher = f
	return nil
}

// Current returns the directory in use (zero if none yet). Its Nodes must
// not be modified.
func (d *Discovery) Current() Directory {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.current
}

// LastError is the error of the last refresh, nil after a success.
func (d *Discovery) LastError() error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.lastErr
}

// LastSuccess is when the directory in use was fetched (also after a
// restore from the store); zero if never.
func (d *Discovery) LastSuccess() time.Time {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.lastSuccess
}

// Restore loads the persisted directory if none is in memory yet. It reports
// whether one was loaded. Refresh calls it itself on a failure, so calling
// it at startup only makes targets available before the first fetch.
func (d *Discovery) Restore(ctx context.Context) (bool, error) {
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()
	return d.restoreLocked(ctx)
}

func (d *Discovery) restoreLocked(ctx context.Context) (bool, error) {
	d.mu.RLock()
	done := d.restored || !d.current.IsZero()
	d.mu.RUnlock()
	if done {
		return false, nil
	}
	dir, ok, err := d.store.Load(ctx)
	if err != nil {
		// Leave restored unset so a later attempt can retry a transient error.
		return false, fmt.Errorf("restore directory: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.restored = true
	if !ok || !d.current.IsZero() {
		return false, nil
	}
	d.current = dir
	d.lastSuccess = dir.FetchedAt
	d.setGaugesLocked()
	d.logger.Info("restored persisted nym-api directory", "nodes", len(dir.Nodes), "fetched_at", dir.FetchedAt, "source", dir.Source)
	return true, nil
}

// Refresh fetches a new directory. On success it carries over still-bonded
// nodes nym-api could not describe, swaps it in, persists it and returns it.
// On failure it keeps the last good directory (loading the persisted one if
// memory has none) and returns it with the error, wrapped, so the caller can
// report nym-api's directory as failing.
func (d *Discovery) Refresh(ctx context.Context) (Directory, error) {
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()

	next, err := d.fetcher.Fetch(ctx)
	if err == nil && len(next.Nodes) == 0 {
		err = ErrEmptyDirectory // a Fetcher other than DirectoryClient may not check
	}
	if err != nil {
		if _, rerr := d.restoreLocked(ctx); rerr != nil {
			d.logger.Error("cannot load persisted directory", "err", rerr)
		}
		werr := fmt.Errorf("refresh nym-api directory: %w", err)
		d.mu.Lock()
		d.lastErr = werr
		cur := d.current
		d.mu.Unlock()
		d.refreshes.WithLabelValues("failure").Inc()
		d.lastOK.Set(0)
		d.logger.Warn("nym-api directory refresh failed; keeping last good directory",
			"err", err, "nodes", len(cur.Nodes), "fetched_at", cur.FetchedAt)
		return cur, werr
	}

	d.mu.RLock()
	prev := d.current
	d.mu.RUnlock()
	if prev.IsZero() && d.store != nil {
		// Carrying over needs the previous directory, also right after a restart.
		if _, rerr := d.restoreLocked(ctx); rerr == nil {
			d.mu.RLock()
			prev = d.current
			d.mu.RUnlock()
		}
	}
	next = carryUndescribed(prev, next)

	if d.store != nil {
		if serr := d.store.Save(ctx, next); serr != nil {
			// nym-api answered: the refresh succeeded, only a restart would
			// fall back to an older directory.
			d.logger.Error("cannot persist nym-api directory", "err", serr)
		}
	}
	d.mu.Lock()
	d.current = next
	d.lastErr = nil
	d.lastSuccess = next.FetchedAt
	d.restored = true
	d.setGaugesLocked()
	d.mu.Unlock()
	d.refreshes.WithLabelValues("success").Inc()
	d.lastOK.Set(1)
	d.logger.Debug("nym-api directory refreshed", "nodes", len(next.Nodes), "role_source", next.RoleSource,
		"skipped", next.Skipped, "source", next.Source)
	return next, nil
}

// setGaugesLocked updates the per-directory gauges; d.mu must be held.
func (d *Discovery) setGaugesLocked() {
	for r, n := range d.current.Counts() {
		if slices.Contains(dirMetricRoles[:], r) {
			d.nodes.WithLabelValues(string(r)).Set(float64(n))
		}
	}
	var und int
	for i := range d.current.Nodes {
		if d.current.Nodes[i].Undescribed {
			und++
		}
	}
	d.undescribed.Set(float64(und))
	d.lastOKTime.Set(float64(d.current.FetchedAt.UnixMilli()) / 1000)
}

// carryUndescribed adds to next the nodes of prev that nym-api no longer
// describes but that are still bonded under the same identity. nym-api
// rebuilds its describe cache from scratch and drops nodes it cannot reach,
// so without this a gateway outage would remove the failing gateways from
// the probe set instead of showing up as failures. Nothing is carried when
// the bonds are unknown: an unbonded node must not be probed forever.
func carryUndescribed(prev, next Directory) Directory {
	if next.Bonded == nil || len(prev.Nodes) == 0 {
		return next
	}
	have := make(map[uint32]bool, len(next.Nodes))
	for i := range next.Nodes {
		have[next.Nodes[i].NodeID] = true
	}
	var carried []probes.Node
	for _, n := range prev.Nodes {
		if have[n.NodeID] || next.Bonded[n.NodeID] != n.Identity {
			continue
		}
		n.Undescribed = true
		n.Performance = 0 // nym-api no longer reports on it
		n.Hosts = slices.Clone(n.Hosts)
		n.HTTPPorts = slices.Clone(n.HTTPPorts)
		switch {
		case next.roles != nil:
			n.Role, n.Layer = dirRoleFromSet(next.roles, n.NodeID)
		case next.RoleSource == RoleSourceDeclared:
			r := DeclaredRole(n.Declared)
			n.Role, n.Layer = r.Role, r.Layer
		}
		// Otherwise keep the earlier role: the skimmed view, built from the
		// same describe cache, says nothing about undescribed nodes.
		carried = append(carried, n)
	}
	if len(carried) == 0 {
		return next
	}
	nodes := make([]probes.Node, 0, len(next.Nodes)+len(carried))
	nodes = append(nodes, next.Nodes...)
	nodes = append(nodes, carried...)
	slices.SortFunc(nodes, func(a, b probes.Node) int { return cmp.Compare(a.NodeID, b.NodeID) })
	next.Nodes = nodes
	return next
}
