package disclosure

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
)

var incUpdateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// incGolden compares got with testdata/name, or rewrites it with -update.
func incGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *incUpdateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s ./disclosure/ -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// reportMeasured is what the scenarios' nymwatch probes.
var reportMeasured = Measured{Services: []string{"nym-api", "nymvpn-api", "nym-api directory"}, Nodes: 640}

// measuring makes e's reports know what nymwatch probes (the daemon passes
// ServiceOptions.Measured).
func measuring(e *incEnv, m Measured) {
	e.svc.store.env.measured = func() Measured { return m }
}

// incReportScenarios build incidents through the service, as in production.
func incReportScenarios() map[string]func(t *testing.T, e *incEnv) string {
	op := Actor{Name: "operator:alice", RemoteAddr: "192.0.2.10:40000"}
	return map[string]func(t *testing.T, e *incEnv) string{
		"decentralized_operational": func(t *testing.T, e *incEnv) string {
			entry := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 1399, 3)
			exit := incGateways("exit_gateways", detector.ClassOperational, incAt(2*time.Minute), 2210, 2)
			e.apply(t, entry, incAt(2*time.Minute))
			e.apply(t, exit, incAt(3*time.Minute))
			id := e.only(t).ID
			if _, err := e.svc.Confirm(t.Context(), id, op, incAt(9*time.Minute+250*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			entry.ResolvedAt = incAt(41*time.Minute + 7*time.Millisecond)
			exit.ResolvedAt = incAt(38 * time.Minute)
			e.apply(t, entry, incAt(42*time.Minute))
			e.apply(t, exit, incAt(42*time.Minute))
			ack := "Thanks to community members on Telegram who reported failing connections at 10:03 UTC."
			if _, err := e.svc.Edit(t.Context(), id, map[string]*string{"acknowledgments": &ack}, op, incAt(50*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Resolve(t.Context(), id, op, incAt(55*time.Minute)); err != nil {
				t.Fatal(err)
			}
			return id
		},
		"centralized_draft": func(t *testing.T, e *incEnv) string {
			e.apply(t, incService("nymvpn-api", detector.ClassOperational, incAt(0)), incAt(time.Minute))
			e.clock.Set(incAt(3*time.Hour + 7*time.Second)) // still open: durations run to now
			return e.only(t).ID
		},
		"security": func(t *testing.T, e *incEnv) string {
			e.apply(t, detector.Anomaly{
				ID: "alert/CredentialIssuanceKeyExposed@1", Component: "alert/CredentialIssuanceKeyExposed",
				Class: detector.ClassSecurity, Architecture: detector.ArchCentralized,
				Title:  "Credential issuance key possibly exposed",
				Reason: "Alertmanager alert labelled class=security",
				Source: "alertmanager", Affected: []string{"alert/CredentialIssuanceKeyExposed"},
				Labels:    map[string]string{"alertname": "CredentialIssuanceKeyExposed", "class": "security", "severity": "critical"},
				FirstSeen: incAt(0), DetectedAt: incAt(0),
			}, incAt(time.Second))
			e.clock.Set(incAt(20 * time.Minute))
			return e.only(t).ID
		},
		"internal": func(t *testing.T, e *incEnv) string {
			a := incGateways("node/1399", detector.ClassInternal, incAt(0), 1399, 1)
			a.Title = "Node 1399 unreachable"
			a.Reason = "a single node below the user-impact threshold: localized to its operator"
			e.apply(t, a, incAt(time.Minute))
			a.ResolvedAt = incAt(4 * time.Minute)
			e.apply(t, a, incAt(4*time.Minute))
			return e.only(t).ID
		},
	}
}

func TestIncidentReportGolden(t *testing.T) {
	for name, build := range incReportScenarios() {
		t.Run(name, func(t *testing.T) {
			e := newIncEnv(t)
			measuring(e, reportMeasured)
			id := build(t, e)
			inc := e.get(t, id)
			incGolden(t, "report_"+name+".md", []byte(RenderMarkdown(inc)))
			b, err := json.MarshalIndent(inc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			incGolden(t, "incident_"+name+".json", append(b, '\n'))
		})
	}
}

func TestIncidentReportContent(t *testing.T) {
	e := newIncEnv(t)
	id := incReportScenarios()["decentralized_operational"](t, e)
	inc := e.get(t, id)
	md := RenderMarkdown(inc)
	headings := []string{
		"## Headline summary", "## Timeline", "## Root cause", "## Architecture context",
		"## Privacy impact assessment", "## User and community acknowledgment", "## Remediation actions",
		"## What users should do",
	}
	last := -1
	for _, h := range headings {
		i := strings.Index(md, "\n"+h+"\n")
		if i < 0 || i < last {
			t.Errorf("heading %q missing or out of order", h)
		}
		last = i
	}
	for _, want := range []string{
		"Users first experienced issues: 2026-11-25T10:00:00.123Z",
		"Nym team became aware: 2026-11-25T10:09:00.373Z",
		"Service restored: 2026-11-25T10:41:00.130Z",
		"Last healthy observation: 2026-11-25T09:59:30.123Z",
		"Total time to resolution: 41m0s",
		"node 1399", "node 2211", "DE", "GET /api/v1/health: context deadline exceeded",
		"600+ independent node operators",
		"Multi-layer encryption remained intact",
		"payments remain unlinkable to VPN usage",
		"No action required.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "DRAFT") {
		t.Error("a resolved incident's report is marked as draft")
	}

	sec := newIncEnv(t)
	sid := incReportScenarios()["security"](t, sec)
	sinc := sec.get(t, sid)
	for _, f := range []string{"root_cause", "privacy_impact", "remediation", "user_actions", "acknowledgments"} {
		if !strings.Contains(strings.Join(sinc.Report.Unfilled(), ","), f) {
			t.Errorf("security report: %s should be marked to be filled (unfilled %v)", f, sinc.Report.Unfilled())
		}
	}
	if !strings.Contains(RenderMarkdown(sinc), "> DRAFT") {
		t.Error("draft report not marked as draft")
	}
}

func TestIncidentReportEscapesNetworkText(t *testing.T) {
	e := newIncEnv(t)
	a := incGateways("entry_gateways", detector.ClassOperational, incAt(0), 7, 1)
	a.Evidence[0].Detail = "GET /: 500 <script>alert(1)</script>\n## Fake heading"
	a.Title = "Entry <b>gateways</b>\nfailing"
	a.Evidence[0].TargetID = "node/7/`x`"
	e.apply(t, a, incAt(time.Minute))
	md := RenderMarkdown(e.only(t))
	for _, bad := range []string{"<script>", "<b>", "\n## Fake heading", "``x``"} {
		if strings.Contains(md, bad) {
			t.Errorf("report contains %q:\n%s", bad, md)
		}
	}
	if !strings.Contains(md, "&lt;script&gt;") {
		t.Errorf("escaped detail missing:\n%s", md)
	}
}

func TestIncidentMarkdownHelpers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  two\n\nlines\t ", "two lines"},
		{"a<b>c", "a&lt;b&gt;c"},
		{"ctrl\x00\x1b[31m", "ctrl \\[31m"},
		{"bad\xffutf8", "bad utf8"},
		{"[Nym official fix](https://phish.example/fix)", "\\[Nym official fix\\](https\\://phish.example/fix)"},
		{"![img](http://x/y.png)", "!\\[img\\](http\\://x/y.png)"},
		{"see www.phish.example or WWW.X.Y", "see www\\.phish.example or WWW\\.X.Y"},
		{"mail admin@phish.example", "mail admin\\@phish.example"},
		{"# heading", "\\# heading"},
		{"- item", "\\- item"},
		{"+ item", "\\+ item"},
		{"===", "\\==="},
		{"12. item and 3) item", "12\\. item and 3) item"},
		{"7) item", "7\\) item"},
		{"> quote", "&gt; quote"},
		{"a & b &amp; c", "a &amp; b &amp;amp; c"},
		{"`code` *em* _em_ ~~del~~ a|b \\", "\\`code\\` \\*em\\* \\_em\\_ \\~\\~del\\~\\~ a\\|b \\\\"},
		{"v1.2.3 node-1 a#b a-b 1.5s", "v1.2.3 node-1 a#b a-b 1.5s"},
		{"bidi\u202egnp.exe zero\u200bwidth", "bidignp.exe zerowidth"},
	}
	for _, tt := range tests {
		if got := mdInline(tt.in, 100); got != tt.want {
			t.Errorf("mdInline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := mdInline(strings.Repeat("é", 10), 5); got != strings.Repeat("é", 5)+"…" {
		t.Errorf("truncation: %q", got)
	}
	for d, want := range map[time.Duration]string{
		1500 * time.Millisecond:  "1.5s",
		41*time.Minute + 7:       "41m0s",
		-time.Second:             "0s",
		2*time.Hour + 1234567890: "2h0m1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := joinWords([]string{"a", "b", "c"}); got != "a, b and c" {
		t.Errorf("joinWords = %q", got)
	}
}
