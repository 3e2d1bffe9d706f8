// Package procstat reads a process's CPU time and peak memory from /proc,
// for the benchmarks (Linux only: elsewhere the figures are 0).
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPU is process pid's user+system CPU seconds so far (0 for this process).
func CPU(pid int) float64 {
	raw, err := os.ReadFile(path(pid, "stat"))
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: utime and stime are
	// fields 14 and 15, in clock ticks (100/s on Linux).
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

// PeakRSS is process pid's peak resident set (VmHWM) in bytes (0 for this
// process).
func PeakRSS(pid int) int64 {
	raw, err := os.ReadFile(path(pid, "status"))
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func path(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return fmt.Sprintf("/proc/%d/%s", pid, file)
}
