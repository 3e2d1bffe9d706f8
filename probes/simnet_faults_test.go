package probes

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
)

// The real probers against the simulated network's faults, in both of its
// listening modes: each fault must be seen, with the reason an operator
// would expect, by at least the probe kinds that can see it.

// simTimeouts: generous for probes expected to answer (shared machine),
// short for those expected to hang.
const (
	simOKTimeout   = 10 * time.Second
	simHangTimeout = 300 * time.Millisecond
)

// startSimnet starts a demo-sized network in mode and discovers its targets
// through nym-api, as the daemon does.
func startSimnet(t *testing.T, mode simnet.ListenMode) (*simnet.Network, []*Target) {
	t.Helper()
	o := simnet.DemoOptions()
	o.Listen = mode
	n, err := simnet.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	nodes, err := fetchNodes(t.Context(), n.NymAPIURL(), 30*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	targets := BuildTargets(nodes, nil, nil, nil)
	if len(targets) == 0 {
		t.Fatal("no targets discovered")
	}
	return n, targets
}

// nodeTargets are node id's targets by kind.
func nodeTargets(targets []*Target, id uint32) map[Kind]*Target {
	out := map[Kind]*Target{}
	for _, tg := range targets {
		if tg.Node != nil && tg.Node.NodeID == id {
			out[tg.Kind] = tg
		}
	}
	return out
}

func TestProbersAgainstSimnetFaults(t *testing.T) {
	type want struct {
		reason Reason // ReasonNone: healthy
		detail string // substring of the detail, if any
	}
	ok := want{}
	type row struct {
		fault simnet.Fault
		// by probe kind; per mode where the two differ
		perAddr, wildcard map[Kind]want
	}
	same := func(m map[Kind]want) (map[Kind]want, map[Kind]want) { return m, m }
	rows := []row{{fault: simnet.None()}, {fault: simnet.Refuse()}, {fault: simnet.Hang()}, {fault: simnet.Garbage()}, {fault: simnet.HTTP5xx(502)}}
	rows[0].perAddr, rows[0].wildcard = same(map[Kind]want{KindNodeHTTP: ok, KindMixPort: ok, KindWSPort: ok})
	// Refuse: the kernel refuses when the node owns its socket; behind a
	// wildcard socket the node accepts and resets.
	rows[1].perAddr = map[Kind]want{
		KindNodeHTTP: {ReasonRefused, "connection refused"},
		KindMixPort:  {ReasonRefused, "connection refused"},
		KindWSPort:   {ReasonRefused, "connection refused"},
	}
	rows[1].wildcard = map[Kind]want{
		KindNodeHTTP: {ReasonNetwork, "reset"},
		KindMixPort:  {ReasonNetwork, "reset"},
		KindWSPort:   {ReasonNetwork, "reset"},
	}
	// Hang: accepted and silent. A mix port is silent when healthy too, so
	// only the HTTP API and the websocket upgrade can see it.
	rows[2].perAddr, rows[2].wildcard = same(map[Kind]want{
		KindNodeHTTP: {ReasonTimeout, "awaiting response"},
		KindMixPort:  ok,
		KindWSPort:   {ReasonTimeout, "websocket upgrade: awaiting response"},
	})
	rows[3].perAddr, rows[3].wildcard = same(map[Kind]want{
		KindNodeHTTP: {ReasonBadBody, "invalid JSON"},
		KindMixPort:  {ReasonBadBody, "before the client spoke"},
		KindWSPort:   {ReasonHTTPStatus, "websocket upgrade: 200 OK"},
	})
	rows[4].perAddr, rows[4].wildcard = same(map[Kind]want{
		KindNodeHTTP: {ReasonHTTPStatus, "502 Bad Gateway"},
		KindMixPort:  {ReasonBadBody, "before the client spoke"},
		KindWSPort:   {ReasonHTTPStatus, "websocket upgrade: 502 Bad Gateway"},
	})

	for _, mode := range []simnet.ListenMode{simnet.ListenPerAddress, simnet.ListenWildcard} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			n, targets := startSimnet(t, mode)
			if n.ListenMode() != mode {
				t.Fatalf("network listens %s, want %s", n.ListenMode(), mode)
			}
			gw := n.NodesByRole(simnet.RoleExitGateway)[0]
			tgs := nodeTargets(targets, gw.ID)
			if len(tgs) != 4 || tgs[KindIdentity] == nil {
				t.Fatalf("exit gateway %d has targets %v, want http, identity, mix and ws", gw.ID, tgs)
			}
			m := NewMulti(ProberOptions{AllowPrivate: true})
			for _, rw := range rows {
				if err := n.SetFault(gw.ID, rw.fault); err != nil {
					t.Fatal(err)
				}
				wants := rw.perAddr
				if mode == simnet.ListenWildcard {
					wants = rw.wildcard
				}
				for _, kind := range []Kind{KindNodeHTTP, KindMixPort, KindWSPort} {
					w := wants[kind]
					timeout := simOKTimeout
					if w.reason == ReasonTimeout || (rw.fault.Kind == simnet.KindHang && w.reason == ReasonNone) {
						timeout = simHangTimeout
					}
					ctx, cancel := context.WithTimeout(t.Context(), timeout)
					r := m.Probe(ctx, tgs[kind])
					cancel()
					if r.OK != (w.reason == ReasonNone) || r.Reason != w.reason || !strings.Contains(r.Detail, w.detail) {
						t.Errorf("%s on %s: ok=%v reason=%q detail=%q, want reason %q with %q",
							rw.fault, kind, r.OK, r.Reason, r.Detail, w.reason, w.detail)
					}
				}
			}
		})
	}
}

