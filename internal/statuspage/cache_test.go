package statuspage

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/testutil"
)

type countingSource struct {
	calls atomic.Int32
	err   error
}

func (c *countingSource) Published(context.Context, time.Time) ([]disclosure.PublishedIncident, error) {
	c.calls.Add(1)
	return nil, c.err
}

// A crowd on the public page costs one read of the store per viewTTL, and
// a store that cannot be read is a 503 that no cache keeps.
func TestStatusPageReadsTheStoreOncePerTTL(t *testing.T) {
	src := &countingSource{}
	clock := testutil.NewClock(t0)
	h, err := New(Options{Source: src, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
		return w
	}
	for _, p := range endpoints {
		if w := get(p); w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", p, w.Code)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("%d reads for %d requests at one instant, want 1", n, len(endpoints))
	}
	clock.Set(t0.Add(viewTTL))
	get("/")
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d reads after the TTL, want 2", n)
	}
	src.err = errors.New("database is locked")
	clock.Set(t0.Add(3 * viewTTL))
	w := get("/api/v2/summary.json")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("store down: %d, Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
}
