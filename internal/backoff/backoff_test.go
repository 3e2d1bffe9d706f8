package backoff

import (
	"net/http"
	"testing"
	"time"
)

func TestCapped(t *testing.T) {
	for _, tc := range []struct {
		base, maxWait time.Duration
		attempt       int
		want          time.Duration
	}{
		{5 * time.Second, 5 * time.Minute, 0, 5 * time.Second},
		{5 * time.Second, 5 * time.Minute, 1, 5 * time.Second},
		{5 * time.Second, 5 * time.Minute, 2, 10 * time.Second},
		{5 * time.Second, 5 * time.Minute, 4, 40 * time.Second},
		{5 * time.Second, 5 * time.Minute, 7, 5 * time.Minute}, // 320 s capped
		{5 * time.Second, 5 * time.Minute, 1 << 30, 5 * time.Minute},
		{5 * time.Millisecond, time.Second, 8, 640 * time.Millisecond},
		{5 * time.Millisecond, time.Second, 9, time.Second},
		{time.Minute, time.Second, 1, time.Second}, // base above the cap
	} {
		if got := Capped(tc.base, tc.maxWait, tc.attempt); got != tc.want {
			t.Errorf("Capped(%v, %v, %d) = %v, want %v", tc.base, tc.maxWait, tc.attempt, got, tc.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	resp := func(code int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	const minWait, maxWait = time.Second, 30 * time.Second
	for _, tc := range []struct {
		name    string
		attempt int
		resp    *http.Response
		want    time.Duration
	}{
		{"no response: exponential", 2, nil, 4 * time.Second},
		{"exponential capped", 10, nil, maxWait},
		{"Retry-After honoured", 1, resp(http.StatusTooManyRequests, "7"), 7 * time.Second},
		{"Retry-After capped", 1, resp(http.StatusServiceUnavailable, "3600"), maxWait},
		{"Retry-After overflowing to negative", 1, resp(http.StatusTooManyRequests, "9223372036854775807"), minWait},
		{"Retry-After ignored on 500", 1, resp(http.StatusInternalServerError, "20"), 2 * time.Second},
	} {
		if got := Retryable(minWait, maxWait, tc.attempt, tc.resp); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
