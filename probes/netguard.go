package probes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Node addresses come from the directory, i.e. from the node operators:
// a node announcing 127.0.0.1 or 10.0.0.1 would make nymwatch probe the
// ops host's own network on its behalf. Unless ProberOptions.AllowPrivate
// is set, node probes refuse such addresses twice: before dialling when the
// address is a literal IP, and in net.Dialer.Control on the IP actually
// dialled, so a hostname that resolves to a private address (DNS
// rebinding) is refused too. Services and control targets come from the
// operator's config and are not restricted.

// nonPublicPrefixes are the ranges never probed on a node's behalf.
var nonPublicPrefixes = [...]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network", unspecified
	netip.MustParsePrefix("10.0.0.0/8"),         // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),      // CGNAT, RFC 6598
	netip.MustParsePrefix("127.0.0.0/8"),        // loopback
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local (cloud metadata lives here)
	netip.MustParsePrefix("172.16.0.0/12"),      // RFC 1918
	netip.MustParsePrefix("192.168.0.0/16"),     // RFC 1918
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast
	netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast
	netip.MustParsePrefix("::/128"),             // unspecified
	netip.MustParsePrefix("::1/128"),            // loopback
	netip.MustParsePrefix("fc00::/7"),           // ULA
	netip.MustParsePrefix("fe80::/10"),          // link-local
	netip.MustParsePrefix("ff00::/8"),           // multicast
}

// IsPublicAddr reports whether ip may be probed on a node's behalf: not
// loopback, private (RFC 1918), link-local, CGNAT, ULA, unspecified or
// multicast. IPv4-mapped IPv6 addresses are judged as IPv4.
func IsPublicAddr(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range nonPublicPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublicError is a refused node address. Its detail names the address:
// it is the node's own announcement, so it is not a secret of ours.
func nonPublicError(ip netip.Addr) error {
	return &probeError{reason: ReasonPrivateAddress,
		detail: fmt.Sprintf("node announces non-public address %s: not probed (network.allow_private_addresses is false)", ip.Unmap())}
}

// guardControl is a net.Dialer.Control refusing non-public addresses. It
// sees the address actually dialled, after name resolution.
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return probeFailf(ReasonPrivateAddress, "cannot parse dialled address %q", Sanitize(address))
	}
	if !IsPublicAddr(ap.Addr()) {
		return nonPublicError(ap.Addr())
	}
	return nil
}

// checkLiteralAddress refuses a node target whose address is a literal
// non-public IP (host:port or URL), before any connection is attempted.
// Hostnames pass here and are checked at dial time.
func checkLiteralAddress(addr string) error {
	host := addr
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return nil // the prober reports the bad URL itself
		}
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	if !IsPublicAddr(ip) {
		return nonPublicError(ip)
	}
	return nil
}

// noRedirects makes an http.Client return a 3xx response as it is, never
// following it: a node could otherwise point our probe at any URL,
// including the ops host's own internal services.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// maxLocationLen bounds the redirect target quoted in a detail.
const maxLocationLen = 120

// redirectTarget renders a hostile Location header for a detail: resolved
// against the request URL, scheme, host and path only (no userinfo, query
// or fragment), control characters removed, bounded, quoted.
func redirectTarget(base *url.URL, loc string) string {
	loc = strings.TrimSpace(loc)
	if loc == "" {
		return "no Location"
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "an unparseable Location"
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	s = Sanitize(s)
	if len(s) > maxLocationLen {
		cut := maxLocationLen
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// redirectError is the failure of a probe answered with a redirect.
func redirectError(what string, status int, base *url.URL, loc string) error {
	return &probeError{reason: ReasonRedirect,
		detail: fmt.Sprintf("%s: %d %s to %s (redirects are never followed)", what, status, http.StatusText(status), redirectTarget(base, loc))}
}

// guardedProber wraps a node prober so literal non-public addresses are
// refused without a connection attempt.
type guardedProber struct{ inner Prober }

func (g guardedProber) Probe(ctx context.Context, t *Target) Result {
	if err := checkLiteralAddress(t.Address); err != nil {
		return probeResult(t, time.Now(), err)
	}
	return g.inner.Probe(ctx, t)
}

// NoRedirects is noRedirects for the other clients of hostile hosts (the
// directory, probes/nymapi).
func NoRedirects(req *http.Request, via []*http.Request) error { return noRedirects(req, via) }

// RedirectTarget is redirectTarget for the other clients of hostile hosts.
func RedirectTarget(base *url.URL, loc string) string { return redirectTarget(base, loc) }
