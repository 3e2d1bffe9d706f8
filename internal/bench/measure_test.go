package main

import (
	"bytes"
	"database/sql"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/blackbox"
	"github.com/nymwatch/nymwatch/internal/simnet"
)

// The quantile is Prometheus's histogram_quantile over the increase
// between two scrapes: earlier observations do not count.
func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	start := map[float64]float64{0.001: 100, 0.01: 100, 0.1: 100, 1: 100, inf: 100}
	end := map[float64]float64{0.001: 150, 0.01: 180, 0.1: 199, 1: 200, inf: 200}
	for _, tc := range []struct {
		q, want float64
	}{
		{0.5, 0.001},                     // rank 50: the top of the first bucket
		{0.25, 0.0005},                   // rank 25 of 50 in [0, 0.001]
		{0.65, 0.001 + 0.009*15.0/30.0},  // rank 65: 15 of 30 in (0.001, 0.01]
		{0.99, 0.1},                      // rank 99: the top of (0.01, 0.1]
		{0.995, 0.1 + 0.9*(99.5-99.0)/1}, // rank 99.5: half of (0.1, 1]
	} {
		if got := quantile(tc.q, start, end); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// Rank in +Inf: the highest finite bound, as Prometheus.
	if got := quantile(0.99, nil, map[float64]float64{1: 1, inf: 10}); got != 1 {
		t.Errorf("rank in +Inf: %v, want 1", got)
	}
	if got := shareAbove(0.1, start, end); got != 1.0/100 {
		t.Errorf("share above 0.1 = %v, want 0.01", got)
	}
	if got := quantile(0.99, end, end); !math.IsNaN(got) {
		t.Errorf("no observations: %v, want NaN", got)
	}
}

func TestParseExposition(t *testing.T) {
	in := `# HELP x y
nymwatch_probes_total{kind="mix_tcp",result="ok"} 3
nymwatch_probes_total{kind="a b",result="fail"} 2
nymwatch_probe_workers 256
nymwatch_probe_dispatch_lateness_seconds_bucket{le="0.001"} 4
nymwatch_probe_dispatch_lateness_seconds_bucket{le="+Inf"} 7
nymwatch_probe_dispatch_lateness_seconds_count 7
`
	m, err := parseExposition(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.sums["nymwatch_probes_total"] != 5 || m.sums["nymwatch_probe_workers"] != 256 {
		t.Errorf("sums %v", m.sums)
	}
	b := m.buckets[latenessMetric]
	if b[0.001] != 4 || b[math.Inf(1)] != 7 || len(b) != 2 {
		t.Errorf("buckets %v", b)
	}
}

// The live size counts used pages, not free ones: deleting rows shrinks it
// while the file keeps its size.
func TestLiveBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
		INSERT INTO t SELECT hex(randomblob(200)) FROM n`); err != nil {
		t.Fatal(err)
	}
	full := measureDB(t.Context(), path)
	if full.live < 2000*400 || full.wal == 0 {
		t.Fatalf("after 800 kB of rows: %+v", full)
	}
	if _, err := db.Exec(`DELETE FROM t`); err != nil {
		t.Fatal(err)
	}
	empty := measureDB(t.Context(), path)
	if empty.live >= full.live/10 {
		t.Errorf("after DELETE: live %d, before %d: free pages counted", empty.live, full.live)
	}
}

// The blackbox phase runs when the exporter is installed: every scrape
// answered, the healthy targets pass, the exporter's RSS is measured.
func TestBlackboxPhase(t *testing.T) {
	bin, err := blackbox.Binary()
	if err != nil {
		t.Skip(err)
	}
	sn, err := simnet.New(nodesFor(30))
	if err != nil {
		t.Fatal(err)
	}
	if err := sn.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	e := &env{dir: t.TempDir(), sn: sn}
	var errOut bytes.Buffer
	r := runBlackboxPhase(t.Context(), params{interval: 2 * time.Second, bbIntervals: 1, concurrency: 16, blackbox: bin}, e, &errOut)
	if r.skipped != "" {
		t.Fatalf("skipped: %s\n%s", r.skipped, errOut.String())
	}
	if r.probes == 0 || r.scrapeErr != 0 || r.failed != 0 || r.hwmKiB <= 0 {
		t.Errorf("%+v: want probes, no scrape errors, no failures on a healthy network, an RSS", r)
	}
	var out bytes.Buffer
	r.print(&out, &result{cpu: 1, probes: 1000, hwmKiB: 1024})
	if !strings.Contains(out.String(), "blackbox / nymwatch CPU per probe") {
		t.Errorf("no ratio printed:\n%s", out.String())
	}
	// Without the binary: one line, no failure.
	r = runBlackboxPhase(t.Context(), params{blackbox: filepath.Join(t.TempDir(), "none")}, e, &errOut)
	if !strings.HasPrefix(r.skipped, "no blackbox_exporter at ") {
		t.Errorf("missing binary: %q", r.skipped)
	}
}
