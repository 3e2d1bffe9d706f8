package nymapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/backoff"
	"github.com/nymwatch/nymwatch/internal/testutil"
	"github.com/nymwatch/nymwatch/probes"
)

// dtNymAPI is a fake nym-api serving the fixtures. Routes can be
// overridden per path while the server runs.
type dtNymAPI struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	bodies   map[string][]byte           // path → 200 body
	handlers map[string]http.HandlerFunc // path → custom handler (wins)
	hits     map[string]*atomic.Int64
}

var dtDefaultRoutes = map[string]string{
	PathDescribedV2: "nym-api_v2_nym-nodes_described.json",
	PathDescribedV1: "nym-api_v1_nym-nodes_described.json",
	PathBonded:      "nym-api_v1_nym-nodes_bonded.json",
	PathSkimmed:     "nym-api_v2_unstable_nym-nodes_skimmed.json",
	PathRewardedSet: "nym-api_v1_nym-nodes_rewarded-set.json",
}

func dtNewNymAPI(t testing.TB) *dtNymAPI {
	t.Helper()
	a := &dtNymAPI{t: t, bodies: map[string][]byte{}, handlers: map[string]http.HandlerFunc{}, hits: map[string]*atomic.Int64{}}
	for p, f := range dtDefaultRoutes {
		a.bodies["/api"+p] = dtFixture(t, f)
		a.hits["/api"+p] = new(atomic.Int64)
	}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *dtNymAPI) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	h, hasH := a.handlers[r.URL.Path]
	body, hasB := a.bodies[r.URL.Path]
	if c := a.hits[r.URL.Path]; c != nil {
		c.Add(1)
	}
	a.mu.Unlock()
	if r.Header.Get("User-Agent") == "" {
		http.Error(w, "no user agent", http.StatusBadRequest)
		return
	}
	switch {
	case hasH:
		h(w, r)
	case hasB:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

// base is the nym-api base URL (with an /api prefix, as on mainnet).
func (a *dtNymAPI) base() string { return a.srv.URL + "/api" }

func (a *dtNymAPI) set(path string, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.handlers, "/api"+path)
	a.bodies["/api"+path] = body
}

func (a *dtNymAPI) handle(path string, h http.HandlerFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handlers["/api"+path] = h
}

func (a *dtNymAPI) status(path string, code int, msg string) {
	a.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(msg))
	})
}

func (a *dtNymAPI) count(path string) int64 { return a.hits["/api"+path].Load() }

var dtT0 = time.Date(2026, 5, 15, 11, 10, 0, 0, time.UTC)

// dtClient returns a DirectoryClient with fast retries and a fixed clock.
func dtClient(t testing.TB, base string, mod func(*DirectoryClientOptions)) *DirectoryClient {
	t.Helper()
	o := DirectoryClientOptions{
		BaseURL:      base,
		Timeout:      20 * time.Second,
		RetryMax:     2,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		Now:          func() time.Time { return dtT0 },
		Logger:       slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&o)
	}
	c, err := NewDirectoryClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dtNodes(d Directory) map[uint32]probes.Node {
	m := make(map[uint32]probes.Node, len(d.Nodes))
	for _, n := range d.Nodes {
		m[n.NodeID] = n
	}
	return m
}

