package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// prbFixture reads a copied reference fixture.
func prbFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
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
			p := NewNodeHTTPProber(tc.opts)
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

	m := NewMulti(ProberOptions{})
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
	m := NewMulti(ProberOptions{SourceAddr: src})
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel)

	tests := []struct {
		name   string
		ctx    context.Context
		addr   string
		wantOK bool
		want   Reason
	}{
		{name: "open", addr: ln.Addr().String(), wantOK: true},
		{name: "refused", addr: prbClosedAddr(t), want: ReasonRefused},
		{name: "dns", addr: "nymwatch-test.invalid:1789", want: ReasonDNS},
		{name: "deadline", ctx: expired, addr: ln.Addr().String(), want: ReasonTimeout},
		{name: "no port", addr: "127.0.0.1", want: ReasonNetwork},
	}
	p := NewTCPProber(ProberOptions{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = prbCtx(t, 5*time.Second)
			}
			r := p.Probe(ctx, &Target{ID: "node/1/mix_tcp", Kind: KindMixPort, Address: tc.addr})
			prbCheck(t, r, tc.wantOK, tc.want, "")
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
	m := NewMulti(ProberOptions{})
	for _, tgt := range []*Target{
		{ID: "a", Kind: KindNodeHTTP, Address: srv.Listener.Addr().String()},
		{ID: "b", Kind: KindMixPort, Address: ln.Addr().String()},
		{ID: "c", Kind: KindWSPort, Address: ln.Addr().String()},
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
