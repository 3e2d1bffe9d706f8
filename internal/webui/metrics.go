package webui

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the console's: logins by result (3 values) and the number of
// live sessions. Nothing is labelled per incident, path or client.
type metrics struct {
	logins *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *sessions) (*metrics, error) {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_web_logins_total",
			Help: "Logins to the web console by result (success, failure, throttled).",
		}, []string{"result"}),
	}
	for _, r := range []string{"success", "failure", "throttled"} {
		m.logins.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	sessionsGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nymwatch_web_sessions",
		Help: "Live web console sessions.",
	}, func() float64 { return float64(s.count()) })
	for _, c := range []prometheus.Collector{m.logins, sessionsGauge} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webui: register metrics: %w", err)
		}
	}
	return m, nil
}
