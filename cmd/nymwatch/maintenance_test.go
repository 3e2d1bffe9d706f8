package main

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
)

// maintCLI runs "nymwatch maintenance ..." against the daemon.
func (p *daemonProc) maintCLI(args ...string) (int, string) {
	p.t.Helper()
	cmd := exec.Command(binary, append([]string{"maintenance", "--server", p.base}, args...)...)
	cmd.Env = append(os.Environ(), "NYMWATCH_TOKEN="+testOperatorToken, "NYMWATCH_ACTOR=alice")
	out, err := cmd.CombinedOutput()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		p.t.Fatal(err)
	}
	return 0, string(out)
}

// failedServiceProbes is the count of failed centralized-service probes.
func (p *daemonProc) failedServiceProbes() int {
	_, body := p.get("/metrics")
	n := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, `nymwatch_probes_total{kind="service",result="fail"} `) {
			v, _ := strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndexByte(line, ' '):]), 64)
			n += int(v)
		}
	}
	return n
}

// A planned nym-api downtime inside a maintenance window is recorded as
// internal and pages nobody; when the window ends while nym-api still
// fails, a draft is opened and paged, with the failure's real first_seen
// and a reason naming the window.
func TestMaintenanceWindowEndToEnd(t *testing.T) {
	pages := newPageSink(t)
	e := newEnv(t, smallNetwork())
	cfgPath := e.writeConfig(e.config("1s", "pagers:\n  webhook:\n    url: "+pages.url+"\n"))
	p := startDaemon(t, e, cfgPath)
	p.waitFor(20*time.Second, "healthy service probes", func() bool {
		_, body := p.get("/metrics")
		return strings.Contains(body, `nymwatch_probes_total{kind="service",result="ok"}`)
	})

	code, out := p.maintCLI("add", "--service", "nym-api", "--duration", "1h", "--reason", "nym-api upgrade")
	id := regexp.MustCompile(`^M-\d+`).FindString(out)
	if code != 0 || id == "" {
		t.Fatalf("maintenance add: %d %s", code, out)
	}
	p.waitFor(10*time.Second, "the window in force", func() bool { return p.metric("nymwatch_maintenance_windows_active") == "1" })
	faultAt := time.Now().UTC()
	if err := e.net.SetServiceFault(simnet.ServiceNymAPI, simnet.Refuse()); err != nil {
		t.Fatal(err)
	}

	var internal incidentJSON
	p.waitFor(30*time.Second, "an internal record of the planned nym-api outage", func() bool {
		for _, i := range p.incidents("?class=internal") {
			if i.Component == "service/nym-api" && strings.Contains(i.Reason, "planned maintenance "+id) {
				internal = i
				return true
			}
		}
		return false
	})
	// Many more failed probes (and evaluations) later, still nothing is
	// disclosable and nobody was paged.
	base := p.failedServiceProbes()
	p.waitFor(30*time.Second, "more failed nym-api probes", func() bool { return p.failedServiceProbes() >= base+6 })
	if drafts := p.incidents("?state=draft"); len(drafts) != 0 {
		t.Fatalf("drafts inside the window: %+v", drafts)
	}
	pages.mu.Lock()
	n := len(pages.pages)
	pages.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d pages inside the window", n)
	}

	// End the window early while nym-api still fails.
	endAt := time.Now().UTC()
	if code, out := p.maintCLI("end", id, "--reason", "upgrade overran"); code != 0 {
		t.Fatalf("maintenance end: %d %s", code, out)
	}
	var draft incidentJSON
	p.waitFor(30*time.Second, "a draft for nym-api after the window", func() bool {
		for _, i := range p.incidents("?state=draft") {
			if i.Component == "service/nym-api" || strings.Contains(strings.Join(i.Affected, ","), "service/nym-api") {
				draft = i
				return true
			}
		}
		return false
	})
	if draft.Class != "operational" || draft.FirstSeen == nil {
		t.Fatalf("draft %+v", draft)
	}
	if draft.FirstSeen.After(endAt) || draft.FirstSeen.Before(faultAt.Add(-time.Millisecond)) {
		t.Errorf("first_seen %s: want the failure's real start (fault at %s), not the window's end (%s)", draft.FirstSeen, faultAt, endAt)
	}
	if internal.FirstSeen != nil && !draft.FirstSeen.Equal(*internal.FirstSeen) {
		t.Errorf("first_seen %s differs from the internal record's %s", draft.FirstSeen, internal.FirstSeen)
	}
	if !strings.Contains(draft.Reason, "during maintenance window "+id+" (ended ") {
		t.Errorf("reason does not say a window preceded it: %q", draft.Reason)
	}
	pages.waitFor(t, 20*time.Second, func(pg pageJSON) bool { return pg.IncidentID == draft.ID && !pg.Resolved })
	if code, report := p.get("/api/v1/incidents/" + draft.ID + "/report.md"); code != 200 || !strings.Contains(report, "maintenance window "+id) {
		t.Errorf("report.md does not mention the window that preceded it: %d\n%s", code, report)
	}
	if v := p.metric("nymwatch_maintenance_windows_active"); v != "0" {
		t.Errorf("nymwatch_maintenance_windows_active %q after the end, want 0", v)
	}

	if code, out := p.maintCLI("list", "--all"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "ended") {
		t.Errorf("maintenance list --all: %d %s", code, out)
	}
	p.stop()
}
