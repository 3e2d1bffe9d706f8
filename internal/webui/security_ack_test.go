package webui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// TestAcknowledgeSecurityChange: a confirmed incident that turned security
// shows a banner and an acknowledge button; pressing it acknowledges
// (confirm), and the banner goes.
func TestAcknowledgeSecurityChange(t *testing.T) {
	e := newEnv(t, nil)
	a := serviceAnomaly("nymvpn-api", detector.ClassOperational, t0)
	e.apply(a, t0.Add(2*time.Minute))
	id := e.idOf(disclosure.StateDraft)
	c := e.login("alice")
	if r := e.do("POST", "/incidents/"+id+"/confirm", url.Values{}, c, e.sameOrigin()...); r.status != http.StatusSeeOther {
		t.Fatalf("confirm: %d", r.status)
	}
	if page := e.do("GET", "/incidents/"+id, nil, c); strings.Contains(page.body, `id="acknowledge"`) {
		t.Fatal("acknowledge offered without a security change")
	}
	a.Class = detector.ClassSecurity
	e.apply(a, t0.Add(10*time.Minute))
	page := e.do("GET", "/incidents/"+id, nil, c)
	if !strings.Contains(page.body, `id="security-change"`) || !strings.Contains(page.body, `id="acknowledge"`) {
		t.Fatalf("no security-change banner or acknowledge button:\n%s", page.body)
	}
	if r := e.do("POST", "/incidents/"+id+"/confirm", url.Values{}, c, e.sameOrigin()...); r.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", r.status)
	}
	if inc := e.get(id); inc.State != disclosure.StateConfirmed || !inc.SecurityUnacknowledgedSince.IsZero() {
		t.Errorf("after acknowledging: %s, unacknowledged since %v", inc.State, inc.SecurityUnacknowledgedSince)
	}
	if page := e.do("GET", "/incidents/"+id, nil, c); strings.Contains(page.body, `id="acknowledge"`) {
		t.Error("acknowledge still offered after acknowledging")
	}
}
