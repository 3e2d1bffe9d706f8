package detector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	nwtest "github.com/nymwatch/nymwatch/internal/testutil"
)

// The webhook's HTTP tests live with the handler in internal/alertwebhook;
// these builders (the shared test bodies of internal/testutil) serve the
// decoding tests that stay here.
func amPayload(alerts ...map[string]any) []byte { return nwtest.AMPayload(alerts...) }

func amAlert(status string, labels map[string]string, startsAt, endsAt string, fp string) map[string]any {
	return nwtest.AMAlert(status, labels, startsAt, endsAt, fp)
}

const zeroTime = nwtest.AMZeroTime

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h := newHarness(t, Options{Metrics: m}, gateways(100, 20, "exit_gateway", "FR"))
	h.rounds(2, allUp)
	h.rounds(3, failing(nid(100)))
	open := func(c Class, k string) float64 { return testutil.ToFloat64(m.open.WithLabelValues(string(c), k)) }
	if open(ClassInternal, "exit_gateways") != 1 {
		t.Fatal("internal exit anomaly not counted open")
	}
	h.rounds(3, failing(nids(100, 101, 102)...))
	if open(ClassInternal, "exit_gateways") != 0 || open(ClassOperational, "exit_gateways") != 1 {
		t.Fatal("promotion not reflected in the open gauge")
	}
	h.rounds(2, allUp)
	if open(ClassOperational, "exit_gateways") != 0 {
		t.Fatal("resolved still counted open")
	}
	tr := func(c Class, k string) float64 {
		return testutil.ToFloat64(m.transitions.WithLabelValues(string(c), k))
	}
	if tr(ClassInternal, "opened") != 1 || tr(ClassOperational, "promoted") != 1 || tr(ClassOperational, "resolved") != 1 {
		t.Errorf("transitions opened %v promoted %v resolved %v", tr(ClassInternal, "opened"),
			tr(ClassOperational, "promoted"), tr(ClassOperational, "resolved"))
	}
	// One disclosable decision: the promotion, 2m31s after first_seen.
	want := `
# HELP nymwatch_detection_delay_seconds Time from an anomaly's first failing observation to its disclosable class decision (detected_at - first_seen).
# TYPE nymwatch_detection_delay_seconds histogram
nymwatch_detection_delay_seconds_bucket{le="5"} 0
nymwatch_detection_delay_seconds_bucket{le="15"} 0
nymwatch_detection_delay_seconds_bucket{le="30"} 0
nymwatch_detection_delay_seconds_bucket{le="60"} 0
nymwatch_detection_delay_seconds_bucket{le="90"} 0
nymwatch_detection_delay_seconds_bucket{le="120"} 0
nymwatch_detection_delay_seconds_bucket{le="180"} 1
nymwatch_detection_delay_seconds_bucket{le="300"} 1
nymwatch_detection_delay_seconds_bucket{le="600"} 1
nymwatch_detection_delay_seconds_bucket{le="1200"} 1
nymwatch_detection_delay_seconds_bucket{le="3600"} 1
nymwatch_detection_delay_seconds_bucket{le="+Inf"} 1
nymwatch_detection_delay_seconds_sum 151
nymwatch_detection_delay_seconds_count 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nymwatch_detection_delay_seconds"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	// Bounded cardinality: 3 classes × 10 kinds, whatever the node count.
	if n := testutil.CollectAndCount(m.open); n != 30 {
		t.Errorf("open gauge has %d series", n)
	}
}
