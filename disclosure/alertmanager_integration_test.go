package disclosure

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// alertmanagerBinary is where Debian's prometheus-alertmanager package
// installs the real Alertmanager; CI installs it.
const alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

type alertmanagerIntegrationAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// startAlertmanager runs a single, non-clustered Alertmanager on loopback
// with a null receiver and returns its base URL once it is ready.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	_, err := os.Stat(alertmanagerBinary)
	testutil.Require(t, "the real Alertmanager (Debian package prometheus-alertmanager)", err)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	const config = `route:
  receiver: "null"
  group_wait: 1s
receivers:
  - name: "null"
`
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	logs := &testutil.Buffer{Limit: 1 << 20}
	cmd := exec.Command(alertmanagerBinary,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited //nolint:errcheck // killed on purpose: its exit error is expected
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", logs.String())
		}
	})

	base := "http://" + addr
	var lastErr error
	ready := testutil.Poll(t, 30*time.Second, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("alertmanager exited before ready: %v\n%s", err, logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if lastErr = err; err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ready {
		t.Fatalf("alertmanager not ready at %s: %v\n%s", base, lastErr, logs.String())
	}
	return base
}

// alertmanagerIntegrationAlerts lists the (unresolved) alerts whose label
// is value (incident_id for a page, alertname for the alerts about nymwatch).
func alertmanagerIntegrationAlerts(t *testing.T, base, label, value string) []alertmanagerIntegrationAlert {
	t.Helper()
	q := url.Values{"filter": {fmt.Sprintf("%s=%q", label, value)}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v2/alerts?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("GET alerts: %s: %s", resp.Status, b)
	}
	var out []alertmanagerIntegrationAlert
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// alertmanagerIntegrationWait polls Alertmanager (it ingests asynchronously)
// until cond holds for the alerts whose label is value.
func alertmanagerIntegrationWait(t *testing.T, base, label, value, what string, cond func([]alertmanagerIntegrationAlert) bool) []alertmanagerIntegrationAlert {
	t.Helper()
	var as []alertmanagerIntegrationAlert
	if !testutil.Poll(t, 15*time.Second, func() bool {
		as = alertmanagerIntegrationAlerts(t, base, label, value)
		return cond(as)
	}) {
		t.Fatalf("alertmanager: %s: never happened; alerts now %+v", what, as)
	}
	return as
}

// TestAlertmanagerIntegration pages the real Alertmanager: the draft's alert
// becomes active with nymwatch's labels, a re-send pushes its endsAt
// forward, and ending the incident resolves it.
func TestAlertmanagerIntegration(t *testing.T) {
	base := startAlertmanager(t)
	am, err := page.NewAlertmanagerPager(base, page.HTTPOptions{RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := newOutboxTestEnv(t, []page.Pager{am}, OutboxOptions{ExternalURL: "http://nymwatch.test"})
	now := time.Now().UTC().Truncate(time.Millisecond)
	const id = "INC-20260310-0042"
	s := outboxTestSubject(id, now.Add(-30*time.Second))
	e.opened(s, now)
	e.drafts.set(s)
	e.tick(now)
	if r := e.row(id+"/open", am.Name()); r.outcome != "delivered" {
		t.Fatalf("open page not delivered: %+v", r)
	}

	as := alertmanagerIntegrationWait(t, base, "incident_id", id, "alert active", func(as []alertmanagerIntegrationAlert) bool {
		return len(as) == 1 && as[0].Status.State == "active"
	})
	want := map[string]string{"alertname": page.AlertName, "incident_id": id, "class": "operational",
		"component": "entry-gateways", "severity": "warning"}
	if fmt.Sprint(as[0].Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", as[0].Labels, want)
	}
	if !as[0].StartsAt.Equal(s.FirstSeen) || !as[0].EndsAt.Equal(now.Add(4*time.Minute)) {
		t.Errorf("startsAt %s endsAt %s, want %s / %s", as[0].StartsAt, as[0].EndsAt, s.FirstSeen, now.Add(4*time.Minute))
	}
	if as[0].Annotations["incident_url"] != "http://nymwatch.test/incidents/"+id {
		t.Errorf("annotations %v", as[0].Annotations)
	}
	fp := as[0].Fingerprint

	// The re-send a resend interval later extends the same alert.
	resend := now.Add(time.Minute)
	e.tick(resend)
	as = alertmanagerIntegrationWait(t, base, "incident_id", id, "endsAt pushed forward", func(as []alertmanagerIntegrationAlert) bool {
		return len(as) == 1 && as[0].EndsAt.Equal(resend.Add(4*time.Minute))
	})
	if as[0].Status.State != "active" || as[0].Fingerprint != fp {
		t.Errorf("after re-send: %+v (fingerprint was %s)", as[0], fp)
	}

	// A human confirms: the end page resolves the alert.
	s.State = "confirmed"
	e.drafts.set()
	end := time.Now().UTC()
	e.ended(s, end)
	e.tick(end)
	alertmanagerIntegrationWait(t, base, "incident_id", id, "alert resolved", func(as []alertmanagerIntegrationAlert) bool {
		for _, a := range as {
			if a.Status.State == "active" && a.EndsAt.After(time.Now()) {
				return false
			}
		}
		return true
	})
	for _, r := range e.rows() {
		if r.outcome != "delivered" {
			t.Errorf("row %s: %s", r.key, r.outcome)
		}
	}
}
