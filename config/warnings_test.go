package config

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	cluster := "cluster:\n  name: a\n  token_file: tok\n  quorum: 2\n  peers:\n    - {name: b, url: 'https://b.example', token_file: tok}\n"
	cases := []struct {
		name string
		in   string
		want []string // substrings of the one warning; none: no warning
	}{
		{"no control targets", "", []string{"control_targets: warning: none configured", "marked \"unverified\"", "configure two or three"}},
		{"no control targets, cluster", cluster, []string{"control_targets: warning: none configured", "with cluster.quorum 2"}},
		{"control targets set", "control_targets:\n  - tcp://1.1.1.1:443\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "tok", "cluster-token-0123456789abcdef\n")
			c, err := Parse([]byte(tc.in), "config.yaml", dir)
			if err != nil {
				t.Fatal(err)
			}
			ws := c.Warnings()
			if len(tc.want) == 0 {
				if len(ws) != 0 {
					t.Fatalf("warnings %v, want none", ws)
				}
				return
			}
			if len(ws) != 1 {
				t.Fatalf("warnings %v, want one", ws)
			}
			for _, sub := range tc.want {
				if !strings.Contains(ws[0].String(), sub) {
					t.Errorf("%q lacks %q", ws[0], sub)
				}
			}
		})
	}
}