func TestFetchFixtureDirectory(t *testing.T) {
	api := dtNewNymAPI(t)
	d, err := dtClient(t, api.base()+"/", nil).Fetch(t.Context())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if d.Source != api.base()+PathDescribedV2 {
		t.Errorf("source = %q", d.Source)
	}
	if d.RoleSource != RoleSourceSkimmed || d.EpochID != 31522 || !d.FetchedAt.Equal(dtT0) || d.Skipped != 0 {
		t.Errorf("directory meta: role source %q epoch %d fetched %v skipped %d", d.RoleSource, d.EpochID, d.FetchedAt, d.Skipped)
	}
	if len(d.Unavailable) != 0 {
		t.Errorf("unavailable = %v", d.Unavailable)
	}
	if len(d.Bonded) != 3 || d.Bonded[2210] != "RZckBsG5XXLMsjXGjTi98yjx8LB6d9FhZPpVCccHTfw" {
		t.Errorf("bonded = %v", d.Bonded)
	}
	var ids []uint32
	for _, n := range d.Nodes {
		ids = append(ids, n.NodeID)
	}
	if !slices.Equal(ids, []uint32{877, 1399, 1502, 2041, 2210}) {
		t.Fatalf("nodes (sorted) = %v", ids)
	}
	want := map[uint32]probes.Node{
		1399: {
			NodeID: 1399, Identity: "EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus", Role: probes.RoleExitGateway,
			Declared: probes.DeclaredRoles{Entry: true, ExitNR: true, ExitIPR: true}, Country: "DE",
			Hosts:    []string{"203.0.113.10", "2001:db8:10::10", "nym-exit.example-operator.net"},
			Hostname: "nym-exit.example-operator.net", HTTPPorts: []uint16{8080}, MixPort: 1789,
			WSPort: 9000, WSSPort: 9001, Version: "1.31.0", Performance: 0.98,
		},
		1502: {
			NodeID: 1502, Identity: "6gewNpDn6fRHPn7g35EX6pih4dKEisfLPQgYE938SWc1", Role: probes.RoleExitGateway,
			Declared: probes.DeclaredRoles{Entry: true, ExitNR: true, ExitIPR: true}, Country: "SE",
			Hosts:    []string{"198.51.100.77", "gw.nordic-relay.example"},
			Hostname: "gw.nordic-relay.example", HTTPPorts: []uint16{8080}, MixPort: 1789,
			WSPort: 9000, WSSPort: 9001, Version: "1.30.0", Performance: 0.91,
		},
		2041: {
			NodeID: 2041, Identity: "Cea9o6MvrAxZbWLy1vU4yHzkM5aePT9fRNFJWpaM7SUw", Role: probes.RoleEntryGateway,
			Declared: probes.DeclaredRoles{Entry: true}, Country: "CH",
			Hosts:    []string{"198.51.100.23", "entry.example.org"},
			Hostname: "entry.example.org", HTTPPorts: []uint16{8080}, MixPort: 1789,
			WSPort: 9000, WSSPort: 9001, Version: "1.31.0", Performance: 0.95,
		},
		877: {
			NodeID: 877, Identity: "D7qJFPoJDDTxtHBV2ogbHUyKodSCtasYeQpkNYTT3Tbn", Role: probes.RoleMixnode, Layer: 2,
			Declared: probes.DeclaredRoles{Mixnode: true}, Country: "NL",
			Hosts: []string{"192.0.2.45"}, HTTPPorts: []uint16{8080}, MixPort: 1789,
			Version: "1.31.0", Performance: 1,
		},
		2210: {
			// custom_http_port 8080 in the bond equals the default: listed once.
			NodeID: 2210, Identity: "RZckBsG5XXLMsjXGjTi98yjx8LB6d9FhZPpVCccHTfw", Role: probes.RoleInactive,
			Declared: probes.DeclaredRoles{Mixnode: true}, Country: "FI",
			Hosts:    []string{"192.0.2.77", "2001:db8::77", "mix.example.net"},
			Hostname: "mix.example.net", HTTPPorts: []uint16{8080}, MixPort: 1789,
			Version: "1.29.0", Performance: 0.62,
		},
	}
	got := dtNodes(d)
	for id, w := range want {
		dtAssertNode(t, got[id], w)
	}
}

func dtAssertNode(t *testing.T, got, want probes.Node) {
	t.Helper()
	if got.NodeID != want.NodeID || got.Identity != want.Identity || got.Role != want.Role || got.Layer != want.Layer ||
		got.Declared != want.Declared || got.Country != want.Country || !slices.Equal(got.Hosts, want.Hosts) ||
		got.Hostname != want.Hostname || !slices.Equal(got.HTTPPorts, want.HTTPPorts) || got.MixPort != want.MixPort ||
		got.WSPort != want.WSPort || got.WSSPort != want.WSSPort || got.Version != want.Version ||
		got.Performance != want.Performance || got.Staging != want.Staging || got.Undescribed != want.Undescribed {
		t.Errorf("node %d:\n got %+v\nwant %+v", want.NodeID, got, want)
	}
}

