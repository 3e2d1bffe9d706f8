package probes

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the websocket handshake is defined with SHA-1 (RFC 6455)
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// maxUpgradeResponseBytes bounds a websocket upgrade's status line and
// headers (and the error body snippet after them).
const maxUpgradeResponseBytes = 16 << 10

// dialAndClose connects to addr and closes gracefully (FIN, as a client
// giving up would: an RST would look like an attack in the operator's
// logs). It returns the connect time.
func dialAndClose(ctx context.Context, d *net.Dialer, addr string) (time.Duration, error) {
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err // "dial tcp <addr>: connect: connection refused" says it all
	}
	rtt := time.Since(start)
	_ = c.Close()
	return rtt, nil
}

// bindDeadline makes c's I/O follow ctx: its deadline now, and an immediate
// one when ctx is cancelled early (shutdown). Call the returned stop when done.
func bindDeadline(ctx context.Context, c net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	// A deadline in the past makes blocked I/O return at once.
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// TCPProber checks a mix port (Target.Address, host:port). A bare connect
// cannot tell a node that accepts and then resets, or that answers with an
// error page, from a healthy one, so after connecting it watches the
// connection for TCPSettle: a real mix port says nothing until the client
// speaks (the Noise handshake is the initiator's), so silence is healthy,
// a reset or close is ReasonNetwork and unsolicited bytes ReasonBadBody. It
// never sends anything. A node that accepts and then stays silent forever
// still looks healthy here; its HTTP API probe catches that.
//
// Result.Latency is the connect time, not the time spent watching.
type TCPProber struct {
	dialer *net.Dialer
	settle time.Duration
}

// NewTCPProber returns a TCPProber.
func NewTCPProber(opts ProberOptions) *TCPProber {
	opts = opts.withDefaults()
	return &TCPProber{dialer: newNodeDialer(opts), settle: opts.TCPSettle}
}

// Probe implements Prober.
func (p *TCPProber) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	rtt, err := p.check(ctx, t.Address)
	r := probeResult(t, start, err)
	if err == nil {
		r.Latency = rtt
	}
	return r
}

func (p *TCPProber) check(ctx context.Context, addr string) (time.Duration, error) {
	if p.settle < 0 {
		return dialAndClose(ctx, p.dialer, addr)
	}
	start := time.Now()
	c, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	rtt := time.Since(start)
	defer c.Close()
	// A reset sent when the node accepts comes about one round trip after
	// our connect returned; wait for several, and at least settle.
	stop := bindDeadline(ctx, c)
	defer stop()
	until := time.Now().Add(max(p.settle, 2*rtt))
	if d, ok := ctx.Deadline(); !ok || until.Before(d) {
		_ = c.SetReadDeadline(until)
	}
	var buf [32]byte
	n, err := c.Read(buf[:])
	switch {
	case n > 0:
		return rtt, probeFailf(ReasonBadBody, "accepted, then sent %q before the client spoke (a mix port waits for the client's handshake)", buf[:n])
	case errors.Is(err, os.ErrDeadlineExceeded):
		if errors.Is(ctx.Err(), context.Canceled) {
			return rtt, ctx.Err()
		}
		// Silent until our watch (or the probe's budget) ended: alive.
		return rtt, nil
	case err != nil:
		return rtt, fmt.Errorf("accepted, then: %w", err)
	}
	return rtt, nil
}

// WebsocketProber checks a gateway's client websocket port (Target.Address,
// host:port) the way a Nym client opens it: a WebSocket upgrade (RFC 6455)
// that must be answered 101 with the right Sec-WebSocket-Accept. It then
// closes without speaking the Nym protocol. A port that accepts and resets
// is ReasonNetwork, one that never answers ReasonTimeout, another status
// ReasonHTTPStatus, and a non-HTTP answer ReasonBadBody.
//
// Result.Latency is the time until the upgrade was answered.
type WebsocketProber struct {
	dialer *net.Dialer
	ua     string
}

// NewWebsocketProber returns a WebsocketProber.
func NewWebsocketProber(opts ProberOptions) *WebsocketProber {
	opts = opts.withDefaults()
	return &WebsocketProber{dialer: newNodeDialer(opts), ua: opts.UserAgent}
}

// Probe implements Prober.
func (p *WebsocketProber) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	return probeResult(t, start, p.check(ctx, t.Address))
}

const wsWhat = "websocket upgrade"

func (p *WebsocketProber) check(ctx context.Context, addr string) error {
	c, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := bindDeadline(ctx, c)
	defer stop()

	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: " + p.ua +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return p.ioErr(ctx, "sending", err)
	}
	lr := &io.LimitedReader{R: c, N: maxUpgradeResponseBytes}
	resp, err := http.ReadResponse(bufio.NewReader(lr), nil)
	if err != nil {
		if lr.N <= 0 {
			return probeFailf(ReasonBadBody, "%s: response headers larger than %d bytes", wsWhat, maxUpgradeResponseBytes)
		}
		return p.ioErr(ctx, "awaiting response", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 && resp.StatusCode != http.StatusNotModified {
		// Never followed; name where it pointed, relative to the upgrade URL.
		return redirectError(wsWhat, resp.StatusCode, &url.URL{Scheme: "http", Host: addr, Path: "/"}, resp.Header.Get("Location"))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		r := httpResponse{what: wsWhat, status: resp.StatusCode, ctype: resp.Header.Get("Content-Type")}
		r.body, _ = readBodyLimited(resp.Body, 512)
		return statusFailure(ReasonHTTPStatus, r)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return probeFailf(ReasonBadBody, "%s: 101 without a valid websocket accept", wsWhat)
	}
	return nil
}

// ioErr describes a failed read or write of the upgrade: network errors
// keep their cause (reset, EOF, timeout), anything else means the answer
// was not HTTP.
func (p *WebsocketProber) ioErr(ctx context.Context, stage string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
		err = ctx.Err() // cancelled or out of time, not a peer's doing
	}
	if _, ok := errors.AsType[net.Error](err); ok || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %s: %w", wsWhat, stage, err)
	}
	return &probeError{reason: ReasonBadBody, detail: fmt.Sprintf("%s: not an HTTP answer: %v", wsWhat, err), err: err}
}
