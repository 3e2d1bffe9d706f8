package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSmoke runs the benchmark command at about 50 targets for two short
// intervals, so that it cannot rot: the daemon starts, probes every node
// target in each interval, takes a small webhook storm, and the table is
// printed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := filepath.Join(t.TempDir(), "nymwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/nymwatch").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"-binary", bin, "-targets", "50", "-intervals", "2", "-interval", "2s",
		"-storm", "200", "-storm-for", "2s", "-dir", t.TempDir(), "-blackbox", ""}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	t.Log(out.String())
	num := func(label string) float64 {
		t.Helper()
		m := regexp.MustCompile(regexp.QuoteMeta(label) + `\s+([0-9.]+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no %q in:\n%s", label, out.String())
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	// 17 nodes: 5 entry and 9 exit gateways (3 targets each), 3 mixnodes (2).
	if got := num("probes per interval, min"); got < 48 {
		t.Errorf("probes per interval %v, want every one of the 48 node targets", got)
	}
	if got := num("probes skipped (still running)"); got != 0 {
		t.Errorf("%v probes skipped", got)
	}
	// The storm (2 s at 200 alerts/s, inside the 4 s measured): every
	// alert accepted, none refused or lost.
	m := regexp.MustCompile(`webhook storm alerts\s+(\d+) sent, (\d+) accepted, 0 refused \(429\), 0 failed`).FindStringSubmatch(out.String())
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("webhook storm: want every alert accepted:\n%s", out.String())
	}
	if num("peak RSS (VmHWM), MiB") <= 0 || num("CPU s per 1,000 probes") <= 0 {
		t.Errorf("no CPU or RSS measured:\n%s", out.String())
	}
	// Lateness comes from the daemon's histogram: there were probes, so a
	// number (not NaN), and within the interval.
	if p99 := num("dispatch lateness p99, ms"); p99 < num("dispatch lateness p50, ms") || p99 > 2000 {
		t.Errorf("dispatch lateness p99 %v ms:\n%s", p99, out.String())
	}
	// The live size is read from SQLite: the schema alone is some pages.
	if num("database live size at end, MiB") <= 0 {
		t.Errorf("no database live size:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "blackbox_exporter: phase not run: -blackbox is empty") {
		t.Errorf("no one-line blackbox message:\n%s", out.String())
	}
}
