package daemon

import (
	"slices"
	"testing"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/probes"
)

// The reports name what is probed: configured services, the nym-api
// directory, and distinct nodes (a node has several targets).
func TestMeasuredNamesWhatIsProbed(t *testing.T) {
	cfg := config.Default()
	d := &daemon{cfg: cfg}
	node := func(id uint32, kind probes.Kind) *probes.Target {
		return &probes.Target{ID: string(kind), Kind: kind, Node: &probes.Node{NodeID: id}}
	}
	d.targets = []*probes.Target{
		node(1, probes.KindNodeHTTP), node(1, probes.KindNodeHTTP), node(2, probes.KindNodeHTTP),
		{ID: "service/nymvpn-api", Kind: probes.KindService, Service: &probes.Service{Name: "nymvpn-api"}},
		{ID: "control/https://example.org", Kind: probes.KindControl},
	}
	m := d.measured()
	if m.Nodes != 2 || !slices.Equal(m.Services, []string{"nymvpn-api", "nym-api directory"}) {
		t.Errorf("measured %+v, want 2 nodes and nymvpn-api plus the nym-api directory", m)
	}
	cfg.Network.NymAPIURL = ""
	d.targets = nil
	if m := d.measured(); m.Nodes != 0 || len(m.Services) != 0 {
		t.Errorf("nothing probed, measured %+v", m)
	}
}
