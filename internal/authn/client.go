package authn

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how much of X-Forwarded-For is looked at: a real
// chain has a few proxies, and the header is client-controlled.
const maxForwardedHops = 16

// ClientAddr returns the address of the client behind r. X-Forwarded-For
// is believed only when the peer is one of trusted (web.trusted_proxies):
// the header is then read from the right, skipping hops that are trusted
// proxies themselves, and the first untrusted hop is the client (anything
// further left was written by that client and may be forged). A hop that
// does not parse ends the walk at the proxy that appended it.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	cur := peer
	for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return cur
		}
		cur = a.Unmap()
		if !isTrusted(cur, trusted) {
			return cur
		}
	}
	return cur
}

func remoteAddr(s string) netip.Addr {
	host := s
	if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey is what failures are counted by: the IPv4 address, or the /64
// of an IPv6 one (one subscriber usually holds a whole /64, so counting
// single addresses would not slow anyone down).
func clientKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64) // 64 is valid for any IPv6 address
		return p.String()
	}
	return a.String()
}
