package disclosure

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/nymwatch/nymwatch/internal/backoff"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/unixms"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// OutboxOptions configure paging. Zero values take the defaults.
type OutboxOptions struct {
	// ExternalURL is the base URL humans use (e.g. behind a reverse proxy);
	// a page links to ExternalURL + "/incidents/{id}". When empty, pages link
	// to the API: APIBaseURL + "/api/v1/incidents/{id}". Both may be empty
	// (no link).
	ExternalURL string
	APIBaseURL  string
	// ResendInterval: a pending draft's alert is re-sent this often, its
	// endsAt pushed to 4 intervals ahead (default 1m, minimum 1s).
	ResendInterval time.Duration
	// EscalationDelays after the draft was opened at which the page climbs
	// one severity rung (default 15m, 1h; strictly ascending).
	EscalationDelays []time.Duration
	// DayEndWarning: a draft still pending this close to 00:00 UTC is
	// escalated once per day, since policy III wants operational incidents
	// disclosed the same day (default 1h, below 24h).
	DayEndWarning time.Duration
	// MaxAge: an undelivered page is given up after this long, with an error
	// log and nymwatch_pages_failed_total{reason="expired"} (default 24h).
	MaxAge time.Duration
	// SendTimeout bounds one delivery attempt, quick retries included
	// (default 10s).
	SendTimeout time.Duration
	// MinBackoff/MaxBackoff bound the exponential, jittered wait between
	// attempts of one row (one page to one pager); a Retry-After is
	// honoured up to MaxBackoff (default 5s / 5m). The schedule is stored
	// with the row, so a restart keeps it.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// BatchSize caps the rows one pager delivers per tick (default 100).
	BatchSize int
	// Retention: finished rows are deleted this long after they finished
	// (default 7 days).
	Retention time.Duration
}

// Outbox is the durable page queue: it implements Pages (enqueue inside the
// incident's transaction) and, on each Tick, re-sends and escalates pending
// drafts and delivers due pages to every pager.
//
// Over the shared PostgreSQL database every instance enqueues, but only one
// at a time drains: the holder of the "page-outbox" session lock (a
// PostgreSQL advisory lock on a connection of its own, released with the
// session if the holder dies, so another instance takes over at its next
// tick). Delivery is at least once: a holder that dies between sending and
// recording a page has it sent again by the next one, with the same labels,
// which Alertmanager deduplicates.
type Outbox struct {
	db     *store.DB
	w, r   conn // the write and read pools
	lock   *store.SessionLock
	pagers []outboxPager
	opts   OutboxOptions
	esc    page.Escalation
	log    *slog.Logger
	m      outboxMetrics
	queued atomic.Int64

	mu     sync.Mutex
	drafts DraftSource

	// tick is a one-slot semaphore: a duplicated scheduler run returns at
	// once instead of delivering the same rows twice.
	tick   chan struct{}
	jitter func(time.Duration) time.Duration
}

// outboxPager is one receiver. It keeps no backoff of its own: backoff is
// per row (per incident and pager), so one page that keeps failing never
// holds back another incident's page (issue 11.1).
type outboxPager struct {
	p    page.Pager
	name string
	kind string
}

// outboxMaxUnreachable: a pass over one pager's due rows ends after this many
// consecutive network or timeout failures (the receiver itself is
// unreachable, every other row would wait out the same timeout). Nothing is
// rescheduled for the rows not tried: they are due again at the next tick.
const outboxMaxUnreachable = 2

type outboxMetrics struct {
	leader     prometheus.Gauge
	sent       *prometheus.CounterVec
	failed     *prometheus.CounterVec
	superseded *prometheus.CounterVec
	delay      prometheus.Histogram
	rejected   *prometheus.CounterVec
}

var _ Pages = (*Outbox)(nil)

