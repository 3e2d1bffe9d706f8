package authn

import (
	"net/netip"
	"sync"
	"time"
)

// Throttle defaults: a 16-character token cannot be guessed at any rate, so
// the throttle exists to keep a scripted attack from filling the logs and
// burning CPU, and it must never lock out the on-call human.
const (
	DefaultFailuresPerClient = 10
	DefaultFailuresGlobal    = 100
	DefaultThrottleWindow    = time.Minute
	// DefaultTrustedFor: a client that authenticated within this time is
	// not held back by the global ceiling (others' failures).
	DefaultTrustedFor = 7 * 24 * time.Hour // an on-call week
	maxTrackedClients = 4096
	maxTrustedClients = 1024
)

// ThrottleOptions configure NewThrottle; zero values take the defaults.
type ThrottleOptions struct {
	// FailuresPerClient failed attempts from one client (an IPv4 address
	// or an IPv6 /64) within Window block that client until the window
	// that began with its first failure ends.
	FailuresPerClient int
	// FailuresGlobal failed attempts from all clients together within
	// Window block every client that has not authenticated successfully
	// within TrustedFor, until the window ends: a ceiling on a distributed
	// attack.
	FailuresGlobal int
	Window         time.Duration
	TrustedFor     time.Duration
	Now            func() time.Time
}

// Limit says which limit refused an attempt.
type Limit string

// Limits.
const (
	LimitNone   Limit = ""
	LimitClient Limit = "client"
	LimitGlobal Limit = "global"
)

// Throttle counts failed authentications per client and globally. It is
// safe for concurrent use, and its memory is bounded.
type Throttle struct {
	o ThrottleOptions

	mu          sync.Mutex
	clients     map[string]failures
	trusted     map[string]time.Time // client → last success
	globalN     int
	globalSince time.Time
}

type failures struct {
	n     int
	since time.Time
}

// NewThrottle returns a throttle.
func NewThrottle(o ThrottleOptions) *Throttle {
	if o.FailuresPerClient <= 0 {
		o.FailuresPerClient = DefaultFailuresPerClient
	}
	if o.FailuresGlobal <= 0 {
		o.FailuresGlobal = DefaultFailuresGlobal
	}
	if o.Window <= 0 {
		o.Window = DefaultThrottleWindow
	}
	if o.TrustedFor <= 0 {
		o.TrustedFor = DefaultTrustedFor
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Throttle{o: o, clients: map[string]failures{}, trusted: map[string]time.Time{}}
}

// Allow reports whether an attempt from client may be checked at all. If
// not, it says which limit refused it and how long until the client may
// try again (for Retry-After). A refused attempt is not checked, so a
// blocked client cannot learn whether a guess was right.
func (t *Throttle) Allow(client netip.Addr) (Limit, time.Duration) {
	k := clientKey(client)
	now := t.o.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.clients[k]; ok {
		if now.Sub(f.since) >= t.o.Window {
			delete(t.clients, k)
		} else if f.n >= t.o.FailuresPerClient {
			return LimitClient, f.since.Add(t.o.Window).Sub(now)
		}
	}
	if t.globalN >= t.o.FailuresGlobal {
		if now.Sub(t.globalSince) >= t.o.Window {
			t.globalN = 0
		} else if last, ok := t.trusted[k]; !ok || now.Sub(last) >= t.o.TrustedFor {
			return LimitGlobal, t.globalSince.Add(t.o.Window).Sub(now)
		}
	}
	return LimitNone, 0
}

// Fail records a failed attempt from client. It returns the limit this
// failure reached (LimitNone if none), so the caller can log the start of
// a block once instead of every refused request.
func (t *Throttle) Fail(client netip.Addr) Limit {
	k := clientKey(client)
	now := t.o.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	reached := LimitNone
	if t.globalN == 0 || now.Sub(t.globalSince) >= t.o.Window {
		t.globalN, t.globalSince = 0, now
	}
	t.globalN++
	if t.globalN == t.o.FailuresGlobal {
		reached = LimitGlobal
	}
	f, ok := t.clients[k]
	if !ok || now.Sub(f.since) >= t.o.Window {
		f = failures{since: now}
	}
	f.n++
	if f.n == t.o.FailuresPerClient {
		reached = LimitClient
	}
	if _, known := t.clients[k]; !known && len(t.clients) >= maxTrackedClients {
		for key, v := range t.clients {
			if now.Sub(v.since) >= t.o.Window {
				delete(t.clients, key)
			}
		}
		if len(t.clients) >= maxTrackedClients {
			// Bounded memory wins; the global ceiling still holds.
			return reached
		}
	}
	t.clients[k] = f
	return reached
}

// Succeed records a successful authentication: the client's failures are
// forgotten and it is exempt from the global ceiling for TrustedFor.
func (t *Throttle) Succeed(client netip.Addr) {
	k := clientKey(client)
	now := t.o.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.clients, k)
	if _, ok := t.trusted[k]; !ok && len(t.trusted) >= maxTrustedClients {
		var oldest string
		for key, v := range t.trusted {
			if oldest == "" || v.Before(t.trusted[oldest]) {
				oldest = key
			}
		}
		delete(t.trusted, oldest)
	}
	t.trusted[k] = now
}
