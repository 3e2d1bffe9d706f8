package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
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
