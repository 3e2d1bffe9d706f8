package authn

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

func TestTokenMatches(t *testing.T) {
	tok := NewToken([]byte("correct-horse-battery\n"))
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"correct-horse-battery", true},
		{" correct-horse-battery ", true},
		{"correct-horse-batter", false},
		{"correct-horse-batteryX", false},
		{"", false},
	} {
		if got := tok.Matches(tt.in); got != tt.want {
			t.Errorf("Matches(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if NewToken(nil).Matches("") || NewToken([]byte("  \n")).Set() {
		t.Error("an empty token must match nothing")
	}
	if !MatchAny("b-token-000000000", NewToken([]byte("a-token-000000000")), NewToken([]byte("b-token-000000000"))) {
		t.Error("MatchAny missed the second token")
	}
	if MatchAny("c", NewToken(nil), NewToken([]byte("a-token-000000000"))) {
		t.Error("MatchAny matched nothing configured")
	}
}

func TestBearer(t *testing.T) {
	for _, tt := range []struct {
		header       string
		tok          string
		present, ok_ bool
	}{
		{"", "", false, false},
		{"Bearer abc", "abc", true, true},
		{"bearer  abc ", "abc", true, true},
		{"Basic abc", "", true, false},
		{"Bearer", "", true, false},
		{"Bearer  ", "", true, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		tok, present, ok := Bearer(r)
		if tok != tt.tok || present != tt.present || ok != tt.ok_ {
			t.Errorf("Bearer(%q) = %q,%v,%v", tt.header, tok, present, ok)
		}
	}
}

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tt := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy configured header ignored", "192.0.2.7:5555", []string{"203.0.113.9"}, "192.0.2.7"},
		{"trusted proxy", "10.1.2.3:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"rightmost untrusted hop", "10.1.2.3:443", []string{"198.51.100.66, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"forged left part ignored", "10.1.2.3:443", []string{"127.0.0.1", "203.0.113.9"}, "203.0.113.9"},
		{"all trusted: leftmost", "10.1.2.3:443", []string{"10.5.5.5"}, "10.5.5.5"},
		{"garbage stops at the proxy", "10.1.2.3:443", []string{"not-an-ip"}, "10.1.2.3"},
		{"garbage after a good hop", "10.1.2.3:443", []string{"junk, 203.0.113.9"}, "203.0.113.9"},
		{"no header", "10.1.2.3:443", nil, "10.1.2.3"},
		{"ipv6 proxy", "[::1]:443", []string{"2001:db8::1"}, "2001:db8::1"},
		{"mapped v4", "[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientAddr(r, proxies); got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
func mustAllow(t *testing.T, th *Throttle, a string) {
	t.Helper()
	if l, _ := th.Allow(addr(a)); l != LimitNone {
		t.Fatalf("%s refused by the %s limit", a, l)
	}
}

func TestThrottlePerClient(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := NewThrottle(ThrottleOptions{FailuresPerClient: 3, FailuresGlobal: 100, Window: time.Minute, Now: clk.Now})
	var reached Limit
	for range 3 {
		mustAllow(t, th, "192.0.2.1")
		reached = th.Fail(addr("192.0.2.1"))
		clk.Advance(time.Second)
	}
	if reached != LimitClient {
		t.Errorf("third failure reached %q, want client", reached)
	}
	l, retry := th.Allow(addr("192.0.2.1"))
	if l != LimitClient || retry != 57*time.Second {
		t.Errorf("Allow = %q, %s; want client, 57s", l, retry)
	}
	// Another client is not held back by the first one's failures.
	mustAllow(t, th, "192.0.2.2")
	// The same IPv6 /64 is one client.
	for range 3 {
		th.Fail(addr("2001:db8:1:2::1"))
	}
	if l, _ := th.Allow(addr("2001:db8:1:2::ffff")); l != LimitClient {
		t.Errorf("same /64: %q, want client", l)
	}
	mustAllow(t, th, "2001:db8:1:3::1")
	// The window ends.
	clk.Advance(57 * time.Second)
	mustAllow(t, th, "192.0.2.1")
	// Success forgets failures.
	th.Fail(addr("192.0.2.3"))
	th.Fail(addr("192.0.2.3"))
	th.Succeed(addr("192.0.2.3"))
	th.Fail(addr("192.0.2.3"))
	th.Fail(addr("192.0.2.3"))
	mustAllow(t, th, "192.0.2.3")
}

func TestThrottleGlobalCeiling(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := NewThrottle(ThrottleOptions{FailuresPerClient: 5, FailuresGlobal: 10, Window: time.Minute, Now: clk.Now})
	th.Succeed(addr("198.51.100.1")) // the on-call human, earlier
	var reached Limit
	for i := range 10 {
		reached = th.Fail(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))
	}
	if reached != LimitGlobal {
		t.Errorf("tenth failure reached %q, want global", reached)
	}
	clk.Advance(10 * time.Second)
	if l, retry := th.Allow(addr("203.0.113.200")); l != LimitGlobal || retry != 50*time.Second {
		t.Errorf("new client during the ceiling: %q %s; want global 50s", l, retry)
	}
	// The human who authenticated recently is not locked out by others.
	mustAllow(t, th, "198.51.100.1")
	clk.Advance(50 * time.Second)
	mustAllow(t, th, "203.0.113.200")
	// Trust expires.
	clk.Advance(DefaultTrustedFor)
	for i := range 10 {
		th.Fail(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))
	}
	if l, _ := th.Allow(addr("198.51.100.1")); l != LimitGlobal {
		t.Errorf("after TrustedFor: %q, want global", l)
	}
}

func TestThrottleBoundedMemory(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := NewThrottle(ThrottleOptions{FailuresGlobal: 1 << 30, Now: clk.Now})
	for i := range maxTrackedClients + 500 {
		th.Fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if n := len(th.clients); n > maxTrackedClients {
		t.Errorf("%d clients tracked, bound is %d", n, maxTrackedClients)
	}
	for i := range maxTrustedClients + 10 {
		th.Succeed(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)}))
		clk.Advance(time.Millisecond)
	}
	if n := len(th.trusted); n > maxTrustedClients {
		t.Errorf("%d trusted clients, bound is %d", n, maxTrustedClients)
	}
}