func TestFetchHTTPPortOrderAndBondHost(t *testing.T) {
	api := dtNewNymAPI(t)
	bonded := string(dtFixture(t, "nym-api_v1_nym-nodes_bonded.json"))
	// 1399 bonds with a custom port and a host that is not in its description.
	bonded = strings.Replace(bonded, `"host": "nym-exit.example-operator.net",
          "custom_http_port": null`, `"host": "api.exit.example",
          "custom_http_port": 8000`, 1)
	// 877's bond claims another identity: it is not this node's bond.
	bonded = strings.Replace(bonded, `"host": "192.0.2.45",
          "custom_http_port": null,
          "identity_key": "D7qJFPoJDDTxtHBV2ogbHUyKodSCtasYeQpkNYTT3Tbn"`, `"host": "192.0.2.99",
          "custom_http_port": 8443,
          "identity_key": "6gewNpDn6fRHPn7g35EX6pih4dKEisfLPQgYE938SWc1"`, 1)
	api.set(PathBonded, []byte(bonded))
	d, err := dtClient(t, api.base(), nil).Fetch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := dtNodes(d)
	if got := n[1399].HTTPPorts; !slices.Equal(got, []uint16{8000, 8080}) {
		t.Errorf("1399 http ports = %v, want [8000 8080]", got)
	}
	if got := n[1399].Hosts; !slices.Equal(got, []string{"203.0.113.10", "2001:db8:10::10", "nym-exit.example-operator.net", "api.exit.example"}) {
		t.Errorf("1399 hosts = %v", got)
	}
	if got := n[877]; !slices.Equal(got.HTTPPorts, []uint16{8080}) || !slices.Equal(got.Hosts, []string{"192.0.2.45"}) {
		t.Errorf("877 used a bond of another identity: ports %v hosts %v", got.HTTPPorts, got.Hosts)
	}
}

func TestFetchDescribedV1Fallback(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusNotImplemented} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			api := dtNewNymAPI(t)
			api.status(PathDescribedV2, code, "")
			d, err := dtClient(t, api.base(), nil).Fetch(t.Context())
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if d.Source != api.base()+PathDescribedV1 {
				t.Errorf("source = %q, want v1", d.Source)
			}
			if len(d.Nodes) != 3 || dtNodes(d)[1399].Role != probes.RoleExitGateway {
				t.Errorf("nodes = %+v", d.Nodes)
			}
			if api.count(PathDescribedV2) != 1 {
				t.Errorf("v2 asked %d times; a %d must not be retried", api.count(PathDescribedV2), code)
			}
		})
	}
}

func TestFetchRoleSources(t *testing.T) {
	roleOf := func(d Directory) map[uint32]NodeRole {
		m := map[uint32]NodeRole{}
		for _, n := range d.Nodes {
			m[n.NodeID] = NodeRole{Role: n.Role, Layer: n.Layer}
		}
		return m
	}
	fromSet := map[uint32]NodeRole{
		1399: {Role: probes.RoleExitGateway}, 1502: {Role: probes.RoleExitGateway}, 2041: {Role: probes.RoleEntryGateway},
		877: {Role: probes.RoleMixnode, Layer: 2}, 2210: {Role: probes.RoleInactive},
	}
	for _, tc := range []struct {
		name            string
		setup           func(*dtNymAPI)
		wantSource      RoleSource
		wantRoles       map[uint32]NodeRole
		wantUnavailable []string
	}{
		{
			name:       "skimmed down, rewarded set used",
			setup:      func(a *dtNymAPI) { a.status(PathSkimmed, 503, "relevant cache hasn't been initialised yet") },
			wantSource: RoleSourceRewardedSet, wantRoles: fromSet,
			wantUnavailable: []string{"skimmed: GET " + "{base}" + PathSkimmed + ": HTTP 503 after 3 attempts: relevant cache hasn't been initialised yet"},
		},
		{
			name: "skimmed empty (no-updates), rewarded set used",
			setup: func(a *dtNymAPI) {
				a.set(PathSkimmed, dtFixture(a.t, "nym-api_v2_unstable_nym-nodes_skimmed_no-updates.json"))
			},
			wantSource:      RoleSourceRewardedSet,
			wantRoles:       fromSet,
			wantUnavailable: []string{`skimmed: no nodes (status "no-updates")`},
		},
		{
			name: "skimmed garbage, rewarded set used",
			setup: func(a *dtNymAPI) {
				a.set(PathSkimmed, []byte(`{"nodes":{"data":[{"node_id":1,"role":"Sentinel","performance":"1"}]}}`))
			},
			wantSource: RoleSourceRewardedSet, wantRoles: fromSet,
			wantUnavailable: []string{`skimmed: decode skimmed nodes: item 0: node role: unknown variant "Sentinel"`},
		},
		{
			name: "both down, declared roles",
			setup: func(a *dtNymAPI) {
				a.status(PathSkimmed, 500, "chain error")
				a.status(PathRewardedSet, 404, "")
			},
			wantSource: RoleSourceDeclared,
			wantRoles: map[uint32]NodeRole{
				1399: {Role: probes.RoleExitGateway}, 1502: {Role: probes.RoleExitGateway}, 2041: {Role: probes.RoleEntryGateway},
				877: {Role: probes.RoleMixnode}, 2210: {Role: probes.RoleMixnode},
			},
			wantUnavailable: []string{
				"skimmed: GET {base}" + PathSkimmed + ": HTTP 500 after 3 attempts: chain error",
				"rewarded-set: GET {base}" + PathRewardedSet + ": HTTP 404",
			},
		},
		{
			name: "skimmed misses a node, rewarded set fills it in",
			setup: func(a *dtNymAPI) {
				a.set(PathSkimmed, dtFixture(a.t, "nym-api_v2_unstable_nym-nodes_skimmed_exit-gateways.json"))
			},
			wantSource: RoleSourceSkimmed, wantRoles: fromSet,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := dtNewNymAPI(t)
			tc.setup(api)
			d, err := dtClient(t, api.base(), nil).Fetch(t.Context())
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if d.RoleSource != tc.wantSource {
				t.Errorf("role source = %q, want %q", d.RoleSource, tc.wantSource)
			}
			if got := roleOf(d); len(got) != len(tc.wantRoles) {
				t.Errorf("roles = %v", got)
			} else {
				for id, w := range tc.wantRoles {
					if got[id] != w {
						t.Errorf("node %d role = %+v, want %+v", id, got[id], w)
					}
				}
			}
			var want []string
			for _, u := range tc.wantUnavailable {
				want = append(want, strings.ReplaceAll(u, "{base}", api.base()))
			}
			if !slices.Equal(d.Unavailable, want) {
				t.Errorf("unavailable =\n%q\nwant\n%q", d.Unavailable, want)
			}
			if tc.wantSource != RoleSourceSkimmed {
				for _, n := range d.Nodes {
					if n.Performance != 0 {
						t.Errorf("node %d performance %v without skimmed view", n.NodeID, n.Performance)
					}
				}
			}
		})
	}
}

