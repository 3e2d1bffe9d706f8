package probes

import (
	"context"
	"crypto/sha1" //nolint:gosec // RFC 6455 defines the websocket accept with SHA-1
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// prbFixture reads a copied reference fixture, checked against the
// manifest.
func prbFixture(t testing.TB, name string) []byte {
	t.Helper()
	return testutil.Fixture(t, name)
}

// prbClosedAddr returns a loopback address nothing listens on.
func prbClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// prbHangListener accepts connections and never answers, like a node whose
// process is wedged behind a live socket. Connections close at test end.
func prbHangListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// prbCloseListener accepts and immediately closes (a crashing handler).
func prbCloseListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func prbServe(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func prbBody(status int, ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// prbCtx bounds a probe like the scheduler does.
func prbCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func prbCheck(t *testing.T, r Result, wantOK bool, want Reason, detailHas string) {
	t.Helper()
	t.Logf("ok=%v reason=%q latency=%s detail=%q", r.OK, r.Reason, r.Latency, r.Detail)
	if r.OK != wantOK || r.Reason != want {
		t.Fatalf("got ok=%v reason=%q detail=%q, want ok=%v reason=%q", r.OK, r.Reason, r.Detail, wantOK, want)
	}
	if detailHas != "" && !strings.Contains(r.Detail, detailHas) {
		t.Errorf("detail %q does not contain %q", r.Detail, detailHas)
	}
	if len(r.Detail) > MaxDetailLen {
		t.Errorf("detail is %d bytes, over %d", len(r.Detail), MaxDetailLen)
	}
	if r.At.IsZero() || r.At.Location() != time.UTC {
		t.Errorf("At = %v, want a UTC time", r.At)
	}
	if r.Target == nil {
		t.Error("result has no target")
	}
}

func TestNodeHTTPProber(t *testing.T) {
	health := prbFixture(t, "nym-node_api_v1_health.json")
	tlsSrv := httptest.NewUnstartedServer(prbBody(200, "application/json", health))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	tests := []struct {
		name      string
		addr      func(t *testing.T) string
		opts      ProberOptions
		timeout   time.Duration
		wantOK    bool
		want      Reason
		detailHas string
	}{
		{name: "up", wantOK: true, addr: func(t *testing.T) string {
			return prbServe(t, prbBody(200, "application/json", health)).Listener.Addr().String()
		}},
		{name: "base url with scheme", wantOK: true, addr: func(t *testing.T) string {
			return prbServe(t, prbBody(200, "application/json", health)).URL + "/"
		}},
		{name: "status not up", want: ReasonUnhealthy, detailHas: `"down"`, addr: func(t *testing.T) string {
			return prbServe(t, prbBody(200, "application/json", []byte(`{"status":"down","uptime":3}`))).Listener.Addr().String()
		}},
		{name: "no status field", want: ReasonBadBody, detailHas: "no status", addr: func(t *testing.T) string {
			return prbServe(t, prbBody(200, "application/json", []byte(`{"uptime":3}`))).Listener.Addr().String()
		}},
		{name: "5xx", want: ReasonHTTPStatus, detailHas: "GET /api/v1/health: 503", addr: func(t *testing.T) string {
			return prbServe(t, prbBody(503, "text/plain", []byte("relevant cache hasn't been initialised yet"))).Listener.Addr().String()
		}},
		{name: "garbage body", want: ReasonBadBody, detailHas: "invalid JSON", addr: func(t *testing.T) string {
			return prbServe(t, prbBody(200, "text/html", []byte("<html>hello</html>"))).Listener.Addr().String()
		}},
		{name: "oversized body", want: ReasonBadBody, detailHas: "larger than 1024", opts: ProberOptions{MaxBodyBytes: 1024},
			addr: func(t *testing.T) string {
				big := `{"status":"up","pad":"` + strings.Repeat("x", 4096) + `"}`
				return prbServe(t, prbBody(200, "application/json", []byte(big))).Listener.Addr().String()
			}},
		{name: "refused", want: ReasonRefused, addr: func(t *testing.T) string { return prbClosedAddr(t) }},
		{name: "hang after accept", want: ReasonTimeout, detailHas: "awaiting response", timeout: 200 * time.Millisecond,
			addr: func(t *testing.T) string { return prbHangListener(t) }},
		{name: "closed after accept (EOF or reset)", want: ReasonNetwork, addr: func(t *testing.T) string { return prbCloseListener(t) }},
		{name: "dns", want: ReasonDNS, detailHas: "nymwatch-test.invalid", addr: func(*testing.T) string { return "nymwatch-test.invalid:8080" }},
		{name: "tls untrusted", want: ReasonTLS, detailHas: "certificate", addr: func(*testing.T) string { return tlsSrv.URL }},
		{name: "tls trusted", wantOK: true, opts: ProberOptions{TLSConfig: &tls.Config{RootCAs: prbPool(tlsSrv)}},
			addr: func(*testing.T) string { return tlsSrv.URL }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			opts := tc.opts
			opts.AllowPrivate = true // httptest listens on 127.0.0.1
			p := NewNodeHTTPProber(opts)
			tgt := &Target{ID: "node/1/node_http", Kind: KindNodeHTTP, Address: tc.addr(t)}
			r := p.Probe(prbCtx(t, timeout), tgt)
			prbCheck(t, r, tc.wantOK, tc.want, tc.detailHas)
			if r.Target != tgt {
				t.Error("result does not carry the probed target")
			}
			if tc.want == ReasonTimeout && r.Latency < timeout {
				t.Errorf("timed out after %s, before the %s timeout", r.Latency, timeout)
			}
		})
	}
}

func prbPool(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// Every probe must open its own connection: a reused one can make a gateway
// look healthy while it refuses new clients.
func TestProbesUseFreshConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(prbBody(200, "application/json", []byte(`{"status":"up"}`)))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	m := NewMulti(ProberOptions{AllowPrivate: true})
	tgt := &Target{ID: "node/1/node_http", Kind: KindNodeHTTP, Address: srv.Listener.Addr().String()}
	for range 3 {
		if r := m.Probe(prbCtx(t, 5*time.Second), tgt); !r.OK {
			t.Fatalf("probe failed: %s %s", r.Reason, r.Detail)
		}
	}
	if got := conns.Load(); got != 3 {
		t.Errorf("3 probes used %d connections, want 3", got)
	}
}

func TestSourceAddrBinding(t *testing.T) {
	src := net.ParseIP("127.0.0.2")
	// Linux routes all of 127/8 to lo; elsewhere the bind may fail.
	if c, err := net.ListenPacket("udp", "127.0.0.2:0"); err != nil {
		t.Skipf("cannot bind 127.0.0.2: %v", err)
	} else {
		c.Close()
	}
	var remote atomic.Value
	srv := prbServe(t, func(w http.ResponseWriter, r *http.Request) {
		remote.Store(r.RemoteAddr)
		_, _ = io.WriteString(w, `{"status":"up"}`)
	})
	m := NewMulti(ProberOptions{SourceAddr: src, AllowPrivate: true})
	r := m.Probe(prbCtx(t, 5*time.Second), &Target{ID: "n", Kind: KindNodeHTTP, Address: srv.Listener.Addr().String()})
	if !r.OK {
		t.Fatalf("probe failed: %s %s", r.Reason, r.Detail)
	}
	host, _, _ := net.SplitHostPort(remote.Load().(string))
	if host != "127.0.0.2" {
		t.Errorf("server saw the probe from %s, want 127.0.0.2", host)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		got <- c.RemoteAddr().String()
		// Stay silent until the prober hangs up, as a mix port does.
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}()
	r = m.Probe(prbCtx(t, 5*time.Second), &Target{ID: "m", Kind: KindMixPort, Address: ln.Addr().String()})
	if !r.OK {
		t.Fatalf("tcp probe failed: %s %s", r.Reason, r.Detail)
	}
	if h, _, _ := net.SplitHostPort(<-got); h != "127.0.0.2" {
		t.Errorf("listener saw the connect from %s, want 127.0.0.2", h)
	}
}

func TestTCPProber(t *testing.T) {
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel)
	silent := prbHangListener(t) // a healthy mix port says nothing first

	tests := []struct {
		name       string
		ctx        context.Context
		addr       string
		wantOK     bool
		want       Reason
		wantDetail string
	}{
		{name: "open and silent", addr: silent, wantOK: true},
		{name: "refused", addr: prbClosedAddr(t), want: ReasonRefused},
		// On loopback the RST may beat connect() or follow it: "reset" either way.
		{name: "accepted then reset", addr: prbResetListener(t), want: ReasonNetwork, wantDetail: "reset"},
		{name: "accepted then closed", addr: prbCloseListener(t), want: ReasonNetwork, wantDetail: "closed by peer"},
		{name: "speaks first", addr: prbGreetListener(t, "HTTP/1.1 502 Bad Gateway\r\n"), want: ReasonBadBody, wantDetail: "502 Bad Gateway"},
		{name: "dns", addr: "nymwatch-test.invalid:1789", want: ReasonDNS},
		{name: "deadline", ctx: expired, addr: silent, want: ReasonTimeout},
		{name: "no port", addr: "127.0.0.1", want: ReasonNetwork},
	}
	p := NewTCPProber(ProberOptions{AllowPrivate: true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = prbCtx(t, 5*time.Second)
			}
			start := time.Now()
			r := p.Probe(ctx, &Target{ID: "node/1/mix_tcp", Kind: KindMixPort, Address: tc.addr})
			elapsed := time.Since(start)
			prbCheck(t, r, tc.wantOK, tc.want, tc.wantDetail)
			// The watch lasts at least DefaultTCPSettle after the connect,
			// so the connect time is at most what is left of the probe.
			if r.OK && r.Latency > elapsed-DefaultTCPSettle {
				t.Errorf("latency %s of a %s probe includes the watch after connecting; want the connect time", r.Latency, elapsed)
			}
		})
	}

	// The watch ends with the probe's budget: a short timeout still passes
	// a silent port, and connect-only skips the watch.
	if r := p.Probe(prbCtx(t, 50*time.Millisecond), &Target{ID: "x", Kind: KindMixPort, Address: silent}); !r.OK {
		t.Errorf("silent port under a timeout shorter than the watch: %s %s", r.Reason, r.Detail)
	}
	connectOnly := NewTCPProber(ProberOptions{TCPSettle: -1, AllowPrivate: true})
	if r := connectOnly.Probe(prbCtx(t, 5*time.Second), &Target{ID: "x", Kind: KindMixPort, Address: prbCloseListener(t)}); !r.OK {
		t.Errorf("connect-only probe of an accepting port: %s %s", r.Reason, r.Detail)
	}

	// Cancellation (shutdown) ends the watch at once.
	ctx, stop := context.WithCancel(t.Context())
	stop()
	if r := NewTCPProber(ProberOptions{TCPSettle: time.Hour, AllowPrivate: true}).Probe(ctx, &Target{ID: "x", Kind: KindMixPort, Address: silent}); r.OK {
		t.Error("cancelled probe reported healthy")
	}
}

