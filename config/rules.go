package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// MatchOp is how a matcher compares a label's value.
type MatchOp string

// Match operators, written as a prefix of the matcher's value in YAML:
//
//	severity: critical        # equal (no prefix)
//	severity: "=critical"     # equal; the prefix lets a value start with ! or =
//	severity: "!=info"        # not equal
//	alertname: "=~Nym.*Down"  # regular expression, fully anchored (RE2)
//	alertname: "!~Test.*"     # negated regular expression
//
// As in Prometheus, a missing label matches as the empty string.
const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// maxMatcherLen bounds a matcher's value; real ones are short.
const maxMatcherLen = 4096

// Matcher matches one label.
type Matcher struct {
	Label string
	Op    MatchOp
	Value string // the literal, or the regular expression without anchors
	re    *regexp.Regexp
}

// ParseMatcher parses a matcher's YAML value expr for label (see MatchOp).
func ParseMatcher(label, expr string) (Matcher, error) {
	if label == "" {
		return Matcher{}, errors.New("empty label name")
	}
	if !utf8.ValidString(label) {
		return Matcher{}, errors.New("label name is not valid UTF-8")
	}
	if len(expr) > maxMatcherLen {
		return Matcher{}, fmt.Errorf("matcher longer than %d bytes", maxMatcherLen)
	}
	m := Matcher{Label: label}
	switch {
	case strings.HasPrefix(expr, "=~"):
		m.Op, m.Value = MatchRegexp, expr[2:]
	case strings.HasPrefix(expr, "!~"):
		m.Op, m.Value = MatchNotRegexp, expr[2:]
	case strings.HasPrefix(expr, "!="):
		m.Op, m.Value = MatchNotEqual, expr[2:]
	case strings.HasPrefix(expr, "="):
		m.Op, m.Value = MatchEqual, expr[1:]
	default:
		m.Op, m.Value = MatchEqual, expr
	}
	if m.Op == MatchRegexp || m.Op == MatchNotRegexp {
		// Compiled bare first so that an error quotes what the user wrote.
		if _, err := regexp.Compile(m.Value); err != nil {
			return Matcher{}, fmt.Errorf("invalid regular expression %q: %w", m.Value, err)
		}
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("invalid regular expression %q: %w", m.Value, err)
		}
		m.re = re
	}
	return m, nil
}

// Matches reports whether value (of m.Label; "" if missing) matches.
func (m Matcher) Matches(value string) bool {
	switch m.Op {
	case MatchEqual:
		return value == m.Value
	case MatchNotEqual:
		return value != m.Value
	case MatchRegexp, MatchNotRegexp:
		re := m.re
		if re == nil { // built by hand, not by ParseMatcher
			var err error
			if re, err = regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
				return false
			}
		}
		return re.MatchString(value) == (m.Op == MatchRegexp)
	}
	return false
}

// Expr returns the matcher's value as written in YAML; ParseMatcher(m.Label,
// m.Expr()) gives m back. An equality needs the "=" prefix only when the
// value itself starts with "=" or "!" (not "~": "=~x" would be a regexp).
func (m Matcher) Expr() string {
	if m.Op == MatchEqual && !strings.HasPrefix(m.Value, "=") && !strings.HasPrefix(m.Value, "!") {
		return m.Value
	}
	return string(m.Op) + m.Value
}

// String renders the matcher the way it is written in YAML.
func (m Matcher) String() string {
	return fmt.Sprintf("%s: %q", m.Label, m.Expr())
}

// Rule classifies Alertmanager alerts whose labels match all its matchers.
type Rule struct {
	// Matchers maps a label name to a matcher (see MatchOp).
	Matchers map[string]string `yaml:"matchers"`
	// Class is security, operational or internal.
	Class string `yaml:"class"`

	compiled []Matcher // set by NewRule and Parse
}

// NewRule builds and checks a rule.
func NewRule(matchers map[string]string, class string) (Rule, error) {
	r := Rule{Matchers: matchers, Class: class}
	ms, err := r.ParseMatchers()
	if err != nil {
		return Rule{}, err
	}
	if !validClass(class) {
		return Rule{}, fmt.Errorf("invalid class %q (want security, operational or internal)", class)
	}
	r.compiled = ms
	return r, nil
}

// ParseMatchers parses r.Matchers, sorted by label name.
func (r Rule) ParseMatchers() ([]Matcher, error) {
	if len(r.Matchers) == 0 {
		return nil, errors.New("a rule needs at least one matcher")
	}
	labels := make([]string, 0, len(r.Matchers))
	for l := range r.Matchers {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	ms := make([]Matcher, 0, len(labels))
	var errs []error
	for _, l := range labels {
		m, err := ParseMatcher(l, r.Matchers[l])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l, err))
			continue
		}
		ms = append(ms, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ms, nil
}

// Matches reports whether labels satisfy every matcher of the rule. A rule
// without matchers, or with an invalid one, matches nothing.
func (r Rule) Matches(labels map[string]string) bool {
	ms := r.compiled
	if ms == nil {
		var err error
		if ms, err = r.ParseMatchers(); err != nil {
			return false
		}
	}
	for _, m := range ms {
		if !m.Matches(labels[m.Label]) {
			return false
		}
	}
	return len(ms) > 0
}

// ClassFor returns the class of the first rule matching labels, and true;
// or default_alert_class and false if no rule matches. (An alert's own
// class label, which takes precedence, is the caller's business.)
func (c *Classification) ClassFor(labels map[string]string) (class string, matched bool) {
	for _, r := range c.Rules {
		if r.Matches(labels) {
			return r.Class, true
		}
	}
	return c.DefaultAlertClass, false
}

func validClass(c string) bool {
	return c == ClassSecurity || c == ClassOperational || c == ClassInternal
}
