package probes

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A gateway whose health check 302s to a loopback "secret" URL: the secret
// is never fetched and its body appears nowhere in the result.
func TestRedirectNeverFollowed(t *testing.T) {
	const secret = "TOP-SECRET-INTERNAL-BODY"
	var secretHits atomic.Int64
	internal := prbServe(t, func(w http.ResponseWriter, _ *http.Request) {
		secretHits.Add(1)
		_, _ = w.Write([]byte(secret))
	})
	loc := internal.URL + "/internal/secret?token=hunter2#frag"
	gw := prbServe(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusFound)
		_, _ = w.Write([]byte("moved"))
	})
	m := NewMulti(ProberOptions{AllowPrivate: true}) // both servers are on loopback
	for _, kind := range []Kind{KindNodeHTTP, KindIdentity, KindService} {
		t.Run(string(kind), func(t *testing.T) {
			tg := &Target{ID: "x/" + string(kind), Kind: kind, Address: gw.URL}
			if kind == KindService {
				tg.Service = &Service{Name: "s", URL: gw.URL, Kind: ServiceKindNymAPI}
			}
			r := m.Probe(prbCtx(t, 5*time.Second), tg)
			prbCheck(t, r, false, ReasonRedirect, `302 Found to "`+internal.URL+`/internal/secret"`)
			for _, bad := range []string{secret, "hunter2", "token", "frag"} {
				if strings.Contains(r.Detail, bad) {
					t.Errorf("detail %q contains %q", r.Detail, bad)
				}
			}
		})
	}
	// Nor does the websocket upgrade of a gateway's client port.
	r := m.Probe(prbCtx(t, 5*time.Second), &Target{ID: "node/1/ws", Kind: KindWSPort, Address: strings.TrimPrefix(gw.URL, "http://")})
	prbCheck(t, r, false, ReasonRedirect, `websocket upgrade: 302 Found to "`+internal.URL+`/internal/secret"`)
	// The directory client does not follow either.
	_, err := fetchNodes(t.Context(), gw.URL+"/api", 0, -1)
	if err == nil || !strings.Contains(err.Error(), "redirect to") || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("directory fetch error = %v, want a redirect not followed, without the secret", err)
	}
	if n := secretHits.Load(); n != 0 {
		t.Fatalf("the redirect target was fetched %d times", n)
	}
	// A control target only proves reachability: a redirect is an answer.
	if r := m.Probe(prbCtx(t, 5*time.Second), &Target{ID: "control/x", Kind: KindControl, Address: gw.URL}); !r.OK {
		t.Errorf("control target answering 302: ok=false %s %q", r.Reason, r.Detail)
	}
	if n := secretHits.Load(); n != 0 {
		t.Fatalf("the redirect target was fetched %d times", n)
	}
}

// The Location header is hostile: control characters, Markdown, huge.
func TestRedirectTargetSanitised(t *testing.T) {
	base := mustURL(t, "http://203.0.113.5:8080/api/v1/health")
	for _, tc := range []struct{ loc, want string }{
		{"/elsewhere?x=1", `"http://203.0.113.5:8080/elsewhere"`},
		{"https://user:pw@evil.example/p#f", `"https://evil.example/p"`},
		{"", "no Location"},
		{"http://[::1", "an unparseable Location"},
		{"http://a.example/" + strings.Repeat("x", 500), ""},
		{"http://a.example/\x1b[31m\nred", ""},
	} {
		got := redirectTarget(base, tc.loc)
		if tc.want != "" && got != tc.want {
			t.Errorf("redirectTarget(%q) = %s, want %s", tc.loc, got, tc.want)
		}
		if len(got) > maxLocationLen+10 || strings.ContainsAny(got, "\x1b\n\r") || strings.Contains(got, "pw@") {
			t.Errorf("redirectTarget(%q) = %q: not bounded or not sanitised", tc.loc, got)
		}
	}
}

func TestIsPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"203.0.113.10": true, "2001:db8::1": true, "8.8.8.8": true, "100.128.0.1": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "172.31.255.255": false,
		"192.168.1.1": false, "169.254.169.254": false, "100.64.0.1": false, "100.127.255.255": false,
		"0.0.0.0": false, "224.0.0.1": false, "255.255.255.255": false,
		"::": false, "::1": false, "fc00::1": false, "fd12::1": false, "fe80::1": false, "ff02::1": false,
		"::ffff:10.0.0.1": false, "::ffff:203.0.113.1": true,
	} {
		if got := IsPublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// Without allow_private_addresses a node on a private address is never
// contacted: literal IPs are refused before dialling, hostnames resolving
// to one at dial time. Services and control targets are not restricted.
func TestPrivateNodeAddressesRefused(t *testing.T) {
	var hits atomic.Int64
	srv := prbServe(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"status":"up"}`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	m := NewMulti(ProberOptions{})
	for _, tg := range []*Target{
		{ID: "node/1/http", Kind: KindNodeHTTP, Address: strings.TrimPrefix(srv.URL, "http://")},
		{ID: "node/1/identity", Kind: KindIdentity, Address: strings.TrimPrefix(srv.URL, "http://")},
		{ID: "node/2/http", Kind: KindNodeHTTP, Address: "localhost:" + port}, // resolves to loopback
		{ID: "node/3/mix", Kind: KindMixPort, Address: ln.Addr().String()},
		{ID: "node/4/mix", Kind: KindMixPort, Address: "[::ffff:127.0.0.1]:" + port},
		{ID: "node/5/ws", Kind: KindWSPort, Address: "localhost:" + port},
	} {
		r := m.Probe(prbCtx(t, 5*time.Second), tg)
		if r.OK || r.Reason != ReasonPrivateAddress || !strings.Contains(r.Detail, "non-public address") {
			t.Errorf("%s (%s): ok=%v reason=%q detail=%q, want private_address", tg.ID, tg.Address, r.OK, r.Reason, r.Detail)
		}
	}
	if hits.Load() != 0 || accepted.Load() != 0 {
		t.Fatalf("a private node address was contacted: %d requests, %d connections", hits.Load(), accepted.Load())
	}
	svc := &Target{ID: "service/s", Kind: KindService, Address: srv.URL, Service: &Service{Name: "s", URL: srv.URL}}
	if r := m.Probe(prbCtx(t, 5*time.Second), svc); !r.OK {
		t.Errorf("service on loopback refused: %s %q", r.Reason, r.Detail)
	}
	if r := m.Probe(prbCtx(t, 5*time.Second), &Target{ID: "control/c", Kind: KindControl, Address: srv.URL}); !r.OK {
		t.Errorf("control target on loopback refused: %s %q", r.Reason, r.Detail)
	}
	allowed := NewMulti(ProberOptions{AllowPrivate: true})
	if r := allowed.Probe(prbCtx(t, 5*time.Second), &Target{ID: "node/2/http", Kind: KindNodeHTTP, Address: "localhost:" + port}); !r.OK {
		t.Errorf("allowed private node: %s %q", r.Reason, r.Detail)
	}
}

func TestBase58(t *testing.T) {
	for _, b := range [][]byte{{}, {0}, {0, 0, 1}, {255, 254, 253}, make([]byte, 32), []byte("hello world")} {
		if len(b) == 0 {
			continue
		}
		s := EncodeBase58(b)
		got, err := DecodeBase58(s, len(b))
		if err != nil || string(got) != string(b) {
			t.Errorf("round trip %x → %q → %x, %v", b, s, got, err)
		}
	}
	// Known vector (Bitcoin): "hello world" ↔ StV1DL6CwTryKyV.
	if s := EncodeBase58([]byte("hello world")); s != "StV1DL6CwTryKyV" {
		t.Errorf("EncodeBase58(hello world) = %q", s)
	}
	// The reference fixture's key and signature have the right sizes.
	var hi struct {
		Data struct {
			Keys struct {
				ID string `json:"ed25519_identity"`
			} `json:"keys"`
		} `json:"data"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(prbFixture(t, "nym-node_api_v1_host-information.json"), &hi); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBase58(hi.Data.Keys.ID, ed25519.PublicKeySize); err != nil {
		t.Errorf("fixture identity: %v", err)
	}
	if _, err := DecodeBase58(hi.Signature, ed25519.SignatureSize); err != nil {
		t.Errorf("fixture signature: %v", err)
	}
	for _, bad := range []string{"", "0OIl", "abc", strings.Repeat("z", 200), "ab\x00c"} {
		if _, err := DecodeBase58(bad, 32); err == nil {
			t.Errorf("DecodeBase58(%q) accepted", bad)
		}
	}
}

// hostInfoServer serves host-information as body returns it.
func hostInfoServer(t *testing.T, body func() []byte) string {
	srv := prbServe(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != HostInformationPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body())
	})
	return strings.TrimPrefix(srv.URL, "http://")
}

