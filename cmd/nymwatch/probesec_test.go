package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/internal/simnet"
)

// End to end on the simulated network: an exit gateway presenting another
// identity key (validly signed by it) is a security draft for exactly that
// node; another gateway that is merely down is no security signal.
func TestImpersonationIsSecurityDownIsNot(t *testing.T) {
	e := newEnv(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 11})
	cfg := strings.Replace(e.config("1s", ""), "  recovery_threshold: 2\n", "  recovery_threshold: 2\n  identity_interval: 1s\n", 1)
	p := startDaemon(t, e, e.writeConfig(cfg))
	p.waitFor(30*time.Second, "identity checks", func() bool {
		_, body := p.get("/metrics")
		return strings.Contains(body, `nymwatch_probes_total{kind="identity",result="ok"}`) &&
			!strings.Contains(body, `nymwatch_probes_total{kind="identity",result="ok"} 0`)
	})
	gws := e.net.NodesByRole(simnet.RoleExitGateway)
	imp, dark := gws[0].ID, gws[1].ID
	if err := e.net.SetFault(imp, simnet.Impersonate()); err != nil {
		t.Fatal(err)
	}
	if err := e.net.SetFault(dark, simnet.Refuse()); err != nil {
		t.Fatal(err)
	}
	impComp := fmt.Sprintf("identity/node/%d", imp)
	darkHTTP := fmt.Sprintf("node/%d/http", dark)
	var sec incidentJSON
	p.waitFor(30*time.Second, "the security draft and the dark node's record", func() bool {
		var gotSec, gotDark bool
		for _, i := range p.incidents("") {
			if i.Component == impComp {
				sec, gotSec = i, true
			}
			if slices.Contains(i.Affected, darkHTTP) {
				gotDark = true
			}
		}
		return gotSec && gotDark
	})
	if sec.Class != "security" || sec.State != "draft" || sec.Architecture != "decentralized" {
		t.Errorf("impersonation incident: class %q state %q architecture %q", sec.Class, sec.State, sec.Architecture)
	}
	if want := []string{fmt.Sprintf("node/%d/identity", imp)}; !slices.Equal(sec.Affected, want) {
		t.Errorf("affected %v, want %v", sec.Affected, want)
	}
	if !strings.Contains(sec.Reason, e.net.IdentityKey(imp)) || !strings.Contains(sec.Reason, "possible key compromise or impersonation") {
		t.Errorf("reason %q does not name the bonded key and the suspicion", sec.Reason)
	}
	for _, i := range p.incidents("?class=security") {
		if i.Component != impComp {
			t.Errorf("unexpected security incident %s %s: %s", i.ID, i.Component, i.Reason)
		}
	}
	p.stop()
}

// With allow_private_addresses off, the simulated nodes on 127/8 are
// never probed: each is recorded as announcing a non-public address
// (internal), and nothing is disclosable or taken for a cut-off.
func TestPrivateNodeAddressesRecordedNotProbed(t *testing.T) {
	e := newEnv(t, smallNetwork())
	cfg := strings.Replace(e.config("1s", ""), "  allow_private_addresses: true", "  allow_private_addresses: false", 1)
	p := startDaemon(t, e, e.writeConfig(cfg))
	nodes := len(e.net.Nodes())
	p.waitFor(30*time.Second, "a record per node", func() bool {
		n := 0
		for _, i := range p.incidents("") {
			if strings.HasPrefix(i.Component, "address/node/") {
				n++
			}
		}
		return n == nodes
	})
	for _, i := range p.incidents("") {
		if i.Class != "internal" {
			t.Errorf("%s %s is %s: %s", i.ID, i.Component, i.Class, i.Reason)
		}
		if i.Component == "vantage_point" {
			t.Errorf("refused node addresses taken for a cut-off: %s", i.Reason)
		}
	}
	_, body := p.get("/metrics")
	if !strings.Contains(body, `nymwatch_probe_failures_total{kind="node_http",reason="private_address"}`) {
		t.Errorf("no private_address failures in the metrics")
	}
	for _, kind := range []string{"node_http", "mix_tcp", "ws_tcp", "identity"} {
		if !strings.Contains(body, `nymwatch_probes_total{kind="`+kind+`",result="ok"} 0`+"\n") {
			t.Errorf("a %s probe of a node on 127/8 succeeded", kind)
		}
	}
	p.stop()
}

// Issue 11.2 reproduced end to end: exit gateways 302 their health checks
// to a loopback "secret" URL. nymwatch never fetches it, the outage is
// recorded with reason redirect naming where it pointed, and the secret's
// body (and the query token) appear neither in the incident nor in its
// report.
func TestRedirectToSecretNeverFetched(t *testing.T) {
	const secret = "INTERNAL-SECRET-BODY-7f3a"
	var hits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(secret))
	}))
	t.Cleanup(internal.Close)
	e := newEnv(t, simnet.Options{EntryGateways: 4, ExitGateways: 10, Mixnodes: [3]int{2, 2, 2}, Seed: 13})
	p := startDaemon(t, e, e.writeConfig(e.config("1s", "")))
	p.waitFor(30*time.Second, "probes", func() bool {
		_, body := p.get("/metrics")
		return strings.Contains(body, `nymwatch_probes_total{kind="node_http",result="ok"}`)
	})
	if _, err := e.net.FailRole(simnet.RoleExitGateway, 0.4, simnet.Redirect(internal.URL+"/internal/secret?token=hunter2")); err != nil {
		t.Fatal(err)
	}
	var inc incidentJSON
	p.waitFor(30*time.Second, "the exit gateway incident", func() bool {
		for _, i := range p.incidents("") {
			if i.Component == "exit_gateways" && len(i.Affected) >= 4 {
				inc = i
				return true
			}
		}
		return false
	})
	_, js := p.get("/api/v1/incidents/" + inc.ID)
	_, report := p.get("/api/v1/incidents/" + inc.ID + "/report.md")
	if !strings.Contains(js, "redirect") || !strings.Contains(js, "/internal/secret") {
		t.Errorf("incident does not say where the redirect pointed: %s", js)
	}
	for what, text := range map[string]string{"incident JSON": js, "report.md": report, "log": p.stderr.String()} {
		for _, bad := range []string{secret, "hunter2"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %q", what, bad)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the redirect target was fetched %d times", n)
	}
	p.stop()
}
