package page

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/backoff"

	"github.com/nymwatch/nymwatch/disclosure/page/pagetest"
)

var pagerTestFastRetry = HTTPOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}

func pagerTestPage() Page {
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	return Page{
		Key:        "INC-1/open",
		IncidentID: "INC-1",
		Labels:     map[string]string{"alertname": "NymwatchDisclosurePending", "incident_id": "INC-1", "severity": "warning"},
		Annot:      map[string]string{"summary": "s", "incident_url": "https://nymwatch.example/incidents/INC-1"},
		StartsAt:   t0.Add(-90 * time.Second).Add(123 * time.Millisecond),
		EndsAt:     t0.Add(4 * time.Minute),
		CreatedAt:  t0,
	}
}

func TestAlertmanagerPagerSend(t *testing.T) {
	srv := pagetest.NewServer(t)
	p, err := NewAlertmanagerPager(srv.URL+"/am/", pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "alertmanager="+srv.URL+"/am/" || p.Kind() != "alertmanager" {
		t.Errorf("name %q kind %q", p.Name(), p.Kind())
	}
	if err := p.Send(t.Context(), pagerTestPage()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/am/api/v2/alerts" {
		t.Fatalf("requests %+v", reqs)
	}
	const want = `[{"labels":{"alertname":"NymwatchDisclosurePending","incident_id":"INC-1","severity":"warning"},` +
		`"annotations":{"incident_url":"https://nymwatch.example/incidents/INC-1","summary":"s"},` +
		`"startsAt":"2026-03-10T11:58:30.123Z","endsAt":"2026-03-10T12:04:00.000Z",` +
		`"generatorURL":"https://nymwatch.example/incidents/INC-1"}]`
	if string(reqs[0].Body) != want {
		t.Errorf("body\n got %s\nwant %s", reqs[0].Body, want)
	}
}

func TestWebhookPagerSend(t *testing.T) {
	srv := pagetest.NewServer(t)
	p, err := NewWebhookPager(srv.URL+"/hook", []byte(" s3cr3t-token\n"), pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	pg := pagerTestPage()
	pg.Resolved = true
	if err := p.Send(t.Context(), pg); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/hook" || reqs[0].Auth != "Bearer s3cr3t-token" {
		t.Fatalf("requests %+v", reqs)
	}
	var got struct {
		Version string `json:"version"`
		Status  string `json:"status"`
		Page    Page   `json:"page"`
	}
	if err := json.Unmarshal(reqs[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "1" || got.Status != "resolved" || got.Page.Key != "INC-1/open" || !got.Page.EndsAt.Equal(pg.EndsAt) ||
		got.Page.Labels["severity"] != "warning" {
		t.Errorf("payload %+v", got)
	}
	if _, err := NewWebhookPager(srv.URL, []byte("a\nb"), HTTPOptions{}); err == nil {
		t.Error("multi-line token accepted")
	}
}

func TestPagerNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x/", "http://", "://bad?token=SECRETVALUE", "localhost:9093"} {
		_, err := NewAlertmanagerPager(u, HTTPOptions{})
		if err == nil {
			t.Errorf("%q accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("%q: error leaks the query: %v", u, err)
		}
	}
}

// TestPagerErrors: how each receiver answer is classified, and that no
// error carries the URL's query string, its password or the token.
func TestPagerErrors(t *testing.T) {
	const secret = "SUPERSECRETQ"
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		reason     string
		permanent  bool
		minRA      time.Duration
		wantTries  int
	}{
		{name: "400 is permanent", status: 400, body: `{"error":"bad labels token=` + secret + `"}`, reason: "http_4xx", permanent: true, wantTries: 1},
		{name: "401 is permanent", status: 401, reason: "http_4xx", permanent: true, wantTries: 1},
		{name: "429 retried", status: 429, reason: "http_4xx", wantTries: 3},
		{name: "429 long retry-after handed to the outbox", status: 429, retryAfter: "3600", reason: "http_4xx", minRA: time.Hour, wantTries: 1},
		{name: "503 long retry-after", status: 503, retryAfter: "7200", reason: "http_5xx", minRA: 2 * time.Hour, wantTries: 1},
		{name: "500 retried", status: 500, body: "boom", reason: "http_5xx", wantTries: 3},
		{name: "501 not retried", status: 501, reason: "http_5xx", wantTries: 1},
		{name: "redirect not followed", status: 307, reason: "http_other", wantTries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := pagetest.NewServer(t)
			srv.SetStatus(tt.status)
			srv.SetRetryAfter(tt.retryAfter)
			srv.SetBody(tt.body)
			p, err := NewAlertmanagerPager(srv.URL+"/?token="+secret, pagerTestFastRetry)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Send(t.Context(), pagerTestPage())
			pe, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if pe.Reason != tt.reason || pe.Permanent != tt.permanent || pe.RetryAfter < tt.minRA {
				t.Errorf("got reason %s permanent %v retry-after %s", pe.Reason, pe.Permanent, pe.RetryAfter)
			}
			if n := len(srv.Requests()); n != tt.wantTries {
				t.Errorf("%d tries, want %d", n, tt.wantTries)
			}
			if q := srv.Requests()[0].Query; q != "token="+secret {
				t.Errorf("query not sent as configured: %q", q)
			}
			if strings.Contains(pe.Error(), secret) {
				t.Errorf("error leaks the secret: %s", pe.Error())
			}
		})
	}
}

