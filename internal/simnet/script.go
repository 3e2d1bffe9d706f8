package simnet

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Step is one scripted change: at After (from the script's start) run Do and
// log Say.
type Step struct {
	After time.Duration
	Do    func(*Network)
	Say   string
}

// Clock is what RunScript waits on; SystemClock in production, a fake in
// tests.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RunScript runs steps in order, each at its After offset from now. It
// returns nil when the last step has run, or ctx's error if cancelled first.
// Offsets must not decrease.
func (n *Network) RunScript(ctx context.Context, clock Clock, steps []Step, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].After < steps[i-1].After {
			return fmt.Errorf("simnet: script step %d at %s comes before step %d at %s", i, steps[i].After, i-1, steps[i-1].After)
		}
	}
	start := clock.Now()
	for i, s := range steps {
		if wait := s.After - clock.Now().Sub(start); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-clock.After(wait):
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		logger.Info("simnet script: "+s.Say, "step", i+1, "of", len(steps), "at", s.After.String())
		if s.Do != nil {
			s.Do(n)
		}
	}
	return nil
}

// Demo timings: the outage starts DemoOutageAt after the script starts and
// ends at DemoRecoveryAt.
const (
	DemoOutageAt       = 10 * time.Second
	DemoBlipRecoveryAt = 25 * time.Second
	DemoRecoveryAt     = 45 * time.Second
	// DemoExitFraction of the exit gateways refuse during the outage.
	DemoExitFraction = 0.4
)

// DemoScript is `nymwatch demo`'s scripted outage: 40% of exit gateways
// start refusing connections (an operational incident: gateway
// unavailability past the threshold) while a single entry gateway hangs (a
// localised, internal-only blip that recovers on its own); then everything
// recovers.
func DemoScript() []Step {
	return []Step{
		{
			After: DemoOutageAt,
			Say:   "40% of exit gateways start refusing connections; one entry gateway hangs",
			Do: func(n *Network) {
				if ids, err := n.FailRole(RoleExitGateway, DemoExitFraction, Refuse()); err != nil {
					n.log.Error("simnet demo: failing exit gateways", "err", err)
				} else {
					n.log.Info("simnet demo: exit gateways refusing", "nodes", ids)
				}
				if id, ok := n.demoBlipNode(); ok {
					if err := n.SetFault(id, Hang()); err != nil {
						n.log.Error("simnet demo: hanging entry gateway", "err", err)
					}
				}
			},
		},
		{
			After: DemoBlipRecoveryAt,
			Say:   "the hanging entry gateway recovers",
			Do: func(n *Network) {
				if id, ok := n.demoBlipNode(); ok {
					if err := n.SetFault(id, None()); err != nil {
						n.log.Error("simnet demo: recovering entry gateway", "err", err)
					}
				}
			},
		},
		{
			After: DemoRecoveryAt,
			Say:   "exit gateways recover; the network is healthy again",
			Do: func(n *Network) {
				if err := n.Reset(); err != nil {
					n.log.Error("simnet demo: reset", "err", err)
				}
			},
		},
	}
}

// demoBlipNode is the entry gateway the demo makes hang: the first one in
// address order.
func (n *Network) demoBlipNode() (uint32, bool) {
	for _, nd := range n.nodes {
		if nd.role == RoleEntryGateway {
			return nd.id, true
		}
	}
	return 0, false
}
