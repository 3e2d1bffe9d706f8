package config

import (
	"net"
	"net/url"
	"strings"
)

// Status configures the public status page (docs/status-page.md): a
// separate listener serving only published incidents.
type Status struct {
	// Listen is the host:port of the status page; empty (the default)
	// turns it off. It must differ from listen: the page is public, the
	// API is not.
	Listen string `yaml:"listen"`
	// Name is the page's title; default DefaultStatusName.
	Name string `yaml:"name"`
	// ExternalURL is the URL the public reaches the page at, for the feed's
	// and the JSON's links; empty: links are relative.
	ExternalURL string `yaml:"external_url" redact:"url"`
}

// DefaultStatusName is the default title of the status page.
const DefaultStatusName = "Nym network status"

func (v *validator) status(c *Config) {
	s := &c.Status
	if strings.TrimSpace(s.Name) == "" || len(s.Name) > 200 || strings.ContainsAny(s.Name, "\r\n") {
		v.failf("status.name", "must be one non-empty line of at most 200 bytes")
	}
	if s.ExternalURL != "" {
		v.httpURL("status.external_url", s.ExternalURL)
		if u, err := url.Parse(s.ExternalURL); err == nil && (u.RawQuery != "" || u.Fragment != "") {
			v.failf("status.external_url", "must not have a query or fragment")
		}
	}
	if s.Listen == "" {
		return
	}
	v.listen("status.listen", s.Listen)
	if sameListen(s.Listen, c.Listen) {
		v.failf("status.listen", "%q must differ from listen (%q): the status page is public, the API is not", s.Listen, c.Listen)
	}
}

// sameListen reports whether two host:port addresses would collide: the
// same port on the same host, or on a wildcard host.
func sameListen(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}
