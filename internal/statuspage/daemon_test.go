package statuspage_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/internal/daemontest"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

// TestDaemonServesStatusPage runs the daemon with status.listen against a
// simulated outage: the status page stays empty while the incident is a
// draft and a confirmed-but-unpublished incident, and shows it once a human
// publishes it through the API. The status listener serves nothing else.
func TestDaemonServesStatusPage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon against a simulated network")
	}
	d := daemontest.Start(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 5},
		func(c *config.Config) { c.Status.Listen = "127.0.0.1:0" })
	if d.StatusURL == "" {
		t.Fatal("status page not started")
	}
	call := func(method, url, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	summary := func() (indicator string, incidents []string) {
		t.Helper()
		code, body := call("GET", d.StatusURL+"/api/v2/summary.json", "")
		if code != http.StatusOK {
			t.Fatalf("summary: %d %s", code, body)
		}
		var s struct {
			Status    struct{ Indicator string }
			Incidents []struct{ ID string }
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		for _, i := range s.Incidents {
			incidents = append(incidents, i.ID)
		}
		return s.Status.Indicator, incidents
	}

	if _, err := d.Net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse()); err != nil {
		t.Fatal(err)
	}
	var id string
	daemontest.WaitFor(t, 60*time.Second, "a draft", func() bool {
		_, body := call("GET", d.URL+"/api/v1/incidents?state=draft", daemontest.OperatorToken)
		var l struct{ Incidents []struct{ ID string } }
		_ = json.Unmarshal([]byte(body), &l)
		if len(l.Incidents) > 0 {
			id = l.Incidents[0].ID
		}
		return id != ""
	})
	if ind, incs := summary(); ind != "none" || len(incs) != 0 {
		t.Errorf("draft on the status page: %s %v", ind, incs)
	}
	if code, body := call("POST", d.URL+"/api/v1/incidents/"+id+"/confirm", daemontest.OperatorToken); code != http.StatusOK {
		t.Fatalf("confirm: %d %s", code, body)
	}
	if ind, incs := summary(); ind != "none" || len(incs) != 0 {
		t.Errorf("unpublished incident on the status page: %s %v", ind, incs)
	}
	if code, body := call("POST", d.URL+"/api/v1/incidents/"+id+"/publish", daemontest.OperatorToken); code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, body)
	}
	// The page reuses one read of the store for a few seconds.
	daemontest.WaitFor(t, 30*time.Second, "the published incident on the status page", func() bool {
		ind, incs := summary()
		return ind == "major" && len(incs) == 1 && incs[0] == id
	})
	_, page := call("GET", d.StatusURL+"/", "")
	if !strings.Contains(page, id) || strings.Contains(page, "node/") || strings.Contains(page, "127.0.0.1") {
		t.Errorf("status page:\n%s", page)
	}
	for _, p := range []string{"/api/v1/incidents", "/api/v1/incidents/" + id, "/metrics", "/-/healthy"} {
		if code, _ := call("GET", d.StatusURL+p, daemontest.OperatorToken); code != http.StatusNotFound {
			t.Errorf("status listener serves %s: %d", p, code)
		}
	}
}
