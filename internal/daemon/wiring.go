package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/prometheus/common/version"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/disclosure/page"
	"github.com/nymwatch/nymwatch/internal/cluster"
	"github.com/nymwatch/nymwatch/internal/sdnotify"
	"github.com/nymwatch/nymwatch/probes"
	"github.com/nymwatch/nymwatch/probes/nymapi"
)

func userAgent() string { return "nymwatch/" + version.Version }

// detectorOptions maps the classification.* and probes.* keys onto the
// detector's thresholds.
func detectorOptions(cfg *config.Config) detector.Options {
	c := cfg.Classification
	return detector.Options{
		FailureThreshold:           cfg.Probes.FailureThreshold,
		RecoveryThreshold:          cfg.Probes.RecoveryThreshold,
		FlapTransitions:            c.Flapping.Transitions,
		FlapWindow:                 c.Flapping.Window,
		GatewayFailureRatio:        c.GatewayFailureRatio,
		MinFailingGateways:         c.MinFailingGateways,
		MixnodeFailureRatio:        c.MixnodeFailureRatio,
		CountryFailureRatio:        c.CountryFailureRatio,
		CountryMinNodes:            c.CountryMinNodes,
		ServiceFailureFor:          c.ServiceFailureFor,
		DegradationSustain:         c.Degradation.Sustain,
		BaselineWindow:             c.Degradation.BaselineWindow,
		SuccessRatioDrop:           c.Degradation.SuccessRatioDrop,
		LatencyFactor:              c.Degradation.LatencyFactor,
		VantageControlFailureRatio: c.Vantage.ControlFailureRatio,
		VantageNetworkFailureRatio: c.Vantage.NetworkFailureRatio,
		Cluster:                    cluster.DetectorOptions(cfg),
		PromotionLookback:          c.PromotionLookback,
		AlertMaxFiring:             cfg.Alerts.MaxFiring,
		AlertMaxGroups:             cfg.Alerts.MaxGroups,
	}
}

// detectorOptions are cfg's validated detector options, reporting into the
// daemon's detector metrics.
func (d *daemon) detectorOptions(cfg *config.Config) (detector.Options, error) {
	o := detectorOptions(cfg)
	o.Metrics = d.detM
	if err := o.Validate(); err != nil {
		return o, fmt.Errorf("detector: %w", err)
	}
	return o, nil
}

func classifier(cfg *config.Config) func(map[string]string) (detector.Class, bool) {
	c := cfg.Classification
	return func(labels map[string]string) (detector.Class, bool) {
		class, ok := c.ClassFor(labels)
		return detector.Class(class), ok
	}
}

func proberOptions(cfg *config.Config) probes.ProberOptions {
	return probes.ProberOptions{
		SourceAddr:   net.ParseIP(cfg.Probes.SourceAddress),
		UserAgent:    userAgent(),
		AllowPrivate: cfg.Network.AllowPrivateAddresses,
	}
}

func probeSettings(cfg *config.Config) probes.Settings {
	return probes.Settings{Interval: cfg.Probes.Interval, Timeout: cfg.Probes.Timeout, Concurrency: cfg.Probes.Concurrency,
		KindIntervals: map[probes.Kind]time.Duration{probes.KindIdentity: cfg.Probes.IdentityInterval}}
}

func newDirectoryClient(cfg *config.Config, log *slog.Logger) (*nymapi.DirectoryClient, error) {
	// One fetch, retries included, must end before the next one is due.
	timeout := min(cfg.Network.RefreshInterval, nymapi.DefaultDirectoryTimeout)
	hc, err := outboundHTTPClient(&cfg.Network.HTTPConfig, "nym-api-directory")
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	c, err := nymapi.NewDirectoryClient(nymapi.DirectoryClientOptions{
		BaseURL:    cfg.Network.NymAPIURL,
		Timeout:    timeout,
		Logger:     log,
		UserAgent:  userAgent(),
		HTTPClient: hc,
	})
	if err != nil {
		return nil, fmt.Errorf("directory client: %w", err)
	}
	return c, nil
}

// serviceTargets converts services[] and marks staging targets: staging
// node ids/identities from network.staging_nodes and services with
// staging: true.
func serviceTargets(cfg *config.Config) ([]probes.Service, map[string]bool) {
	staging := make(map[string]bool, len(cfg.Network.StagingNodes))
	for _, n := range cfg.Network.StagingNodes {
		staging[n] = true
	}
	services := make([]probes.Service, 0, len(cfg.Services))
	for _, s := range cfg.Services {
		services = append(services, probes.Service{Name: s.Name, URL: s.URL, Kind: s.Kind, LatencyThreshold: s.LatencyThreshold,
			TLSPinSHA256: slices.Clone(s.TLSPinSHA256)})
		if s.Staging {
			staging[s.Name] = true
		}
	}
	return services, staging
}

