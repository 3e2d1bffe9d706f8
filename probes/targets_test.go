package probes

import (
	"testing"
)

func TestBuildTargetsNoWSForNonEntry(t *testing.T) {
	// A mixnode announcing a websocket port (nym-api lists mixnet_websockets
	// for every node) gets no ws target.
	n := Node{NodeID: 5, Identity: "k", Declared: DeclaredRoles{Mixnode: true}, Hosts: []string{"192.0.2.5"},
		HTTPPorts: []uint16{8080}, MixPort: 1789, WSPort: 9000}
	for _, tg := range BuildTargets([]Node{n}, nil, nil, nil) {
		if tg.Kind == KindWSPort {
			t.Errorf("ws target for a non-entry node: %s", tg.ID)
		}
	}
}
