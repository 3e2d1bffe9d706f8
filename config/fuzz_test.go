package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; every problem is an *Error with a message;
// an accepted config validates again and survives a render/parse round trip.
func FuzzParse(f *testing.F) {
	// Seeds are small on purpose: the fuzzer minimizes each new input, and
	// minimizing a whole example.yaml takes longer than the fuzzing itself.
	// (example.yaml's round trip is TestRoundTrip.)
	for _, s := range []string{
		"",
		"listen: 127.0.0.1:1\n",
		"probes: {interval: 1s, timeout: 100ms}\n",
		"services:\n  - &a {name: a, url: 'https://a.example'}\n  - {<<: *a, name: b}\n",
		"classification:\n  rules:\n    - matchers: {alertname: '=~Nym.*', severity: '!=info'}\n      class: security\n",
		"network:\n  staging_nodes: [1, Cea9o6MvrAxZbWLy1vU4yHzkM5aePT9fRNFJWpaM7SUw]\n",
		"pagers:\n  escalation: [1m, 2m]\n  alertmanager: {url: 'http://a:9093', urls: ['http://b:9093']}\n",
		"cluster:\n  name: a\n  quorum: 1\n",
		"storage:\n  driver: postgres\n  dsn: host=x dbname=y\n",
		"control_targets: [tcp://1.1.1.1:443, 'https://x.example/?a=b']\n",
		"probes:\n  interval: 1.5s\n  timeout: 1500us\n",
		"a: &a [*a]\n",
		"- x\n",
		"probes:\n  <<: {interval: 2s}\n  timeout: 1s\n",
		"network:\n  http_config: {tls_config: {server_name: x, min_version: TLS12}, proxy_url: 'http://p:1', enable_http2: false}\n",
		"pagers:\n  webhook:\n    http_config: &h {authorization: {type: Basic}, http_headers: {X-A: {values: [b]}}}\n  alertmanager: {http_config: *h}\n",
	} {
		f.Add([]byte(s))
	}
	// Token files may be named by the input; none exist under this dir.
	base := filepath.Join(os.TempDir(), "nymwatch-fuzz-does-not-exist")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml", base)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			errs := Errors(err)
			if len(errs) == 0 {
				t.Fatalf("error without *Error: %v", err)
			}
			for _, e := range errs {
				if e.Msg == "" || e.File != "fuzz.yaml" || e.Line < 0 {
					t.Fatalf("bad problem %#v", e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v\ninput:\n%s", err, data)
		}
		out := marshal(c, false)
		c2, err := Parse(out, "rendered.yaml", base)
		if err != nil {
			t.Fatalf("rendered config does not parse: %v\nrendered:\n%s", err, out)
		}
		if out2 := marshal(c2, false); string(out2) != string(out) {
			t.Fatalf("round trip changed the config:\n%s\n---\n%s", out, out2)
		}
		_ = c.String()
		_ = c.AlertmanagerURLs()
		c.Classification.ClassFor(map[string]string{"alertname": "x"})
	})
}

// FuzzRules: matcher parsing and matching never panic, and the operators
// mean what they say.
func FuzzRules(f *testing.F) {
	for _, s := range [][3]string{
		{"alertname", "NymDown", "NymDown"},
		{"severity", "!=info", "critical"},
		{"alertname", "=~Nym.*", "NymGatewayDown"},
		{"env", "!~staging|dev", "prod"},
		{"x", "==~literal", "=~literal"},
		{"x", "=~(", ""},
		{"x", "=~a{1001}", "a"},
		{"", "v", "v"},
		{"x", "=~\\p{Greek}+", "αβγ"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, label, expr, value string) {
		m, err := ParseMatcher(label, expr)
		r := Rule{Matchers: map[string]string{label: expr}, Class: ClassSecurity}
		labels := map[string]string{label: value}
		if err != nil {
			if r.Matches(labels) {
				t.Fatal("a rule with an invalid matcher matched")
			}
			if _, err := NewRule(r.Matchers, r.Class); err == nil {
				t.Fatal("NewRule accepted an invalid matcher")
			}
			return
		}
		got := m.Matches(value)
		switch m.Op {
		case MatchEqual:
			if got != (value == m.Value) {
				t.Fatalf("%v.Matches(%q) = %v", m, value, got)
			}
		case MatchNotEqual:
			if got != (value != m.Value) {
				t.Fatalf("%v.Matches(%q) = %v", m, value, got)
			}
		case MatchRegexp, MatchNotRegexp:
			re := regexp.MustCompile("^(?:" + m.Value + ")$")
			if got != (re.MatchString(value) == (m.Op == MatchRegexp)) {
				t.Fatalf("%v.Matches(%q) = %v", m, value, got)
			}
			// Negation is exact.
			neg := MatchNotRegexp
			if m.Op == MatchNotRegexp {
				neg = MatchRegexp
			}
			if (Matcher{Label: m.Label, Op: neg, Value: m.Value}).Matches(value) == got {
				t.Fatalf("%s and %s agree on %q", m.Op, neg, value)
			}
		default:
			t.Fatalf("unknown op %q", m.Op)
		}
		// Round trip through the YAML form.
		m2, err := ParseMatcher(label, m.Expr())
		if err != nil || m2.Op != m.Op || m2.Value != m.Value {
			t.Fatalf("re-parsing %q gave %v, %v", m.Expr(), m2, err)
		}
		// A rule agrees with its matcher, compiled or not.
		rule, err := NewRule(r.Matchers, r.Class)
		if err != nil {
			t.Fatalf("NewRule: %v", err)
		}
		if rule.Matches(labels) != got || r.Matches(labels) != got {
			t.Fatalf("rule and matcher disagree on %q", value)
		}
		// A missing label matches as "".
		if rule.Matches(map[string]string{}) != m.Matches("") {
			t.Fatal("missing label does not match as empty")
		}
		cl := Classification{DefaultAlertClass: ClassInternal, Rules: []Rule{rule}}
		class, matched := cl.ClassFor(labels)
		if matched != got || (matched && class != ClassSecurity) || (!matched && class != ClassInternal) {
			t.Fatalf("ClassFor = %q, %v", class, matched)
		}
		if !strings.HasPrefix(m.String(), label+": ") {
			t.Fatalf("String() = %q", m.String())
		}
	})
}