func directoryTarget(cfg *config.Config) *probes.Target {
	return &probes.Target{
		ID:      DirectoryTargetID,
		Kind:    probes.KindService,
		Address: cfg.Network.NymAPIURL,
		Service: &probes.Service{Name: "nym-api-directory", URL: cfg.Network.NymAPIURL, Kind: probes.ServiceKindNymAPI},
	}
}

func buildPagers(cfg *config.Config) ([]page.Pager, error) {
	opts := page.HTTPOptions{UserAgent: userAgent()}
	var pagers []page.Pager
	for i, u := range cfg.AlertmanagerURLs() {
		// One client per member: retryablehttp closes its client's idle
		// connections after a failure, which must not hit the others.
		amOpts := opts
		c, err := outboundHTTPClient(&cfg.Pagers.Alertmanager.HTTPConfig, "alertmanager")
		if err != nil {
			return nil, fmt.Errorf("pagers.alertmanager: %w", err)
		}
		amOpts.Client = c
		am, err := page.NewAlertmanagerPager(u, amOpts)
		if err != nil {
			return nil, fmt.Errorf("pagers.alertmanager: alertmanager url %d: %w", i, err)
		}
		pagers = append(pagers, am)
	}
	if u := cfg.Pagers.Webhook.URL; u != "" {
		whOpts := opts
		c, err := outboundHTTPClient(&cfg.Pagers.Webhook.HTTPConfig, "webhook")
		if err != nil {
			return nil, fmt.Errorf("pagers.webhook: %w", err)
		}
		whOpts.Client = c
		wh, err := page.NewWebhookPager(u, nil, whOpts)
		if err != nil {
			return nil, fmt.Errorf("pagers.webhook: %w", err)
		}
		pagers = append(pagers, wh)
	}
	return pagers, nil
}

func outboxOptions(cfg *config.Config, apiBase string) disclosure.OutboxOptions {
	return disclosure.OutboxOptions{
		ExternalURL:      cfg.Web.ExternalURL,
		APIBaseURL:       apiBase,
		ResendInterval:   cfg.Pagers.Alertmanager.ResendInterval,
		EscalationDelays: cfg.Pagers.Escalation,
		MaxAge:           cfg.Pagers.OutboxMaxAge,
		SendTimeout:      cfg.Pagers.Alertmanager.Timeout,
	}
}

// reload loads the config again and applies it without a restart. An
// invalid config is rejected whole: the old one stays in force and
// nymwatch_config_last_reload_successful drops to 0.
func (d *daemon) reload(opts Options) {
	load := opts.LoadConfig
	if load == nil && opts.ConfigPath != "" {
		load = func() (*config.Config, error) { return config.Load(opts.ConfigPath) }
	}
	if load == nil {
		d.log.Warn("reload requested but there is no config file to reload")
		return
	}
	d.sdNotify(sdnotify.ReloadingState())
	defer d.sdNotify(sdnotify.Ready)
	next, err := load()
	if err == nil {
		err = d.apply(next)
	}
	if err != nil {
		d.m.reloadOK.Set(0)
		d.log.Error("config reload failed; keeping the running config", "file", opts.ConfigPath, "err", err)
		return
	}
	d.m.reloadOK.Set(1)
	d.m.reloadTime.SetToCurrentTime()
	d.log.Info("config reloaded", "file", opts.ConfigPath)
	logWarnings(d.log, d.config())
}

