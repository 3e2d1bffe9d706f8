// Package backoff is nymwatch's one capped exponential backoff: the page
// outbox's per-row retries, the pagers' and the directory's HTTP retries
// (as a retryablehttp.Backoff) and the simulated network's accept loop.
package backoff

import (
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Capped is base·2^(attempt-1), capped at maxWait: base for the first
// attempt (and for attempt ≤ 1), doubling per attempt. Doubling stops at the
// cap, so no attempt count overflows.
func Capped(base, maxWait time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// Retryable is retryablehttp.DefaultBackoff with the server's Retry-After
// capped at maxWait: uncapped, a "Retry-After: 3600" would park the retries
// for an hour (hashicorp/go-retryablehttp#247). A Retry-After so large that
// DefaultBackoff's multiplication overflows (a negative wait) gives minWait.
func Retryable(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	d := min(retryablehttp.DefaultBackoff(minWait, maxWait, attempt, resp), maxWait)
	if d < 0 {
		d = minWait
	}
	return d
}
