package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// postAlerts sends an Alertmanager v4 webhook with the test token and
// returns the status and body.
func (p *daemonProc) postAlerts(alerts []map[string]any) (int, string) {
	p.t.Helper()
	body, err := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "nymwatch",
		"groupKey": "{}", "groupLabels": map[string]string{}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://am.example", "alerts": alerts})
	if err != nil {
		p.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, p.base+"/api/v1/alertmanager", bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testWebhookToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Over alerts.max_firing the POST is answered 429 and the rest counted;
// the accepted alerts are durable when the answer comes: after kill -9 and
// a restart they are still held, so their resolution resolves the same
// incident at endsAt.
func TestWebhookCapAndKill9(t *testing.T) {
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.config("1s", "alerts:\n  max_firing: 5\n"))
	p := startDaemon(t, e, cfgPath)

	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	var firing, resolved []map[string]any
	end := start.Add(50 * time.Second)
	for i := range 8 {
		a := map[string]any{"status": "firing", "startsAt": start.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano),
			"endsAt": "0001-01-01T00:00:00Z", "fingerprint": "",
			"labels":      map[string]string{"alertname": "PaymentsAPIDown", "class": "operational", "instance": fmt.Sprint(i)},
			"annotations": map[string]string{"summary": "payments API down"}}
		firing = append(firing, a)
		r := map[string]any{}
		for k, v := range a {
			r[k] = v
		}
		r["status"], r["endsAt"] = "resolved", end.Format(time.RFC3339Nano)
		resolved = append(resolved, r)
	}
	code, body := p.postAlerts(firing)
	if code != http.StatusTooManyRequests {
		t.Fatalf("8 new alerts over max_firing 5: %d %s", code, body)
	}
	var ans struct {
		MaxFiring int `json:"max_firing"`
		Accepted  int `json:"accepted"`
		Rejected  int `json:"rejected"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.MaxFiring != 5 || ans.Accepted != 5 || ans.Rejected != 3 {
		t.Fatalf("429 body %s (%v)", body, err)
	}
	if got := p.metric(`nymwatch_alerts_rejected_total{reason="max_firing"}`); got != "3" {
		t.Errorf("rejected metric %q, want 3", got)
	}
	p.signal(syscall.SIGKILL) // right after the answer: no snapshot taken since
	<-p.done                  //nolint:errcheck // killed on purpose: its exit error is expected

	p = startDaemon(t, e, cfgPath)
	var inc incidentJSON
	p.waitFor(30*time.Second, "the alert incident", func() bool {
		for _, i := range p.incidents("") {
			if i.Component == "alert/PaymentsAPIDown" {
				inc = i
				return true
			}
		}
		return false
	})
	if inc.FirstSeen == nil || !inc.FirstSeen.Equal(start) || inc.ResolvedAt != nil {
		t.Fatalf("after kill -9: %+v, want open with first_seen %v", inc, start)
	}
	if code, body := p.postAlerts(resolved); code != http.StatusOK {
		t.Fatalf("resolving: %d %s", code, body)
	}
	p.waitFor(30*time.Second, "the incident resolved at endsAt", func() bool {
		for _, i := range p.incidents("") {
			if i.ID == inc.ID && i.ResolvedAt != nil {
				if !i.ResolvedAt.Equal(end) {
					t.Fatalf("resolved_at %v, want endsAt %v", i.ResolvedAt, end)
				}
				return true
			}
		}
		return false
	})
	p.stop()
}