func signedBody(t *testing.T, key ed25519.PrivateKey, presented string, tamper bool) []byte {
	// Pretty-printed on purpose: the signature covers the bytes as served.
	data := []byte("{\n  \"ip_address\": [\"203.0.113.10\"],\n  \"keys\": {\"ed25519_identity\": \"" + presented + "\"}\n}")
	msg := data
	if tamper {
		msg = append([]byte("x"), data...)
	}
	sig := ed25519.Sign(key, msg)
	out, err := json.Marshal(struct {
		Data      json.RawMessage `json:"data"`
		Signature string          `json:"signature"`
	}{data, EncodeBase58(sig)})
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal compacts RawMessage; put the served whitespace back.
	return []byte(strings.Replace(string(out), compactJSON(t, data), string(data), 1))
}

func compactJSON(t *testing.T, b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestIdentityProber(t *testing.T) {
	_, own, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	ownID := EncodeBase58(own.Public().(ed25519.PublicKey))
	otherID := EncodeBase58(other.Public().(ed25519.PublicKey))
	node := &Node{NodeID: 1011, Identity: ownID}
	tests := []struct {
		name      string
		body      func() []byte
		addr      func(t *testing.T) string
		wantOK    bool
		want      Reason
		detailHas string
	}{
		{name: "valid", body: func() []byte { return signedBody(t, own, ownID, false) }, wantOK: true},
		{name: "impersonated", body: func() []byte { return signedBody(t, other, otherID, false) },
			want: ReasonIdentityMismatch, detailHas: "node 1011 presents identity " + otherID + ", bonded as " + ownID},
		{name: "bad signature", body: func() []byte { return signedBody(t, own, ownID, true) }, want: ReasonBadSignature},
		{name: "signed by another key", body: func() []byte { return signedBody(t, other, ownID, false) }, want: ReasonBadSignature},
		{name: "garbage", body: func() []byte { return []byte("<html>not json") }, want: ReasonBadBody},
		{name: "no signature", body: func() []byte { return []byte(`{"data":{"keys":{"ed25519_identity":"` + ownID + `"}}}`) }, want: ReasonBadBody},
		{name: "signature not base58", body: func() []byte {
			return []byte(`{"data":{"keys":{"ed25519_identity":"` + ownID + `"}},"signature":"[click](https://phish.example)"}`)
		}, want: ReasonBadBody},
		{name: "identity not a key", body: func() []byte { return []byte(`{"data":{"keys":{"ed25519_identity":"0000"}},"signature":"abc"}`) }, want: ReasonBadBody},
		{name: "data not an object", body: func() []byte { return []byte(`{"data":"x","signature":"abc"}`) }, want: ReasonBadBody},
		{name: "huge", body: func() []byte { return []byte(`{"data":"` + strings.Repeat("a", 1<<20) + `"}`) }, want: ReasonBadBody},
		{name: "down", addr: func(t *testing.T) string { return prbClosedAddr(t) }, want: ReasonRefused},
		{name: "503", addr: func(t *testing.T) string {
			return strings.TrimPrefix(prbServe(t, prbBody(503, "text/plain", []byte("busy"))).URL, "http://")
		}, want: ReasonHTTPStatus},
		{name: "hangs", addr: func(t *testing.T) string { return prbHangListener(t) }, want: ReasonTimeout},
	}
	p := NewIdentityProber(ProberOptions{AllowPrivate: true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := ""
			if tc.addr != nil {
				addr = tc.addr(t)
			} else {
				addr = hostInfoServer(t, tc.body)
			}
			r := p.Probe(prbCtx(t, 300*time.Millisecond), &Target{ID: "node/1011/identity", Kind: KindIdentity, Address: addr, Node: node})
			prbCheck(t, r, tc.wantOK, tc.want, tc.detailHas)
			if !tc.wantOK && r.Reason.Security() != (tc.want == ReasonIdentityMismatch || tc.want == ReasonBadSignature) {
				t.Errorf("Security() = %v for %s", r.Reason.Security(), r.Reason)
			}
		})
	}
}

