package procstat

import (
	"os"
	"runtime"
	"testing"
)

func TestSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	x := 0
	for i := range 20_000_000 { // some CPU time to count
		x += i
	}
	_ = x
	if CPU(0) <= 0 || CPU(os.Getpid()) <= 0 {
		t.Errorf("CPU: self %v, by pid %v", CPU(0), CPU(os.Getpid()))
	}
	if rss := PeakRSS(os.Getpid()); rss < 1<<20 {
		t.Errorf("PeakRSS = %d bytes, want at least 1 MiB", rss)
	}
	if CPU(-1) != 0 || PeakRSS(-1) != 0 {
		t.Error("a missing process should read 0")
	}
}
