package detector

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzWebhookDecode feeds arbitrary bodies to the webhook decoder and the
// accepted alerts to a detector: nothing may panic, every error is a
// payload error (400), and what is accepted is valid.
func FuzzWebhookDecode(f *testing.F) {
	f.Add([]byte(`{"version":"4","status":"firing","receiver":"nymwatch","alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-05-16T11:58:00Z","endsAt":"0001-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":"4","alerts":[]}`))
	f.Add([]byte(`not json`))
	now := time.Date(2026, 5, 16, 12, 0, 0, 0, time.UTC)
	classify := func(l map[string]string) (Class, bool) {
		if l["severity"] == "critical" {
			return ClassOperational, true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, _, err := decodeWebhook(body, now, classify, ClassInternal)
		if err != nil {
			if !errors.Is(err, errBadPayload) {
				t.Fatalf("error is not a payload error: %v", err)
			}
			if alerts != nil {
				t.Fatal("alerts returned with an error")
			}
			return
		}
		if len(alerts) == 0 {
			t.Fatal("accepted a payload without alerts")
		}
		for _, a := range alerts {
			if a.Fingerprint == "" || !a.Class.Valid() || (a.Status != AlertFiring && a.Status != AlertResolved) ||
				a.StartsAt.IsZero() || (a.Resolved() && a.EndsAt.IsZero()) ||
				(!a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt)) || len(a.Labels) == 0 {
				t.Fatalf("invalid accepted alert %+v", a)
			}
		}
		d := New(Options{})
		d.ObserveAlerts(alerts, now)
		for _, an := range d.Evaluate(now) {
			if !an.Class.Valid() || an.ID == "" || an.Component == "" || an.FirstSeen.IsZero() {
				t.Fatalf("invalid anomaly %+v", an)
			}
		}
	})
}

// TestFuzzSeeds checks the seed corpus says what its names say: valid_*
// payloads are accepted, the others rejected.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzWebhookDecode")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			_, lit, ok := strings.Cut(strings.TrimSpace(string(raw)), "[]byte(")
			if !ok || !strings.HasSuffix(lit, ")") {
				t.Fatalf("not a fuzz corpus file: %q", raw)
			}
			body, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
			if err != nil {
				t.Fatal(err)
			}
			alerts, _, err := decodeWebhook([]byte(body), time.Now(), nil, ClassOperational)
			if valid := strings.HasPrefix(e.Name(), "valid_"); valid != (err == nil) {
				t.Fatalf("valid=%v but err=%v", valid, err)
			}
			if err == nil && len(alerts) == 0 {
				t.Fatal("no alerts")
			}
		})
	}
}
