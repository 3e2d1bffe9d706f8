package probes

import (
	"os"
	"testing"
)

// TestMain lets the test binary double as BenchmarkScale10k's simulated
// network, run in a child process so that the benchmark's CPU and memory
// figures are nymwatch's alone (see scale_bench_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(scaleHelperEnv) != "" {
		os.Exit(runScaleHelper())
	}
	os.Exit(m.Run())
}
