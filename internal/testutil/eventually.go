package testutil

import (
	"testing"
	"time"
)

// Eventually waits until cond holds, polling it (first every 5ms, backing
// off to every 200ms), and fails the test if it still does not hold after
// limit or when the test's context ends. limit is a safety net against a
// hang, not a timed assertion: make it generous. what names the condition
// in the failure message.
//
// Use it instead of sleeping for "long enough": a sleep is either too short
// on a loaded machine (a flaky test) or too long everywhere (a slow one).
func Eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(t, limit, cond) {
		t.Fatalf("timed out after %s waiting for %s", limit, what)
	}
}

// Poll is Eventually without the failure: it reports whether cond came to
// hold within limit, for tests that fail with a message of their own.
func Poll(t testing.TB, limit time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	wait := 5 * time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for !cond() {
		if !time.Now().Before(deadline) {
			return false
		}
		select {
		case <-timer.C:
		case <-t.Context().Done():
			t.Fatal("test context ended while waiting")
		}
		wait = min(2*wait, 200*time.Millisecond)
		timer.Reset(wait)
	}
	return true
}
