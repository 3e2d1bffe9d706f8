package disclosure

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func runMaintCLI(t *testing.T, env map[string]string, args ...string) incCLIResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := RunMaintenanceCLI(t.Context(), args, &out, &errb, func(k string) string { return env[k] },
		func() time.Time { return maintNow })
	return incCLIResult{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestMaintenanceCLI(t *testing.T) {
	srv, m := newMaintAPI(t)
	env := map[string]string{"NYMWATCH_TOKEN": maintToken + "\n", "NYMWATCH_SERVER": srv.URL, "USER": "dave"}

	r := runMaintCLI(t, env, "add", "--service", "nym-api", "--component", "country/DE", "--duration", "90m", "--reason", "nym-api upgrade")
	if r.code != 0 || !strings.Contains(r.stdout, "M-1: active from 2026-12-04T14:00:00.000Z until 2026-12-04T15:30:00.000Z") ||
		!strings.Contains(r.stdout, "service=nym-api,component=country/DE") {
		t.Fatalf("add: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	w, err := m.Get(t.Context(), "M-1")
	if err != nil || w.Who != "operator:dave" || w.Reason != "nym-api upgrade" {
		t.Fatalf("stored %+v %v", w, err)
	}
	r = runMaintCLI(t, env, "--server", srv.URL, "add", "--node", "1011", "--start", "2026-12-04T18:00:00Z", "--end", "2026-12-04T19:00:00Z", "--reason", "kernel", "--json")
	var created map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &created) != nil || created["state"] != "upcoming" {
		t.Fatalf("add --json: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runMaintCLI(t, env, "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "M-1") ||
		!strings.Contains(lines[2], "node=1011") {
		t.Fatalf("list: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runMaintCLI(t, env, "end", "M-1", "--reason", "finished early")
	if r.code != 0 || !strings.Contains(r.stdout, "M-1: ended at 2026-12-04T14:00:00.000Z (state ended)") {
		t.Fatalf("end: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = runMaintCLI(t, env, "list"); strings.Contains(r.stdout, "M-1") {
		t.Errorf("ended window in the default list:\n%s", r.stdout)
	}
	if r = runMaintCLI(t, env, "list", "--all"); !strings.Contains(r.stdout, "M-1") || !strings.Contains(r.stdout, "ended") {
		t.Errorf("list --all:\n%s", r.stdout)
	}

	// Errors a human can act on.
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no token", map[string]string{"NYMWATCH_SERVER": srv.URL}, []string{"list"}, 1, "NYMWATCH_TOKEN is not set"},
		{"no matcher", env, []string{"add", "--duration", "1h", "--reason", "x"}, 2, "at least one --service"},
		{"no reason", env, []string{"add", "--service", "nym-api", "--duration", "1h"}, 2, "needs --reason"},
		{"end and duration", env, []string{"add", "--service", "nym-api", "--duration", "1h", "--end", "2026-12-04T15:00:00Z", "--reason", "x"}, 2, "--end or --duration"},
		{"too long", env, []string{"add", "--service", "nym-api", "--duration", "8d", "--reason", "x"}, 1, "rejected: the window is too long"},
		{"unknown id", env, []string{"end", "M-99"}, 1, "not found"},
		{"already ended", env, []string{"end", "M-1"}, 1, "conflict: maintenance window M-1 has already ended"},
		{"unknown command", env, []string{"pause"}, 2, "unknown command"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runMaintCLI(t, c.env, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("code %d, stderr %q; want %d with %q", r.code, r.stderr, c.code, c.want)
			}
		})
	}
	if r := runMaintCLI(t, env, "add", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Usage: nymwatch maintenance add") || !strings.Contains(r.stdout, "-duration") {
		t.Errorf("add --help: %d\n%s", r.code, r.stdout)
	}
}
