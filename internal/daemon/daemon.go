// Package daemon wires nymwatch's pipeline together — directory → probes →
// detector → disclosure → pages — and runs it until its context ends.
// Packages talk through their small types; this is the only place that
// knows all of them.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/version"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/disclosure/page"
	"github.com/nymwatch/nymwatch/internal/alertwebhook"
	"github.com/nymwatch/nymwatch/internal/authn"
	"github.com/nymwatch/nymwatch/internal/cluster"
	"github.com/nymwatch/nymwatch/internal/detectorstore"
	"github.com/nymwatch/nymwatch/internal/sdnotify"
	"github.com/nymwatch/nymwatch/internal/store"
	"github.com/nymwatch/nymwatch/internal/webui"
	"github.com/nymwatch/nymwatch/probes"
	"github.com/nymwatch/nymwatch/probes/nymapi"
)

// Pipeline cadences. Evaluation is cheap (one mutex, in-memory state), so a
// short period keeps detected_at close to the threshold crossing; the
// snapshot period bounds how much streak history a crash can lose (open
// anomalies are never lost: they are also in the incident store).
const (
	evaluateEvery = time.Second
	outboxEvery   = time.Second
	snapshotEvery = 5 * time.Second
	jobTimeout    = 30 * time.Second
	stopTimeout   = 20 * time.Second
	// openSharedTimeout bounds connecting to PostgreSQL and migrating it.
	openSharedTimeout = 30 * time.Second
)

// DirectoryTargetID is the pseudo-target that carries nym-api directory
// failures into the detector as a centralized-service anomaly.
const DirectoryTargetID = "service/nym-api-directory"

// Options configure Run.
type Options struct {
	Config *config.Config
	// ConfigPath is reloaded on a signal from Reload. Empty: LoadConfig is
	// used instead, or reloading is disabled.
	ConfigPath string
	// LoadConfig, if set, produces the config on reload (the demo builds its
	// config in code).
	LoadConfig func() (*config.Config, error)
	Logger     *slog.Logger
	Registry   *prometheus.Registry
	Reload     <-chan os.Signal
	Getenv     func(string) string
	// Listener, if set, is served instead of listening on Config.Listen.
	Listener net.Listener
	// ExtraPagers are added to the configured ones (the demo's console
	// pager).
	ExtraPagers []page.Pager
	// Started is called once the HTTP server is up and the pipeline runs,
	// with the address served.
	Started func(addr net.Addr)
	// StatusStarted is called with the status page's address once it
	// listens (only when status.listen is set).
	StatusStarted func(addr string)
}

type daemon struct {
	log     *slog.Logger
	reg     *prometheus.Registry
	db      *store.DB // local: directory and detector state (this vantage point's own)
	shared  *store.DB // incidents, audit, outbox: db itself, or PostgreSQL shared by instances
	ready   readiness
	notify  *sdnotify.Notifier
	apiBase string

	cfgMu sync.Mutex
	cfg   *config.Config

	disc     *nymapi.Discovery
	sched    *probes.Scheduler
	det      *detector.Detector
	detM     *detector.Metrics
	cluster  *cluster.Cluster
	ui       *webui.UI
	pullJob  gocron.Job
	state    *detectorstore.StateStore
	svc      *disclosure.Service
	outbox   *disclosure.Outbox
	app      swapHandler
	jobs     gocron.Scheduler
	dirJob   gocron.Job
	evalJob  gocron.Job
	lastEval atomic.Int64

	targetsMu sync.Mutex
	targets   []*probes.Target // what the scheduler probes

	evalMu  sync.Mutex  // one evaluation at a time
	emitMu  sync.Mutex  // held while emissions move into pending, so a snapshot and pending agree
	pending *pendingSet // emitted, not yet recorded by the incident service
	saveMu  sync.Mutex

	m daemonMetrics

	maint        *disclosure.Maintenance // maintenance windows (in the shared store)
	maintErrLast time.Time               // last logged failure to read them (rate limit)
	maintActive  prometheus.Gauge        // nymwatch_maintenance_windows_active

	// self keeps the alerts about nymwatch itself (watchdog, monitoring
	// blind) in Alertmanager, apart from the outbox.
	self *disclosure.SelfAlerts
	// guard throttles failed authentication on every surface; built once,
	// so a reload keeps the counts.
	guard *authn.Guard
	// write proves the local store takes writes (readiness, /-/healthy,
	// watchdog); fails rate-limits the logging of failing store writes.
	write *writeCheck
	fails *failureLog
	// outbound: the services' http_config clients of the config in force.
	outbound atomic.Pointer[outbound]
	// saver writes only what changed in the detector since its last save
	// (the first save after a start replaces the stored state).
	saver *detectorstore.StateSaver
}

