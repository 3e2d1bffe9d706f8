// Package browsertest starts headless Chromium for the end-to-end tests of
// nymwatch's pages (the web console, the public status page). Only tests
// import it.
package browsertest

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nymwatch/nymwatch/internal/testutil"
)

// Find returns the Chromium binary. Without one the test is skipped, unless
// NYMWATCH_REQUIRE_INTEGRATION is set (CI, the README's test command),
// which makes a missing browser a failure.
func Find(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testutil.Require(t, "Chromium (Debian: apt-get install -y chromium chromium-driver)", errors.New("not found"))
	return ""
}

// New starts a headless Chromium with a window of width × height and
// returns its context, ended when the test ends. limit bounds a hung
// browser; it is not an assertion. The flags keep Chromium off the network
// (this machine has none but loopback) and out of the user's profile.
func New(t testing.TB, width, height int, limit time.Duration) context.Context {
	t.Helper()
	chromium := Find(t)
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	return bctx
}