// apply swaps in a validated config. Settings that need the process to
// restart (listen address, storage, pagers) keep their running values,
// with a warning; everything else takes effect at once, keeping every
// target's history and every open anomaly.
func (d *daemon) apply(next *config.Config) error {
	cur := d.config()
	next = cloneConfig(next)
	keepRunning(d, cur, next)

	// Everything that can fail runs before anything changes, so a failed
	// reload leaves the running config whole.
	detOpts, err := d.detectorOptions(next)
	if err != nil {
		return err
	}
	var client *nymapi.DirectoryClient
	if next.Network.NymAPIURL != cur.Network.NymAPIURL || !reflect.DeepEqual(next.Network.HTTPConfig, cur.Network.HTTPConfig) {
		c, err := newDirectoryClient(next, d.log)
		if err != nil {
			return err
		}
		client = c
	}
	app, err := d.appHandler(next)
	if err != nil {
		return err
	}
	out, err := buildOutbound(next)
	if err != nil {
		return err
	}
	oldPull := d.cluster.Interval()
	co := d.clusterOptions(next)
	co.Registerer = nil // registered once, at start
	// Reconfigure changes nothing when it fails.
	if err := d.cluster.Reconfigure(co); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := d.sched.Reconfigure(probeSettings(next)); err != nil {
		_ = d.cluster.Reconfigure(d.clusterOptions(cur)) // back to what runs
		return err
	}

	// From here on nothing is refused: the new config is in force.
	d.cfgMu.Lock()
	d.cfg = next
	d.outbound.Store(out) // with cfg: applyTargets below gives services their clients
	d.cfgMu.Unlock()
	d.det.Reconfigure(detOpts)
	d.ui.SetAccess([]byte(next.Auth.OperatorToken), next.Web.PublicRead)
	d.guard.SetTrustedProxies(next.Web.TrustedProxyPrefixes())
	d.app.set(app)
	if client != nil {
		if err := d.disc.SetFetcher(client); err != nil {
			d.log.Error("directory client not replaced; still reading the old nym_api_url", "err", err)
		}
	}
	if next.Network.RefreshInterval != cur.Network.RefreshInterval {
		if _, err := d.jobs.Update(d.dirJob.ID(), gocron.DurationJob(next.Network.RefreshInterval),
			gocron.NewTask(d.refreshDirectory), gocron.WithSingletonMode(gocron.LimitModeReschedule),
			gocron.WithName("directory")); err != nil {
			d.log.Error("directory refresh interval not changed", "err", err)
		}
	}
	if iv := d.cluster.Interval(); iv != oldPull {
		if _, err := d.jobs.Update(d.pullJob.ID(), gocron.DurationJob(iv), gocron.NewTask(d.cluster.Tick),
			gocron.WithSingletonMode(gocron.LimitModeReschedule), gocron.WithName("cluster-pull")); err != nil {
			d.log.Error("cluster pull interval not changed", "err", err)
		}
	}
	d.applyTargets(d.disc.Current())
	return nil
}

// keepRunning puts back, into next, the settings only a restart can apply,
// and says so.
func keepRunning(d *daemon, cur, next *config.Config) {
	var changed []string
	if next.Listen != cur.Listen {
		changed = append(changed, "listen")
		next.Listen = cur.Listen
	}
	if !reflect.DeepEqual(next.Storage, cur.Storage) {
		changed = append(changed, "storage")
		next.Storage = cur.Storage
	}
	if !reflect.DeepEqual(next.Pagers, cur.Pagers) {
		changed = append(changed, "pagers")
		next.Pagers = cur.Pagers
	}
	if next.Web.ExternalURL != cur.Web.ExternalURL {
		changed = append(changed, "web.external_url")
		next.Web.ExternalURL = cur.Web.ExternalURL
	}
	if next.Classification.GroupingWindow != cur.Classification.GroupingWindow {
		changed = append(changed, "classification.grouping_window")
		next.Classification.GroupingWindow = cur.Classification.GroupingWindow
	}
	if next.Probes.SourceAddress != cur.Probes.SourceAddress {
		changed = append(changed, "probes.source_address")
		next.Probes.SourceAddress = cur.Probes.SourceAddress
	}
	if next.Probes.PerTargetMetrics != cur.Probes.PerTargetMetrics {
		changed = append(changed, "probes.per_target_metrics")
		next.Probes.PerTargetMetrics = cur.Probes.PerTargetMetrics
	}
	if next.Network.AllowPrivateAddresses != cur.Network.AllowPrivateAddresses {
		// The probers' dialers are built once, at start.
		changed = append(changed, "network.allow_private_addresses")
		next.Network.AllowPrivateAddresses = cur.Network.AllowPrivateAddresses
	}
	if next.Status != cur.Status {
		// The status page's listener is started once (issue 12.5).
		changed = append(changed, "status")
		next.Status = cur.Status
	}
	if len(changed) > 0 {
		d.log.Warn("some changed settings take effect only at the next restart; running values kept", "keys", changed)
	}
}

// cloneConfig copies the parts apply may overwrite, so the caller's value
// is never mutated.
func cloneConfig(c *config.Config) *config.Config {
	n := *c
	return &n
}
