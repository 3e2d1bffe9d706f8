package disclosure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/nymwatch/nymwatch/detector"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// Alert names of nymwatch's operational alerts about itself. They are not
// disclosure pages: they never create an incident and never go through the
// outbox (each is rebuilt from the current state and re-sent every resend
// interval, so a lost send costs nothing).
const (
	// WatchdogAlertName is always firing while nymwatch runs: the dead
	// man's switch. Its silence (route it to a dead-man's-switch service)
	// says nymwatch, or its path to Alertmanager, is down.
	WatchdogAlertName = "NymwatchWatchdog"
	// BlindAlertName fires while fewer vantage points report than the
	// quorum: no target can be confirmed failing, so nothing would page.
	BlindAlertName = "NymwatchMonitoringBlind"
)

// VantageStatus is what the blind alert needs of the quorum's state.
type VantageStatus struct {
	Enabled   bool // several vantage points (cluster mode)
	Warming   bool // just started: peers' views not in yet
	Reporting int  // vantage points whose views count now, this one included
	Total     int  // configured vantage points, this one included
	Quorum    int
}

// VantageFromCluster maps the detector's cluster status.
func VantageFromCluster(s detector.ClusterStatus) VantageStatus {
	return VantageStatus{Enabled: s.Enabled, Warming: s.Warming, Reporting: s.Reporting, Total: 1 + len(s.Peers), Quorum: s.Quorum}
}

// Blind reports whether too few vantage points report to reach the quorum.
func (v VantageStatus) Blind() bool {
	return v.Enabled && !v.Warming && v.Reporting < v.Quorum
}

// SelfAlertsOptions configure NewSelfAlerts.
type SelfAlertsOptions struct {
	// Pagers are the Alertmanager pagers (one per cluster member); other
	// kinds of pager are ignored.
	Pagers []page.Pager
	// Instance identifies this nymwatch in the alerts' instance label (the
	// cluster name of this vantage point, or the host name).
	Instance string
	// Watchdog: keep the always-firing NymwatchWatchdog alert.
	Watchdog bool
	// ResendInterval: how often the firing alerts are re-sent, endsAt 4
	// intervals ahead (default DefaultPagerResendInterval).
	ResendInterval time.Duration
	// SendTimeout bounds one send (default 10s).
	SendTimeout time.Duration
	Registerer  prometheus.Registerer
	Logger      *slog.Logger
}

// SelfAlerts keeps nymwatch's alerts about itself in every Alertmanager:
// the watchdog, and the monitoring-blind warning in cluster mode.
type SelfAlerts struct {
	pagers   []page.Pager
	instance string
	watchdog bool
	resend   time.Duration
	timeout  time.Duration
	log      *slog.Logger
	sent     *prometheus.CounterVec
	failed   *prometheus.CounterVec
	blindG   prometheus.Gauge

	mu         sync.Mutex
	started    time.Time // startsAt of the watchdog
	lastSent   map[string]time.Time
	blindSince time.Time       // zero while not blind
	blindMsg   string          // the description last sent
	blindEnd   map[string]bool // pagers that still need the blind alert's end
	blindStart time.Time       // startsAt of the blind alert being ended
}

