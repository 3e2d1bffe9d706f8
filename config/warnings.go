package config

import "fmt"

// Warning is a valid setting that leaves nymwatch unable to judge
// something: check-config prints it (and still exits 0), the daemon logs it
// at start-up and on every reload.
type Warning struct {
	Key string // dotted key, as in errors
	Msg string
}

func (w Warning) String() string { return w.Key + ": warning: " + w.Msg }

// Warnings lists c's warnings, in key order.
func (c *Config) Warnings() []Warning {
	var out []Warning
	if len(c.ControlTargets) == 0 {
		msg := "none configured: nymwatch cannot tell its own network cut-off from a near-total outage " +
			"of the Nym network, so such an outage is paged as operational and marked \"unverified\" for a human to check; " +
			"configure two or three targets outside the Nym network that should always answer (e.g. tcp://1.1.1.1:443, tcp://9.9.9.9:443)"
		if q := c.Cluster.Quorum; len(c.Cluster.Peers) > 0 && q >= 2 {
			msg += fmt.Sprintf("; with cluster.quorum %d the vantage points' agreement already rules out one instance's cut-off, "+
				"but not one they share", q)
		}
		out = append(out, Warning{Key: "control_targets", Msg: msg})
	}
	return out
}
