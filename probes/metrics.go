package probes

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metricKinds are pre-initialised in every per-kind series so that rate()
// and absent() work before the first failure.
var metricKinds = [...]Kind{KindNodeHTTP, KindMixPort, KindWSPort, KindService, KindControl, KindIdentity}

// metricReasons is the whole failure vocabulary (without ReasonNone).
var metricReasons = [...]Reason{
	ReasonRefused, ReasonTimeout, ReasonDNS, ReasonTLS, ReasonHTTPStatus,
	ReasonBadBody, ReasonUnhealthy, ReasonStale, ReasonSlow, ReasonNetwork,
	ReasonRedirect, ReasonPrivateAddress, ReasonIdentityMismatch, ReasonBadSignature,
	ReasonTLSUntrusted, ReasonTLSPinMismatch,
}

// probeMetrics are the scheduler's series. Labels are bounded by the Kind and
// Reason vocabularies, except target_up, which is opt-in.
type probeMetrics struct {
	probes     *prometheus.CounterVec
	failures   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	skipped    *prometheus.CounterVec
	targets    *prometheus.GaugeVec
	inFlight   prometheus.Gauge
	lastTick   prometheus.Gauge
	dispatched prometheus.Counter
	// targetUp is nil unless per-target metrics are enabled. It costs one
	// series per target: ~10k series at full network scale, each carrying
	// a target ID, so Prometheus memory grows with the network and series
	// churn with every directory change. Enable only for small deployments
	// or debugging; the detector already has per-target state.
	targetUp *prometheus.GaugeVec
	// lateness is how late each probe started against its slot: queueing
	// behind a saturated pool shows here before probes are skipped.
	lateness prometheus.Histogram
	// workers is probes.concurrency; workersNeeded the estimate from the
	// last interval (see Scheduler.closeWindowLocked), so an alert can
	// compare the two.
	workers       prometheus.Gauge
	workersNeeded prometheus.Gauge
}

func newProbeMetrics(reg prometheus.Registerer, perTarget bool) *probeMetrics {
	f := promauto.With(reg)
	m := &probeMetrics{
		probes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_probes_total",
			Help: "Probes completed, by target kind and result (ok|fail).",
		}, []string{"kind", "result"}),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_probe_failures_total",
			Help: "Failed probes, by target kind and reason.",
		}, []string{"kind", "reason"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nymwatch_probe_duration_seconds",
			Help:    "Duration of completed probes, by target kind.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_probes_skipped_total",
			Help: "Probes not started because the target's previous probe was still queued or running.",
		}, []string{"kind"}),
		targets: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nymwatch_probe_targets",
			Help: "Targets currently scheduled, by kind.",
		}, []string{"kind"}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_probes_in_flight",
			Help: "Probes queued or running.",
		}),
		lastTick: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_probe_scheduler_last_dispatch_timestamp_seconds",
			Help: "Unix time of the scheduler's last completed dispatch.",
		}),
		dispatched: f.NewCounter(prometheus.CounterOpts{
			Name: "nymwatch_probe_scheduler_dispatches_total",
			Help: "Scheduler dispatch rounds (one per interval slice).",
		}),
		lateness: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "nymwatch_probe_dispatch_lateness_seconds",
			Help:    "How late each probe started against the start of its slot in the interval.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		workers: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_probe_workers",
			Help: "Probe workers (probes.concurrency).",
		}),
		workersNeeded: f.NewGauge(prometheus.GaugeOpts{
			Name: "nymwatch_probe_workers_needed",
			Help: "Probe workers needed to probe every target every interval, with 50% headroom, estimated over the last interval.",
		}),
	}
	for _, k := range metricKinds {
		ks := string(k)
		m.probes.WithLabelValues(ks, "ok")
		m.probes.WithLabelValues(ks, "fail")
		m.skipped.WithLabelValues(ks)
		m.targets.WithLabelValues(ks)
		m.duration.WithLabelValues(ks)
		for _, r := range metricReasons {
			m.failures.WithLabelValues(ks, string(r))
		}
	}
	if perTarget {
		m.targetUp = f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nymwatch_target_up",
			Help: "1 if the target's last probe succeeded, else 0 (only with per-target metrics enabled).",
		}, []string{"target"})
	}
	return m
}

// observe records one completed probe.
func (m *probeMetrics) observe(r *Result) {
	kind := string(r.Target.Kind)
	m.duration.WithLabelValues(kind).Observe(r.Latency.Seconds())
	if r.OK {
		m.probes.WithLabelValues(kind, "ok").Inc()
	} else {
		m.probes.WithLabelValues(kind, "fail").Inc()
		m.failures.WithLabelValues(kind, failureReasonLabel(r.Reason)).Inc()
	}
	if m.targetUp != nil {
		v := 0.0
		if r.OK {
			v = 1
		}
		m.targetUp.WithLabelValues(r.Target.ID).Set(v)
	}
}

// failureReasonLabel keeps the reason label bounded even if a custom Prober
// returns a reason outside the vocabulary.
func failureReasonLabel(r Reason) string {
	for _, k := range metricReasons {
		if r == k {
			return string(r)
		}
	}
	return "other"
}