// NewOutbox builds the outbox over db. Every page goes to every pager; pager
// names must be unique and stable across restarts. drafts may be nil and set
// later with SetDraftSource (the incident service and the outbox need each
// other). Metrics are registered on reg (nil: not registered).
func NewOutbox(db *store.DB, pagers []page.Pager, drafts DraftSource, opts OutboxOptions, reg prometheus.Registerer, logger *slog.Logger) (*Outbox, error) {
	if db == nil {
		return nil, errors.New("outbox: nil store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts, err := outboxDefaults(opts)
	if err != nil {
		return nil, err
	}
	o := &Outbox{
		db:   db,
		w:    dbConn(db, db.W),
		r:    dbConn(db, db.R),
		lock: db.SessionLock("page-outbox"),
		opts: opts,
		esc: page.Escalation{
			ExternalURL: opts.ExternalURL,
			APIBaseURL:  opts.APIBaseURL,
			Resend:      opts.ResendInterval,
			Delays:      opts.EscalationDelays,
			DayEnd:      opts.DayEndWarning,
		},
		log:    logger,
		drafts: drafts,
		tick:   make(chan struct{}, 1),
		jitter: outboxEqualJitter,
	}
	kinds := []string{}
	for i, p := range pagers {
		if p == nil {
			return nil, fmt.Errorf("outbox: pager %d is nil", i)
		}
		name := p.Name()
		if name == "" || len(name) > 512 {
			return nil, fmt.Errorf("outbox: pager %d: name must be 1-512 bytes", i)
		}
		if slices.ContainsFunc(o.pagers, func(x outboxPager) bool { return x.name == name }) {
			return nil, fmt.Errorf("outbox: pager %q configured twice", name)
		}
		op := outboxPager{p: p, name: name, kind: page.KindOf(p)}
		o.pagers = append(o.pagers, op)
		if !slices.Contains(kinds, op.kind) {
			kinds = append(kinds, op.kind)
		}
	}
	if len(o.pagers) == 0 {
		logger.Warn("no pagers configured: draft incidents will not be paged")
	}

	f := promauto.With(reg)
	o.m = outboxMetrics{
		leader: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_page_outbox_leader",
			Help: "1 while this instance drains the page outbox: always with SQLite; with PostgreSQL, while it holds the outbox lock.",
		}),
		sent: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_pages_sent_total",
			Help: "Pages delivered, by pager kind.",
		}, []string{"pager_kind"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_pages_failed_total",
			Help: "Failed page delivery attempts by pager kind and reason; reason=expired counts pages given up after the maximum age.",
		}, []string{"pager_kind", "reason"}),
		superseded: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_pages_superseded_total",
			Help: "Queued firing pages skipped because a newer page for the same alert, or the end of the incident, was queued.",
		}, []string{"pager_kind"}),
		delay: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "nymwatch_page_delivery_delay_seconds",
			Help:    "Time from enqueueing a page to its delivery.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600},
		}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_pages_rejected_total",
			Help: "Pages dropped without retry because the receiver refused them for good (HTTP 4xx other than 408/429, or an undecodable row).",
		}, []string{"pager_kind"}),
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nymwatch_pages_queued",
		Help: "Page deliveries waiting in the outbox, as of the last tick.",
	}, func() float64 { return float64(o.queued.Load()) })
	if db.Dialect() != store.DialectPostgres {
		o.m.leader.Set(1) // the only instance on its own database
	}
	for _, k := range kinds {
		o.m.sent.WithLabelValues(k)
		o.m.superseded.WithLabelValues(k)
		o.m.rejected.WithLabelValues(k)
		for _, r := range []string{page.ReasonNetwork, page.ReasonTimeout, page.ReasonHTTP4xx, page.ReasonHTTP5xx, page.ReasonExpired} {
			o.m.failed.WithLabelValues(k, r)
		}
	}
	return o, nil
}

