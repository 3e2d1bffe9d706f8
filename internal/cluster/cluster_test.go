package cluster

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nymwatch/nymwatch/detector"
)

var t0 = time.Date(2026, 5, 16, 11, 0, 0, 0, time.UTC)

const (
	clusterToken  = "cluster-token-0123456789abcdef"
	operatorToken = "operator-token-0123456789abcdef"
)

// fakeDetector is a ViewSource, ViewSink and StatusSource that records.
type fakeDetector struct {
	mu     sync.Mutex
	view   detector.View
	views  map[string]detector.View
	fails  map[string][]error
	at     map[string]time.Time
	status detector.ClusterStatus
}

func newFake(name string, targets ...detector.TargetView) *fakeDetector {
	return &fakeDetector{view: detector.View{Instance: name, Targets: targets},
		views: map[string]detector.View{}, fails: map[string][]error{}, at: map[string]time.Time{}}
}

func (f *fakeDetector) View(now time.Time) detector.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.view
	v.GeneratedAt = now.UTC().Truncate(time.Millisecond)
	return v
}

func (f *fakeDetector) PeerView(peer string, v detector.View, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.views[peer], f.at[peer] = v, at
}

func (f *fakeDetector) PeerFailed(peer string, err error, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails[peer] = append(f.fails[peer], err)
	f.at[peer] = at
}

func (f *fakeDetector) ClusterStatus() detector.ClusterStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeDetector) lastFail(peer string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if es := f.fails[peer]; len(es) > 0 {
		return es[len(es)-1]
	}
	return nil
}

func sampleTargets() []detector.TargetView {
	return []detector.TargetView{
		{ID: "node/1/node_http", State: detector.ViewHealthy, LastHealthy: t0.Add(-time.Second), LastObserved: t0.Add(-time.Second)},
		{ID: "node/2/node_http", State: detector.ViewFailing, FirstSeen: t0.Add(-time.Minute), LastHealthy: t0.Add(-90 * time.Second),
			LastObserved: t0.Add(-2 * time.Second), Reason: "timeout", Detail: "GET /api/v1/health: no answer within 5s"},
		{ID: "node/3/node_http", State: detector.ViewUnknown},
		{ID: "service/nym-api", State: detector.ViewHealthy, LastHealthy: t0.Add(-3 * time.Second), RecoveredAt: t0.Add(-10 * time.Minute),
			LastObserved: t0.Add(-3 * time.Second)},
	}
}

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

