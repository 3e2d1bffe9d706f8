package cluster

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/testutil"
	"github.com/nymwatch/nymwatch/probes"
)

// TestThreeInstances wires three real detectors through real HTTP: each
// serves its view, a pulls b's and c's, and a's detector decides by quorum.
func TestThreeInstances(t *testing.T) {
	var targets []*probes.Target
	for i := range 20 {
		id := uint32(i + 1)
		targets = append(targets, &probes.Target{ID: fmt.Sprintf("node/%d/node_http", id), Kind: probes.KindNodeHTTP,
			Node: &probes.Node{NodeID: id, Role: probes.RoleExitGateway, Country: "FR"}})
	}
	clk := testutil.NewClock(t0)
	cfg := config.Default()
	cfg.Cluster.Name = "a"
	cfg.Cluster.Quorum = 2
	dets := map[string]*detector.Detector{}
	urls := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		cfg := *cfg
		cfg.Cluster.Name = name
		var opts detector.Options
		if name == "a" {
			cfg.Cluster.Peers = []config.Peer{{Name: "b"}, {Name: "c"}}
			opts.Cluster = DetectorOptions(&cfg)
		} else {
			opts.Cluster = detector.ClusterOptions{Self: name}
		}
		d := detector.New(opts)
		d.SetTargets(targets)
		dets[name] = d
		c, err := New(Options{Self: name, Source: d, Sink: d, Tokens: []string{clusterToken}, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		c.Register(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	pullerA, err := New(Options{Self: "a", Source: dets["a"], Sink: dets["a"], Status: dets["a"], Now: clk.Now,
		Peers: []Peer{{Name: "b", URL: urls["b"], Token: clusterToken}, {Name: "c", URL: urls["c"], Token: clusterToken}}})
	if err != nil {
		t.Fatal(err)
	}

	byComp := map[string]detector.Anomaly{}
	round := func(i int, failingFrom string) {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		for name, d := range dets {
			for _, tg := range targets {
				ok := !(tg.Node.NodeID <= 5 && strings.Contains(failingFrom, name))
				r := probes.Result{Target: tg, OK: ok, At: at}
				if !ok {
					r.Reason = probes.ReasonTimeout
				}
				d.Observe(r)
			}
		}
		clk.Set(at.Add(500 * time.Millisecond))
		pullerA.Tick(t.Context())
		for _, a := range dets["a"].Evaluate(at.Add(time.Second)) {
			byComp[a.Component] = a
		}
	}
	for i := range 2 {
		round(i, "")
	}
	for i := 2; i < 7; i++ {
		round(i, "ab") // a and b see gateways 1-5 fail, c does not
	}
	eg, ok := byComp["exit_gateways"]
	if !ok || eg.Class != detector.ClassOperational || !eg.FirstSeen.Equal(t0.Add(time.Minute)) {
		t.Fatalf("want an operational exit_gateways from %v, got %+v (all %v)", t0.Add(time.Minute), eg, byComp)
	}
	for comp := range byComp {
		if comp != "exit_gateways" {
			t.Errorf("unexpected anomaly %s", comp)
		}
	}
	if st := dets["a"].ClusterStatus(); st.Reporting != 3 || st.Failing != 5 {
		t.Errorf("status %+v", st)
	}
}

func TestFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Cluster.Name = "a"
	cfg.Cluster.Quorum = 2
	cfg.Cluster.Token = clusterToken
	cfg.Auth.OperatorToken = operatorToken
	cfg.Cluster.PullInterval = 20 * time.Second
	cfg.Cluster.PullTimeout = 4 * time.Second
	cfg.Cluster.Peers = []config.Peer{{Name: "b", URL: "https://b.example", Token: "peer-token-0123456789"}}
	o := FromConfig(cfg)
	if o.Self != "a" || o.Interval != 20*time.Second || o.Timeout != 4*time.Second || len(o.Peers) != 1 ||
		o.Peers[0].Token != "peer-token-0123456789" || len(o.Tokens) != 2 {
		t.Errorf("options %+v", o)
	}
	d := DetectorOptions(cfg)
	// Stale after 3 pulls; path problems wait (3+1)×30s + 2×20s.
	if d.Self != "a" || d.Quorum != 2 || len(d.Peers) != 1 || d.StaleAfter != time.Minute || d.Wait != 160*time.Second {
		t.Errorf("detector options %+v", d)
	}
}