// TLS of centralized services: untrusted (self-signed) and pin mismatches
// are security reasons; a trusted certificate with a matching pin is fine.
func TestServiceTLSVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	goodPin := SPKIPin(srv.Certificate())
	wrongPin := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	trusted := ProberOptions{TLSConfig: &tls.Config{RootCAs: prbPool(srv)}}
	for _, tc := range []struct {
		name   string
		opts   ProberOptions
		pins   []string
		wantOK bool
		want   Reason
	}{
		{name: "self-signed", opts: ProberOptions{}, want: ReasonTLSUntrusted},
		{name: "self-signed with matching pin", opts: ProberOptions{}, pins: []string{goodPin}, want: ReasonTLSUntrusted},
		{name: "trusted", opts: trusted, wantOK: true},
		{name: "trusted, pin matches", opts: trusted, pins: []string{wrongPin, goodPin}, wantOK: true},
		{name: "trusted, wrong pin", opts: trusted, pins: []string{wrongPin}, want: ReasonTLSPinMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewServiceProber(tc.opts)
			tg := &Target{ID: "service/s", Kind: KindService, Address: srv.URL,
				Service: &Service{Name: "s", URL: srv.URL, Kind: ServiceKindHTTP, TLSPinSHA256: tc.pins}}
			r := p.Probe(prbCtx(t, 5*time.Second), tg)
			prbCheck(t, r, tc.wantOK, tc.want, "")
			if !tc.wantOK && !r.Reason.Security() {
				t.Errorf("%s is not a security reason", r.Reason)
			}
		})
	}
	// Wrong name: the certificate is for example.com, the URL says 127.0.0.1
	// under another name.
	p := NewServiceProber(trusted)
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	r := p.Probe(prbCtx(t, 5*time.Second), &Target{ID: "service/n", Kind: KindService, Address: u, Service: &Service{Name: "n", URL: u}})
	if u != srv.URL {
		prbCheck(t, r, false, ReasonTLSUntrusted, "")
	}
	// A refused connection is an outage, not a security signal.
	closed := "https://" + prbClosedAddr(t)
	r = p.Probe(prbCtx(t, 5*time.Second), &Target{ID: "service/c", Kind: KindService, Address: closed, Service: &Service{Name: "c", URL: closed}})
	prbCheck(t, r, false, ReasonRefused, "")
}

// Identity targets run on their own cadence inside the one scheduler: at
// once when new, then at least every KindIntervals[KindIdentity], never
// more often than that once settled.
func TestSchedulerKindIntervals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// time.Sleep in this bubble advances its fake clock: no real wait.
		const interval, cycles = 10 * time.Second, 12
		rec := newSchedRec(nil)
		s := newTestScheduler(t, rec, prometheus.NewRegistry(), func(o *SchedulerOptions) {
			o.KindIntervals = map[Kind]time.Duration{KindIdentity: 45 * time.Second} // 5 intervals
		})
		ids := schedTargets(20, KindIdentity)
		mix := schedTargets(5, KindMixPort)
		s.SetTargets(append(ids, mix...))
		start := time.Now()
		s.Start()
		time.Sleep(cycles*interval - time.Millisecond)
		synctest.Wait()
		for _, tg := range mix {
			if n := len(rec.startsOf(tg.ID)); n != cycles {
				t.Errorf("%s probed %d times, want %d", tg.ID, n, cycles)
			}
		}
		for _, tg := range ids {
			st := rec.startsOf(tg.ID)
			if len(st) == 0 || st[0].Sub(start) >= interval {
				t.Fatalf("%s: new identity target not probed in the first interval: %v", tg.ID, st)
			}
			for i := 1; i < len(st); i++ {
				if gap := st[i].Sub(st[i-1]); gap > 5*interval {
					t.Errorf("%s: %s between checks, over 5 intervals", tg.ID, gap)
				}
				if i >= 2 && st[i].Sub(st[i-1]) != 5*interval {
					t.Errorf("%s: settled gap %s, want %s", tg.ID, st[i].Sub(st[i-1]), 5*interval)
				}
			}
			if end := start.Add(cycles * interval); end.Sub(st[len(st)-1]) > 5*interval {
				t.Errorf("%s: last check %s before the end", tg.ID, end.Sub(st[len(st)-1]))
			}
			if len(st) > cycles/5+2 {
				t.Errorf("%s checked %d times in %d intervals", tg.ID, len(st), cycles)
			}
		}
		// A node newly seen while running is checked on the next tick.
		var late []*Target
		for i := range 10 {
			late = append(late, &Target{ID: fmt.Sprintf("node/%d/identity", 900+i), Kind: KindIdentity, Address: "x"})
		}
		time.Sleep(interval / 2)
		added := time.Now()
		s.SetTargets(append(append(ids, mix...), late...))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for _, tg := range late {
			if st := rec.startsOf(tg.ID); len(st) != 1 || st[0].Sub(added) > time.Second {
				t.Errorf("new identity target %s checked at %v, want once within a slice of %v", tg.ID, st, added)
			}
		}
		shutdown(t, s)
	})
}