func outboxDefaults(o OutboxOptions) (OutboxOptions, error) {
	for _, u := range []struct{ name, v string }{{"external url", o.ExternalURL}, {"api base url", o.APIBaseURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" {
			return o, fmt.Errorf("outbox: %s: want http(s)://host[/path] without query", u.name)
		}
	}
	o.ResendInterval = pagerDurOr(o.ResendInterval, page.DefaultResendInterval)
	if o.ResendInterval < time.Second {
		return o, fmt.Errorf("outbox: resend interval %s: must be at least 1s", o.ResendInterval)
	}
	if len(o.EscalationDelays) == 0 {
		o.EscalationDelays = page.DefaultEscalationDelays()
	}
	o.EscalationDelays = slices.Clone(o.EscalationDelays)
	for i, d := range o.EscalationDelays {
		if d <= 0 || (i > 0 && d <= o.EscalationDelays[i-1]) {
			return o, fmt.Errorf("outbox: escalation delays %v: must be positive and strictly ascending", o.EscalationDelays)
		}
	}
	o.DayEndWarning = pagerDurOr(o.DayEndWarning, page.DefaultDayEndWarning)
	if o.DayEndWarning >= 24*time.Hour {
		return o, fmt.Errorf("outbox: day end warning %s: must be below 24h", o.DayEndWarning)
	}
	o.MaxAge = pagerDurOr(o.MaxAge, page.DefaultMaxAge)
	o.SendTimeout = pagerDurOr(o.SendTimeout, 10*time.Second)
	o.MinBackoff = pagerDurOr(o.MinBackoff, 5*time.Second)
	o.MaxBackoff = pagerDurOr(o.MaxBackoff, 5*time.Minute)
	if o.MaxBackoff < o.MinBackoff {
		return o, fmt.Errorf("outbox: max backoff %s below min backoff %s", o.MaxBackoff, o.MinBackoff)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	o.Retention = pagerDurOr(o.Retention, 7*24*time.Hour)
	return o, nil
}

// SetDraftSource sets where Tick finds the drafts that wait for a human.
func (o *Outbox) SetDraftSource(ds DraftSource) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drafts = ds
}

func (o *Outbox) draftSource() DraftSource {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.drafts
}

// Opened enqueues, inside tx, the pages due now for a new (or newly
// disclosable) draft: its first page, and any escalation already due. An
// incident that was already ended is not paged again.
func (o *Outbox) Opened(ctx context.Context, sqlTx *sql.Tx, s page.Subject, now time.Time) error {
	tx := writeConn(o.db, sqlTx)
	if err := outboxCheckSubject(s); err != nil {
		return err
	}
	if s.Class == "internal" {
		// Internal incidents are never paged for disclosure; a caller that
		// asks is wrong, but its incident must still commit.
		o.log.Warn("not paging an internal incident", "incident", s.IncidentID)
		return nil
	}
	return o.enqueue(ctx, tx, o.esc.FiringPages(s, now), now)
}

