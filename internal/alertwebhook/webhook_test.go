package alertwebhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/detector"
	nwtest "github.com/nymwatch/nymwatch/internal/testutil"
)

// The webhook bodies are the shared test ones (internal/testutil).
func amPayload(alerts ...map[string]any) []byte { return nwtest.AMPayload(alerts...) }

func amAlert(status string, labels map[string]string, startsAt, endsAt string, fp string) map[string]any {
	return nwtest.AMAlert(status, labels, startsAt, endsAt, fp)
}

const zeroTime = nwtest.AMZeroTime

type sinkRecorder struct {
	mu    sync.Mutex
	calls [][]detector.Alert
	at    []time.Time
	err   error
}

func (s *sinkRecorder) sink(_ context.Context, alerts []detector.Alert, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.calls = append(s.calls, alerts)
	s.at = append(s.at, at)
	return nil
}

func TestWebhook(t *testing.T) {
	received := time.Date(2026, 5, 16, 12, 0, 0, 0, time.UTC)
	classify := func(l map[string]string) (detector.Class, bool) {
		// A stand-in for the config's rules: severity=critical → operational.
		if l["severity"] == "critical" {
			return detector.ClassOperational, true
		}
		return "", false
	}
	firing := amPayload(amAlert("firing", map[string]string{"alertname": "KeyLeak", "class": "security"},
		"2026-05-16T11:58:00.123Z", zeroTime, "a1b2c3d4e5f60708"))
	big := amPayload(amAlert("firing", map[string]string{"alertname": "Big", "junk": strings.Repeat("x", 3000)},
		"2026-05-16T11:58:00Z", zeroTime, ""))

	cases := []struct {
		name        string
		method      string
		body        []byte
		contentType string
		auth        string
		token       string
		maxBody     int64
		sinkErr     error
		wantCode    int
		wantErr     string // substring of the error message
		check       func(t *testing.T, got []detector.Alert)
	}{
		{
			name: "security label wins", body: firing, wantCode: 200,
			check: func(t *testing.T, got []detector.Alert) {
				a := got[0]
				if a.Class != detector.ClassSecurity || a.ClassSource != "label" || a.Fingerprint != "a1b2c3d4e5f60708" ||
					a.Resolved() || !a.StartsAt.Equal(time.Date(2026, 5, 16, 11, 58, 0, 123e6, time.UTC)) ||
					!a.EndsAt.IsZero() || !a.ReceivedAt.Equal(received) || a.Receiver != "nymwatch" {
					t.Errorf("alert %+v", a)
				}
			},
		},
		{
			name: "matcher rule via Classify", wantCode: 200,
			body: amPayload(amAlert("firing", map[string]string{"alertname": "VPNAPIDown", "severity": "critical"},
				"2026-05-16T11:58:00Z", zeroTime, "")),
			check: func(t *testing.T, got []detector.Alert) {
				a := got[0]
				if a.Class != detector.ClassOperational || a.ClassSource != "rule" {
					t.Errorf("class %s from %s", a.Class, a.ClassSource)
				}
				if a.Fingerprint != detector.Fingerprint(map[string]string{"alertname": "VPNAPIDown", "severity": "critical"}) || len(a.Fingerprint) != 16 {
					t.Errorf("computed fingerprint %q", a.Fingerprint)
				}
			},
		},
		{
			name: "no label, no rule: default class; an invalid class label is ignored", wantCode: 200,
			body: amPayload(amAlert("firing", map[string]string{"alertname": "DiskFull", "class": "critical"},
				"2026-05-16T11:58:00Z", zeroTime, "")),
			check: func(t *testing.T, got []detector.Alert) {
				if got[0].Class != detector.ClassInternal || got[0].ClassSource != "default" {
					t.Errorf("class %s from %s", got[0].Class, got[0].ClassSource)
				}
			},
		},
		{
			name: "resolved alert", wantCode: 200, contentType: "application/json; charset=utf-8",
			body: amPayload(amAlert("resolved", map[string]string{"alertname": "KeyLeak", "class": "security"},
				"2026-05-16T11:58:00Z", "2026-05-16T11:59:30Z", "a1b2c3d4e5f60708")),
			check: func(t *testing.T, got []detector.Alert) {
				if !got[0].Resolved() || !got[0].EndsAt.Equal(time.Date(2026, 5, 16, 11, 59, 30, 0, time.UTC)) {
					t.Errorf("%+v", got[0])
				}
			},
		},
		{name: "missing content type is accepted", body: firing, contentType: "-", wantCode: 200},
		{name: "non-JSON content type", body: firing, contentType: "text/plain", wantCode: 415, wantErr: "not JSON"},
		{name: "malformed JSON", body: []byte(`{"version":"4","alerts":[`), wantCode: 400, wantErr: "malformed JSON"},
		{name: "empty body", body: nil, wantCode: 400, wantErr: "empty body"},
		{name: "trailing data", body: append(append([]byte{}, firing...), []byte(`{}`)...), wantCode: 400, wantErr: "trailing data"},
		{name: "wrong version", body: bytes.Replace(firing, []byte(`"version":"4"`), []byte(`"version":"3"`), 1),
			wantCode: 400, wantErr: `unsupported payload version \"3\"`},
		{name: "no alerts", body: amPayload(), wantCode: 400, wantErr: "no alerts"},
		{name: "bad time", wantCode: 400, wantErr: "bad time",
			body: amPayload(amAlert("firing", map[string]string{"alertname": "X"}, "yesterday", zeroTime, ""))},
		{name: "missing startsAt", wantCode: 400, wantErr: "startsAt is missing",
			body: amPayload(amAlert("firing", map[string]string{"alertname": "X"}, zeroTime, zeroTime, ""))},
		{name: "resolved without endsAt", wantCode: 400, wantErr: "resolved alert without endsAt",
			body: amPayload(amAlert("resolved", map[string]string{"alertname": "X"}, "2026-05-16T11:58:00Z", zeroTime, ""))},
		{name: "endsAt before startsAt", wantCode: 400, wantErr: "before startsAt",
			body: amPayload(amAlert("resolved", map[string]string{"alertname": "X"}, "2026-05-16T11:58:00Z", "2026-05-16T11:00:00Z", ""))},
		{name: "bad status", wantCode: 400, wantErr: "neither firing nor resolved",
			body: amPayload(amAlert("pending", map[string]string{"alertname": "X"}, "2026-05-16T11:58:00Z", zeroTime, ""))},
		{name: "no labels", wantCode: 400, wantErr: "no labels",
			body: amPayload(amAlert("firing", map[string]string{}, "2026-05-16T11:58:00Z", zeroTime, ""))},
		{name: "oversized body", body: big, maxBody: 1024, wantCode: 413, wantErr: "larger than 1024 bytes"},
		{name: "missing token", body: firing, token: "s3cret", wantCode: 401, wantErr: "bearer token"},
		{name: "wrong token", body: firing, token: "s3cret", auth: "Bearer s3creT", wantCode: 401},
		{name: "basic auth is not a bearer token", body: firing, token: "s3cret", auth: "Basic czNjcmV0", wantCode: 401},
		{name: "right token", body: firing, token: "s3cret", auth: "Bearer s3cret", wantCode: 200},
		{name: "sink error is retryable", body: firing, sinkErr: errors.New("database is locked"), wantCode: 503, wantErr: "retry"},
		{name: "GET is not allowed", method: http.MethodGet, wantCode: 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := detector.NewMetrics(reg)
			rec := &sinkRecorder{err: tc.sinkErr}
			srv := httptest.NewServer(NewHandler(Options{
				Token: []byte(tc.token), MaxBodyBytes: tc.maxBody, Sink: rec.sink, Classify: classify,
				DefaultClass: detector.ClassInternal, Now: func() time.Time { return received }, Metrics: m,
			}))
			defer srv.Close()
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/api/v1/alertmanager", bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantCode, body)
			}
			if tc.wantErr != "" && !strings.Contains(string(body), tc.wantErr) {
				t.Errorf("body %s lacks %q", body, tc.wantErr)
			}
			if tc.token != "" && strings.Contains(string(body), tc.token) {
				t.Error("token echoed in the response")
			}
			switch tc.wantCode {
			case 401:
				if resp.Header.Get("WWW-Authenticate") == "" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
				}
			case 503:
				if resp.Header.Get("Retry-After") == "" {
					t.Error("no Retry-After on 503")
				}
			case 405:
				if resp.Header.Get("Allow") != http.MethodPost {
					t.Errorf("Allow %q", resp.Header.Get("Allow"))
				}
			}
			if tc.wantCode == 200 {
				if len(rec.calls) != 1 || len(rec.calls[0]) != 1 || !rec.at[0].Equal(received) {
					t.Fatalf("sink calls %+v", rec.calls)
				}
				if tc.check != nil {
					tc.check(t, rec.calls[0])
				}
			} else if len(rec.calls) != 0 {
				t.Errorf("sink called on %d", tc.wantCode)
			}
			if got := counter(t, reg, "nymwatch_webhook_requests_total", strconv.Itoa(tc.wantCode)); got != 1 {
				t.Errorf("nymwatch_webhook_requests_total{code=%d} = %v", tc.wantCode, got)
			}
		})
	}
}