func TestPagerTransportErrorsRedacted(t *testing.T) {
	// A port nobody listens on: the client's *url.Error quotes the whole URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, err := NewAlertmanagerPager("http://user:PASSWORDXYZ@"+addr+"/?token=SUPERSECRETQ&x=1", pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Name(), "PASSWORDXYZ") || strings.Contains(p.Name(), "SUPERSECRETQ") {
		t.Errorf("name leaks: %s", p.Name())
	}
	err = p.Send(t.Context(), pagerTestPage())
	pe, ok := errors.AsType[*Error](err)
	if !ok || pe.Reason != ReasonNetwork || pe.Permanent {
		t.Fatalf("err = %#v", err)
	}
	for _, s := range []string{"PASSWORDXYZ", "SUPERSECRETQ", "token="} {
		if strings.Contains(pe.Error(), s) {
			t.Errorf("error leaks %q: %s", s, pe.Error())
		}
	}
	if !strings.Contains(pe.Error(), addr) {
		t.Errorf("error should still name the receiver: %s", pe.Error())
	}

	// The webhook token is redacted even when a receiver echoes it back.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad auth header "+r.Header.Get("Authorization"), http.StatusForbidden)
	}))
	defer srv.Close()
	wp, err := NewWebhookPager(srv.URL, []byte("tok-ABCDEFGH"), pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	err = wp.Send(t.Context(), pagerTestPage())
	if err == nil || strings.Contains(err.Error(), "tok-ABCDEFGH") || !strings.Contains(err.Error(), "403") {
		t.Errorf("err = %v", err)
	}
}

func TestPagerTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	p, err := NewAlertmanagerPager(srv.URL, pagerTestFastRetry)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = p.Send(ctx, pagerTestPage())
	pe, ok := errors.AsType[*Error](err)
	if !ok || pe.Reason != ReasonTimeout {
		t.Fatalf("err = %v, want a timeout Error", err)
	}
}

func TestPagerCappedBackoff(t *testing.T) {
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}}
	if d := backoff.Retryable(time.Millisecond, 2*time.Second, 0, resp); d != 2*time.Second {
		t.Errorf("backoff %s, want capped at 2s", d)
	}
	if d := backoff.Retryable(100*time.Millisecond, 2*time.Second, 1, nil); d != 200*time.Millisecond {
		t.Errorf("backoff %s, want 200ms", d)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"Tue, 10 Mar 2026 12:05:00 GMT", 5 * time.Minute, true},
		{"Tue, 10 Mar 2026 11:00:00 GMT", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{"99999999999999999", 100 * 365 * 24 * time.Hour, true},
	} {
		got, ok := pagerParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("pagerParseRetryAfter(%q) = %s %v, want %s %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
