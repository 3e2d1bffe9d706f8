package nymapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	nwtest "github.com/nymwatch/nymwatch/internal/testutil"
	"github.com/nymwatch/nymwatch/probes"
)

func dtNewDiscovery(t *testing.T, f DirectoryFetcher, p DirectoryPersister, reg prometheus.Registerer, clk *nwtest.Clock) *Discovery {
	t.Helper()
	d, err := NewDiscovery(DiscoveryOptions{Fetcher: f, Store: p, Registerer: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dtClientWithClock is a DirectoryClient whose FetchedAt follows clk.
func dtClientWithClock(t *testing.T, api *dtNymAPI, clk *nwtest.Clock) *DirectoryClient {
	return dtClient(t, api.base(), func(o *DirectoryClientOptions) { o.Now = clk.Now })
}

func TestDiscoveryKeepsLastGood(t *testing.T) {
	api := dtNewNymAPI(t)
	clk := nwtest.NewClock(dtT0)
	reg := prometheus.NewPedanticRegistry()
	db := dtOpenStore(t, t.TempDir())
	disc := dtNewDiscovery(t, dtClientWithClock(t, api, clk), NewDirectoryStore(db, clk.Now), reg, clk)
	ctx := t.Context()

	if !disc.Current().IsZero() || disc.LastError() != nil || !disc.LastSuccess().IsZero() {
		t.Fatal("a new Discovery must hold nothing")
	}
	if v := testutil.ToFloat64(dtGaugeFunc(t, reg, "nymwatch_directory_age_seconds")); !math.IsNaN(v) {
		t.Errorf("age without directory = %v, want NaN", v)
	}

	good, err := disc.Refresh(ctx)
	if err != nil {
		t.Fatalf("first Refresh: %v", err)
	}
	if len(good.Nodes) != 5 || !disc.LastSuccess().Equal(dtT0) {
		t.Fatalf("first refresh: %d nodes, last success %v", len(good.Nodes), disc.LastSuccess())
	}

	// nym-api restarts: cold caches answer 503.
	api.status(PathDescribedV2, http.StatusServiceUnavailable, "relevant cache hasn't been initialised yet")
	clk.Set(dtT0.Add(90 * time.Second))
	got, err := disc.Refresh(ctx)
	if err == nil {
		t.Fatal("Refresh succeeded against a 503 nym-api")
	}
	if se, ok := errors.AsType[*NymAPIStatusError](err); !ok || se.StatusCode != 503 {
		t.Errorf("err = %v, want a wrapped *NymAPIStatusError 503", err)
	}
	if !strings.HasPrefix(err.Error(), "refresh nym-api directory: ") {
		t.Errorf("err = %q", err)
	}
	if !slices.EqualFunc(got.Nodes, good.Nodes, dtSameNode) || !slices.EqualFunc(disc.Current().Nodes, good.Nodes, dtSameNode) {
		t.Error("a failed refresh replaced the last good directory")
	}
	if !errors.Is(disc.LastError(), err) && disc.LastError().Error() != err.Error() {
		t.Errorf("LastError = %v", disc.LastError())
	}
	if !disc.LastSuccess().Equal(dtT0) {
		t.Errorf("LastSuccess moved to %v on failure", disc.LastSuccess())
	}

	const metrics = `
# HELP nymwatch_directory_last_refresh_success Whether the last directory refresh succeeded (1) or failed (0).
# TYPE nymwatch_directory_last_refresh_success gauge
nymwatch_directory_last_refresh_success 0
# HELP nymwatch_directory_last_success_timestamp_seconds Fetch time of the directory in use, as a unix timestamp.
# TYPE nymwatch_directory_last_success_timestamp_seconds gauge
nymwatch_directory_last_success_timestamp_seconds 1.7788434e+09
# HELP nymwatch_directory_nodes Nodes in the current nym-api directory, by role in the current epoch.
# TYPE nymwatch_directory_nodes gauge
nymwatch_directory_nodes{role="entry_gateway"} 1
nymwatch_directory_nodes{role="exit_gateway"} 2
nymwatch_directory_nodes{role="inactive"} 1
nymwatch_directory_nodes{role="mixnode"} 1
nymwatch_directory_nodes{role="standby"} 0
# HELP nymwatch_directory_refreshes_total Directory refreshes from nym-api, by result.
# TYPE nymwatch_directory_refreshes_total counter
nymwatch_directory_refreshes_total{result="failure"} 1
nymwatch_directory_refreshes_total{result="success"} 1
# HELP nymwatch_directory_age_seconds Age of the directory in use (NaN if there is none).
# TYPE nymwatch_directory_age_seconds gauge
nymwatch_directory_age_seconds 90
# HELP nymwatch_directory_undescribed_nodes Bonded nodes nym-api could not describe in its last run, kept from an earlier directory.
# TYPE nymwatch_directory_undescribed_nodes gauge
nymwatch_directory_undescribed_nodes 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(metrics)); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) != 0 {
		t.Errorf("metric lint: %v %v", probs, err)
	}

	// nym-api is back: the next refresh succeeds and clears the error.
	api.set(PathDescribedV2, dtFixture(t, "nym-api_v2_nym-nodes_described.json"))
	if _, err := disc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if disc.LastError() != nil || !disc.LastSuccess().Equal(dtT0.Add(90*time.Second)) {
		t.Errorf("after recovery: err %v, last success %v", disc.LastError(), disc.LastSuccess())
	}
	if v := testutil.ToFloat64(dtGaugeFunc(t, reg, "nymwatch_directory_age_seconds")); v != 0 {
		t.Errorf("age = %v, want 0", v)
	}
}

// dtGaugeFunc finds a registered collector by metric name for ToFloat64.
func dtGaugeFunc(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return dtCollectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				v := mf.GetMetric()[0].GetGauge().GetValue()
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "x", nil, nil), prometheus.GaugeValue, v)
				return
			}
		}
		t.Fatalf("metric %s not registered", name)
	})
}

type dtCollectorFunc func(chan<- prometheus.Metric)

func (f dtCollectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f dtCollectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func dtSameNode(a, b probes.Node) bool {
	return a.NodeID == b.NodeID && a.Identity == b.Identity && a.Role == b.Role && a.Layer == b.Layer &&
		slices.Equal(a.Hosts, b.Hosts) && slices.Equal(a.HTTPPorts, b.HTTPPorts) && a.MixPort == b.MixPort &&
		a.WSPort == b.WSPort && a.Undescribed == b.Undescribed
}

// dtFailingFetcher always fails, as nym-api does during an outage.
type dtFailingFetcher struct{ err error }

func (f dtFailingFetcher) Fetch(context.Context) (Directory, error) { return Directory{}, f.err }

func TestDiscoveryRestartDuringOutageUsesPersisted(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	clk := nwtest.NewClock(dtT0)

	// First life: one good refresh, persisted.
	api := dtNewNymAPI(t)
	db1 := dtOpenStore(t, dir)
	first := dtNewDiscovery(t, dtClientWithClock(t, api, clk), NewDirectoryStore(db1, clk.Now), nil, clk)
	good, err := first.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		restore bool // call Restore at startup, before any refresh
	}{
		{"restore at startup", true},
		{"first refresh fails", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := dtOpenStore(t, dir)
			outage := errors.New("nym-api unreachable")
			reg := prometheus.NewRegistry()
			clk.Set(dtT0.Add(time.Hour))
			disc := dtNewDiscovery(t, dtFailingFetcher{outage}, NewDirectoryStore(db, clk.Now), reg, clk)
			if tc.restore {
				ok, err := disc.Restore(ctx)
				if err != nil || !ok {
					t.Fatalf("Restore: ok=%v err=%v", ok, err)
				}
				if !slices.EqualFunc(disc.Current().Nodes, good.Nodes, dtSameNode) {
					t.Fatal("restored directory differs")
				}
			}
			got, err := disc.Refresh(ctx)
			if !errors.Is(err, outage) {
				t.Fatalf("err = %v, want the outage", err)
			}
			if !slices.EqualFunc(got.Nodes, good.Nodes, dtSameNode) || !slices.EqualFunc(disc.Current().Nodes, good.Nodes, dtSameNode) {
				t.Fatalf("after a failed refresh on restart: %d nodes, want the persisted %d", len(got.Nodes), len(good.Nodes))
			}
			if !disc.LastSuccess().Equal(dtT0) || !disc.Current().FetchedAt.Equal(dtT0) {
				t.Errorf("last success = %v, want the persisted fetch time %v", disc.LastSuccess(), dtT0)
			}
			if v := testutil.ToFloat64(dtGaugeFunc(t, reg, "nymwatch_directory_age_seconds")); v != 3600 {
				t.Errorf("age = %v, want 3600", v)
			}
			if v := testutil.ToFloat64(dtGaugeFunc(t, reg, "nymwatch_directory_last_success_timestamp_seconds")); v != float64(dtT0.Unix()) {
				t.Errorf("last success timestamp = %v", v)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDiscoveryOutageWithNothingPersisted(t *testing.T) {
	clk := nwtest.NewClock(dtT0)
	db := dtOpenStore(t, t.TempDir())
	disc := dtNewDiscovery(t, dtFailingFetcher{errors.New("down")}, NewDirectoryStore(db, nil), nil, clk)
	got, err := disc.Refresh(t.Context())
	if err == nil || !got.IsZero() || !disc.Current().IsZero() {
		t.Errorf("got %d nodes, err %v", len(got.Nodes), err)
	}
	// A fetcher that "succeeds" with nothing is a failure too.
	disc = dtNewDiscovery(t, dtFetcherFunc(func() (Directory, error) { return Directory{FetchedAt: dtT0}, nil }), nil, nil, clk)
	if _, err := disc.Refresh(t.Context()); !errors.Is(err, ErrEmptyDirectory) {
		t.Errorf("err = %v, want ErrEmptyDirectory", err)
	}
}

type dtFetcherFunc func() (Directory, error)

func (f dtFetcherFunc) Fetch(context.Context) (Directory, error) { return f() }

func TestDiscoveryCarriesUndescribedBondedNodes(t *testing.T) {
	api := dtNewNymAPI(t)
	clk := nwtest.NewClock(dtT0)
	reg := prometheus.NewRegistry()
	disc := dtNewDiscovery(t, dtClientWithClock(t, api, clk), nil, reg, clk)
	ctx := t.Context()
	if _, err := disc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	// nym-api could not reach 877 and 1502 in its last describe run: both
	// vanish from described and skimmed. 877 is still bonded; 1502 has no
	// bond in the fixture, so it is dropped.
	desc, err := DecodeDescribed(dtFixture(t, "nym-api_v2_nym-nodes_described.json"))
	if err != nil {
		t.Fatal(err)
	}
	desc = slices.DeleteFunc(desc, func(n NymNodeDescription) bool { return n.NodeID == 877 || n.NodeID == 1502 })
	api.set(PathDescribedV2, dtMarshalDescribed(t, desc))
	clk.Set(dtT0.Add(time.Minute))
	d, err := disc.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := dtNodes(d)
	if _, ok := n[1502]; ok {
		t.Error("1502 (not bonded) was carried over")
	}
	mix, ok := n[877]
	if !ok {
		t.Fatal("877 (bonded, undescribed) was dropped")
	}
	if !mix.Undescribed || mix.Role != probes.RoleMixnode || mix.Layer != 2 || mix.Performance != 0 ||
		!slices.Equal(mix.Hosts, []string{"192.0.2.45"}) || mix.MixPort != 1789 {
		t.Errorf("carried 877 = %+v", mix)
	}
	if len(d.Nodes) != 4 || n[1399].Undescribed {
		t.Errorf("nodes = %v", d.Nodes)
	}
	if !slices.IsSortedFunc(d.Nodes, func(a, b probes.Node) int { return int(a.NodeID) - int(b.NodeID) }) {
		t.Error("nodes not sorted by id")
	}
	if v := testutil.ToFloat64(dtGaugeFunc(t, reg, "nymwatch_directory_undescribed_nodes")); v != 1 {
		t.Errorf("undescribed gauge = %v", v)
	}

	// 877 leaves the rewarded set: the carried node follows it.
	rs := strings.Replace(string(dtFixture(t, "nym-api_v1_nym-nodes_rewarded-set.json")), "877,", "", 1)
	api.set(PathRewardedSet, []byte(rs))
	d, err = disc.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := dtNodes(d)[877]; got.Role != probes.RoleInactive || !got.Undescribed {
		t.Errorf("877 after leaving the set = %+v", got)
	}

	// 877 unbonds: it is no longer carried.
	bonded := string(dtFixture(t, "nym-api_v1_nym-nodes_bonded.json"))
	bonded = strings.Replace(bonded, `"node_id": 877`, `"node_id": 878`, 1)
	api.set(PathBonded, []byte(bonded))
	d, err = disc.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dtNodes(d)[877]; ok {
		t.Error("unbonded 877 still carried")
	}
}

func TestDiscoveryNoCarryWithoutBonds(t *testing.T) {
	prev := dtFixtureDirectory(t, dtT0)
	next := dtFixtureDirectory(t, dtT0.Add(time.Minute))
	next.Nodes = next.Nodes[1:]
	next.Bonded = nil
	if got := carryUndescribed(prev, next); len(got.Nodes) != len(next.Nodes) {
		t.Errorf("carried %d nodes without knowing the bonds", len(got.Nodes)-len(next.Nodes))
	}
}

func TestDiscoveryConcurrentUse(t *testing.T) {
	api := dtNewNymAPI(t)
	clk := nwtest.NewClock(dtT0)
	disc := dtNewDiscovery(t, dtClientWithClock(t, api, clk), nil, prometheus.NewRegistry(), clk)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := disc.Refresh(t.Context()); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			_ = disc.Current()
			_ = disc.LastError()
			_ = disc.LastSuccess()
		})
	}
	wg.Wait()
	if len(disc.Current().Nodes) != 5 {
		t.Errorf("%d nodes", len(disc.Current().Nodes))
	}
}

func TestNewDiscoveryNeedsFetcher(t *testing.T) {
	if _, err := NewDiscovery(DiscoveryOptions{}); err == nil {
		t.Error("NewDiscovery accepted no fetcher")
	}
}

func TestDiscoverySetFetcherKeepsDirectory(t *testing.T) {
	clk := nwtest.NewClock(dtT0)
	good := dtFixtureDirectory(t, dtT0)
	disc := dtNewDiscovery(t, dtFetcherFunc(func() (Directory, error) { return good, nil }), nil, nil, clk)
	if _, err := disc.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := disc.SetFetcher(nil); err == nil {
		t.Error("SetFetcher(nil) accepted")
	}
	outage := errors.New("new nym-api unreachable")
	if err := disc.SetFetcher(dtFailingFetcher{outage}); err != nil {
		t.Fatal(err)
	}
	got, err := disc.Refresh(t.Context())
	if !errors.Is(err, outage) || len(got.Nodes) != len(good.Nodes) {
		t.Errorf("after SetFetcher: %d nodes, err %v", len(got.Nodes), err)
	}
}

// dtMarshalDescribed re-encodes described items in nym-api's wrapper.
func dtMarshalDescribed(t *testing.T, items []NymNodeDescription) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"pagination": NymPagination{Total: len(items), Size: len(items)},
		"data":       items,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
