package detector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the detector's and the webhook's Prometheus metrics. Labels
// are bounded: class (3 values), component_kind (componentKinds), transition
// (3), result and code (small fixed sets). A nil *Metrics records nothing.
type Metrics struct {
	open            *prometheus.GaugeVec
	transitions     *prometheus.CounterVec
	delaySeconds    prometheus.Histogram
	webhookAlerts   *prometheus.CounterVec
	webhookRequests *prometheus.CounterVec
	rejected        *prometheus.CounterVec
	targets         *targetsCollector // nymwatch_targets, see targets_collector.go
}

var (
	allClasses     = []Class{ClassSecurity, ClassOperational, ClassInternal}
	componentKinds = []string{"entry_gateways", "exit_gateways", "mixnodes", "country", "service", "node",
		"standby", "vantage_point", "path", "alert"}
	transitionKinds = []string{"opened", "promoted", "resolved"}
	// Webhook alert results: accepted firing / resolved alerts, alerts in a
	// rejected payload, alerts the sink failed to store.
	webhookResults = []string{"firing", "resolved", "invalid", "sink_error"}
	webhookCodes   = []int{200, 400, 401, 405, 413, 415, 429, 503}
	// Why alerts were not kept: over alerts.max_firing (429), or in a
	// malformed payload (400).
	rejectReasons = []string{"max_firing", "invalid"}
)

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		open: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nymwatch_anomalies_open",
			Help: "Open anomalies by class and kind of component.",
		}, []string{"class", "component_kind"}),
		transitions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_anomaly_transitions_total",
			Help: "Anomalies opened, promoted (class raised while open) and resolved, by class.",
		}, []string{"class", "transition"}),
		delaySeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "nymwatch_detection_delay_seconds",
			Help:    "Time from an anomaly's first failing observation to its disclosable class decision (detected_at - first_seen).",
			Buckets: []float64{5, 15, 30, 60, 90, 120, 180, 300, 600, 1200, 3600},
		}),
		webhookAlerts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_webhook_alerts_total",
			Help: "Alertmanager alerts received, by result (firing, resolved, invalid, sink_error).",
		}, []string{"result"}),
		webhookRequests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_webhook_requests_total",
			Help: "Alertmanager webhook requests, by HTTP status code.",
		}, []string{"code"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_alerts_rejected_total",
			Help: "Alertmanager alerts not kept, by reason (max_firing: over alerts.max_firing, answered 429; invalid: in a malformed payload, answered 400).",
		}, []string{"reason"}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, c := range allClasses {
		for _, k := range componentKinds {
			m.open.WithLabelValues(string(c), k)
		}
		for _, t := range transitionKinds {
			m.transitions.WithLabelValues(string(c), t)
		}
	}
	for _, r := range webhookResults {
		m.webhookAlerts.WithLabelValues(r)
	}
	for _, c := range webhookCodes {
		m.webhookRequests.WithLabelValues(strconv.Itoa(c))
	}
	m.targets = newTargetsCollector()
	if reg != nil {
		reg.MustRegister(m.targets)
	}
	return m
}

func (m *Metrics) transition(c Class, t string) {
	if m == nil || !c.Valid() {
		return
	}
	m.transitions.WithLabelValues(string(c), t).Inc()
}

func (m *Metrics) delay(a *Anomaly) {
	if m == nil || a.FirstSeen.IsZero() || a.DetectedAt.Before(a.FirstSeen) {
		return
	}
	m.delaySeconds.Observe(a.DetectedAt.Sub(a.FirstSeen).Seconds())
}

// record sets the open gauge from the open anomalies (every combination is
// set, so a kind that closes goes to 0 rather than vanishing).
func (m *Metrics) record(open map[string]*anomState) {
	if m == nil {
		return
	}
	counts := map[[2]string]int{}
	for _, st := range open {
		counts[[2]string{string(st.A.Class), componentKind(st.A.Component)}]++
	}
	for _, c := range allClasses {
		for _, k := range componentKinds {
			m.open.WithLabelValues(string(c), k).Set(float64(counts[[2]string{string(c), k}]))
		}
	}
}

// ObserveWebhookRequest counts one webhook response by status code.
func (m *Metrics) ObserveWebhookRequest(code int) {
	if m == nil {
		return
	}
	m.webhookRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

// ObserveWebhookAlerts counts n webhook alerts by result.
func (m *Metrics) ObserveWebhookAlerts(result string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.webhookAlerts.WithLabelValues(result).Add(float64(n))
}

// ObserveAlertsRejected counts n refused alerts by reason.
func (m *Metrics) ObserveAlertsRejected(reason string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.rejected.WithLabelValues(reason).Add(float64(n))
}
