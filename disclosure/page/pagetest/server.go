// Package pagetest is a recording receiver for tests of pagers and of what
// sends through them: it stores every request and answers with a scripted
// status.
package pagetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Server records what a pager posts and answers with a scripted status.
type Server struct {
	// URL is the base URL of the server.
	URL        string
	srv        *httptest.Server
	mu         sync.Mutex
	reqs       []Request
	status     atomic.Int32 // 0 answers 200
	retryAfter atomic.Value // string
	body       atomic.Value // string
}

// Request is one recorded request.
type Request struct {
	Method, Path, Query, ContentType, Auth string
	Body                                   []byte
}

// NewServer starts a server closed at the end of the test.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.retryAfter.Store("")
	s.body.Store("")
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{r.Method, r.URL.Path, r.URL.RawQuery,
			r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b})
		s.mu.Unlock()
		if ra := s.retryAfter.Load().(string); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		if st := int(s.status.Load()); st != 0 {
			w.WriteHeader(st)
			_, _ = io.WriteString(w, s.body.Load().(string))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// SetStatus makes the server answer code (0: 200 OK).
func (s *Server) SetStatus(code int) { s.status.Store(int32(code)) } //nolint:gosec // an HTTP status code chosen by the test

// SetRetryAfter sets the Retry-After header of non-200 answers ("" for none).
func (s *Server) SetRetryAfter(v string) { s.retryAfter.Store(v) }

// SetBody sets the body of non-200 answers.
func (s *Server) SetBody(v string) { s.body.Store(v) }

// Requests is a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Alerts decodes every Alertmanager post, failing on any other shape.
func (s *Server) Alerts(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range s.Requests() {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/api/v2/alerts") || r.ContentType != "application/json" {
			t.Fatalf("unexpected request %s %s (%s)", r.Method, r.Path, r.ContentType)
		}
		var arr []map[string]any
		if err := json.Unmarshal(r.Body, &arr); err != nil {
			t.Fatalf("body %s: %v", r.Body, err)
		}
		if len(arr) != 1 {
			t.Fatalf("want one alert per post, got %d", len(arr))
		}
		out = append(out, arr[0])
	}
	return out
}