// Ended enqueues, inside tx, the pages that resolve every alert of the
// incident: each label set reached by escalation, and each label set ever
// queued for it (its class or component may have changed since).
func (o *Outbox) Ended(ctx context.Context, sqlTx *sql.Tx, s page.Subject, now time.Time) error {
	tx := writeConn(o.db, sqlTx)
	if err := outboxCheckSubject(s); err != nil {
		return err
	}
	sets := map[string]map[string]string{}
	if s.Class != "internal" {
		for _, l := range o.esc.ReachedLabels(s, now) {
			sets[page.Fingerprint(l)] = l
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT fingerprint, payload FROM page_outbox
		WHERE id IN (SELECT max(id) FROM page_outbox WHERE incident_id = $1 AND resolved = 0 GROUP BY fingerprint)`, s.IncidentID)
	if err != nil {
		return fmt.Errorf("outbox: end %s: %w", s.IncidentID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var fp, payload string
		if err := rows.Scan(&fp, &payload); err != nil {
			return fmt.Errorf("outbox: end %s: %w", s.IncidentID, err)
		}
		var p page.Page
		if err := json.Unmarshal([]byte(payload), &p); err != nil || len(p.Labels) == 0 {
			continue // an undecodable row cannot be ended; Tick reports it
		}
		sets[fp] = p.Labels
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox: end %s: %w", s.IncidentID, err)
	}
	fps := make([]string, 0, len(sets))
	for fp := range sets {
		fps = append(fps, fp)
	}
	slices.Sort(fps)
	pages := make([]page.Page, 0, len(fps))
	for _, fp := range fps {
		pages = append(pages, o.esc.EndPage(s, sets[fp], now))
	}
	return o.enqueue(ctx, tx, pages, now)
}

func outboxCheckSubject(s page.Subject) error {
	if strings.TrimSpace(s.IncidentID) == "" {
		return errors.New("outbox: subject without incident id")
	}
	return nil
}

// enqueue inserts one row per page and pager. Firing pages of an incident
// that has an end page queued are not inserted: an ended alert stays ended.
func (o *Outbox) enqueue(ctx context.Context, tx conn, pages []page.Page, now time.Time) error {
	if len(o.pagers) == 0 || len(pages) == 0 {
		return nil
	}
	const cols = `page_key, pager, pager_kind, incident_id, fingerprint, resolved, payload, next_attempt_ms, created_ms, round`
	firing, err := tx.PrepareContext(ctx, `INSERT INTO page_outbox (`+cols+`)
		SELECT $1, $2, $3, $4, $5, 0, $6, $7, $8, $9
		WHERE NOT EXISTS (SELECT 1 FROM page_outbox WHERE incident_id = $10 AND pager = $11 AND resolved = 1 AND round = $12)
		ON CONFLICT (page_key, pager) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	defer firing.Close()
	ending, err := tx.PrepareContext(ctx, `INSERT INTO page_outbox (`+cols+`)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9)
		ON CONFLICT (page_key, pager) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	defer ending.Close()
	// A re-send replaces the pending row of the same alert (supersede): it
	// takes over that row's backoff, so a receiver that refuses one alert is
	// not hit again by every re-send; a new alert (another incident, a higher
	// severity) starts fresh.
	const prior = `FROM page_outbox o WHERE o.pager = n.pager AND o.fingerprint = n.fingerprint
			AND o.done_ms IS NULL AND o.id < n.id AND o.attempts > 0 ORDER BY o.id DESC LIMIT 1`
	inherit, err := tx.PrepareContext(ctx, `UPDATE page_outbox AS n SET
		attempts = (SELECT o.attempts `+prior+`),
		last_error = (SELECT o.last_error `+prior+`),
		next_attempt_ms = CASE WHEN (SELECT o.next_attempt_ms `+prior+`) > n.next_attempt_ms
			THEN (SELECT o.next_attempt_ms `+prior+`) ELSE n.next_attempt_ms END
		WHERE n.page_key = $1 AND n.pager = $2 AND n.attempts = 0 AND n.done_ms IS NULL
		AND EXISTS (SELECT 1 `+prior+`)`)
	if err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	defer inherit.Close()
	ms := unixms.From(now)
	for _, p := range pages {
		payload, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("outbox: encode page %s: %w", p.Key, err)
		}
		fp := page.Fingerprint(p.Labels)
		for _, pg := range o.pagers {
			if p.Resolved {
				_, err = ending.ExecContext(ctx, p.Key, pg.name, pg.kind, p.IncidentID, fp, string(payload), ms, ms, p.Round)
			} else {
				_, err = firing.ExecContext(ctx, p.Key, pg.name, pg.kind, p.IncidentID, fp, string(payload), ms, ms, p.Round,
					p.IncidentID, pg.name, p.Round)
				if err == nil {
					_, err = inherit.ExecContext(ctx, p.Key, pg.name)
				}
			}
			if err != nil {
				return fmt.Errorf("outbox: enqueue %s for %s: %w", p.Key, pg.name, err)
			}
		}
	}
	return nil
}

// Tick does one round of paging at now: enqueue the re-sends, escalations
// and day-end pages due for pending drafts; skip superseded firing pages;
// give up pages older than MaxAge; deliver due pages to every pager (in
// parallel across pagers, oldest first within one); prune finished rows.
// It is idempotent, and a run that overlaps a running one returns at once.
func (o *Outbox) Tick(ctx context.Context, now time.Time) error {
	select {
	case o.tick <- struct{}{}:
		defer func() { <-o.tick }()
	default:
		o.log.Debug("page outbox tick already running")
		return nil
	}
	now = now.UTC()
	held, err := o.lock.TryHold(ctx)
	if err != nil || !held {
		o.m.leader.Set(0)
		if err != nil {
			return fmt.Errorf("outbox: drain lock: %w", err)
		}
		o.log.Debug("page outbox drained by another instance")
		return o.countQueued(ctx)
	}
	o.m.leader.Set(1)
	var errs []error
	if err := o.schedule(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := o.supersede(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := o.expire(ctx, now); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.deliver(ctx, now))
	if _, err := o.w.ExecContext(ctx, `DELETE FROM page_outbox WHERE done_ms IS NOT NULL AND done_ms < $1`,
		unixms.From(now.Add(-o.opts.Retention))); err != nil {
		errs = append(errs, fmt.Errorf("outbox: prune: %w", err))
	}
	errs = append(errs, o.countQueued(ctx))
	return errors.Join(errs...)
}

// countQueued refreshes the queue gauge (of the shared queue, on every
// instance).
func (o *Outbox) countQueued(ctx context.Context) error {
	var n int64
	if err := o.r.QueryRowContext(ctx, `SELECT count(*) FROM page_outbox WHERE done_ms IS NULL`).Scan(&n); err != nil {
		return fmt.Errorf("outbox: count: %w", err)
	}
	o.queued.Store(n)
	return nil
}

// schedule enqueues what the pending drafts are due at now.
func (o *Outbox) schedule(ctx context.Context, now time.Time) error {
	ds := o.draftSource()
	if ds == nil {
		return errors.New("outbox: no draft source: pending drafts are not re-sent or escalated")
	}
	drafts, err := ds.PendingDrafts(ctx)
	if err != nil {
		return fmt.Errorf("outbox: pending drafts: %w", err)
	}
	var pages []page.Page
	for _, s := range drafts {
		// A confirmed incident is listed while its security change waits
		// for acknowledgement.
		if outboxCheckSubject(s) != nil || s.Class == "internal" || (s.State != "" && s.State != "draft" && s.State != "confirmed") {
			continue
		}
		pages = append(pages, o.esc.FiringPages(s, now)...)
	}
	reminders, err := o.publicationReminders(ctx, ds, now)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	pages = append(pages, reminders...)
	if len(pages) == 0 {
		return nil
	}
	return o.db.Tx(ctx, func(tx *sql.Tx) error { return o.enqueue(ctx, writeConn(o.db, tx), pages, now) })
}

// outboxSupersededSQL: a pending firing row whose incident has an end page
// of the same round for the same pager, or whose alert has a newer pending
// row, need not be sent: the later row carries everything it would. Any
// pending row (an end page included) of an alert that a later paging round
// fires again is stale: sending it late would end the new alert.
const outboxSupersededSQL = `r.done_ms IS NULL AND ((r.resolved = 0 AND (
	EXISTS (SELECT 1 FROM page_outbox e WHERE e.incident_id = r.incident_id AND e.pager = r.pager AND e.resolved = 1 AND e.round = r.round)
	OR EXISTS (SELECT 1 FROM page_outbox n WHERE n.pager = r.pager AND n.fingerprint = r.fingerprint AND n.done_ms IS NULL AND n.id > r.id)))
	OR EXISTS (SELECT 1 FROM page_outbox l WHERE l.incident_id = r.incident_id AND l.pager = r.pager
		AND l.fingerprint = r.fingerprint AND l.round > r.round))`

func (o *Outbox) supersede(ctx context.Context, now time.Time) error {
	rows, err := o.w.QueryContext(ctx, `UPDATE page_outbox AS r SET done_ms = $1, outcome = 'superseded'
		WHERE `+outboxSupersededSQL+` RETURNING pager_kind`, unixms.From(now))
	if err != nil {
		return fmt.Errorf("outbox: supersede: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		if err := rows.Scan(&kind); err != nil {
			return fmt.Errorf("outbox: supersede: %w", err)
		}
		o.m.superseded.WithLabelValues(kind).Inc()
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox: supersede: %w", err)
	}
	return nil
}

// expire gives up rows older than MaxAge, loudly.
func (o *Outbox) expire(ctx context.Context, now time.Time) error {
	rows, err := o.w.QueryContext(ctx, `UPDATE page_outbox SET done_ms = $1, outcome = 'expired'
		WHERE done_ms IS NULL AND created_ms <= $2
		RETURNING page_key, pager, pager_kind, attempts, coalesce(last_error, '')`,
		unixms.From(now), unixms.From(now.Add(-o.opts.MaxAge)))
	if err != nil {
		return fmt.Errorf("outbox: expire: %w", err)
	}
	defer rows.Close()
	const maxLogged = 20
	n := 0
	for rows.Next() {
		var key, pager, kind, lastErr string
		var attempts int
		if err := rows.Scan(&key, &pager, &kind, &attempts, &lastErr); err != nil {
			return fmt.Errorf("outbox: expire: %w", err)
		}
		o.m.failed.WithLabelValues(kind, page.ReasonExpired).Inc()
		if n < maxLogged {
			o.log.Error("page given up: not delivered within the maximum age",
				"page", key, "pager", pager, "max_age", o.opts.MaxAge, "attempts", attempts, "last_error", lastErr)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox: expire: %w", err)
	}
	if n > maxLogged {
		o.log.Error("pages given up: not delivered within the maximum age", "count", n, "logged", maxLogged)
	}
	return nil
}

type outboxRow struct {
	id         int64
	key        string
	incidentID string
	resolved   bool
	payload    string
	attempts   int
}

func (o *Outbox) deliver(ctx context.Context, now time.Time) error {
	errs := make([]error, len(o.pagers))
	var wg sync.WaitGroup
	for i, pg := range o.pagers {
		wg.Go(func() { errs[i] = o.deliverPager(ctx, pg, now) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deliverPager sends the due rows of one pager, security pages first, then
// oldest first. A row that fails is rescheduled on its own; the pass goes on
// with the next row, and ends early only when the receiver looks unreachable
// (outboxMaxUnreachable network or timeout failures in a row).
func (o *Outbox) deliverPager(ctx context.Context, pg outboxPager, now time.Time) error {
	rows, err := o.r.QueryContext(ctx, `SELECT id, page_key, incident_id, resolved, payload, attempts
		FROM page_outbox WHERE pager = $1 AND done_ms IS NULL AND next_attempt_ms <= $2
		ORDER BY id LIMIT $3`, pg.name, unixms.From(now), o.opts.BatchSize)
	if err != nil {
		return fmt.Errorf("outbox: due pages for %s: %w", pg.name, err)
	}
	var due []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.id, &r.key, &r.incidentID, &r.resolved, &r.payload, &r.attempts); err != nil {
			rows.Close()
			return fmt.Errorf("outbox: due pages for %s: %w", pg.name, err)
		}
		due = append(due, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox: due pages for %s: %w", pg.name, err)
	}
	// Security first: with a slow, failing receiver a pass may not reach
	// every row, and a security page must not wait behind others.
	slices.SortStableFunc(due, func(a, b outboxRow) int { return outboxRowRank(a) - outboxRowRank(b) })
	unreachable := 0
	var errs []error
	for _, r := range due {
		if ctx.Err() != nil {
			break
		}
		down, err := o.deliverRow(ctx, pg, r, now)
		if err != nil {
			errs = append(errs, err)
		}
		if !down {
			unreachable = 0
			continue
		}
		if unreachable++; unreachable >= outboxMaxUnreachable {
			break
		}
	}
	return errors.Join(errs...)
}

// outboxRowRank orders a pass: firing security pages, then the rest.
func outboxRowRank(r outboxRow) int {
	if !r.resolved && strings.Contains(r.payload, `"class":"security"`) {
		return 0
	}
	return 1
}

// deliverRow makes one attempt; down reports a network or timeout failure
// (the receiver looks unreachable).
func (o *Outbox) deliverRow(ctx context.Context, pg outboxPager, r outboxRow, now time.Time) (down bool, _ error) {
	// Bookkeeping survives a shutdown that cancels ctx mid-tick: a page that
	// went out must be marked, or it goes out again after the restart.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ms := unixms.From(now)

	{
		// Ended, re-sent or paged in a later round since this tick's
		// supersede pass?
		res, err := o.w.ExecContext(bctx, `UPDATE page_outbox AS r SET done_ms = $1, outcome = 'superseded'
			WHERE r.id = $2 AND `+outboxSupersededSQL, ms, r.id)
		if err != nil {
			return false, fmt.Errorf("outbox: supersede %s: %w", r.key, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			o.m.superseded.WithLabelValues(pg.kind).Inc()
			return false, nil
		}
	}
	var p page.Page
	if err := json.Unmarshal([]byte(r.payload), &p); err != nil {
		o.m.failed.WithLabelValues(pg.kind, page.ReasonInvalid).Inc()
		o.m.rejected.WithLabelValues(pg.kind).Inc()
		o.log.Error("page dropped: queued payload cannot be decoded", "page", r.key, "pager", pg.name, "err", err)
		return false, o.finish(bctx, r.id, "rejected", ms, "decode payload: "+err.Error())
	}
	if !p.Resolved {
		// Valid from the moment it actually leaves, not from when it was queued.
		p.EndsAt = now.Add(o.esc.Lifetime())
	}

	sctx, scancel := context.WithTimeout(ctx, o.opts.SendTimeout)
	err := pg.p.Send(sctx, p)
	scancel()
	if err == nil {
		o.m.sent.WithLabelValues(pg.kind).Inc()
		o.m.delay.Observe(max(now.Sub(p.CreatedAt), 0).Seconds())
		level := slog.LevelInfo
		if strings.Contains(r.key, "/resend/") {
			level = slog.LevelDebug
		}
		o.log.Log(ctx, level, "page delivered", "page", r.key, "pager", pg.name, "attempts", r.attempts+1)
		return false, o.finish(bctx, r.id, "delivered", ms, "")
	}
	if ctx.Err() != nil {
		return false, nil // shutting down: the attempt does not count
	}
	pe, ok := errors.AsType[*page.Error](err)
	if !ok {
		// A Pager from elsewhere: its message is its own to keep clean.
		pe = page.NewError(page.ReasonNetwork, false, err.Error())
	}
	o.m.failed.WithLabelValues(pg.kind, pe.Reason).Inc()
	if pe.Permanent {
		o.m.rejected.WithLabelValues(pg.kind).Inc()
		o.log.Error("page rejected by the receiver; dropped (a pending draft is re-sent with a new page)",
			"page", r.key, "pager", pg.name, "reason", pe.Reason, "err", pe.Error())
		return false, o.finish(bctx, r.id, "rejected", ms, pe.Error())
	}
	down = pe.Reason == page.ReasonNetwork || pe.Reason == page.ReasonTimeout
	delay := o.backoff(r.attempts+1, pe.RetryAfter)
	next := now.Add(delay)
	o.log.Warn("page delivery failed; will retry",
		"page", r.key, "pager", pg.name, "reason", pe.Reason, "attempts", r.attempts+1, "retry_in", delay, "err", pe.Error())
	if _, err := o.w.ExecContext(bctx, `UPDATE page_outbox SET attempts = attempts + 1, last_error = $1, next_attempt_ms = $2
		WHERE id = $3 AND done_ms IS NULL`, pe.Error(), unixms.From(next), r.id); err != nil {
		return down, fmt.Errorf("outbox: record failure of %s: %w", r.key, err)
	}
	return down, nil
}

func (o *Outbox) finish(ctx context.Context, id int64, outcome string, ms int64, lastErr string) error {
	var le any
	if lastErr != "" {
		le = lastErr
	}
	var delivered any
	if outcome == "delivered" {
		delivered = ms
	}
	_, err := o.w.ExecContext(ctx, `UPDATE page_outbox SET done_ms = $1, outcome = $2, delivered_ms = $3,
		attempts = attempts + 1, last_error = coalesce($4, last_error) WHERE id = $5 AND done_ms IS NULL`,
		ms, outcome, delivered, le, id)
	if err != nil {
		return fmt.Errorf("outbox: mark page %s: %w", outcome, err)
	}
	return nil
}

// backoff is MinBackoff·2^(n-1), capped at MaxBackoff, jittered; a
// Retry-After is honoured up to MaxBackoff, so a receiver cannot park pages
// for an hour.
func (o *Outbox) backoff(n int, retryAfter time.Duration) time.Duration {
	d := o.jitter(backoff.Capped(o.opts.MinBackoff, o.opts.MaxBackoff, n))
	if retryAfter > 0 {
		d = max(d, min(retryAfter, o.opts.MaxBackoff))
	}
	return d
}

// outboxEqualJitter spreads retries over [d/2, d] so pagers that failed
// together do not retry in lockstep.
func outboxEqualJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) //nolint:gosec // retry jitter, not a secret
}

func pagerDurOr(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}
