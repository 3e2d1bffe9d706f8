package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		expr    string
		op      MatchOp
		value   string
		match   []string
		noMatch []string
		wantErr string
	}{
		{expr: "critical", op: MatchEqual, value: "critical", match: []string{"critical"}, noMatch: []string{"", "Critical", "critical2"}},
		{expr: "", op: MatchEqual, value: "", match: []string{""}, noMatch: []string{"x"}},
		{expr: "=critical", op: MatchEqual, value: "critical", match: []string{"critical"}, noMatch: []string{"=critical"}},
		{expr: "==~x", op: MatchEqual, value: "=~x", match: []string{"=~x"}, noMatch: []string{"x"}},
		{expr: "~x", op: MatchEqual, value: "~x", match: []string{"~x"}, noMatch: []string{"x"}},
		{expr: "!=info", op: MatchNotEqual, value: "info", match: []string{"", "critical"}, noMatch: []string{"info"}},
		{expr: "!=", op: MatchNotEqual, value: "", match: []string{"x"}, noMatch: []string{""}},
		{expr: "=~Nym.*Down", op: MatchRegexp, value: "Nym.*Down", match: []string{"NymDown", "NymGatewayDown"}, noMatch: []string{"xNymDown", "NymDownx", ""}},
		{expr: "=~a|b", op: MatchRegexp, value: "a|b", match: []string{"a", "b"}, noMatch: []string{"ab", "xa"}},
		{expr: "!~staging|dev", op: MatchNotRegexp, value: "staging|dev", match: []string{"prod", "", "staging2"}, noMatch: []string{"staging", "dev"}},
		{expr: "=~(", wantErr: "invalid regular expression \"(\": error parsing regexp: missing closing ): `(`"},
		{expr: "=~x)(y", wantErr: "invalid regular expression \"x)(y\": error parsing regexp: unexpected ): `x)(y`"},
		{expr: "=~" + strings.Repeat("a", maxMatcherLen), wantErr: "matcher longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			m, err := ParseMatcher("l", tt.expr)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Op != tt.op || m.Value != tt.value {
				t.Errorf("got %s %q, want %s %q", m.Op, m.Value, tt.op, tt.value)
			}
			for _, v := range tt.match {
				if !m.Matches(v) {
					t.Errorf("%v does not match %q", m, v)
				}
			}
			for _, v := range tt.noMatch {
				if m.Matches(v) {
					t.Errorf("%v matches %q", m, v)
				}
			}
			if m2, err := ParseMatcher("l", m.Expr()); err != nil || m2.Op != m.Op || m2.Value != m.Value {
				t.Errorf("Expr() %q does not parse back: %v %v", m.Expr(), m2, err)
			}
		})
	}
	if _, err := ParseMatcher("", "x"); err == nil {
		t.Error("empty label accepted")
	}
	// A Matcher built by hand still works.
	if !(Matcher{Label: "a", Op: MatchRegexp, Value: "x+"}).Matches("xxx") {
		t.Error("hand-built regexp matcher does not match")
	}
	if (Matcher{Label: "a", Op: MatchRegexp, Value: "("}).Matches("(") {
		t.Error("hand-built invalid regexp matches")
	}
}

func TestClassFor(t *testing.T) {
	in := `classification:
  default_alert_class: internal
  rules:
    - matchers: {category: security}
      class: security
    - matchers: {alertname: "=~Nym.*Down", env: "!=staging"}
      class: operational
    - matchers: {alertname: "=~Nym.*"}
      class: internal
`
	c, err := Parse([]byte(in), "c.yml", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		labels  map[string]string
		class   string
		matched bool
	}{
		{map[string]string{"category": "security", "alertname": "NymApiDown"}, "security", true},
		{map[string]string{"alertname": "NymApiDown"}, "operational", true},
		{map[string]string{"alertname": "NymApiDown", "env": "prod"}, "operational", true},
		{map[string]string{"alertname": "NymApiDown", "env": "staging"}, "internal", true},
		{map[string]string{"alertname": "NymApiSlow"}, "internal", true},
		{map[string]string{"alertname": "DiskFull"}, "internal", false},
		{nil, "internal", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.labels), func(t *testing.T) {
			class, matched := c.Classification.ClassFor(tt.labels)
			if class != tt.class || matched != tt.matched {
				t.Errorf("ClassFor = %q, %v; want %q, %v", class, matched, tt.class, tt.matched)
			}
		})
	}
	// Rules built in code, with and without NewRule, behave the same.
	r, err := NewRule(map[string]string{"severity": "=~crit.*"}, ClassSecurity)
	if err != nil {
		t.Fatal(err)
	}
	raw := Rule{Matchers: map[string]string{"severity": "=~crit.*"}, Class: ClassSecurity}
	for _, v := range []string{"critical", "info", ""} {
		l := map[string]string{"severity": v}
		if r.Matches(l) != raw.Matches(l) {
			t.Errorf("NewRule and literal Rule disagree on %q", v)
		}
	}
	if (Rule{Class: ClassSecurity}).Matches(map[string]string{}) {
		t.Error("a rule without matchers matched")
	}
	if _, err := NewRule(map[string]string{"a": "b"}, "page"); err == nil {
		t.Error("NewRule accepted class page")
	}
	if _, err := NewRule(nil, ClassInternal); err == nil {
		t.Error("NewRule accepted no matchers")
	}
}
