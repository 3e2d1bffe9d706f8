package webui

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/store"
)

var (
	htmlLinkRE    = regexp.MustCompile(`(?i)<a[\s>]|<img`)
	htmlHeadingRE = regexp.MustCompile(`<h[1-6]>`)
)

// FuzzConsoleNodeText: whatever a node supplies (its error details,
// target ids, role and country, alert labels and titles), the console's
// rendering of the report has no link, image and no heading beyond the
// report's own, and no markup outside the renderer's own tags. The
// incident goes through the real service (SQLite), as on the console.
// Seeds are in testdata/fuzz/FuzzConsoleNodeText.
func FuzzConsoleNodeText(f *testing.F) {
	db, err := store.Open(f.Context(), filepath.Join(f.TempDir(), "nymwatch.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	svc, err := disclosure.NewService(f.Context(), disclosure.ServiceOptions{DB: db,
		Now:      func() time.Time { return t0.Add(time.Hour) },
		Measured: func() disclosure.Measured { return disclosure.Measured{Services: []string{"nym-api"}, Nodes: 3} }})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{phishBody, "www.phish.example", "<https://phish.example>", "x\n# h\n===", "![i](https://p.example/i.png)"} {
		f.Add(s)
	}
	n := 0
	f.Fuzz(func(t *testing.T, s string) {
		n++ // distinct anomaly ids and times: one incident per input
		at := t0.Add(time.Duration(n) * 24 * time.Hour)
		a := detector.Anomaly{
			ID: fmt.Sprintf("exit_gateways@%d", n), Component: "exit_gateways", Class: detector.ClassOperational,
			Architecture: detector.ArchDecentralized, Title: s, Reason: s, Source: "probe",
			Affected: []string{s}, Labels: map[string]string{"alertname": s},
			FirstSeen: at, DetectedAt: at.Add(time.Minute), LastHealthy: at.Add(-time.Minute),
			Evidence: []detector.Evidence{{TargetID: s, NodeID: 7, Role: s, Country: s, Reason: s, Detail: s, Since: at}},
		}
		if err := svc.ApplyAnomaly(t.Context(), a, at.Add(time.Minute)); err != nil {
			t.Skip("the service refuses this anomaly:", err) // refused input is not rendered
		}
		incs, err := svc.List(t.Context(), disclosure.Filter{Limit: 1})
		if err != nil || len(incs) != 1 {
			t.Fatalf("list: %v", err)
		}
		inc, err := svc.Get(t.Context(), incs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		md, chunks := renderReport(inc)
		var html strings.Builder
		for _, c := range chunks {
			html.WriteString(string(c.HTML))
		}
		out := html.String()
		if m := htmlLinkRE.FindString(out); m != "" {
			t.Fatalf("node text %q made %q in the console:\n%s", s, m, out)
		}
		if got, want := len(htmlHeadingRE.FindAllString(out, -1)), 1+strings.Count(md, "\n## "); got != want {
			t.Fatalf("node text %q: %d headings on the console, the report has %d:\n%s", s, got, want, out)
		}
		for i := 0; i < len(out); i++ {
			if out[i] == '<' && !allowedTag.MatchString(out[i:]) {
				t.Fatalf("node text %q: unexpected markup %q", s, out[i:min(len(out), i+60)])
			}
		}
	})
}
