//go:build unix

package simnet

import (
	"fmt"
	"syscall"
)

// RaiseFDLimit raises the soft RLIMIT_NOFILE to the hard limit and returns
// the soft limit now in force. A 10,000-node benchmark needs a few thousand
// descriptors for concurrent probes on both ends (plus one or three per node
// in per-address mode). Go already raises the limit at start-up on most
// systems; this makes it explicit and reports it.
func RaiseFDLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("simnet: getrlimit: %w", err)
	}
	if lim.Cur >= lim.Max {
		return uint64(lim.Cur), nil
	}
	want := lim
	want.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return uint64(lim.Cur), fmt.Errorf("simnet: setrlimit to %d: %w", want.Cur, err)
	}
	return uint64(want.Cur), nil
}
