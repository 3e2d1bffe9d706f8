package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// web checks the keys of the web section added for hardening.
func (v *validator) web(w *Web) {
	for i, p := range w.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			v.failf(fmt.Sprintf("web.trusted_proxies[%d]", i), "%q is not a CIDR or an IP address (e.g. 10.0.0.0/8, 192.0.2.10)", p)
		}
	}
}

// parseProxy accepts a CIDR or a single address (its host prefix).
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("parse %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse %q: %w", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// TrustedProxyPrefixes returns web.trusted_proxies parsed; entries that do
// not parse (a Config that was not validated) are left out.
func (w Web) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(w.TrustedProxies))
	for _, s := range w.TrustedProxies {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}