func TestFetchBondedUnavailable(t *testing.T) {
	api := dtNewNymAPI(t)
	api.status(PathBonded, 404, "")
	d, err := dtClient(t, api.base(), nil).Fetch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d.Bonded != nil {
		t.Errorf("bonded = %v, want nil when unavailable", d.Bonded)
	}
	if len(d.Unavailable) != 1 || !strings.HasPrefix(d.Unavailable[0], "bonded: ") {
		t.Errorf("unavailable = %q", d.Unavailable)
	}
	if got := dtNodes(d)[2210].HTTPPorts; !slices.Equal(got, []uint16{8080}) {
		t.Errorf("2210 http ports = %v", got)
	}
}

func TestFetchErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*dtNymAPI)
		opts    func(*DirectoryClientOptions)
		check   func(t *testing.T, err error, api *dtNymAPI)
		wantMsg string
	}{
		{
			name: "503 cold cache retried then error",
			setup: func(a *dtNymAPI) {
				a.handle(PathDescribedV2, func(w http.ResponseWriter, _ *http.Request) {
					// A long Retry-After must be capped at RetryWaitMax, or
					// this test would run into the 20 s fetch timeout.
					w.Header().Set("Retry-After", "3600")
					http.Error(w, "relevant cache hasn't been initialised yet", http.StatusServiceUnavailable)
				})
			},
			check: func(t *testing.T, err error, a *dtNymAPI) {
				se, ok := errors.AsType[*NymAPIStatusError](err)
				if !ok {
					t.Fatalf("err = %v, want *NymAPIStatusError", err)
				}
				if se.StatusCode != 503 || se.Attempts != 3 || se.Message != "relevant cache hasn't been initialised yet" {
					t.Errorf("status error = %+v", se)
				}
				if n := a.count(PathDescribedV2); n != 3 {
					t.Errorf("described asked %d times, want 3 (1 + RetryMax 2)", n)
				}
				if n := a.count(PathDescribedV1); n != 0 {
					t.Errorf("a 503 must not fall back to v1 (asked %d times)", n)
				}
			},
			wantMsg: "HTTP 503 after 3 attempts: relevant cache hasn't been initialised yet",
		},
		{
			name:  "v2 and v1 both missing",
			setup: func(a *dtNymAPI) { a.status(PathDescribedV2, 404, ""); a.status(PathDescribedV1, 404, "") },
			check: func(t *testing.T, err error, _ *dtNymAPI) {
				if se, ok := errors.AsType[*NymAPIStatusError](err); !ok || se.StatusCode != 404 || !strings.HasSuffix(se.URL, PathDescribedV1) {
					t.Errorf("err = %v", err)
				}
			},
			wantMsg: PathDescribedV1 + ": HTTP 404",
		},
		{
			name:    "garbage body",
			setup:   func(a *dtNymAPI) { a.set(PathDescribedV2, []byte("<html>\n<h1>Welcome to nginx!</h1></html>")) },
			wantMsg: `decode described nodes: not JSON (starts "<html> <h1>Welcome to nginx!</h1></html>")`,
		},
		{
			name:    "wrong shape",
			setup:   func(a *dtNymAPI) { a.set(PathDescribedV2, []byte(`{"nodes":[]}`)) },
			check:   func(t *testing.T, err error, _ *dtNymAPI) { dtWantIs(t, err, ErrBadShape) },
			wantMsg: `no "data" list`,
		},
		{
			name: "empty directory",
			setup: func(a *dtNymAPI) {
				a.set(PathDescribedV2, []byte(`{"pagination":{"total":0,"page":0,"size":0},"data":[]}`))
			},
			check:   func(t *testing.T, err error, _ *dtNymAPI) { dtWantIs(t, err, ErrEmptyDirectory) },
			wantMsg: "empty list",
		},
		{
			name: "no usable node",
			setup: func(a *dtNymAPI) {
				a.set(PathDescribedV2, []byte(`{"data":[
				 {"node_id":1,"description":{"host_information":{"ip_address":["192.0.2.1"],"keys":{"ed25519":"not base58 0OIl"}}}},
				 {"node_id":2,"description":{"host_information":{"ip_address":["0.0.0.0","999.1.1.1"],"hostname":"a/b","keys":{"ed25519":"EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus"}}}},
				 {"node_id":0,"description":{"host_information":{"ip_address":["192.0.2.3"],"keys":{"ed25519":"EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus"}}}}]}`))
			},
			check:   func(t *testing.T, err error, _ *dtNymAPI) { dtWantIs(t, err, ErrEmptyDirectory) },
			wantMsg: "3 entries, 3 unusable",
		},
		{
			name:    "body too large",
			opts:    func(o *DirectoryClientOptions) { o.MaxBodyBytes = 1024 },
			wantMsg: "body larger than 1024 bytes",
		},
		{
			name: "hanging server bounded by timeout",
			setup: func(a *dtNymAPI) {
				a.handle(PathDescribedV2, func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(200)
					w.(http.Flusher).Flush()
					<-r.Context().Done() // headers sent, body never comes
				})
			},
			opts: func(o *DirectoryClientOptions) { o.Timeout = 300 * time.Millisecond },
			check: func(t *testing.T, err error, _ *dtNymAPI) {
				dtWantIs(t, err, context.DeadlineExceeded)
			},
			// Usually "read body: context deadline exceeded"; on a loaded
			// machine the deadline may already hit while awaiting headers.
			wantMsg: "context deadline exceeded",
		},
		{
			name: "server never answers headers",
			setup: func(a *dtNymAPI) {
				a.handle(PathDescribedV2, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			},
			opts:    func(o *DirectoryClientOptions) { o.Timeout = 300 * time.Millisecond },
			check:   func(t *testing.T, err error, _ *dtNymAPI) { dtWantIs(t, err, context.DeadlineExceeded) },
			wantMsg: "context deadline exceeded",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := dtNewNymAPI(t)
			if tc.setup != nil {
				tc.setup(api)
			}
			d, err := dtClient(t, api.base(), tc.opts).Fetch(t.Context())
			if err == nil {
				t.Fatalf("Fetch succeeded with %d nodes, want error", len(d.Nodes))
			}
			if !d.IsZero() {
				t.Errorf("a failed fetch returned a directory: %+v", d)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
			if tc.check != nil {
				tc.check(t, err, api)
			}
		})
	}
}

func dtWantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("err = %v, want errors.Is %v", err, target)
	}
}

func TestFetchRetriesThenSucceeds(t *testing.T) {
	api := dtNewNymAPI(t)
	var calls atomic.Int64
	ok := dtFixture(t, "nym-api_v2_nym-nodes_described.json")
	api.handle(PathDescribedV2, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "relevant cache hasn't been initialised yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(ok)
	})
	d, err := dtClient(t, api.base(), nil).Fetch(t.Context())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(d.Nodes) != 5 || calls.Load() != 3 {
		t.Errorf("%d nodes after %d calls", len(d.Nodes), calls.Load())
	}
}

func TestFetchConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := dtClient(t, base, func(o *DirectoryClientOptions) { o.RetryMax = -1 }).Fetch(t.Context())
	if err == nil || !strings.Contains(err.Error(), "GET "+base+PathDescribedV2) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("err = %v", err)
	}
}

func TestNewDirectoryClientValidatesBaseURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means an error
	}{
		{"https://validator.nymtech.net/api", "https://validator.nymtech.net/api"},
		{"https://validator.nymtech.net/api/", "https://validator.nymtech.net/api"},
		{" http://127.0.0.1:8000 ", "http://127.0.0.1:8000"},
		{"", ""},
		{"validator.nymtech.net/api", ""},
		{"ftp://validator.nymtech.net", ""},
		{"https://", ""},
		{"https://validator.nymtech.net/api?token=x", ""},
		{"https://user:pw@validator.nymtech.net/api", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c, err := NewDirectoryClient(DirectoryClientOptions{BaseURL: tc.in})
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted %q", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL() != tc.want {
				t.Errorf("base = %q, want %q", c.BaseURL(), tc.want)
			}
		})
	}
}