type daemonMetrics struct {
	reloadOK       prometheus.Gauge
	reloadTime     prometheus.Gauge
	applyErrors    prometheus.Counter
	pendingAnomaly prometheus.Gauge
	snapshotErrors prometheus.Counter
}

func newDaemonMetrics(reg prometheus.Registerer) daemonMetrics {
	f := promauto.With(reg)
	return daemonMetrics{
		reloadOK: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		reloadTime: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
		applyErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "nymwatch_anomaly_store_errors_total",
			Help: "Anomalies the incident store failed to record (retried on the next evaluation).",
		}),
		pendingAnomaly: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_anomalies_pending",
			Help: "Anomaly updates emitted by the detector and not yet recorded in the incident store.",
		}),
		snapshotErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "nymwatch_detector_snapshot_errors_total",
			Help: "Failed saves of the detector state to the store.",
		}),
	}
}

// Run runs the daemon until ctx ends, then stops it within a bounded time:
// the HTTP server drains, probes stop, the detector state is saved and the
// store closed. It returns an error only for a failed start or stop.
func Run(ctx context.Context, opts Options) (err error) {
	if opts.Config == nil {
		return errors.New("daemon: no config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	cfg := opts.Config
	d := &daemon{
		log:     opts.Logger,
		reg:     opts.Registry,
		cfg:     cfg,
		notify:  sdnotify.New(opts.Getenv, os.Getpid()),
		pending: newPendingSet(),
	}
	d.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("nymwatch"),
	)
	d.m = newDaemonMetrics(d.reg)
	d.m.reloadOK.Set(1)
	d.m.reloadTime.SetToCurrentTime()
	d.log.Info("starting nymwatch", "version", version.Info(), "build_context", version.BuildContext())
	logWarnings(d.log, cfg)

	// Listen first: a port in use is the most common start failure and
	// should be reported before anything touches the store.
	ln := opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	defer ln.Close()
	d.apiBase = "http://" + ln.Addr().String()

	d.db, err = store.Open(ctx, cfg.Storage.Path)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if cerr := d.db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	d.reg.MustRegister(collectors.NewDBStatsCollector(d.db.W, "nymwatch_writer"))
	d.shared = d.db
	if cfg.Storage.Driver == config.DriverPostgres {
		// Bounded, so an unreachable database is a clear start failure (and
		// a systemd retry), not a start that hangs until TimeoutStartSec.
		octx, cancel := context.WithTimeout(ctx, openSharedTimeout)
		d.shared, err = store.OpenPostgres(octx, cfg.Storage.DSN, string(cfg.Storage.Password))
		cancel()
		if err != nil {
			return fmt.Errorf("open shared store (storage.dsn): %w", err)
		}
		// Closed after the outbox job has stopped (defers run last-in
		// first-out): closing releases the outbox lock for another instance.
		defer func() {
			if cerr := d.shared.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("close shared store: %w", cerr)
			}
		}()
		d.reg.MustRegister(collectors.NewDBStatsCollector(d.shared.W, "nymwatch_shared"))
	}
	d.fails = newFailureLog(d.log, storeErrorLogEvery, time.Now)
	d.write = newWriteCheck(d.db, time.Now, d.fails)
	d.ready.write = d.write
	d.ready.storeOpen.Store(true)
	d.lastEval.Store(time.Now().UnixNano()) // the watchdog's grace before the first evaluation

	if err := d.build(ctx, opts); err != nil {
		return err
	}

	// The public status page (status.listen) is stopped after the API.
	stopStatus, err := d.startStatusPage(cfg, opts.StatusStarted)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		stopStatus(sctx)
	}()

	mux := newMux(d.reg, &d.ready)
	mux.Handle("/", &d.app)
	srv := newHTTPServer(mux, d.log)
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSrv()
	srvErr := make(chan error, 1)
	go func() { srvErr <- serve(srvCtx, srv, ln) }()

	d.sched.Start()
	d.jobs.Start()
	d.log.Info("nymwatch is running", "listen", ln.Addr().String(), "store", cfg.Storage.Path)
	d.sdNotify(sdnotify.Ready)
	if opts.Started != nil {
		opts.Started(ln.Addr())
	}

	var watchdog <-chan time.Time
	if iv := d.notify.WatchdogInterval(); iv > 0 {
		t := time.NewTicker(iv / 2)
		defer t.Stop()
		watchdog = t.C
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-srvErr:
			// The server stopped on its own: nothing can reach the API any
			// more, so stop rather than run deaf.
			d.stop()
			return err
		case <-opts.Reload:
			d.reload(opts)
		case <-watchdog:
			if err := d.healthy(ctx); err != nil {
				d.log.Warn("not pinging the systemd watchdog: unhealthy", "err", err)
				continue
			}
			d.sdNotify(sdnotify.Watchdog)
		}
	}
	// Stop accepting work first (new requests, then probes and jobs), then
	// record what was observed, then close the stores (deferred). The HTTP
	// drain (shutdownTimeout) and stop (stopTimeout) together stay within
	// the unit's TimeoutStopSec.
	d.log.Info("stopping nymwatch")
	d.sdNotify(sdnotify.Stopping)
	d.ready.stopping.Store(true)
	stopSrv()
	if err := <-srvErr; err != nil {
		// Requests still running after the drain were cut off; that does
		// not make the stop itself fail.
		d.log.Warn("http server did not drain in time", "err", err)
	}
	d.stop()
	d.log.Info("nymwatch stopped")
	return nil
}

