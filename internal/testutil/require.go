package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv names the switch that makes a missing integration dependency
// (a Debian binary: prometheus, alertmanager, postgresql, chromium, …) a
// test failure instead of a skip. scripts/test and CI set it, so they
// cannot pass by skipping everything that matters.
const RequireEnv = "NYMWATCH_REQUIRE_INTEGRATION"

// Required reports whether RequireEnv is set (to anything but "" or "0").
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0"
}

// Require stops the test when err says that what it needs is missing: a
// skip, or a failure when RequireEnv is set. With a nil err it does
// nothing, so a test writes
//
//	_, err := exec.LookPath("promtool")
//	testutil.Require(t, "promtool (Debian package prometheus)", err)
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s is not available: %v", what, err)
	if Required() {
		t.Fatalf("%s (%s is set, so this is a failure)", msg, RequireEnv)
		return
	}
	t.Skipf("%s; set %s=1 to make this a failure", msg, RequireEnv)
}

// RequireBinary returns the path of the first of names found in $PATH (or
// given as a path), stopping the test through Require when none is.
func RequireBinary(t testing.TB, what string, names ...string) string {
	t.Helper()
	var first error
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err == nil {
			return p
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("no binary named")
	}
	Require(t, what, first)
	return ""
}
