package daemon

import (
	"github.com/nymwatch/nymwatch/disclosure"
)

// measured tells the incident reports what nymwatch probes right now, so
// their statements about the other architecture side name it (section VI):
// the configured services plus the nym-api directory, and the distinct
// nodes among the scheduler's targets.
func (d *daemon) measured() disclosure.Measured {
	d.targetsMu.Lock()
	defer d.targetsMu.Unlock()
	var m disclosure.Measured
	nodes := map[uint32]bool{}
	for _, t := range d.targets {
		switch {
		case t.Node != nil:
			nodes[t.Node.NodeID] = true
		case t.Service != nil:
			m.Services = append(m.Services, t.Service.Name)
		}
	}
	m.Nodes = len(nodes)
	if cfg := d.config(); cfg != nil && cfg.Network.NymAPIURL != "" {
		m.Services = append(m.Services, "nym-api directory")
	}
	return m
}
