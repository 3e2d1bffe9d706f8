package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/internal/daemontest"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

// TestProfileDaemon profiles the daemon in-process (the simulated network
// shares the process: read the profile by package) at the benchmark's
// shape. Opt-in, for finding where the whole daemon's cost goes:
//
//	NYMWATCH_PROFILE_DIR=/tmp/prof go test ./internal/bench -run TestProfileDaemon -timeout 20m
//
// It writes cpu.pprof (over NYMWATCH_PROFILE_SECONDS, default 90, after a
// warm-up interval) and heap.pprof (in use and allocated) into that directory.
func TestProfileDaemon(t *testing.T) {
	dir := os.Getenv("NYMWATCH_PROFILE_DIR")
	if dir == "" {
		t.Skip("NYMWATCH_PROFILE_DIR not set")
	}
	secs := 90 * time.Second
	if v, err := time.ParseDuration(os.Getenv("NYMWATCH_PROFILE_SECONDS") + "s"); err == nil && v > 0 {
		secs = v
	}
	shape := nodesFor(10000)
	d := daemontest.Start(t, shape, func(c *config.Config) {
		c.Probes.Interval = 30 * time.Second
		c.Probes.Timeout = 5 * time.Second
		c.Network.RefreshInterval = 5 * time.Minute
	})
	nodes := d.Net.Nodes()
	for i, ni := range nodes {
		switch pc := i % 100; {
		case pc < 10:
			_ = d.Net.SetFault(ni.ID, simnet.Hang())
		case pc < 15:
			_ = d.Net.SetFault(ni.ID, simnet.Refuse())
		}
	}
	time.Sleep(45 * time.Second) // warm-up: discovery and a first interval (a profile window, not synchronisation)
	f, err := os.Create(dir + "/cpu.pprof")
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	time.Sleep(secs)
	pprof.StopCPUProfile()
	f.Close()
	runtime.GC()
	h, err := os.Create(dir + "/heap.pprof")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := pprof.Lookup("heap").WriteTo(h, 0); err != nil {
		t.Fatal(err)
	}
}
