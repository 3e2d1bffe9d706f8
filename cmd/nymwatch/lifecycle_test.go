package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
)

// After "confirm", end to end through the binary: the configured channels
// checklist, follow-ups, credit, resolve and close (docs/follow-ups.md).
func TestLifecycleAfterConfirm(t *testing.T) {
	e := newEnv(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 5})
	cfgPath := e.writeConfig(e.config("1s", "disclosure:\n  channels:\n    - Status page\n    - Mastodon\n"))
	p := startDaemon(t, e, cfgPath)
	p.waitFor(20*time.Second, "probes", func() bool {
		_, body := p.get("/metrics")
		return strings.Contains(body, `nymwatch_probes_total{kind="node_http",result="ok"}`)
	})
	if _, err := e.net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse()); err != nil {
		t.Fatal(err)
	}
	var id string
	p.waitFor(30*time.Second, "a draft incident", func() bool {
		for _, i := range p.incidents("?state=draft") {
			id = i.ID
			return true
		}
		return false
	})
	run := func(want int, args ...string) string {
		t.Helper()
		code, out := p.cli(testOperatorToken, args...)
		if code != want {
			t.Fatalf("nymwatch incidents %v: exit %d, want %d:\n%s", args, code, want, out)
		}
		return out
	}
	run(0, "confirm", id)
	out := run(0, "channels", id, "Mastodon", "--note", "tooted")
	if !strings.Contains(out, "[x]   Mastodon") || strings.Contains(out, "Discord") {
		t.Errorf("configured checklist:\n%s", out)
	}
	run(0, "credit", id, "--name", "@alice", "--channel", "discord", "--at", "1m")
	if _, report := p.get("/api/v1/incidents/" + id + "/report.md"); !strings.Contains(report, "\\@alice, via Discord") {
		t.Errorf("report acknowledgment lacks the reporter:\n%s", report)
	}
	for _, seq := range []string{"1", "2", "3"} {
		run(0, "followups", id, seq)
	}
	run(0, "resolve", id)
	out = run(0, "followups", id, "4")
	if !strings.Contains(out, "state: closed") {
		t.Errorf("the last dated follow-up did not close the resolved incident:\n%s", out)
	}
	if got := p.incidents("?state=closed"); len(got) != 1 || got[0].ID != id {
		t.Errorf("?state=closed: %+v", got)
	}
	if _, body := p.get("/metrics"); !strings.Contains(body, `nymwatch_incidents{class="operational",state="closed"} 1`) {
		t.Error("metrics do not count the closed incident")
	}
	p.stop()
}
