package daemon

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/disclosure"
)

// maintenanceLoadTimeout bounds one read of the windows before an
// evaluation: a slow database must not hold the detector back.
const maintenanceLoadTimeout = 2 * time.Second

// loadMaintenance (under evalMu, or before the jobs start) hands the detector the current maintenance windows. On
// a read error the detector keeps the windows it had: a database hiccup
// neither starts paging for a declared window nor hides anything new.
func (d *daemon) loadMaintenance(ctx context.Context, now time.Time) {
	lctx, cancel := context.WithTimeout(ctx, maintenanceLoadTimeout)
	defer cancel()
	ws, err := d.maint.ForDetector(lctx, now)
	if err != nil {
		// One line a minute at most: this runs every evaluation.
		if ctx.Err() == nil && now.Sub(d.maintErrLast) >= time.Minute {
			d.maintErrLast = now
			d.log.Error("could not read maintenance windows; keeping the last known ones", "err", err)
		}
		return
	}
	d.det.SetMaintenance(ws)
	active := 0
	for _, w := range ws {
		if !now.Before(w.Start) && now.Before(w.End) {
			active++
		}
	}
	d.maintActive.Set(float64(active))
}

func newMaintenanceGauge(reg prometheus.Registerer) prometheus.Gauge {
	return promauto.With(reg).NewGauge(prometheus.GaugeOpts{
		Name: "nymwatch_maintenance_windows_active",
		Help: "Maintenance windows in force: failures they match are recorded as internal and not paged (never security).",
	})
}

// registerMaintenance mounts the maintenance API (operator token).
func (d *daemon) registerMaintenance(mux *http.ServeMux, cfg *config.Config) error {
	api, err := disclosure.NewMaintenanceAPI(disclosure.MaintenanceAPIOptions{
		Maintenance:   d.maint,
		OperatorToken: []byte(cfg.Auth.OperatorToken),
		Guard:         d.guard,
		Logger:        d.log,
	})
	if err != nil {
		return fmt.Errorf("maintenance api: %w", err)
	}
	api.Register(mux)
	return nil
}
