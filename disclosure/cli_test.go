package disclosure

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
)

type incCLIResult struct {
	code           int
	stdout, stderr string
}

func (e *incAPIEnv) cli(t *testing.T, env map[string]string, args ...string) incCLIResult {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := RunCLI(t.Context(), args, &out, &errb, getenv)
	return incCLIResult{code: code, stdout: out.String(), stderr: errb.String()}
}

func TestIncidentCLI(t *testing.T) {
	e := newIncAPIEnv(t, incToken)
	e.apply(t, incService("nymvpn-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
	e.apply(t, incGateways("node/5", detector.ClassInternal, incAt(0), 5, 1), incAt(2*time.Minute))
	var draftID, internalID string
	for _, inc := range e.all(t) {
		if inc.State == StateDraft {
			draftID = inc.ID
		} else {
			internalID = inc.ID
		}
	}
	srv := []string{"--server", e.srv.URL}
	withToken := map[string]string{"NYMWATCH_TOKEN": incToken + "\n", "USER": "dave"}
	noToken := map[string]string{}
	viewer := map[string]string{"NYMWATCH_TOKEN": incToken}
	args := func(a ...string) []string { return append(append([]string{}, srv...), a...) }

	t.Run("list table", func(t *testing.T) {
		r := e.cli(t, viewer, args("list")...)
		if r.code != 0 {
			t.Fatalf("code %d: %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "FIRST SEEN (UTC)") {
			t.Fatalf("table:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, draftID) || !strings.Contains(r.stdout, "nymvpn-api failing") ||
			!strings.Contains(r.stdout, "2026-11-25T10:00:00.123Z") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})
	t.Run("list filters and server from env", func(t *testing.T) {
		r := e.cli(t, map[string]string{"NYMWATCH_SERVER": e.srv.URL, "NYMWATCH_TOKEN": incToken}, "list", "--state", "internal")
		if r.code != 0 || !strings.Contains(r.stdout, internalID) || strings.Contains(r.stdout, draftID) {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = e.cli(t, viewer, args("list", "--class=security")...)
		if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stderr, "no incidents") {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("list json", func(t *testing.T) {
		r := e.cli(t, viewer, "list", "--json", "--server", e.srv.URL)
		var out struct {
			Incidents []map[string]any `json:"incidents"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Incidents) != 2 {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("list bad filter", func(t *testing.T) {
		r := e.cli(t, viewer, args("list", "--state", "open")...)
		if r.code != 1 || !strings.Contains(r.stderr, `rejected: unknown state "open"`) {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("show", func(t *testing.T) {
		r := e.cli(t, viewer, args("show", draftID)...)
		var m map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil || m["id"] != draftID || m["report"] == nil {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = e.cli(t, viewer, "show", draftID, "--report", "--server", e.srv.URL)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "# nymvpn-api failing") || !strings.Contains(r.stdout, "## What users should do") {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = e.cli(t, viewer, args("show", "INC-19990101-0001")...)
		if r.code != 1 || !strings.Contains(r.stderr, "not found") {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("reads without token", func(t *testing.T) {
		for _, a := range [][]string{args("list"), args("show", draftID)} {
			r := e.cli(t, noToken, a...)
			if r.code != 1 || !strings.Contains(r.stderr, "NYMWATCH_TOKEN is not set") || strings.Contains(r.stdout, draftID) {
				t.Errorf("%v without token: code %d stdout %q stderr %q", a, r.code, r.stdout, r.stderr)
			}
		}
	})
	t.Run("confirm without token", func(t *testing.T) {
		r := e.cli(t, noToken, args("confirm", draftID)...)
		if r.code != 1 || !strings.Contains(r.stderr, "set it to the operator token") || !strings.Contains(r.stderr, "NYMWATCH_TOKEN") {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
		r = e.cli(t, map[string]string{"NYMWATCH_TOKEN": "wrong"}, args("confirm", draftID)...)
		if r.code != 1 || !strings.Contains(r.stderr, "unauthorized (invalid operator token): set NYMWATCH_TOKEN") {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
		if inc := e.get(t, draftID); inc.State != StateDraft {
			t.Errorf("state %s", inc.State)
		}
	})
	t.Run("edit", func(t *testing.T) {
		r := e.cli(t, withToken, args("edit", draftID, "acknowledgments=Thanks to @erin on X.", "title=NymVPN API outage")...)
		if r.code != 0 || !strings.Contains(r.stdout, "edited acknowledgments, title") {
			t.Fatalf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		file := filepath.Join(t.TempDir(), "remediation.md")
		if err := os.WriteFile(file, []byte("- Immediate fixes deployed: rolled back the API release.\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r = e.cli(t, withToken, args("edit", draftID, "--field", "remediation", "--value-file", file)...)
		if r.code != 0 {
			t.Fatalf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = e.cli(t, withToken, args("edit", "--field", "user_actions", "--value", "Update the app.", draftID)...)
		if r.code != 0 {
			t.Fatalf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		inc := e.get(t, draftID)
		if inc.Title != "NymVPN API outage" || inc.Report.Acknowledgments != "Thanks to @erin on X." ||
			inc.Report.Remediation != "- Immediate fixes deployed: rolled back the API release.\n" || inc.Report.UserActions != "Update the app." {
			t.Errorf("after edits: %q %q %q %q", inc.Title, inc.Report.Acknowledgments, inc.Report.Remediation, inc.Report.UserActions)
		}
		if a := inc.Audit[len(inc.Audit)-1]; a.Actor != "operator:dave" {
			t.Errorf("actor %q", a.Actor)
		}
		r = e.cli(t, withToken, args("edit", draftID, "severity=high")...)
		if r.code != 1 || !strings.Contains(r.stderr, `unknown field "severity"`) {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
		for _, bad := range [][]string{
			{"edit", draftID},
			{"edit", draftID, "novalue"},
			{"edit", draftID, "--field", "summary"},
			{"edit", draftID, "--value", "x"},
			{"edit", draftID, "--field", "summary", "--value", "x", "--value-file", file},
			{"edit"},
		} {
			if r := e.cli(t, withToken, args(bad...)...); r.code != 2 || r.stderr == "" {
				t.Errorf("%v: code %d stderr %q", bad, r.code, r.stderr)
			}
		}
	})
	t.Run("confirm, conflict, resolve", func(t *testing.T) {
		r := e.cli(t, withToken, args("confirm", draftID)...)
		if r.code != 0 || r.stdout != draftID+": confirmed (state confirmed)\n" {
			t.Fatalf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = e.cli(t, withToken, args("dismiss", draftID, "--reason", "too late")...)
		if r.code != 1 || !strings.Contains(r.stderr, "conflict: cannot dismiss incident "+draftID+": it is confirmed") {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
		r = e.cli(t, withToken, args("resolve", draftID)...)
		if r.code != 0 || !strings.Contains(r.stdout, "resolved (state resolved)") {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = e.cli(t, withToken, args("confirm", internalID)...)
		if r.code != 1 || !strings.Contains(r.stderr, "internal incidents are not disclosed") {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("dismiss", func(t *testing.T) {
		e.apply(t, incService("accounts", detector.ClassOperational, incAt(time.Hour)), incAt(time.Hour))
		id := ""
		for _, inc := range e.all(t) {
			if inc.State == StateDraft {
				id = inc.ID
			}
		}
		if r := e.cli(t, withToken, args("dismiss", id)...); r.code != 2 || !strings.Contains(r.stderr, "dismiss needs --reason") {
			t.Errorf("code %d stderr %q", r.code, r.stderr)
		}
		r := e.cli(t, withToken, args("dismiss", id, "--reason", "synthetic test alert")...)
		if r.code != 0 || !strings.Contains(r.stdout, "dismissed (state dismissed)") {
			t.Errorf("code %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if inc := e.get(t, id); inc.DismissReason != "synthetic test alert" {
			t.Errorf("reason %q", inc.DismissReason)
		}
	})
}

func TestIncidentCLIUsage(t *testing.T) {
	e := &incAPIEnv{}
	tests := []struct {
		args     []string
		code     int
		stdout   string
		stderr   string
		noStdout bool
	}{
		{args: nil, code: 2, stderr: "Usage: nymwatch incidents"},
		{args: []string{"--help"}, code: 0, stdout: "Commands:"},
		{args: []string{"help"}, code: 0, stdout: "NYMWATCH_TOKEN"},
		{args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{args: []string{"list", "--help"}, code: 0, stdout: "-state"},
		{args: []string{"show", "-h"}, code: 0, stdout: "-report"},
		{args: []string{"confirm", "--help"}, code: 0, stdout: "confirm ID"},
		{args: []string{"dismiss", "--help"}, code: 0, stdout: "-reason"},
		{args: []string{"resolve", "--help"}, code: 0, stdout: "resolve ID"},
		{args: []string{"edit", "--help"}, code: 0, stdout: "-value-file"},
		{args: []string{"list", "--bogus"}, code: 2, stderr: "flag provided but not defined: -bogus"},
		{args: []string{"list", "extra"}, code: 2, stderr: "list takes no arguments"},
		{args: []string{"show"}, code: 2, stderr: "need exactly one incident ID"},
		{args: []string{"confirm", "a", "b"}, code: 2, stderr: "need exactly one incident ID"},
		{args: []string{"--server", "ftp://x", "list"}, code: 2, stderr: "want an http:// or https:// URL"},
		{args: []string{"list", "--server", "http://user:pw@127.0.0.1:1"}, code: 2, stderr: "credentials"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := e.cli(t, map[string]string{}, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("code %d (want %d)\nstdout %q\nstderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestIncidentCLIServerUnreachable(t *testing.T) {
	// A port that was just free: nothing listens on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := &incAPIEnv{}
	r := e.cli(t, map[string]string{"NYMWATCH_TOKEN": incToken}, "--server", "http://"+addr, "confirm", "INC-1")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach nymwatch at http://"+addr) || !strings.Contains(r.stderr, "is the daemon running") {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, incToken) {
		t.Error("token in error output")
	}
}