// server serves a Cluster's view for name.
func server(t *testing.T, name string, now func() time.Time) (*httptest.Server, *fakeDetector) {
	t.Helper()
	src := newFake(name, sampleTargets()...)
	c, err := New(Options{Self: name, Source: src, Sink: src, Tokens: []string{clusterToken, "", operatorToken}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, src
}

func TestHandlerAuth(t *testing.T) {
	srv, _ := server(t, "b", fixedNow(t0))
	tests := []struct {
		name, header string
		want         int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope-nope-nope-nope", http.StatusUnauthorized},
		{"prefix of the token", "Bearer " + clusterToken[:10], http.StatusUnauthorized},
		{"basic auth", "Basic " + clusterToken, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"cluster token", "Bearer " + clusterToken, http.StatusOK},
		{"operator token", "Bearer " + operatorToken, http.StatusOK},
		{"scheme is case-insensitive", "bearer " + clusterToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+ViewPath, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusUnauthorized {
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if bytes.Contains(body, []byte("node/")) {
					t.Error("401 leaks the view")
				}
			}
		})
	}
	// Other methods are refused by the mux pattern.
	resp, err := srv.Client().Post(srv.URL+ViewPath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestHandlerNoTokensRefusesAll(t *testing.T) {
	src := newFake("b")
	c, err := New(Options{Self: "b", Source: src, Sink: src})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, ViewPath, nil)
	req.Header.Set("Authorization", "Bearer ")
	c.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status %d", rec.Code)
	}
}

func TestHandlerEncoding(t *testing.T) {
	srv, _ := server(t, "b", fixedNow(t0))
	get := func(acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+ViewPath, nil)
		req.Header.Set("Authorization", "Bearer "+clusterToken)
		// Set explicitly (even empty), so the transport neither adds gzip
		// nor decompresses.
		req.Header["Accept-Encoding"] = []string{acceptEncoding}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	check := func(data []byte) {
		t.Helper()
		v, err := DecodeView(data)
		if err != nil {
			t.Fatalf("DecodeView: %v", err)
		}
		if v.Instance != "b" || !v.GeneratedAt.Equal(t0) || len(v.Targets) != 4 {
			t.Fatalf("view %+v", v)
		}
		if got := v.Targets[1]; got.State != detector.ViewFailing || !got.FirstSeen.Equal(t0.Add(-time.Minute)) || got.Reason != "timeout" {
			t.Errorf("failing target %+v", got)
		}
		if got := v.Targets[3]; !got.RecoveredAt.Equal(t0.Add(-10 * time.Minute)) {
			t.Errorf("recovered target %+v", got)
		}
	}

	resp, body := get("gzip, deflate")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	check(plain)
	if !bytes.Contains(plain, []byte(`"version":1`)) {
		t.Errorf("no version in %s", plain)
	}

	for _, ae := range []string{"", "identity", "gzip;q=0", "br, *;q=0"} {
		resp, body := get(ae)
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
		}
		check(body)
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := map[string]bool{
		"":                    false,
		"gzip":                true,
		"GZIP":                true,
		"deflate, gzip;q=0.5": true,
		"gzip;q=0":            false,
		"gzip; q=0.0":         false,
		"*":                   true,
		"*;q=0":               false,
		"br":                  false,
		"x-gzip":              true,
		"gzip;q=0, *":         false, // gzip explicitly refused
		"identity;q=1, *;q=0": false,
	}
	for in, want := range tests {
		if got := acceptsGzip([]string{in}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

// puller builds a Cluster pulling the given peers into sink.
func puller(t *testing.T, sink *fakeDetector, reg prometheus.Registerer, now func() time.Time, peers ...Peer) *Cluster {
	t.Helper()
	c, err := New(Options{Self: "a", Peers: peers, Timeout: 200 * time.Millisecond, Interval: time.Second,
		Source: sink, Sink: sink, Status: sink, Registerer: reg, Now: now, MaxViewBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPullGoodPeer(t *testing.T) {
	srv, _ := server(t, "b", fixedNow(t0))
	sink := newFake("a")
	reg := prometheus.NewRegistry()
	c := puller(t, sink, reg, fixedNow(t0.Add(time.Second)), Peer{Name: "b", URL: srv.URL + "/", Token: clusterToken})
	c.Tick(t.Context())
	v, ok := sink.views["b"]
	if !ok {
		t.Fatalf("no view; failures %v", sink.fails["b"])
	}
	if v.Instance != "b" || len(v.Targets) != 4 || !sink.at["b"].Equal(t0.Add(time.Second)) {
		t.Errorf("view %+v at %v", v, sink.at["b"])
	}
	if got := testutil.ToFloat64(c.m.peerUp.WithLabelValues("b")); got != 1 {
		t.Errorf("peer_up = %v", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func TestPullFailures(t *testing.T) {
	good := func(w http.ResponseWriter, r *http.Request) {
		_ = EncodeView(w, detector.View{Instance: "b", GeneratedAt: t0})
	}
	gz := func(data []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(data)
		_ = zw.Close()
		return buf.Bytes()
	}
	bomb := gz(bytes.Repeat([]byte(" "), 1<<20)) // 1 MiB of spaces in ~1 KiB
	tests := []struct {
		name    string
		handler http.HandlerFunc
		token   string
		now     time.Time
		reason  string
	}{
		{"garbage", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>502 Bad Gateway</html>") }, "", t0, reasonInvalid},
		{"truncated json", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"version":1,"instance":"b","targets":[{"id":`)
		}, "", t0, reasonInvalid},
		{"bad gzip", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			fmt.Fprint(w, "definitely not gzip")
		}, "", t0, reasonInvalid},
		{"unknown encoding", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "br")
			good(w, r)
		}, "", t0, reasonInvalid},
		{"other version", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"version":2,"instance":"b","generated_at":%d,"targets":[]}`, t0.UnixMilli())
		}, "", t0, reasonVersion},
		{"wrong instance", func(w http.ResponseWriter, r *http.Request) {
			_ = EncodeView(w, detector.View{Instance: "c", GeneratedAt: t0})
		}, "", t0, reasonInstance},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"version":1,"instance":"b","generated_at":%d,"targets":[],"pad":"%s"}`, t0.UnixMilli(), strings.Repeat("x", 128<<10))
		}, "", t0, reasonTooLarge},
		{"gzip bomb", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb)
		}, "", t0, reasonTooLarge},
		{"refused token", nil, "wrong-token-0123456789", t0, reasonAuth},
		{"throttled", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "too many failed authentications", http.StatusTooManyRequests)
		}, "", t0, reasonAuth},
		{"server error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, "", t0, reasonStatus},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
		}, "", t0, reasonStatus},
		{"clock skew", good, "", t0.Add(time.Minute), reasonSkew},
		{"hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, "", t0, reasonTimeout},
		{"hang after headers", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{"version":1,`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, "", t0, reasonTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httptest.Server
			if tt.handler == nil {
				srv, _ = server(t, "b", fixedNow(t0))
			} else {
				srv = httptest.NewServer(tt.handler)
				t.Cleanup(srv.Close)
			}
			tok := clusterToken
			if tt.token != "" {
				tok = tt.token
			}
			sink := newFake("a")
			reg := prometheus.NewRegistry()
			c := puller(t, sink, reg, fixedNow(tt.now), Peer{Name: "b", URL: srv.URL, Token: tok})
			c.Tick(t.Context())
			if _, ok := sink.views["b"]; ok {
				t.Fatal("a bad view reached the detector")
			}
			err := sink.lastFail("b")
			pe, ok := errors.AsType[*PullError](err)
			if !ok {
				t.Fatalf("want a *PullError, got %v", err)
			}
			if pe.Reason != tt.reason {
				t.Errorf("reason %q (%v), want %q", pe.Reason, err, tt.reason)
			}
			if msg := err.Error(); strings.Contains(msg, tok) || strings.Contains(msg, srv.URL) {
				t.Errorf("error leaks the token or URL: %q", msg)
			}
			if got := testutil.ToFloat64(c.m.pullErrors.WithLabelValues("b", tt.reason)); got != 1 {
				t.Errorf("pull errors{reason=%q} = %v", tt.reason, got)
			}
			if got := testutil.ToFloat64(c.m.peerUp.WithLabelValues("b")); got != 0 {
				t.Errorf("peer_up = %v", got)
			}
		})
	}
}

func TestPullUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	sink := newFake("a")
	c := puller(t, sink, nil, fixedNow(t0), Peer{Name: "b", URL: url, Token: clusterToken})
	c.Tick(t.Context())
	pe, ok := errors.AsType[*PullError](sink.lastFail("b"))
	if !ok || pe.Reason != reasonConnect {
		t.Fatalf("got %v", sink.lastFail("b"))
	}
	if !strings.HasPrefix(pe.Error(), "vantage point b: ") {
		t.Errorf("message %q", pe.Error())
	}
}

func TestPullSendsTokenAndGzip(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		if r.URL.Path != "/prefix"+ViewPath {
			t.Errorf("path %q", r.URL.Path)
		}
		_ = EncodeView(w, detector.View{Instance: "b", GeneratedAt: t0})
	}))
	defer srv.Close()
	sink := newFake("a")
	c := puller(t, sink, nil, fixedNow(t0), Peer{Name: "b", URL: srv.URL + "/prefix", Token: clusterToken})
	c.Tick(t.Context())
	if got.Get("Authorization") != "Bearer "+clusterToken || got.Get("Accept-Encoding") != "gzip" {
		t.Errorf("request headers %v", got)
	}
	if _, ok := sink.views["b"]; !ok {
		t.Errorf("no view: %v", sink.fails["b"])
	}
}

func TestReconfigure(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink := newFake("a")
	c := puller(t, sink, reg, fixedNow(t0),
		Peer{Name: "b", URL: "http://127.0.0.1:1", Token: clusterToken}, Peer{Name: "c", URL: "http://127.0.0.1:1", Token: clusterToken})
	if err := c.Reconfigure(Options{Self: "a", Peers: []Peer{{Name: "a", URL: "x", Token: ""}}}); err == nil {
		t.Error("bad options accepted")
	}
	if n := testutil.CollectAndCount(c.m.peerUp); n != 2 {
		t.Errorf("peer_up series %d", n)
	}
	if err := c.Reconfigure(Options{Self: "a", Interval: 5 * time.Second, Tokens: []string{"new-token-0123456789abcdef"},
		Peers: []Peer{{Name: "c", URL: "http://127.0.0.1:1", Token: clusterToken}}}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c.m.peerUp); n != 1 {
		t.Errorf("peer_up series after removing b: %d", n)
	}
	if c.Interval() != 5*time.Second || c.settings().timeout != 2500*time.Millisecond {
		t.Errorf("interval %v timeout %v", c.Interval(), c.settings().timeout)
	}
	if !c.authorized("Bearer new-token-0123456789abcdef") || c.authorized("Bearer "+clusterToken) {
		t.Error("tokens not swapped")
	}
}

func TestStatusMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink := newFake("a")
	sink.status = detector.ClusterStatus{Enabled: true, Self: "a", Quorum: 2, Reporting: 2, Failing: 3,
		Disagreements: map[string]int{"a": 0, "b": 4}}
	srv, _ := server(t, "b", fixedNow(t0))
	c := puller(t, sink, reg, fixedNow(t0), Peer{Name: "b", URL: srv.URL, Token: clusterToken},
		Peer{Name: "c", URL: "http://127.0.0.1:1", Token: clusterToken})
	c.Tick(t.Context())
	want := `
# HELP nymwatch_cluster_disagreeing_targets Targets a vantage point sees failing that too few others do (path problems), by vantage point.
# TYPE nymwatch_cluster_disagreeing_targets gauge
nymwatch_cluster_disagreeing_targets{vantage_point="a"} 0
nymwatch_cluster_disagreeing_targets{vantage_point="b"} 4
# HELP nymwatch_cluster_peer_up 1 if the last pull of the peer's view succeeded, else 0.
# TYPE nymwatch_cluster_peer_up gauge
nymwatch_cluster_peer_up{peer="b"} 1
nymwatch_cluster_peer_up{peer="c"} 0
# HELP nymwatch_cluster_peers_up Peers whose last pull succeeded.
# TYPE nymwatch_cluster_peers_up gauge
nymwatch_cluster_peers_up 1
# HELP nymwatch_cluster_quorum Vantage points (this one included) that must see a target failing for it to count as failing.
# TYPE nymwatch_cluster_quorum gauge
nymwatch_cluster_quorum 2
# HELP nymwatch_cluster_quorum_failing_targets Targets failing by quorum.
# TYPE nymwatch_cluster_quorum_failing_targets gauge
nymwatch_cluster_quorum_failing_targets 3
# HELP nymwatch_cluster_vantage_points_reporting Vantage points (this one included) whose views count now; below nymwatch_cluster_quorum nothing can be confirmed.
# TYPE nymwatch_cluster_vantage_points_reporting gauge
nymwatch_cluster_vantage_points_reporting 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nymwatch_cluster_disagreeing_targets", "nymwatch_cluster_peer_up",
		"nymwatch_cluster_peers_up", "nymwatch_cluster_quorum", "nymwatch_cluster_quorum_failing_targets",
		"nymwatch_cluster_vantage_points_reporting"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func TestNewValidates(t *testing.T) {
	src := newFake("a")
	bad := []Options{
		{Self: "a", Peers: []Peer{{Name: "b", URL: "ftp://x", Token: "t"}}, Source: src, Sink: src},
		{Self: "a", Peers: []Peer{{Name: "b", URL: "http://x"}}, Source: src, Sink: src},
		{Self: "a", Peers: []Peer{{Name: "a", URL: "http://x", Token: "t"}}, Source: src, Sink: src},
		{Self: "", Peers: []Peer{{Name: "b", URL: "http://x", Token: "t"}}, Source: src, Sink: src},
		{Self: "a"},
	}
	for i, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("%d: accepted", i)
		}
	}
}

// Ensure the shutdown path does not report peers as failed.
func TestTickCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	sink := newFake("a")
	c := puller(t, sink, nil, fixedNow(t0), Peer{Name: "b", URL: srv.URL, Token: clusterToken})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c.Tick(ctx)
	if err := sink.lastFail("b"); err != nil {
		t.Errorf("canceled pull recorded as a peer failure: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRun checks the pull schedule on a fake clock, and that a new
// interval takes effect without an extra pull.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// time.Sleep in this bubble advances its fake clock: no real wait.
		start := time.Now()
		var mu sync.Mutex
		var pulls []time.Duration
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			pulls = append(pulls, time.Since(start))
			mu.Unlock()
			var buf bytes.Buffer
			_ = EncodeView(&buf, detector.View{Instance: "b", GeneratedAt: time.Now()})
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(&buf), Request: r}, nil
		})
		sink := newFake("a")
		c, err := New(Options{Self: "a", Peers: []Peer{{Name: "b", URL: "http://b.invalid", Token: clusterToken}},
			Interval: 10 * time.Second, Source: sink, Sink: sink, Client: &http.Client{Transport: rt}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			_ = c.Run(ctx)
			close(done)
		}()
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if err := c.Reconfigure(Options{Self: "a", Peers: []Peer{{Name: "b", URL: "http://b.invalid", Token: clusterToken}},
			Interval: 4 * time.Second}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(9 * time.Second) // to 34s
		synctest.Wait()
		cancel()
		<-done
		want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 29 * time.Second, 33 * time.Second}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(pulls, want) {
			t.Errorf("pulls at %v, want %v", pulls, want)
		}
		if v, ok := sink.views["b"]; !ok || v.Instance != "b" {
			t.Errorf("view not handed over: %+v %v", v, sink.fails)
		}
	})
}