func (d *daemon) sdNotify(state string) {
	if err := d.notify.Notify(state); err != nil {
		d.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// build creates every component from the config and restores persisted
// state, in dependency order.
func (d *daemon) build(ctx context.Context, opts Options) error {
	cfg := d.cfg
	client, err := newDirectoryClient(cfg, d.log)
	if err != nil {
		return err
	}
	out, err := buildOutbound(cfg)
	if err != nil {
		return err
	}
	d.outbound.Store(out)
	d.disc, err = nymapi.NewDiscovery(nymapi.DiscoveryOptions{
		Fetcher:    client,
		Store:      nymapi.NewDirectoryStore(d.db, time.Now),
		Registerer: d.reg,
		Logger:     d.log,
	})
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}

	d.guard, err = authn.NewGuard(authn.GuardOptions{
		TrustedProxies: cfg.Web.TrustedProxyPrefixes(),
		Logger:         d.log.With("component", "auth"),
		Registerer:     d.reg,
	})
	if err != nil {
		return err
	}
	d.detM = detector.NewMetrics(d.reg)
	detOpts, err := d.detectorOptions(cfg)
	if err != nil {
		return err
	}
	d.det = detector.New(detOpts)
	d.cluster, err = cluster.New(d.clusterOptions(cfg))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	d.state = detectorstore.NewStateStore(d.db)
	snap, err := d.state.Load(ctx)
	if err != nil {
		return fmt.Errorf("load detector state: %w", err)
	}
	if !snap.Empty() {
		if err := d.det.Restore(snap); err != nil {
			return fmt.Errorf("restore detector state: %w", err)
		}
		d.log.Info("detector state restored", "saved_at", snap.SavedAt, "open_anomalies", len(d.det.Open()))
	}
	d.saver = detectorstore.NewStateSaver(d.det, d.state)

	pagers, err := buildPagers(cfg)
	if err != nil {
		return err
	}
	pagers = append(pagers, opts.ExtraPagers...)
	drafts := disclosure.NewStore(d.shared)
	d.outbox, err = disclosure.NewOutbox(d.shared, pagers, drafts, outboxOptions(cfg, d.apiBase), d.reg, d.log)
	if err != nil {
		return fmt.Errorf("page outbox: %w", err)
	}
	d.self = newSelfAlerts(cfg, pagers, d.reg, d.log)
	d.svc, err = disclosure.NewService(ctx, disclosure.ServiceOptions{
		DB:             d.shared,
		Pages:          d.outbox,
		GroupingWindow: cfg.Classification.GroupingWindow,
		Registerer:     d.reg,
		Logger:         d.log,
		Measured:       d.measured,
		Channels:       cfg.Disclosure.Channels,
	})
	if err != nil {
		return fmt.Errorf("incident service: %w", err)
	}
	d.maint = disclosure.NewMaintenance(d.shared)
	d.maintActive = newMaintenanceGauge(d.reg)
	d.loadMaintenance(ctx, time.Now().UTC())
	// Whatever was emitted but not recorded before the last stop, and
	// whatever the detector has open, is applied again: the incident store
	// upserts by anomaly id, so this is harmless when it was recorded.
	saved, err := loadPending(ctx, d.db)
	if err != nil {
		return err
	}
	d.pending.add(saved...)
	d.pending.add(d.det.Open()...)

	// The console is built once (its sessions and metrics outlive reloads);
	// a reload only changes who may use it.
	d.ui, err = webui.New(webui.Options{
		Service:       d.svc,
		OperatorToken: []byte(cfg.Auth.OperatorToken),
		PublicRead:    cfg.Web.PublicRead,
		ExternalURL:   cfg.Web.ExternalURL,
		Logger:        d.log.With("component", "webui"),
		Registerer:    d.reg,
		Maintenance:   d.maint,
		Guard:         d.guard,
	})
	if err != nil {
		return fmt.Errorf("web console: %w", err)
	}
	app, err := d.appHandler(cfg)
	if err != nil {
		return err
	}
	d.app.set(app)

	d.sched, err = probes.NewScheduler(probes.SchedulerOptions{
		Interval:         cfg.Probes.Interval,
		Timeout:          cfg.Probes.Timeout,
		Concurrency:      cfg.Probes.Concurrency,
		Prober:           probes.NewMulti(proberOptions(cfg)),
		KindIntervals:    probeSettings(cfg).KindIntervals,
		Sink:             d.det.Observe, // short and mutex-safe
		Logger:           d.log,
		Registerer:       d.reg,
		PerTargetMetrics: cfg.Probes.PerTargetMetrics,
	})
	if err != nil {
		return fmt.Errorf("probe scheduler: %w", err)
	}
	restored, err := d.disc.Restore(ctx)
	if err != nil {
		d.log.Warn("could not restore the last directory", "err", err)
	}
	if restored {
		dir := d.disc.Current()
		d.log.Info("probing the persisted directory until nym-api answers", "nodes", len(dir.Nodes), "fetched_at", dir.FetchedAt)
	}
	// Services and control targets are probed even before any directory.
	d.applyTargets(d.disc.Current())

	return d.startJobs(cfg)
}

func (d *daemon) startJobs(cfg *config.Config) error {
	var err error
	d.jobs, err = gocron.NewScheduler(gocron.WithLogger(gocronLogger{d.log}))
	if err != nil {
		return fmt.Errorf("job scheduler: %w", err)
	}
	// Every job is idempotent (gocron may run one twice at an instant) and
	// bounded by its own timeout; Reschedule drops a run that would overlap.
	single := gocron.WithSingletonMode(gocron.LimitModeReschedule)
	d.dirJob, err = d.jobs.NewJob(gocron.DurationJob(cfg.Network.RefreshInterval),
		gocron.NewTask(d.refreshDirectory), single,
		gocron.WithStartAt(gocron.WithStartImmediately()), gocron.WithName("directory"))
	if err != nil {
		return fmt.Errorf("directory job: %w", err)
	}
	d.evalJob, err = d.jobs.NewJob(gocron.DurationJob(evaluateEvery),
		gocron.NewTask(d.evaluate), single, gocron.WithName("evaluate"))
	if err != nil {
		return fmt.Errorf("evaluate job: %w", err)
	}
	if _, err = d.jobs.NewJob(gocron.DurationJob(outboxEvery),
		gocron.NewTask(d.tickOutbox), single, gocron.WithName("outbox")); err != nil {
		return fmt.Errorf("outbox job: %w", err)
	}
	// Its own job: an unreachable Alertmanager must not slow incident pages.
	if _, err = d.jobs.NewJob(gocron.DurationJob(outboxEvery),
		gocron.NewTask(d.tickSelfAlerts), single, gocron.WithName("self-alerts")); err != nil {
		return fmt.Errorf("self-alerts job: %w", err)
	}
	// Pulling peers' views is a no-op without peers; the job always exists
	// so that a reload can add peers.
	d.pullJob, err = d.jobs.NewJob(gocron.DurationJob(d.cluster.Interval()),
		gocron.NewTask(d.cluster.Tick), single,
		gocron.WithStartAt(gocron.WithStartImmediately()), gocron.WithName("cluster-pull"))
	if err != nil {
		return fmt.Errorf("cluster pull job: %w", err)
	}
	if _, err = d.jobs.NewJob(gocron.DurationJob(snapshotEvery),
		gocron.NewTask(d.saveState), single, gocron.WithName("snapshot")); err != nil {
		return fmt.Errorf("snapshot job: %w", err)
	}
	return nil
}

// refreshDirectory loads the directory from nym-api. A failure keeps the
// last good directory and is fed to the detector as a failed observation
// of the directory pseudo-service.
func (d *daemon) refreshDirectory(ctx context.Context) {
	defer d.ready.directoryDone.Store(true)
	cfg := d.config()
	start := time.Now().UTC()
	_, err := d.disc.Refresh(ctx)
	if ctx.Err() != nil {
		return // stopping or rescheduled: says nothing about nym-api
	}
	res := probes.Result{Target: directoryTarget(cfg), OK: err == nil, Latency: time.Since(start), At: start}
	if err != nil {
		// Discovery has logged and counted it
		// (nymwatch_directory_refreshes_total{result="failure"}).
		res.Reason, res.Detail = probes.Classify(err)
	}
	if d.config().Network.NymAPIURL != cfg.Network.NymAPIURL {
		return // a reload changed nym-api meanwhile: this result is about the old one
	}
	d.det.Observe(res)
	if err == nil {
		d.applyTargets(d.disc.Current())
	}
}

// applyTargets gives the scheduler and the detector the targets of dir
// plus the services and control targets of the current config (read under
// the lock, so a slow directory refresh cannot undo a reload).
func (d *daemon) applyTargets(dir nymapi.Directory) {
	d.targetsMu.Lock()
	defer d.targetsMu.Unlock()
	cfg := d.config()
	services, staging := serviceTargets(cfg)
	d.outbound.Load().withClients(cfg, services)
	next := probes.BuildTargets(dir.Nodes, services, cfg.ControlTargets, staging)
	diff := probes.DiffTargets(d.targets, next)
	d.targets = next
	d.sched.SetTargets(next)
	d.det.SetTargets(append(next[:len(next):len(next)], directoryTarget(cfg)))
	// SetTargets drops vanished nodes itself; services and control targets
	// removed from the config must be forgotten explicitly.
	var gone []string
	for _, t := range diff.Removed {
		if t.Kind == probes.KindService || t.Kind == probes.KindControl {
			gone = append(gone, t.ID)
		}
	}
	if len(gone) > 0 {
		d.det.Forget(gone)
	}
	if !diff.Empty() {
		d.log.Info("targets updated", "targets", len(next), "added", len(diff.Added), "removed", len(diff.Removed), "changed", len(diff.Changed))
	}
}

// evaluate asks the detector what changed and records it. An anomaly the
// store could not record stays pending and is retried with its newest
// version on the next run, so an emission is never lost.
func (d *daemon) evaluate(ctx context.Context) {
	d.evalMu.Lock()
	defer d.evalMu.Unlock()
	now := time.Now().UTC()
	d.loadMaintenance(ctx, now)
	d.emitMu.Lock()
	d.pending.add(d.det.Evaluate(now)...)
	d.emitMu.Unlock()
	d.lastEval.Store(now.UnixNano())
	batch := d.pending.batch()
	if len(batch) == 0 {
		d.m.pendingAnomaly.Set(0)
		return
	}
	actx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	for _, e := range batch {
		a := e.a
		if err := d.svc.ApplyAnomaly(actx, a, now); err != nil {
			d.m.applyErrors.Inc()
			// Rate-limited: with a full disk this fails for every pending
			// anomaly every second. It is retried on the next evaluation.
			d.fails.fail("record anomaly", err, "anomaly", a.ID, "class", a.Class)
			continue
		}
		d.fails.ok("record anomaly")
		d.log.Info("anomaly recorded", "anomaly", a.ID, "component", a.Component, "class", a.Class,
			"open", a.Open(), "first_seen", a.FirstSeen, "reason", a.Reason)
		d.pending.done(e)
	}
	d.m.pendingAnomaly.Set(float64(d.pending.len()))
}

func (d *daemon) tickOutbox(ctx context.Context) {
	tctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	now := time.Now().UTC()
	// Overdue follow-ups join the outbox before it delivers (info pages,
	// once a day each; docs/follow-ups.md).
	if _, err := d.svc.PageOverdueFollowUps(tctx, now); err != nil && ctx.Err() == nil {
		d.log.Warn("page overdue follow-ups", "err", err)
	}
	err := d.outbox.Tick(tctx, now)
	switch {
	case err != nil && ctx.Err() == nil:
		d.fails.fail("page outbox", err)
	case err == nil:
		d.fails.ok("page outbox")
	}
}

// saveState persists the detector's streaks and open anomalies so that a
// restart mid-outage keeps the same anomaly and first_seen.
func (d *daemon) saveState(ctx context.Context) {
	err := d.persist(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		d.m.snapshotErrors.Inc()
		d.fails.fail("save detector state", err)
	case err == nil:
		d.fails.ok("save detector state")
	}
}

// persist saves what changed in the detector and the emissions not yet
// recorded, taken at one instant: every change the saved state no longer
// shows as to be emitted is either recorded or in the pending list. Only
// the changed targets are copied under the detector's lock; they are
// encoded and written outside it.
func (d *daemon) persist(ctx context.Context) error {
	d.saveMu.Lock()
	defer d.saveMu.Unlock()
	now := time.Now().UTC()
	d.emitMu.Lock()
	ch, err := d.saver.Take(now)
	pending := d.pending.list()
	d.emitMu.Unlock()
	if err != nil {
		return fmt.Errorf("detector changes: %w", err)
	}
	b, err := json.Marshal(pending)
	if err != nil {
		d.det.Requeue(ch)
		return fmt.Errorf("encode pending anomalies: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	// One transaction: the changes and the emissions not yet recorded.
	if err := d.saver.SaveWith(sctx, ch, writePending(sctx, b, now)); err != nil {
		return fmt.Errorf("save detector state: %w", err)
	}
	return nil
}

// storeAlerts is the webhook's sink: the POST's alerts are durable (their
// own rows, not a snapshot of everything held) before Alertmanager gets
// its answer, then evaluated at once. saveMu orders these writes with the
// periodic snapshot, so the stored rows follow the detector's order. Alerts
// over alerts.max_firing come back as an *AlertsRejectedError (429).
func (d *daemon) storeAlerts(ctx context.Context, alerts []detector.Alert, at time.Time) error {
	alerts = d.withoutOwnAlerts(alerts)
	d.saveMu.Lock()
	ch := d.det.ObserveAlerts(alerts, at)
	sctx, cancel := context.WithTimeout(ctx, jobTimeout)
	err := d.state.SaveAlerts(sctx, ch)
	cancel()
	d.saveMu.Unlock()
	if err != nil {
		return err
	}
	if d.evalJob != nil {
		if err := d.evalJob.RunNow(); err != nil {
			d.log.Debug("immediate evaluation not started", "err", err)
		}
	}
	return ch.Err()
}

// healthy is the watchdog's check: the store takes a write (a ping alone
// passed with a read-only disk) and the probe scheduler and the evaluation
// loop are running.
func (d *daemon) healthy(ctx context.Context) error {
	if err := d.write.check(ctx); err != nil {
		return fmt.Errorf("store refuses writes: %w", err)
	}
	set := d.sched.Settings()
	if since := time.Since(d.sched.LastRun()); since > 3*set.Slice+time.Second {
		return fmt.Errorf("probe scheduler last ran %s ago", since.Round(time.Millisecond))
	}
	// An evaluation may legitimately wait jobTimeout on a slow store.
	if since := time.Since(time.Unix(0, d.lastEval.Load())); since > jobTimeout+10*evaluateEvery {
		return fmt.Errorf("detector last evaluated %s ago", since.Round(time.Millisecond))
	}
	// The shared PostgreSQL store is deliberately not checked: systemd
	// restarting every instance during a database outage would stop the
	// probing too. Anomalies queue and are retried meanwhile
	// (nymwatch_anomalies_pending, nymwatch_anomaly_store_errors_total).
	return nil
}

// stop shuts the pipeline down in order: no new probes or jobs, then a
// last evaluation and state save so nothing observed is lost.
func (d *daemon) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := d.jobs.Shutdown(); err != nil {
		d.log.Warn("job scheduler shutdown", "err", err)
	}
	if err := d.sched.Shutdown(ctx); err != nil {
		d.log.Warn("probe scheduler shutdown", "err", err)
	}
	d.evaluate(ctx)
	if err := d.persist(ctx); err != nil {
		d.log.Error("could not save detector state at shutdown", "err", err)
	}
}

func (d *daemon) config() *config.Config {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return d.cfg
}

// appHandler builds the token-dependent part of the router (API, webhook,
// cluster view, web console), so that a reload can swap it in whole.
func (d *daemon) appHandler(cfg *config.Config) (http.Handler, error) {
	mux := http.NewServeMux()
	api, err := disclosure.NewAPI(disclosure.APIOptions{
		Service:       d.svc,
		OperatorToken: []byte(cfg.Auth.OperatorToken),
		Logger:        d.log,
		ViewerToken:   []byte(cfg.Auth.ViewerToken),
		PublicRead:    cfg.Web.PublicRead,
		Guard:         d.guard,
	})
	if err != nil {
		return nil, fmt.Errorf("incident api: %w", err)
	}
	api.Register(mux)
	if err := d.registerMaintenance(mux, cfg); err != nil {
		return nil, err
	}
	d.cluster.Register(mux)
	d.ui.Register(mux)
	mux.Handle("/api/v1/alertmanager", alertwebhook.NewHandler(alertwebhook.Options{
		Token:        []byte(cfg.Auth.WebhookToken),
		Sink:         d.storeAlerts,
		Classify:     classifier(cfg),
		DefaultClass: detector.Class(cfg.Classification.DefaultAlertClass),
		Logger:       d.log,
		Metrics:      d.detM,
	}))
	return mux, nil
}

// clusterOptions are the vantage-point settings of cfg, fed by and feeding
// the detector.
func (d *daemon) clusterOptions(cfg *config.Config) cluster.Options {
	co := cluster.FromConfig(cfg)
	co.Source, co.Sink, co.Status = d.det, d.det, d.det
	co.Registerer = d.reg
	co.Logger = d.log.With("component", "cluster")
	co.Guard = d.guard
	return co
}

// swapHandler serves whichever handler was set last.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := s.h.Load()
	if p == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	(*p).ServeHTTP(w, r)
}

// gocronLogger adapts slog to gocron's logger interface.
type gocronLogger struct{ l *slog.Logger }

func (g gocronLogger) Debug(msg string, args ...any) { g.l.Debug(msg, args...) }
func (g gocronLogger) Info(msg string, args ...any)  { g.l.Debug(msg, args...) }
func (g gocronLogger) Warn(msg string, args ...any)  { g.l.Warn(msg, args...) }
func (g gocronLogger) Error(msg string, args ...any) { g.l.Error(msg, args...) }
