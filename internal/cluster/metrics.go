package cluster

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics: per-peer series are fine (peers are a handful, from config);
// reasons and codes are fixed sets. A nil Registerer registers nothing.
type metrics struct {
	peerUp     *prometheus.GaugeVec
	pullDur    *prometheus.HistogramVec
	pullErrors *prometheus.CounterVec
	requests   *prometheus.CounterVec
}

var servedCodes = []int{http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		peerUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nymwatch_cluster_peer_up",
			Help: "1 if the last pull of the peer's view succeeded, else 0.",
		}, []string{"peer"}),
		pullDur: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nymwatch_cluster_view_pull_duration_seconds",
			Help:    "Duration of pulls of a peer's view, successful or not.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"peer"}),
		pullErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_cluster_view_pull_errors_total",
			Help: "Failed pulls of a peer's view, by reason (timeout, connect, auth, status, too_large, invalid, version, instance, clock_skew).",
		}, []string{"peer", "reason"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_cluster_view_requests_total",
			Help: "Requests for this instance's view, by HTTP status code.",
		}, []string{"code"}),
	}
	for _, c := range servedCodes {
		m.requests.WithLabelValues(strconv.Itoa(c))
	}
	return m
}

func (m *metrics) addPeer(name string) {
	m.peerUp.WithLabelValues(name)
	m.pullDur.WithLabelValues(name)
	for _, r := range pullReasons {
		m.pullErrors.WithLabelValues(name, r)
	}
}

func (m *metrics) removePeer(name string) {
	m.peerUp.DeleteLabelValues(name)
	m.pullDur.DeleteLabelValues(name)
	for _, r := range pullReasons {
		m.pullErrors.DeleteLabelValues(name, r)
	}
}

func (m *metrics) pulled(peer string, d time.Duration, err error) {
	m.pullDur.WithLabelValues(peer).Observe(d.Seconds())
	if err == nil {
		m.peerUp.WithLabelValues(peer).Set(1)
		return
	}
	m.peerUp.WithLabelValues(peer).Set(0)
	reason := reasonConnect
	if pe, ok := errors.AsType[*PullError](err); ok {
		reason = pe.Reason
	}
	m.pullErrors.WithLabelValues(peer, reason).Inc()
}

func (m *metrics) served(code int) {
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}

// statusCollector exports the quorum state the detector computed at its
// last Evaluate (ClusterStatus copies cached state: cheap at scrape time).
type statusCollector struct {
	peersUp func() int
	src     StatusSource
}

var (
	descPeersUp = prometheus.NewDesc("nymwatch_cluster_peers_up",
		"Peers whose last pull succeeded.", nil, nil)
	descQuorum = prometheus.NewDesc("nymwatch_cluster_quorum",
		"Vantage points (this one included) that must see a target failing for it to count as failing.", nil, nil)
	descReporting = prometheus.NewDesc("nymwatch_cluster_vantage_points_reporting",
		"Vantage points (this one included) whose views count now; below nymwatch_cluster_quorum nothing can be confirmed.", nil, nil)
	descFailing = prometheus.NewDesc("nymwatch_cluster_quorum_failing_targets",
		"Targets failing by quorum.", nil, nil)
	descDisagree = prometheus.NewDesc("nymwatch_cluster_disagreeing_targets",
		"Targets a vantage point sees failing that too few others do (path problems), by vantage point.", []string{"vantage_point"}, nil)
	descWarming = prometheus.NewDesc("nymwatch_cluster_warming_up",
		"1 while the restored quorum state stands, waiting for the peers' first views after a start.", nil, nil)
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeersUp, descQuorum, descReporting, descFailing, descDisagree, descWarming} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descPeersUp, prometheus.GaugeValue, float64(c.peersUp()))
	if c.src == nil {
		return
	}
	s := c.src.ClusterStatus()
	if !s.Enabled {
		return
	}
	warming := 0.0
	if s.Warming {
		warming = 1
	}
	ch <- prometheus.MustNewConstMetric(descQuorum, prometheus.GaugeValue, float64(s.Quorum))
	ch <- prometheus.MustNewConstMetric(descReporting, prometheus.GaugeValue, float64(s.Reporting))
	ch <- prometheus.MustNewConstMetric(descFailing, prometheus.GaugeValue, float64(s.Failing))
	ch <- prometheus.MustNewConstMetric(descWarming, prometheus.GaugeValue, warming)
	for vp, n := range s.Disagreements {
		ch <- prometheus.MustNewConstMetric(descDisagree, prometheus.GaugeValue, float64(n), vp)
	}
}
