package main

import (
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
)

// withoutControls drops the control_targets section from a test config.
func (e *env) withoutControls(cfg string) string {
	var controls strings.Builder
	controls.WriteString("control_targets:\n")
	for _, u := range e.net.ControlURLs() {
		controls.WriteString("  - " + u + "\n")
	}
	out := strings.Replace(cfg, controls.String(), "", 1)
	if out == cfg {
		e.t.Fatal("no control_targets section to drop")
	}
	return out
}

// Without control targets nymwatch cannot tell its own cut-off from a
// near-total outage: check-config and the daemon (at start-up and on
// reload) warn, and a near-total failure is drafted and paged as
// operational, marked unverified, instead of being taken silently for a
// cut-off.
func TestNearTotalWithoutControlsIsPagedUnverified(t *testing.T) {
	pages := newPageSink(t)
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.withoutControls(e.config("1s", "pagers:\n  webhook:\n    url: "+pages.url+"\n")))

	cmd := exec.Command(binary, "check-config", "--config", cfgPath)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("check-config: %v\n%s", err, stderr.String())
	}
	if want := cfgPath + ": control_targets: warning: none configured"; !strings.Contains(stderr.String(), want) {
		t.Errorf("check-config stderr lacks %q:\n%s", want, stderr.String())
	}
	if !strings.Contains(stdout.String(), "OK") {
		t.Errorf("check-config stdout %q", stdout.String())
	}

	p := startDaemon(t, e, cfgPath)
	warned := func() int { return strings.Count(p.stderr.String(), `msg="config warning" key=control_targets`) }
	if warned() != 1 {
		t.Errorf("start-up log has %d control_targets warnings, want 1:\n%s", warned(), p.stderr.String())
	}
	p.signal(syscall.SIGHUP)
	p.waitFor(10*time.Second, "the warning again after a reload", func() bool { return warned() == 2 })

	p.waitFor(20*time.Second, "probes", func() bool {
		_, body := p.get("/metrics")
		return strings.Contains(body, `nymwatch_probes_total{kind="node_http",result="ok"}`)
	})
	if err := e.net.CutOff(true); err != nil {
		t.Fatal(err)
	}
	var inc incidentJSON
	p.waitFor(40*time.Second, "a decentralized draft", func() bool {
		for _, i := range p.incidents("?state=draft") {
			if i.Architecture == "decentralized" {
				inc = i
				return true
			}
		}
		return false
	})
	if inc.Class != "operational" || !strings.HasPrefix(inc.Title, "Unverified: ") ||
		!strings.Contains(inc.Reason, "unverified: nymwatch cannot rule out its own cut-off; configure control_targets") {
		t.Errorf("draft %s: class %q title %q reason %q", inc.ID, inc.Class, inc.Title, inc.Reason)
	}
	pages.waitFor(t, 20*time.Second, func(pg pageJSON) bool { return pg.IncidentID == inc.ID && !pg.Resolved })
	for _, i := range p.incidents("") {
		if i.Component == "vantage_point" {
			t.Errorf("taken for a cut-off without control targets: %+v", i)
		}
	}
	p.stop()
}

// A gateway failing for longer than classification.promotion_lookback
// before its group crosses a threshold is background: the draft's
// first_seen is the later outage's, its id is not the old internal
// record's, and that record is closed.
func TestBackgroundFailureDoesNotDateTheIncident(t *testing.T) {
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.config("1s", "classification:\n  promotion_lookback: 3s\n"))
	p := startDaemon(t, e, cfgPath)
	p.waitFor(20*time.Second, "probes", func() bool {
		_, body := p.get("/metrics")
		return strings.Contains(body, `nymwatch_probes_total{kind="node_http",result="ok"}`)
	})

	lone, err := e.net.FailRole(simnet.RoleExitGateway, 0.2, simnet.Refuse())
	if err != nil || len(lone) != 1 {
		t.Fatalf("FailRole: %v %v", lone, err)
	}
	var old incidentJSON
	p.waitFor(30*time.Second, "the lone gateway's internal record", func() bool {
		for _, i := range p.incidents("?state=internal") {
			if i.Component == "exit_gateways" {
				old = i
				return true
			}
		}
		return false
	})
	// Let it be failing for longer than the lookback.
	p.waitFor(30*time.Second, "the lone failure to outlast the lookback", func() bool {
		return time.Since(*old.FirstSeen) > 4*time.Second
	})
	outageAt := time.Now().UTC()
	more, err := e.net.FailRole(simnet.RoleExitGateway, 0.6, simnet.Refuse())
	if err != nil || len(more) != 3 || !slices.Contains(more, lone[0]) {
		t.Fatalf("FailRole: %v %v (lone %v)", more, err, lone)
	}
	var inc incidentJSON
	p.waitFor(30*time.Second, "a draft for the exit gateways", func() bool {
		for _, i := range p.incidents("?state=draft") {
			if i.Component == "exit_gateways" {
				inc = i
				return true
			}
		}
		return false
	})
	if inc.ID == old.ID {
		t.Fatalf("the outage kept the lone failure's record %s", old.ID)
	}
	if inc.FirstSeen == nil || inc.FirstSeen.Before(outageAt.Add(-time.Millisecond)) || inc.FirstSeen.Sub(outageAt) > 3*time.Second {
		t.Errorf("first_seen %v, want the outage's start (fault at %s), not the lone failure's %s", inc.FirstSeen, outageAt, old.FirstSeen)
	}
	if !strings.Contains(inc.Reason, "are background") {
		t.Errorf("reason does not name the background: %s", inc.Reason)
	}
	p.waitFor(10*time.Second, "the old record closed", func() bool {
		for _, i := range p.incidents("?state=internal") {
			if i.ID == old.ID {
				old = i
			}
		}
		return old.ResolvedAt != nil
	})
	if !strings.Contains(old.Reason, "recorded as exit_gateways@") {
		t.Errorf("old record's reason does not point at the outage: %s", old.Reason)
	}
	p.stop()
}
