package disclosure

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/nymwatch/nymwatch/detector"
)

// metrics are refreshed from the store after every change, so Collect only
// reads cached values.
type incidentMetrics struct {
	incidents    *prometheus.GaugeVec
	confirmDelay prometheus.Histogram

	now         func() time.Time
	mu          sync.Mutex
	oldestDraft time.Time // since when the oldest draft waits (detected_at or reopening); zero if none
}

// validPairs are the (class, state) pairs an incident can be in; they are
// always exported (as 0 when empty) so dashboards see stable series.
func validPairs() [][2]string {
	pairs := [][2]string{{string(detector.ClassInternal), string(StateInternal)}}
	for _, c := range []detector.Class{detector.ClassSecurity, detector.ClassOperational} {
		for _, s := range []State{StateDraft, StateConfirmed, StateDismissed, StateResolved, StateClosed} {
			pairs = append(pairs, [2]string{string(c), string(s)})
		}
	}
	return pairs
}

func newIncidentMetrics(reg prometheus.Registerer, now func() time.Time) *incidentMetrics {
	f := promauto.With(reg)
	m := &incidentMetrics{now: now}
	m.incidents = f.NewGaugeVec(prometheus.GaugeOpts{
		Name: "nymwatch_incidents",
		Help: "Incidents recorded, by disclosure class and state.",
	}, []string{"class", "state"})
	m.confirmDelay = f.NewHistogram(prometheus.HistogramOpts{
		Name: "nymwatch_incident_confirmation_delay_seconds",
		Help: "Time from an incident's first_seen (users first experienced issues) to a human's confirmation.",
		// From a minute to two days: same-day disclosure is the policy's target.
		Buckets: []float64{60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 48 * 3600},
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nymwatch_draft_oldest_age_seconds",
		Help: "How long the oldest draft incident has been waiting for a human to confirm or dismiss it (0 if none).",
	}, m.oldestDraftAge)
	for _, p := range validPairs() {
		m.incidents.WithLabelValues(p[0], p[1]).Set(0)
	}
	return m
}

func (m *incidentMetrics) set(counts map[[2]string]int, oldestDraft time.Time) {
	for _, p := range validPairs() {
		m.incidents.WithLabelValues(p[0], p[1]).Set(float64(counts[p]))
	}
	m.mu.Lock()
	m.oldestDraft = oldestDraft
	m.mu.Unlock()
}

func (m *incidentMetrics) oldestDraftAge() float64 {
	m.mu.Lock()
	oldest := m.oldestDraft
	m.mu.Unlock()
	if oldest.IsZero() {
		return 0
	}
	return max(m.now().Sub(oldest).Seconds(), 0)
}