// NewSelfAlerts builds the sender; with no Alertmanager pager it sends
// nothing.
func NewSelfAlerts(opts SelfAlertsOptions) *SelfAlerts {
	s := &SelfAlerts{
		instance: opts.Instance,
		watchdog: opts.Watchdog,
		resend:   pagerDurOr(opts.ResendInterval, page.DefaultResendInterval),
		timeout:  pagerDurOr(opts.SendTimeout, 10*time.Second),
		log:      opts.Logger,
		lastSent: map[string]time.Time{},
		blindEnd: map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range opts.Pagers {
		if p != nil && page.KindOf(p) == "alertmanager" {
			s.pagers = append(s.pagers, p)
		}
	}
	f := promauto.With(opts.Registerer)
	s.sent = f.NewCounterVec(prometheus.CounterOpts{
		Name: "nymwatch_self_alerts_sent_total",
		Help: "Alerts about nymwatch itself (watchdog, monitoring blind) delivered to Alertmanager, by alertname.",
	}, []string{"alertname"})
	s.failed = f.NewCounterVec(prometheus.CounterOpts{
		Name: "nymwatch_self_alerts_failed_total",
		Help: "Failed deliveries of alerts about nymwatch itself, by alertname; they are re-sent at the next resend interval.",
	}, []string{"alertname"})
	s.blindG = f.NewGauge(prometheus.GaugeOpts{
		Name: "nymwatch_monitoring_blind",
		Help: "1 while fewer vantage points report than the quorum (cluster mode), 0 otherwise.",
	})
	for _, n := range []string{WatchdogAlertName, BlindAlertName} {
		s.sent.WithLabelValues(n)
		s.failed.WithLabelValues(n)
	}
	return s
}

// Tick sends what is due at now for vantage status v: the firing alerts
// once per resend interval per pager, at once when the blind state changes,
// and the blind alert's end (retried each tick until delivered) when the
// quorum is back. It is meant to run every second or so, apart from the
// outbox (an unreachable Alertmanager must not slow incident paging).
func (s *SelfAlerts) Tick(ctx context.Context, now time.Time, v VantageStatus) error {
	if len(s.pagers) == 0 {
		return nil
	}
	now = now.UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started.IsZero() {
		s.started = now
	}
	blind := v.Blind()
	msg := ""
	changed := false
	if blind {
		s.blindG.Set(1)
		msg = fmt.Sprintf("monitoring blind: only %d of %d vantage points reporting, quorum %d", v.Reporting, v.Total, v.Quorum)
		if s.blindSince.IsZero() {
			s.blindSince = now
			clear(s.blindEnd)
			s.log.Warn("paging: "+msg, "instance", s.instance)
		}
		changed = msg != s.blindMsg
		s.blindMsg = msg
	} else {
		s.blindG.Set(0)
		if !s.blindSince.IsZero() {
			s.log.Info("monitoring no longer blind: quorum reached again", "reporting", v.Reporting, "quorum", v.Quorum, "instance", s.instance)
			for _, p := range s.pagers {
				s.blindEnd[p.Name()] = true
			}
			s.blindStart, s.blindSince, s.blindMsg = s.blindSince, time.Time{}, ""
		}
	}
	var errs []error
	for _, p := range s.pagers {
		name := p.Name()
		if s.blindEnd[name] {
			if err := s.send(ctx, p, s.blindPage(now, s.blindStart, "", true)); err == nil {
				delete(s.blindEnd, name)
			} else {
				errs = append(errs, err)
			}
		}
		last, ok := s.lastSent[name]
		if ok && now.Sub(last) < s.resend && !changed {
			continue
		}
		var pages []page.Page
		if s.watchdog {
			pages = append(pages, s.watchdogPage(now))
		}
		if blind {
			pages = append(pages, s.blindPage(now, s.blindSince, msg, false))
		}
		ok = true
		for _, pg := range pages {
			if err := s.send(ctx, p, pg); err != nil {
				ok = false
				errs = append(errs, err)
			}
		}
		if ok {
			s.lastSent[name] = now
		}
	}
	return errors.Join(errs...)
}

func (s *SelfAlerts) send(ctx context.Context, p page.Pager, pg page.Page) error {
	sctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	alert := pg.Labels["alertname"]
	if err := p.Send(sctx, pg); err != nil {
		s.failed.WithLabelValues(alert).Inc()
		s.log.Warn("alert about nymwatch itself not delivered; re-sent later", "alertname", alert, "pager", p.Name(), "err", err)
		return fmt.Errorf("self alert %s to %s: %w", alert, p.Name(), err)
	}
	s.sent.WithLabelValues(alert).Inc()
	return nil
}

func (s *SelfAlerts) labels(alertname, severity string) map[string]string {
	l := map[string]string{"alertname": alertname, "severity": severity, "service": "nymwatch"}
	if s.instance != "" {
		l["instance"] = s.instance
	}
	return l
}

func (s *SelfAlerts) watchdogPage(now time.Time) page.Page {
	return page.Page{
		Key:    "self/watchdog",
		Labels: s.labels(WatchdogAlertName, "none"),
		Annot: map[string]string{
			"summary": "nymwatch is running and can reach this Alertmanager (dead man's switch)",
			"description": "This alert always fires while nymwatch runs; it is re-sent every " + s.resend.String() +
				". Route it to a dead-man's-switch service: its silence means nymwatch, or its path to Alertmanager, is down, and nothing it watches would be paged.",
		},
		StartsAt:  s.started,
		EndsAt:    now.Add(page.LifetimeResends * s.resend),
		CreatedAt: now,
	}
}

func (s *SelfAlerts) blindPage(now, since time.Time, msg string, ended bool) page.Page {
	pg := page.Page{
		Key:    "self/blind",
		Labels: s.labels(BlindAlertName, page.SeverityWarning),
		Annot: map[string]string{
			"summary":     "nymwatch " + msg,
			"description": msg + ". No target can reach the quorum: failures are recorded as unconfirmed and nothing is paged for disclosure until enough vantage points report again. Check the other vantage points (nymwatch_cluster_* metrics, the log) and the network between them.",
		},
		StartsAt:  since,
		EndsAt:    now.Add(page.LifetimeResends * s.resend),
		CreatedAt: now,
	}
	if ended {
		pg.Resolved = true
		pg.EndsAt = now
		pg.Annot = map[string]string{"summary": "nymwatch monitoring no longer blind: the quorum of vantage points reports again"}
		if pg.StartsAt.IsZero() || pg.StartsAt.After(now) {
			pg.StartsAt = now
		}
	}
	return pg
}
