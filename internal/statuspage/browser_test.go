package statuspage

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nymwatch/nymwatch/internal/browsertest"
)

// TestBrowserStatusPage loads the page in headless Chromium at a phone's
// width: the inline style passes the CSP (the status colour is applied),
// nothing scrolls sideways, no script runs, and the published incident and
// its escaped update are what a reader sees.
func TestBrowserStatusPage(t *testing.T) {
	e := newEnv(t)
	e.publish(t, t0.Add(3*time.Minute))

	bctx := browsertest.New(t, 375, 740, 2*time.Minute)

	if err := chromedp.Do(bctx, chromedp.Navigate(e.srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	overall, central, update := text("#overall"), text("#component-centralized"), text(".updates li p")
	background, _ := eval(`getComputedStyle(document.getElementById("overall")).backgroundColor`).(string)
	scrollW, _ := eval(`document.documentElement.scrollWidth`).(float64)
	innerW, _ := eval(`window.innerWidth`).(float64)
	scripts, _ := eval(`document.scripts.length`).(float64)
	injected, _ := eval(`typeof window.__injected !== "undefined"`).(bool)
	if overall != "Partial System Outage" || !strings.Contains(central, "Partial outage") {
		t.Errorf("overall %q, centralized %q", overall, central)
	}
	if update != "Logins fail. <script>alert(1)</script> & more" {
		t.Errorf("update as read: %q", update)
	}
	// rgba(0, 0, 0, 0) would mean the stylesheet was blocked by the CSP.
	if background == "" || background == "rgba(0, 0, 0, 0)" {
		t.Errorf("overall background %q: the inline style did not apply", background)
	}
	if scrollW > innerW {
		t.Errorf("page scrolls sideways on a phone: scrollWidth %v > %v", scrollW, innerW)
	}
	if scripts != 0 || injected {
		t.Errorf("scripts on the page: %v", scripts)
	}
}
