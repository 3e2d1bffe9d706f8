package authn

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Surfaces label the guard's metrics: a handful of fixed values, never a
// client or a path.
const (
	SurfaceAPI     = "api"
	SurfaceConsole = "console"
	SurfaceCluster = "cluster"
)

// Guard is one throttle shared by every authenticated surface (one
// attacker, one budget), with the trusted proxies that say who the client
// is, and its metrics. Build it once per process: a config reload changes
// only the proxies (SetTrustedProxies), so failures survive a reload.
type Guard struct {
	th        *Throttle
	proxies   atomic.Pointer[[]netip.Prefix]
	log       *slog.Logger
	failures  *prometheus.CounterVec
	throttled *prometheus.CounterVec
}

// GuardOptions configure NewGuard.
type GuardOptions struct {
	Throttle       ThrottleOptions
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Registerer for nymwatch_auth_failures_total and
	// nymwatch_auth_throttled_total; nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// NewGuard returns a guard.
func NewGuard(o GuardOptions) (*Guard, error) {
	g := &Guard{
		th:  NewThrottle(o.Throttle),
		log: o.Logger,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_auth_failures_total",
			Help: "Requests that presented a wrong token or password, by surface (api, console, cluster).",
		}, []string{"surface"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nymwatch_auth_throttled_total",
			Help: "Authentication attempts refused with 429 by the failure throttle, by surface and limit (client, global).",
		}, []string{"surface", "limit"}),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	for _, s := range []string{SurfaceAPI, SurfaceConsole, SurfaceCluster} {
		g.failures.WithLabelValues(s)
		g.throttled.WithLabelValues(s, string(LimitClient))
		g.throttled.WithLabelValues(s, string(LimitGlobal))
	}
	g.SetTrustedProxies(o.TrustedProxies)
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{g.failures, g.throttled} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("authn: register metrics: %w", err)
			}
		}
	}
	return g, nil
}

// SetTrustedProxies applies a reloaded web.trusted_proxies.
func (g *Guard) SetTrustedProxies(p []netip.Prefix) {
	p = slices.Clone(p)
	g.proxies.Store(&p)
}

// Client returns the client address of r (see ClientAddr).
func (g *Guard) Client(r *http.Request) netip.Addr {
	return ClientAddr(r, *g.proxies.Load())
}

// Allow checks the throttle before a credential is looked at. When the
// attempt is refused it sets Retry-After on w and returns false; the
// caller answers 429 in its own format.
func (g *Guard) Allow(w http.ResponseWriter, surface string, client netip.Addr) bool {
	limit, retry := g.th.Allow(client)
	if limit == LimitNone {
		return true
	}
	g.throttled.WithLabelValues(surface, string(limit)).Inc()
	w.Header().Set("Retry-After", RetryAfter(retry))
	return false
}

// Fail records a wrong credential. The start of a block is logged once;
// each failure is counted but not logged here (the caller logs it, and the
// throttle bounds how many there can be).
func (g *Guard) Fail(surface string, client netip.Addr) {
	g.failures.WithLabelValues(surface).Inc()
	switch g.th.Fail(client) {
	case LimitClient:
		g.log.Warn("too many failed authentications from one client; throttling it", "surface", surface,
			"client", clientKey(client), "window", g.th.o.Window, "failures", g.th.o.FailuresPerClient)
	case LimitGlobal:
		g.log.Warn("too many failed authentications from all clients; throttling clients without a recent success",
			"surface", surface, "window", g.th.o.Window, "failures", g.th.o.FailuresGlobal)
	}
}

// Succeed records a valid credential from client.
func (g *Guard) Succeed(client netip.Addr) { g.th.Succeed(client) }

// RetryAfter formats d as whole seconds, rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
