package config

import (
	"net"
	"net/netip"
	"strings"
)

// Upper bounds of the alerts section: beyond them the bound no longer
// protects memory (each held alert may carry up to ~12 KiB).
const (
	maxAlertsMaxFiring = 100000
	maxAlertsMaxGroups = 1000
)

// alerts validates the alerts section and the webhook's exposure.
func (v *validator) alerts(c *Config) {
	a := &c.Alerts
	if a.MaxFiring < 1 || a.MaxFiring > maxAlertsMaxFiring {
		v.failf("alerts.max_firing", "must be from 1 to %d, got %d", maxAlertsMaxFiring, a.MaxFiring)
	}
	if a.MaxGroups < 1 || a.MaxGroups > maxAlertsMaxGroups {
		v.failf("alerts.max_groups", "must be from 1 to %d, got %d", maxAlertsMaxGroups, a.MaxGroups)
	}
	// Anyone who can reach the webhook can open drafts and page the team:
	// off loopback it must take a token.
	// (A listen that is not host:port is reported on its own.)
	if _, _, err := net.SplitHostPort(c.Listen); err == nil && !v.isBad("listen") &&
		c.Auth.WebhookTokenFile == "" && c.Auth.WebhookToken == "" && !LoopbackListen(c.Listen) {
		v.fail("auth.webhook_token_file", []string{"listen"},
			"is required when listen (%q) is not a loopback address: anyone who reaches POST /api/v1/alertmanager could open drafts and page the team", c.Listen)
	}
}

// LoopbackListen reports whether a listen address (host:port) accepts
// connections only from this host: a loopback IP or "localhost". An empty
// host (all interfaces) and any other name are not loopback.
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