// The demo's outage, "40% of exit gateways refuse", seen through the real
// scheduler: every target of each refusing gateway fails and nothing else
// does, so the exit-gateway component shows exactly 40% down.
func TestSimnetExitGatewaysRefuse(t *testing.T) {
	for _, mode := range []simnet.ListenMode{simnet.ListenPerAddress, simnet.ListenWildcard} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			n, targets := startSimnet(t, mode)
			failed, err := n.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse())
			if err != nil {
				t.Fatal(err)
			}
			exits := n.NodesByRole(simnet.RoleExitGateway)
			if len(failed)*5 != len(exits)*2 {
				t.Fatalf("%d of %d exit gateways refuse, want 40%%", len(failed), len(exits))
			}

			results := roundOfResults(t, targets)
			refusing := map[uint32]bool{}
			for _, id := range failed {
				refusing[id] = true
			}
			down := map[uint32]bool{}
			for _, tg := range targets {
				r := results[tg.ID]
				id := tg.Node.NodeID
				switch {
				case refusing[id] && r.OK:
					t.Errorf("%s of a refusing gateway probed healthy", tg.ID)
				case refusing[id] && r.Reason != ReasonRefused && r.Reason != ReasonNetwork:
					t.Errorf("%s of a refusing gateway: %s %q, want refused or a reset", tg.ID, r.Reason, r.Detail)
				case !refusing[id] && !r.OK:
					t.Errorf("%s of a healthy node failed: %s %q", tg.ID, r.Reason, r.Detail)
				}
				if !r.OK && tg.Node.Role == RoleExitGateway {
					down[id] = true
				}
			}
			if len(down) != len(failed) {
				t.Errorf("probes see %d of %d exit gateways down, want %d (40%%)", len(down), len(exits), len(failed))
			}
		})
	}
}

// roundOfResults runs the real scheduler and probers over targets until
// every target has a result, and returns the first result of each.
func roundOfResults(t *testing.T, targets []*Target) map[string]Result {
	t.Helper()
	var mu sync.Mutex
	results := map[string]Result{}
	all := make(chan struct{})
	s, err := NewScheduler(SchedulerOptions{
		Interval: 2 * time.Second, Timeout: time.Second, Concurrency: 16,
		Prober: NewMulti(ProberOptions{AllowPrivate: true}),
		Sink: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			if _, seen := results[r.Target.ID]; seen {
				return
			}
			results[r.Target.ID] = r
			if len(results) == len(targets) {
				close(all)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.SetTargets(targets)
	s.Start()
	defer func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	// A bound so a broken scheduler fails the test instead of hanging it;
	// not a speed requirement (a round takes one 2s interval).
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		var missing []string
		for _, tg := range targets {
			if _, ok := results[tg.ID]; !ok {
				missing = append(missing, tg.ID)
			}
		}
		slices.Sort(missing)
		t.Fatalf("no result after 2 minutes for %d targets: %s", len(missing), fmt.Sprint(missing))
	}
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(results)
}
