package simnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/nymwatch/nymwatch/internal/backoff"
)

// listenerKind says what a socket serves.
type listenerKind uint8

const (
	lkNodeHTTP listenerKind = iota
	lkNodeMix
	lkNodeWS
	lkNymAPI
	lkNymVPNAPI
	lkControl
	numListenerKinds
)

func (k listenerKind) nodePort() nodePort {
	switch k {
	case lkNodeMix:
		return portMix
	case lkNodeWS:
		return portWS
	}
	return portHTTP
}

// slot is one listening socket. A fixed slot serves one target (a node's
// port in per-address mode, or a service) and can be closed to refuse at
// the kernel; a wildcard slot serves every node for its port kind.
type slot struct {
	kind  listenerKind
	fixed bool
	t     target
	addr  netip.AddrPort // port 0 until first bound
	ln    net.Listener   // nil while refusing
	resv  io.Closer      // keeps addr reserved while refusing
}

// simConn is an accepted connection with what it reached and from where.
type simConn struct {
	net.Conn
	t   target
	src netip.Addr
	// flapFail is the Flap decision taken when the connection was accepted,
	// so a keep-alive connection keeps the outcome of its probe.
	flapFail bool
}

type connKey struct{}

func connFrom(ctx context.Context) *simConn {
	sc, _ := ctx.Value(connKey{}).(*simConn)
	return sc
}

// chanListener feeds connections the network admitted to an http.Server.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{ch: make(chan net.Conn, 64), done: make(chan struct{}), addr: addr}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// front is an HTTP server fed by one or more slots.
type front struct {
	srv *http.Server
	ln  *chanListener
}

func (n *Network) newFront(h http.Handler) *front {
	return &front{
		ln: newChanListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       n.opts.IdleTimeout,
			ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				if sc, ok := c.(*simConn); ok {
					return context.WithValue(ctx, connKey{}, sc)
				}
				return ctx
			},
		},
	}
}

// bindSlotLocked binds s on s.addr and starts accepting. Callers hold syncMu.
func (n *Network) bindSlotLocked(ctx context.Context, s *slot) error {
	lc := listenConfig()
	ln, err := lc.Listen(ctx, "tcp4", s.addr.String())
	if err != nil {
		return fmt.Errorf("simnet: listen %s: %w", s.addr, err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	s.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	s.ln = ln
	if s.resv != nil {
		if err := s.resv.Close(); err != nil {
			n.log.Warn("simnet: release reservation", "addr", s.addr, "err", err)
		}
		s.resv = nil
	}
	n.wg.Go(func() { n.acceptLoop(s, ln) })
	return nil
}

// refuseSlotLocked closes s's listener so the kernel refuses connections,
// keeping the port reserved where the platform allows.
func (n *Network) refuseSlotLocked(s *slot) error {
	resv, err := reserve(s.addr)
	if err != nil {
		// Still listening: admit() resets refused connections instead.
		return err
	}
	s.resv = resv
	err = s.ln.Close()
	s.ln = nil
	if err != nil {
		return fmt.Errorf("simnet: close %s: %w", s.addr, err)
	}
	return nil
}

func (n *Network) closeSlotLocked(s *slot) {
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	if s.resv != nil {
		_ = s.resv.Close()
		s.resv = nil
	}
}

func (n *Network) acceptLoop(s *slot, ln net.Listener) {
	var failures int
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off as net/http does.
			failures++
			n.log.Warn("simnet: accept", "addr", s.addr, "err", err)
			t := time.NewTimer(backoff.Capped(5*time.Millisecond, time.Second, failures))
			select {
			case <-t.C:
			case <-n.done:
				t.Stop()
				return
			}
			continue
		}
		failures = 0
		n.admit(s, c)
	}
}

// admit decides what happens to a fresh connection: reset, hold, or serve.
// It runs on the accept goroutine, so it never blocks for long.
func (n *Network) admit(s *slot, c net.Conn) {
	src := addrIP(c.RemoteAddr())
	t := s.t
	if !s.fixed {
		nd := n.byIP[addrIP(c.LocalAddr())]
		port := s.kind.nodePort()
		// Not one of ours: another address in 127/8, or any address of
		// another interface (the wildcard socket is reachable there too).
		if nd == nil || (port == portWS && !nd.declared.Gateway()) {
			n.log.Debug("simnet: reset connection to unknown address", "local", c.LocalAddr(), "remote", c.RemoteAddr())
			resetConn(c)
			return
		}
		t = target{node: nd, port: port}
	}
	f, flapFail := n.connFault(t, src)
	switch f.Kind {
	case KindRefuse:
		resetConn(c)
		return
	case KindHang:
		n.hold(c, n.opts.HangLimit)
		return
	}
	sc := &simConn{Conn: c, t: t, src: src, flapFail: flapFail}
	if s.kind == lkNodeMix {
		n.serveMix(sc, f)
		return
	}
	n.fronts[s.kind].ln.deliver(sc)
}

// serveMix plays a mix port: it says nothing and waits for the client's
// handshake, unless the fault makes it speak garbage.
func (n *Network) serveMix(sc *simConn, f Fault) {
	switch f.Kind {
	case KindHTTP5xx, KindGarbage:
		_ = sc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = sc.Write(garbageBytes())
		_ = sc.Close()
	default:
		n.hold(sc, n.opts.IdleTimeout)
	}
}

// hold keeps c open, reading and discarding, until the peer closes it,
// limit passes, or the network closes.
func (n *Network) hold(c net.Conn, limit time.Duration) {
	n.connMu.Lock()
	if n.closing {
		n.connMu.Unlock()
		_ = c.Close()
		return
	}
	n.held[c] = struct{}{}
	n.wg.Add(1)
	n.connMu.Unlock()
	go func() {
		defer n.wg.Done()
		_ = c.SetReadDeadline(time.Now().Add(limit))
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
		n.connMu.Lock()
		delete(n.held, c)
		n.connMu.Unlock()
	}()
}

// resetConn closes c with SO_LINGER 0: the kernel sends RST.
func resetConn(c net.Conn) {
	if sc, ok := c.(*simConn); ok {
		c = sc.Conn
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func addrIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// garbageBytes is what a broken server sends: not JSON, not a handshake.
func garbageBytes() []byte {
	return []byte("<html><body>502 Bad Gateway</body></html>\x00\xff\xfe{\"status\":")
}
