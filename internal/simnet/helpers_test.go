package simnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// okTimeout bounds calls expected to succeed: generous, the machine is shared.
const okTimeout = 20 * time.Second

// failTimeout is the client timeout for calls expected to hang.
const failTimeout = 300 * time.Millisecond

// newFakeNow is the simulated network's fake clock, stopped at a time with
// nanoseconds, as the real nym-api's timestamps have.
func newFakeNow() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 5, 15, 11, 5, 12, 748012664, time.UTC))
}

// smallOptions is a 20-node network.
func smallOptions(clock *testutil.Clock) Options {
	return Options{
		EntryGateways: 4,
		ExitGateways:  5,
		Mixnodes:      [3]int{2, 2, 2},
		Standby:       2,
		Inactive:      3,
		Seed:          7,
		Now:           clock.Now,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func startNet(t *testing.T, o Options) *Network {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	n, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

// newClient makes fresh connections for every request, as probes do,
// optionally from a given source address.
func newClient(src netip.Addr, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func get(c *http.Client, url string) (*http.Response, []byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp, body, err
}

// getJSON fetches url, expecting 200 and a JSON body.
func getJSON(t *testing.T, c *http.Client, url string) any {
	t.Helper()
	resp, body, err := get(c, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %q", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q", url, ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET %s: decoding: %v", url, err)
	}
	return v
}

func obj(t *testing.T, v any, path ...string) map[string]any {
	t.Helper()
	cur := v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("at %v: not an object: %T", path, cur)
		}
		cur = m[p]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("at %v: not an object: %T (%v)", path, cur, cur)
	}
	return m
}

func arr(t *testing.T, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("not an array: %T (%v)", v, v)
	}
	return a
}

// fixture decodes one of the Nym API reference's example responses: the
// one copy, owned by probes and checked against its manifest.
func fixture(t *testing.T, name string) any {
	t.Helper()
	b := testutil.Fixture(t, name)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return v
}

// assertShape checks that got has exactly want's keys, recursively, with
// the same JSON types wherever neither side is null. Arrays are compared
// element by element against want's first element. Keys named in skip
// (enums whose variants differ in type) are only checked for presence.
func assertShape(t *testing.T, path string, want, got any, skip ...string) {
	t.Helper()
	if want == nil || got == nil {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: want an object, got %T", path, got)
			return
		}
		for k := range w {
			if _, ok := g[k]; !ok {
				t.Errorf("%s: missing key %q", path, k)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s: unexpected key %q", path, k)
			}
		}
		for k, wv := range w {
			if slices.Contains(skip, k) {
				continue
			}
			if gv, ok := g[k]; ok {
				assertShape(t, path+"."+k, wv, gv, skip...)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: want an array, got %T", path, got)
			return
		}
		if len(w) == 0 {
			return
		}
		for i, gv := range g {
			assertShape(t, fmt.Sprintf("%s[%d]", path, i), w[0], gv, skip...)
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			t.Errorf("%s: want %T, got %T (%v)", path, want, got, got)
		}
	}
}

// isReset reports whether err is what a client sees of an accepted then
// reset connection.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)
}

// probeTCP connects to addr and reads briefly: "refused" (connect refused),
// "reset" (accepted, then RST/EOF — on loopback the RST can even beat
// connect's return), "open" (nothing said within the read deadline, as a
// real mix port), "data" (it spoke). Only the expected "open" case waits a
// short deadline; the others wait long, so a loaded machine cannot turn a
// late RST into "open".
func probeTCP(t *testing.T, src netip.Addr, addr, expect string) string {
	t.Helper()
	d := net.Dialer{Timeout: okTimeout}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return "refused"
		case isReset(err):
			return "reset"
		}
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	wait := okTimeout
	if expect == "open" {
		wait = 150 * time.Millisecond
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64)
	nr, err := c.Read(buf)
	switch {
	case nr > 0:
		return "data"
	case isReset(err):
		return "reset"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "open"
	}
	t.Fatalf("read %s: %v", addr, err)
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func mustSet(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func jsonValid(b []byte) bool { return json.Valid(b) }
