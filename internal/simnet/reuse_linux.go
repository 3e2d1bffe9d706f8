//go:build linux

package simnet

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenConfig sets SO_REUSEPORT on listeners so that a reservation socket
// (see reserve) can share their address:port.
func listenConfig() net.ListenConfig {
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
}

// reserve binds a socket that never listens to addr, so the port stays ours
// while its listener is closed: the kernel answers SYNs with RST, which a
// client sees as ECONNREFUSED. It sets SO_REUSEPORT but not SO_REUSEADDR, so
// an unrelated wildcard bind on the port still fails.
func reserve(addr netip.AddrPort) (io.Closer, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reserve %s: socket: %w", addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("reserve %s: SO_REUSEPORT: %w", addr, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("reserve %s: bind: %w", addr, err)
	}
	return fdCloser(fd), nil
}

type fdCloser int

func (c fdCloser) Close() error { return unix.Close(int(c)) }
