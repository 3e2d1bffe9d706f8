package alertwebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/detectorstore"
	"github.com/nymwatch/nymwatch/internal/store"
)

// Moved with the handler from detector/alerts_bound_test.go.

var t0 = time.Date(2026, 5, 16, 11, 0, 0, 0, time.UTC)

func firingAlert(name string, labels map[string]string, start time.Time, c detector.Class) detector.Alert {
	l := map[string]string{"alertname": name}
	for k, v := range labels {
		l[k] = v
	}
	return detector.Alert{Status: detector.AlertFiring, Labels: l, StartsAt: start, Class: c, ClassSource: "label"}
}

// counter reads one labelled series of a counter from reg (the detector's
// metric fields are its own).
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// The webhook answers 429 when the sink refused alerts, says why and the
// limit, and counts them.
func TestWebhookTooManyAlerts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := detector.NewMetrics(reg)
	d := detector.New(detector.Options{AlertMaxFiring: 3, Metrics: m})
	h := NewHandler(Options{
		Sink: func(_ context.Context, alerts []detector.Alert, at time.Time) error {
			ch := d.ObserveAlerts(alerts, at)
			return ch.Err()
		},
		Now:     func() time.Time { return t0 },
		Metrics: m,
	})
	var as []map[string]any
	for i := range 5 {
		as = append(as, amAlert("firing", map[string]string{"alertname": "Busy", "i": fmt.Sprint(i)}, "2026-05-16T10:58:00Z", zeroTime, ""))
	}
	post := func() *httptest.ResponseRecorder {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/api/v1/alertmanager", bytes.NewReader(amPayload(as...))))
		return rr
	}
	rr := post()
	if rr.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d: %s", rr.Code, rr.Body)
	}
	var body struct {
		Error     string `json:"error"`
		MaxFiring int    `json:"max_firing"`
		Accepted  int    `json:"accepted"`
		Rejected  int    `json:"rejected"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.MaxFiring != 3 || body.Accepted != 3 || body.Rejected != 2 || !strings.Contains(body.Error, "alerts.max_firing = 3") {
		t.Errorf("body %+v", body)
	}
	post()
	if got := counter(t, reg, "nymwatch_alerts_rejected_total", "max_firing"); got != 4 {
		t.Errorf("nymwatch_alerts_rejected_total{reason=max_firing} = %v, want 4", got)
	}
	if got := counter(t, reg, "nymwatch_webhook_requests_total", "429"); got != 2 {
		t.Errorf("429 responses counted %v", got)
	}
	if n := len(d.Open()); n != 0 {
		t.Fatalf("anomalies before evaluate: %d", n)
	}
	if out := d.Evaluate(t0); len(out) != 1 || !strings.Contains(out[0].Title, "(3 alerts)") {
		t.Errorf("the accepted alerts were not kept: %+v", out)
	}
	if problems, err := testutil.GatherAndLint(reg, "nymwatch_alerts_rejected_total"); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestLogLimiter(t *testing.T) {
	var l logLimiter
	if n, ok := l.allow("x", 2, t0); !ok || n != 2 {
		t.Fatalf("first: %d %v", n, ok)
	}
	if _, ok := l.allow("x", 3, t0.Add(30*time.Second)); ok {
		t.Fatal("second line within a minute")
	}
	if _, ok := l.allow("y", 1, t0.Add(30*time.Second)); !ok {
		t.Fatal("another reason held back")
	}
	if n, ok := l.allow("x", 4, t0.Add(61*time.Second)); !ok || n != 7 {
		t.Fatalf("after a minute: %d %v, want 7 (3 held back + 4)", n, ok)
	}
}

// BenchmarkWebhookPost: the cost of a small POST (one firing alert, new
// each time) through the handler, the detector and the durable save, with
// 0 or 5,000 alerts already firing. It should not grow with what is held.
func BenchmarkWebhookPost(b *testing.B) {
	for _, held := range []int{0, 5000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "nymwatch.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ss := detectorstore.NewStateStore(db)
			d := detector.New(detector.Options{AlertMaxFiring: 10 * (held + b.N + 10)})
			sink := func(ctx context.Context, alerts []detector.Alert, at time.Time) error {
				if err := ss.SaveAlerts(ctx, d.ObserveAlerts(alerts, at)); err != nil {
					return err
				}
				return nil
			}
			var pre []detector.Alert
			for i := range held {
				pre = append(pre, firingAlert("Held", map[string]string{"instance": fmt.Sprint(i)}, t0, detector.ClassInternal))
			}
			if err := sink(context.Background(), pre, t0); err != nil {
				b.Fatal(err)
			}
			d.Evaluate(t0)
			h := NewHandler(Options{Sink: sink, Now: func() time.Time { return t0 }})
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = amPayload(amAlert("firing", map[string]string{"alertname": "Small", "n": fmt.Sprint(i)},
					"2026-05-16T10:58:00Z", zeroTime, ""))
			}
			b.ResetTimer()
			for i := range b.N {
				rr := httptest.NewRecorder()
				h.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, "/api/v1/alertmanager", bytes.NewReader(bodies[i])))
				if rr.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rr.Code, rr.Body)
				}
			}
		})
	}
}