func TestDirCappedBackoff(t *testing.T) {
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": []string{"3600"}}}
	if d := backoff.Retryable(time.Second, 15*time.Second, 0, resp); d != 15*time.Second {
		t.Errorf("Retry-After 3600 gave %v, want capped 15s", d)
	}
	resp.Header.Set("Retry-After", "2")
	if d := backoff.Retryable(time.Second, 15*time.Second, 0, resp); d != 2*time.Second {
		t.Errorf("Retry-After 2 gave %v, want 2s", d)
	}
	if d := backoff.Retryable(time.Second, 15*time.Second, 10, nil); d != 15*time.Second {
		t.Errorf("attempt 10 gave %v, want 15s", d)
	}
}

func TestDirRetryLoggerUsesDebugAndErrKey(t *testing.T) {
	var buf testutil.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	api := dtNewNymAPI(t)
	api.status(PathDescribedV2, 503, "cold")
	_, err := dtClient(t, api.base(), func(o *DirectoryClientOptions) { o.Logger = slog.New(h) }).Fetch(t.Context())
	if err == nil {
		t.Fatal("want error")
	}
	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "retrying request") {
		t.Errorf("no debug retry lines in:\n%s", out)
	}
	if strings.Contains(out, "level=ERROR") || strings.Contains(out, " error=") {
		t.Errorf("retry chatter must be debug with key err:\n%s", out)
	}
}

