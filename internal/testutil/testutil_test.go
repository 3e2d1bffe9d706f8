package testutil

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	if got := c.Advance(90 * time.Second); !got.Equal(t0.Add(90 * time.Second)) {
		t.Errorf("Advance returned %v", got)
	}
	if !c.Now().Equal(t0.Add(90 * time.Second)) {
		t.Errorf("Now after Advance: %v", c.Now())
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Errorf("Now after Set: %v", c.Now())
	}
}

func TestBufferConcurrentAndLimited(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Errorf("kept %d bytes, want 800", n)
	}
	l := Buffer{Limit: 4}
	for _, s := range []string{"abc", "def", "ghi"} {
		if n, err := l.Write([]byte(s)); n != 3 || err != nil {
			t.Errorf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := l.String(); got != "abcdef" {
		t.Errorf("limited buffer kept %q, want the writes up to the limit", got)
	}
	if !l.Contains("cde") || l.Contains("ghi") {
		t.Errorf("Contains disagrees with %q", l.String())
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Minute, "the third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
	if Poll(t, 0, func() bool { return false }) {
		t.Error("Poll reported a false condition as held")
	}
}

func TestRequire(t *testing.T) {
	Require(t, "nothing", nil) // nil error: carries on
	t.Setenv(RequireEnv, "")
	if Required() {
		t.Error("Required with the switch empty")
	}
	t.Setenv(RequireEnv, "0")
	if Required() {
		t.Error(`Required with the switch "0"`)
	}
	missing := errors.New("not installed")
	rec := &recordTB{TB: t}
	Require(rec, "promtool", missing)
	if rec.skipped == "" || rec.failed != "" {
		t.Errorf("switch off: skipped %q, failed %q; want a skip", rec.skipped, rec.failed)
	}
	t.Setenv(RequireEnv, "1")
	if !Required() {
		t.Error(`not Required with the switch "1"`)
	}
	rec = &recordTB{TB: t}
	Require(rec, "promtool", missing)
	if rec.failed == "" || rec.skipped != "" || !strings.Contains(rec.failed, "promtool") {
		t.Errorf("switch on: skipped %q, failed %q; want a failure naming promtool", rec.skipped, rec.failed)
	}
}

// recordTB records Skipf and Fatalf instead of ending the test.
type recordTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordTB) Helper()                           {}
func (r *recordTB) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recordTB) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestFixtureChecksManifest(t *testing.T) {
	b := Fixture(t, "nym-api_v1_nym-nodes_bonded.json")
	if !strings.Contains(string(b), "{") {
		t.Errorf("fixture is not JSON: %.40q", b)
	}
	if _, err := readManifest(FixturePath(t, "nym-api_v1_nym-nodes_bonded.json")); err == nil {
		t.Error("a JSON file parsed as a manifest")
	}
	if m := FixtureManifest(t); len(m) < 40 {
		t.Errorf("manifest lists %d fixtures", len(m))
	}
}
