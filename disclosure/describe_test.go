package disclosure

import "testing"

// Component ids read as words in titles and reports, including the
// first-hand security components of the probes.
func TestDescribeComponent(t *testing.T) {
	for c, want := range map[string]string{
		"exit_gateways":      "exit gateways",
		"mixnodes_layer2":    "mix nodes of layer 2",
		"country/DE":         "gateways in DE",
		"service/nym-api":    "the nym-api service",
		"node/1399":          "node 1399",
		"identity/node/1011": "the identity of node 1011",
		"tls/service/nymvpn": "the TLS certificate of the nymvpn service",
		"address/node/7":     "the announced address of node 7",
		"alert/KeyLeak":      "alert KeyLeak",
		"vantage_point":      "the monitor's own vantage point",
	} {
		if got := describeComponent(c); got != want {
			t.Errorf("describeComponent(%q) = %q, want %q", c, got, want)
		}
	}
}
