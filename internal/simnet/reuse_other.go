//go:build !linux

package simnet

import (
	"io"
	"net"
	"net/netip"
)

func listenConfig() net.ListenConfig { return net.ListenConfig{} }

// reserve is not available here: a refused listener is simply closed and
// bound again on recovery, and the port could be taken in between.
func reserve(netip.AddrPort) (io.Closer, error) { return nil, nil }