// TestWebhookToDetector runs alerts end to end: webhook → sink → detector,
// including a duplicate delivery.
func TestWebhookToDetector(t *testing.T) {
	d := detector.New(detector.Options{})
	now := time.Date(2026, 5, 16, 12, 0, 0, 0, time.UTC)
	h := NewHandler(Options{
		Sink: func(_ context.Context, alerts []detector.Alert, at time.Time) error {
			d.ObserveAlerts(alerts, at)
			return nil
		},
		Now: func() time.Time { return now },
	})
	post := func(body []byte) {
		t.Helper()
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/api/v1/alertmanager", bytes.NewReader(body)))
		if rr.Code != 200 {
			t.Fatalf("status %d: %s", rr.Code, rr.Body)
		}
	}
	labels := map[string]string{"alertname": "NymAPIErrors", "component": "service/nym-api", "severity": "page"}
	post(amPayload(amAlert("firing", labels, "2026-05-16T11:55:00Z", zeroTime, "")))
	out := d.Evaluate(now)
	if len(out) != 1 || out[0].Component != "service/nym-api" || out[0].Class != detector.ClassOperational ||
		out[0].Architecture != detector.ArchCentralized || out[0].Reason == "" {
		t.Fatalf("firing: %+v", out)
	}
	post(amPayload(amAlert("firing", labels, "2026-05-16T11:55:00Z", zeroTime, "")))
	if again := d.Evaluate(now.Add(time.Minute)); len(again) != 0 {
		t.Fatalf("duplicate delivery: %+v", again)
	}
	post(amPayload(amAlert("resolved", labels, "2026-05-16T11:55:00Z", "2026-05-16T12:01:00Z", "")))
	res := d.Evaluate(now.Add(2 * time.Minute))
	if len(res) != 1 || res[0].ID != out[0].ID || !res[0].ResolvedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("resolved: %+v", res)
	}
}
