package daemon

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/disclosure/page"
)

// newSelfAlerts builds the watchdog / monitoring-blind sender over the
// configured Alertmanager pagers (the others are ignored by it).
func newSelfAlerts(cfg *config.Config, pagers []page.Pager, reg prometheus.Registerer, log *slog.Logger) *disclosure.SelfAlerts {
	return disclosure.NewSelfAlerts(disclosure.SelfAlertsOptions{
		Pagers:         pagers,
		Instance:       selfInstance(cfg),
		Watchdog:       cfg.Pagers.Alertmanager.Watchdog,
		ResendInterval: cfg.Pagers.Alertmanager.ResendInterval,
		SendTimeout:    cfg.Pagers.Alertmanager.Timeout,
		Registerer:     reg,
		Logger:         log.With("component", "self-alerts"),
	})
}

// selfInstance names this nymwatch in its alerts about itself: its cluster
// name, else the host name, else the listen address.
func selfInstance(cfg *config.Config) string {
	if cfg.Cluster.Name != "" {
		return cfg.Cluster.Name
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return cfg.Listen
}

func (d *daemon) tickSelfAlerts(ctx context.Context) {
	tctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	st := disclosure.VantageFromCluster(d.det.ClusterStatus())
	if err := d.self.Tick(tctx, time.Now().UTC(), st); err != nil && ctx.Err() == nil {
		d.log.Debug("alerts about nymwatch itself not all delivered", "err", err)
	}
}

// withoutOwnAlerts drops nymwatch's own alerts coming back through the
// webhook (a route that sends everything to nymwatch): the watchdog and the
// blind alert never create an incident, and a page must not become an
// incident about itself.
func (d *daemon) withoutOwnAlerts(alerts []detector.Alert) []detector.Alert {
	n := len(alerts)
	alerts = slices.DeleteFunc(alerts, func(a detector.Alert) bool {
		switch a.Name() {
		case disclosure.WatchdogAlertName, disclosure.BlindAlertName, page.AlertName:
			return true
		}
		return false
	})
	if dropped := n - len(alerts); dropped > 0 {
		d.log.Debug("ignored nymwatch's own alerts received through the webhook", "count", dropped)
	}
	return alerts
}
