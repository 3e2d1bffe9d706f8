package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// The README's first command: the demo drafts and pages an incident within
// a minute of starting, prints what a newcomer needs, and the printed
// commands confirm it.
func TestDemoDraftsPagesAndConfirms(t *testing.T) {
	listen := freeAddr(t)
	out := &testutil.Buffer{}
	cmd := exec.Command(binary, "demo", "--listen", listen, "--data-dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = out, &testutil.Buffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done //nolint:errcheck // killed on purpose: its exit error is expected
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s", out.String())
		}
	})
	p := &daemonProc{t: t, cmd: cmd, base: "http://" + listen, stderr: out, done: done}

	var token, id string
	tokenRE := regexp.MustCompile(`operator token:\s+([0-9a-f]{32,})`)
	pageRE := regexp.MustCompile(`PAGE \[warning\] (INC-\d{8}-\d{4}) operational \(exit_gateways\)`)
	p.waitFor(60*time.Second, "a page printed by the demo", func() bool {
		s := out.String()
		if m := tokenRE.FindStringSubmatch(s); m != nil {
			token = m[1]
		}
		if m := pageRE.FindStringSubmatch(s); m != nil {
			id = m[1]
		}
		return token != "" && id != ""
	})
	p.token = token // the demo's own operator token reads its incidents
	if !strings.Contains(out.String(), "http://"+listen+"/api/v1/incidents") {
		t.Errorf("the demo does not print its API URL")
	}
	if code, o := p.cli(token, "confirm", id); code != 0 {
		t.Fatalf("confirm with the printed token: %d %s", code, o)
	}
	p.waitFor(20*time.Second, "the page to end", func() bool { return strings.Contains(out.String(), "PAGE ENDED  "+id) })
	// The hanging entry gateway is recorded, but only as internal.
	p.waitFor(30*time.Second, "the entry gateway blip recorded as internal", func() bool {
		for _, inc := range p.incidents("?class=internal") {
			if inc.Component == "entry_gateways" {
				return true
			}
		}
		return false
	})
	if drafts := p.incidents("?state=draft"); len(drafts) != 0 {
		t.Errorf("drafts left after confirming the only disclosable one: %+v", drafts)
	}
	p.stop()
}
