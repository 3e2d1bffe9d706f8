package deploy

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/internal/daemontest"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

// dashboardQueries returns every PromQL expression of the dashboard: panel
// targets and template variable queries.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grafana", "nymwatch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/nymwatch.json: %v", err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q has a target without expr", p.Title)
			}
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && v.Type == "query" {
			out = append(out, q)
		}
	}
	return out
}

// PromQL words that are not metric names: functions, aggregations and
// keywords the dashboard may use. An identifier outside this list and not
// a nymwatch metric fails the test, so a typo cannot pass as a function.
var promqlWords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "bottomk": true, "topk": true,
	"rate": true, "increase": true, "irate": true, "delta": true, "time": true, "histogram_quantile": true,
	"clamp_min": true, "clamp_max": true, "abs": true, "absent": true, "vector": true, "scalar": true,
	"max_over_time": true, "min_over_time": true, "avg_over_time": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "label_values": true,
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	braces     = regexp.MustCompile(`\{[^{}]*\}`)
	brackets   = regexp.MustCompile(`\[[^\]]*\]`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	labelArg   = regexp.MustCompile(`,\s*[a-zA-Z_]\w*\s*\)`) // label_values(metric, label)
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames extracts the metric names an expression selects. Label
// matchers, strings, ranges and grouping clauses are removed first.
func metricNames(expr string) (names, unknown []string) {
	e := quoted.ReplaceAllString(expr, `""`)
	e = braces.ReplaceAllString(e, " ")
	e = brackets.ReplaceAllString(e, " ")
	e = grouping.ReplaceAllString(e, " ")
	e = labelArg.ReplaceAllString(e, ")")
	for _, id := range identifier.FindAllString(e, -1) {
		switch {
		case promqlWords[id]:
		case strings.HasPrefix(id, "nymwatch_"):
			names = append(names, id)
		default:
			unknown = append(unknown, id)
		}
	}
	return names, unknown
}

func TestMetricNamesOfPromQL(t *testing.T) {
	names, unknown := metricNames(`histogram_quantile(0.9, sum by (le, kind) (rate(nymwatch_probe_duration_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval])))`)
	if !slices.Equal(names, []string{"nymwatch_probe_duration_seconds_bucket"}) || len(unknown) != 0 {
		t.Errorf("names %v unknown %v", names, unknown)
	}
	names, unknown = metricNames(`label_values(nymwatch_build_info{job=~"$job"}, instance)`)
	if !slices.Equal(names, []string{"nymwatch_build_info"}) || len(unknown) != 0 {
		t.Errorf("names %v unknown %v", names, unknown)
	}
	names, unknown = metricNames(`sum by (role) (nymwatch_targets{state="up"}) / sum(up{job="x"}) - nymwatch_typo_total`)
	if !slices.Equal(names, []string{"nymwatch_targets", "nymwatch_typo_total"}) || !slices.Equal(unknown, []string{"up"}) {
		t.Errorf("names %v unknown %v", names, unknown)
	}
}

// clusterOnly are the metrics a single instance does not export (their
// collector emits them only with cluster peers configured): they are
// checked against the registered descriptors only.
var clusterOnly = map[string]bool{
	"nymwatch_cluster_quorum":                   true,
	"nymwatch_cluster_vantage_points_reporting": true,
}

// TestDashboardQueriesUseExportedMetrics runs the daemon against the
// simulated network through an outage until a draft is paged, then checks
// every metric of every dashboard query:
//
//   - it is registered (a descriptor of that name exists in the daemon's
//     registry). This is the robust check: it holds whatever has happened
//     yet, and covers metrics only a cluster emits;
//   - and, unless it is cluster-only, it is in the daemon's real /metrics
//     output, so the panel shows data on a single instance.
func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon against a simulated network")
	}
	queries := dashboardQueries(t)
	if len(queries) < 15 {
		t.Fatalf("only %d queries in the dashboard", len(queries))
	}
	var pages atomic.Int64
	pager := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		pages.Add(1)
	}))
	defer pager.Close()
	d := daemontest.Start(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 5},
		func(c *config.Config) { c.Pagers.Webhook.URL = pager.URL })

	scrape := func() map[string]bool {
		t.Helper()
		resp, err := http.Get(d.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("parse /metrics: %v", err)
		}
		got := map[string]bool{}
		for name, mf := range families {
			if len(mf.GetMetric()) == 0 {
				continue
			}
			got[name] = true
			// Histograms are queried by their series' names.
			if mf.GetType().String() == "HISTOGRAM" {
				got[name+"_bucket"], got[name+"_sum"], got[name+"_count"] = true, true, true
			}
		}
		return got
	}
	daemontest.WaitFor(t, 30*time.Second, "healthy node probes", func() bool { return scrape()["nymwatch_targets"] })
	if _, err := d.Net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Refuse()); err != nil {
		t.Fatal(err)
	}
	daemontest.WaitFor(t, 60*time.Second, "a draft paged", func() bool { return pages.Load() > 0 })
	exported := scrape()

	checked := map[string]bool{}
	for _, q := range queries {
		names, unknown := metricNames(q)
		if len(unknown) > 0 {
			t.Errorf("query %q uses %v: neither a nymwatch metric nor a known PromQL word", q, unknown)
		}
		if len(names) == 0 {
			t.Errorf("query %q selects no nymwatch metric", q)
		}
		for _, n := range names {
			if checked[n] {
				continue
			}
			checked[n] = true
			if !registered(t, d.Registry, n) {
				t.Errorf("query %q: %s is not a metric nymwatch registers", q, n)
				continue
			}
			if !clusterOnly[n] && !exported[n] {
				t.Errorf("query %q: %s is registered but absent from /metrics after an outage was drafted and paged", q, n)
			}
		}
	}
	t.Logf("%d queries, %d metrics checked", len(queries), len(checked))

	// Every nymwatch metric the daemon exported is in the reference.
	ref, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range exported {
		if !strings.HasPrefix(name, "nymwatch_") || strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") && exported[strings.TrimSuffix(name, "_count")+"_bucket"] {
			continue
		}
		if !strings.Contains(string(ref), name) {
			t.Errorf("/metrics exports %s, which docs/metrics.md does not document", name)
		}
	}
}

// registered reports whether reg holds a descriptor named name (for a
// histogram series name, its family's). A Registry does not list its
// descriptors, but refuses a second one of the same name: registering a
// probe descriptor answers the question (and is undone when it succeeds).
func registered(t *testing.T, reg *prometheus.Registry, name string) bool {
	t.Helper()
	candidates := []string{name}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			candidates = append(candidates, base)
		}
	}
	for _, n := range candidates {
		c := probeCollector{prometheus.NewDesc(n, "probe", nil, nil)}
		err := reg.Register(c)
		if err == nil {
			reg.Unregister(c)
			continue
		}
		if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok || strings.Contains(err.Error(), "previously registered descriptor") ||
			strings.Contains(err.Error(), "already exists") {
			return true
		}
		t.Fatalf("probing the registry for %s: %v", n, err)
	}
	return false
}

type probeCollector struct{ d *prometheus.Desc }

func (p probeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.d }
func (p probeCollector) Collect(chan<- prometheus.Metric)    {}