func TestNodeNormalisation(t *testing.T) {
	const id = "EyxQEzbQZZhPLQVx8iLagRSwk3x3y2Vg2LouVF4S8Yus"
	many := `"192.0.2.200"`
	for i := range 40 {
		many += `,"198.51.100.` + strconv.Itoa(i+1) + `"`
	}
	for _, tc := range []struct {
		name   string
		desc   string
		bond   *NymBondedNode
		want   probes.Node
		wantOK bool
	}{
		{
			name: "addresses, ports and country normalised",
			desc: `{"host_information":{"ip_address":["fe80::1%eth0","0.0.0.0","::ffff:192.0.2.1","2001:DB8::1"," 192.0.2.1 ","ff02::1"],
			        "hostname":"EXAMPLE.org.","keys":{"ed25519":"` + id + `"}},
			        "declared_role":{"entry":true},"auxiliary_details":{"location":"de","announce_ports":{"mix_port":0}},
			        "mixnet_websockets":{"ws_port":0,"wss_port":null},"build_information":{"build_version":" 1.31.0 "}}`,
			bond: &NymBondedNode{NodeID: 9, IdentityKey: id, Host: "192.0.2.1", CustomHTTPPort: 8000},
			want: probes.Node{NodeID: 9, Identity: id, Role: probes.RoleInactive, Declared: probes.DeclaredRoles{Entry: true}, Country: "DE",
				Hosts: []string{"192.0.2.1", "2001:db8::1", "example.org"}, Hostname: "example.org",
				HTTPPorts: []uint16{8000, 8080}, MixPort: 1789, WSPort: 9000, Version: "1.31.0"},
			wantOK: true,
		},
		{
			name: "hostile hostname and country dropped, announced ports kept",
			desc: `{"host_information":{"ip_address":["192.0.2.9"],"hostname":"evil.example/../admin?x=1","keys":{"ed25519":"` + id + `"}},
			        "declared_role":{"entry":true,"exit_nr":true,"exit_ipr":true},"auxiliary_details":{"location":"Germany","announce_ports":{"mix_port":1800}},
			        "mixnet_websockets":{"ws_port":9100,"wss_port":9443}}`,
			want: probes.Node{NodeID: 9, Identity: id, Role: probes.RoleInactive, Declared: probes.DeclaredRoles{Entry: true, ExitNR: true, ExitIPR: true},
				Hosts: []string{"192.0.2.9"}, HTTPPorts: []uint16{8080}, MixPort: 1800, WSPort: 9100, WSSPort: 9443},
			wantOK: true,
		},
		{
			name: "address list capped",
			desc: `{"host_information":{"ip_address":[` + many + `],"hostname":"h.example","keys":{"ed25519":"` + id + `"}}}`,
			want: probes.Node{NodeID: 9, Identity: id, Role: probes.RoleInactive, HTTPPorts: []uint16{8080}, MixPort: 1789, Hostname: "h.example",
				Hosts: append([]string{"192.0.2.200"}, func() []string {
					var s []string
					for i := range 15 {
						s = append(s, "198.51.100."+strconv.Itoa(i+1))
					}
					return s
				}()...)},
			wantOK: true,
		},
		{
			name: "hostname only",
			desc: `{"host_information":{"ip_address":[],"hostname":"only.example","keys":{"ed25519":"` + id + `"}}}`,
			want: probes.Node{NodeID: 9, Identity: id, Role: probes.RoleInactive, Hosts: []string{"only.example"}, Hostname: "only.example",
				HTTPPorts: []uint16{8080}, MixPort: 1789},
			wantOK: true,
		},
		{
			name: "bond host is the only address",
			desc: `{"host_information":{"ip_address":["not-an-ip"],"keys":{"ed25519":"` + id + `"}}}`,
			bond: &NymBondedNode{NodeID: 9, IdentityKey: id, Host: "Bond.Example"},
			want: probes.Node{NodeID: 9, Identity: id, Role: probes.RoleInactive, Hosts: []string{"bond.example"},
				HTTPPorts: []uint16{8080}, MixPort: 1789},
			wantOK: true,
		},
		{
			name: "no address at all",
			desc: `{"host_information":{"ip_address":["::"],"hostname":"","keys":{"ed25519":"` + id + `"}}}`,
		},
		{
			name: "identity not base58",
			desc: `{"host_information":{"ip_address":["192.0.2.1"],"keys":{"ed25519":"0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl0OIl"}}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data NymNodeData
			if err := json.Unmarshal([]byte(tc.desc), &data); err != nil {
				t.Fatal(err)
			}
			var bond NymBondedNode
			if tc.bond != nil {
				bond = *tc.bond
			}
			got, ok := dirNodeFromDescription(NymNodeDescription{NodeID: 9, Description: &data}, bond, tc.bond != nil)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v (node %+v)", ok, tc.wantOK, got)
			}
			if ok {
				dtAssertNode(t, got, tc.want)
			}
		})
	}
}

func TestDeclaredRole(t *testing.T) {
	for _, tc := range []struct {
		d    probes.DeclaredRoles
		want NodeRole
	}{
		{probes.DeclaredRoles{Entry: true, ExitNR: true, ExitIPR: true}, NodeRole{Role: probes.RoleExitGateway}},
		{probes.DeclaredRoles{Entry: true, ExitNR: true}, NodeRole{Role: probes.RoleEntryGateway}}, // not exit-capable without IPR
		{probes.DeclaredRoles{Entry: true}, NodeRole{Role: probes.RoleEntryGateway}},
		{probes.DeclaredRoles{Mixnode: true}, NodeRole{Role: probes.RoleMixnode}},
		{probes.DeclaredRoles{}, NodeRole{Role: probes.RoleInactive}},
	} {
		if got := DeclaredRole(tc.d); got != tc.want {
			t.Errorf("DeclaredRole(%+v) = %+v, want %+v", tc.d, got, tc.want)
		}
	}
}
