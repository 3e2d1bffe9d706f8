package webui

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/nymwatch/nymwatch/internal/authn"
)

// TestLoginThrottleBehindProxy: behind a trusted reverse proxy every login
// arrives from the proxy's address; an attacker's failures must not lock
// out the on-call human, while the attacker itself is throttled.
func TestLoginThrottleBehindProxy(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		g, err := authn.NewGuard(authn.GuardOptions{
			Throttle:       authn.ThrottleOptions{FailuresPerClient: 3, FailuresGlobal: 1000, Now: o.Now},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		})
		if err != nil {
			t.Fatal(err)
		}
		o.Guard = g
	})
	from := func(client string) []string { return append(e.sameOrigin(), "X-Forwarded-For", client) }
	for i := range 3 {
		if r := e.do("POST", "/login", url.Values{"token": {"guess"}}, nil, from("203.0.113.5")...); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	r := e.do("POST", "/login", url.Values{"token": {testToken}}, nil, from("203.0.113.5")...)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" || !strings.Contains(r.body, "Wait 60 seconds") {
		t.Errorf("attacker after 3 failures: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	// A forged X-Forwarded-For to the left of the proxy's entry does not
	// get the attacker a fresh budget: the rightmost untrusted hop counts.
	r = e.do("POST", "/login", url.Values{"token": {"guess"}}, nil, append(e.sameOrigin(), "X-Forwarded-For", "192.0.2.99, 203.0.113.5")...)
	if r.status != http.StatusTooManyRequests {
		t.Errorf("forged left-hand hop: %d, want 429", r.status)
	}
	// The human, through the same proxy, logs in.
	r = e.do("POST", "/login", url.Values{"token": {testToken}, "next": {"/"}}, nil, from("198.51.100.20")...)
	if r.status != http.StatusSeeOther {
		t.Errorf("the human behind the proxy: %d %s", r.status, r.body)
	}
	if strings.Contains(e.logs.String(), "guess") {
		t.Errorf("a typed token reached the log:\n%s", e.logs)
	}
}