// prbResetListener accepts and resets (SO_LINGER 0), as a node refusing
// behind a shared or wildcard socket does.
func prbResetListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// prbGreetListener accepts, writes greeting and keeps the connection open
// until the client closes it.
func prbGreetListener(t testing.TB, greeting string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.WriteString(c, greeting)
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// prbWebsocket answers a websocket upgrade like a gateway's client port;
// badAccept makes it answer 101 with a wrong Sec-WebSocket-Accept.
func prbWebsocket(badAccept bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Sec-WebSocket-Version") != "13" {
			http.Error(w, "expected a websocket upgrade", http.StatusBadRequest)
			return
		}
		// The example of RFC 6455 section 1.3 checks our hashing.
		accept := wsAcceptRFCExample(r.Header.Get("Sec-WebSocket-Key"))
		if badAccept {
			accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n")
		_ = brw.Flush()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, c)
	}
}

// wsAcceptRFCExample computes Sec-WebSocket-Accept independently of the
// prober's code, checked against RFC 6455's example pair.
func wsAcceptRFCExample(key string) string {
	h := sha1.New()
	_, _ = io.WriteString(h, key)
	_, _ = io.WriteString(h, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestWebsocketProber(t *testing.T) {
	if got := wsAcceptRFCExample("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("test helper computes %q for the RFC 6455 example", got)
	}
	tests := []struct {
		name       string
		addr       string
		wantOK     bool
		want       Reason
		wantDetail string
	}{
		{name: "upgraded", addr: prbServe(t, prbWebsocket(false)).Listener.Addr().String(), wantOK: true},
		{name: "wrong accept", addr: prbServe(t, prbWebsocket(true)).Listener.Addr().String(), want: ReasonBadBody, wantDetail: "websocket accept"},
		{name: "error status", addr: prbServe(t, prbBody(502, "text/plain", []byte("upstream down"))).Listener.Addr().String(), want: ReasonHTTPStatus, wantDetail: "websocket upgrade: 502 Bad Gateway: upstream down"},
		{name: "plain 200", addr: prbServe(t, prbBody(200, "application/json", []byte("{}"))).Listener.Addr().String(), want: ReasonHTTPStatus, wantDetail: "200 OK"},
		{name: "not http", addr: prbGreetListener(t, "\x00\xff garbage\r\n\r\n"), want: ReasonBadBody, wantDetail: "not an HTTP answer"},
		{name: "refused", addr: prbClosedAddr(t), want: ReasonRefused},
		{name: "accepted then reset", addr: prbResetListener(t), want: ReasonNetwork},
		// Our request reaches a closed socket: EOF or RST, as it happens.
		{name: "accepted then closed", addr: prbCloseListener(t), want: ReasonNetwork, wantDetail: "awaiting response"},
		{name: "never answers", addr: prbHangListener(t), want: ReasonTimeout, wantDetail: "awaiting response"},
	}
	p := NewWebsocketProber(ProberOptions{AllowPrivate: true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			timeout := 5 * time.Second
			if tc.want == ReasonTimeout {
				timeout = 200 * time.Millisecond
			}
			r := p.Probe(prbCtx(t, timeout), &Target{ID: "node/1/ws", Kind: KindWSPort, Address: tc.addr})
			prbCheck(t, r, tc.wantOK, tc.want, tc.wantDetail)
		})
	}
}

func TestControlProber(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	notFound := prbServe(t, prbBody(404, "text/plain", []byte("nope")))
	broken := prbServe(t, prbBody(502, "text/plain", nil))

	tests := []struct {
		name   string
		addr   string
		wantOK bool
		want   Reason
	}{
		{name: "http 404 still reachable", addr: notFound.URL + "/x", wantOK: true},
		{name: "http 502 still reachable", addr: broken.URL, wantOK: true},
		{name: "http refused", addr: "http://" + prbClosedAddr(t) + "/", want: ReasonRefused},
		{name: "http hang", addr: "http://" + prbHangListener(t) + "/", want: ReasonTimeout},
		{name: "tcp open", addr: "tcp://" + ln.Addr().String(), wantOK: true},
		{name: "tcp refused", addr: "tcp://" + prbClosedAddr(t), want: ReasonRefused},
		{name: "no scheme", addr: ln.Addr().String(), want: ReasonNetwork},
		{name: "bad scheme", addr: "udp://" + ln.Addr().String(), want: ReasonNetwork},
	}
	p := NewControlProber(ProberOptions{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := p.Probe(prbCtx(t, 300*time.Millisecond), &Target{ID: "control/x", Kind: KindControl, Address: tc.addr})
			prbCheck(t, r, tc.wantOK, tc.want, "")
		})
	}
}

func TestMultiDispatch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := prbServe(t, prbBody(200, "application/json", []byte(`{"status":"up"}`)))
	ws := prbServe(t, prbWebsocket(false))
	m := NewMulti(ProberOptions{AllowPrivate: true})
	for _, tgt := range []*Target{
		{ID: "a", Kind: KindNodeHTTP, Address: srv.Listener.Addr().String()},
		{ID: "b", Kind: KindMixPort, Address: ln.Addr().String()},
		{ID: "c", Kind: KindWSPort, Address: ws.Listener.Addr().String()},
		{ID: "d", Kind: KindService, Service: &Service{Name: "x", URL: srv.URL, Kind: ServiceKindHTTP}},
		{ID: "e", Kind: KindControl, Address: srv.URL},
	} {
		if r := m.Probe(prbCtx(t, 5*time.Second), tgt); !r.OK {
			t.Errorf("%s (%s): %s %s", tgt.ID, tgt.Kind, r.Reason, r.Detail)
		}
	}
	r := m.Probe(prbCtx(t, time.Second), &Target{ID: "z", Kind: "bogus"})
	prbCheck(t, r, false, ReasonNetwork, "no prober")
}
