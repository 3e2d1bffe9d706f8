package disclosure

import (
	"strings"
	"testing"
	"time"
)

func TestLifecycleCLI(t *testing.T) {
	e := newIncAPIEnv(t, incToken)
	id := e.draft(t)
	env := map[string]string{"NYMWATCH_TOKEN": incToken, "USER": "dave"}
	run := func(a ...string) incCLIResult {
		t.Helper()
		return e.cli(t, env, append([]string{"--server", e.srv.URL}, a...)...)
	}
	if r := run("channels", id); r.code != 0 || !strings.Contains(r.stderr, "created on confirmation") {
		t.Errorf("channels of a draft: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run("confirm", id); r.code != 0 {
		t.Fatalf("confirm: %s", r.stderr)
	}
	r := run("channels", id, "Status page", "--note", "posted")
	if r.code != 0 || !strings.Contains(r.stdout, "[x]   Status page") || !strings.Contains(r.stdout, "operator:dave") {
		t.Errorf("tick:\n%s%s", r.stdout, r.stderr)
	}
	if r := run("channels", id, "Status page", "--undo"); r.code != 0 || strings.Contains(r.stdout, "[x]") {
		t.Errorf("un-tick:\n%s%s", r.stdout, r.stderr)
	}
	if r := run("channels", id, "Fax"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("unknown channel: %d %s", r.code, r.stderr)
	}
	if r := run("followups", id, "--add", "Rotate keys", "--due", "2026-11-27T00:00:00Z"); r.code != 0 || !strings.Contains(r.stdout, "Rotate keys") {
		t.Errorf("add:\n%s%s", r.stdout, r.stderr)
	}
	if r := run("followups", id, "7"); r.code != 0 || !strings.Contains(r.stdout, "7    done") {
		t.Errorf("mark done:\n%s%s", r.stdout, r.stderr)
	}
	e.clock.Set(incAt(30 * 24 * time.Hour))
	if r := run("followups", id); r.code != 0 || !strings.Contains(r.stdout, "OVERDUE") {
		t.Errorf("overdue not shown in text:\n%s", r.stdout)
	}
	if r := run("credit", id, "--name", "@alice", "--channel", "telegram", "--at", "2026-11-25T10:05:00Z"); r.code != 0 || !strings.Contains(r.stdout, "@alice") {
		t.Errorf("credit:\n%s%s", r.stdout, r.stderr)
	}
	if r := run("credit", id, "--name", "@bob"); r.code != 2 {
		t.Errorf("credit without channel: %d", r.code)
	}
	if r := run("close", id); r.code != 1 || !strings.Contains(r.stderr, "resolve it first") {
		t.Errorf("close a confirmed incident: %d %s", r.code, r.stderr)
	}
	run("resolve", id)
	if r := run("close", id); r.code != 0 || !strings.Contains(r.stdout, "closed (state closed)") {
		t.Errorf("close: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
