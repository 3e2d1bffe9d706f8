package cluster

import (
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/nymwatch/nymwatch/internal/authn"
)

// Handler serves GET /api/v1/cluster/view: this vantage point's view,
// gzip-compressed when the client accepts it. It needs a bearer token
// among Options.Tokens.
func (c *Cluster) Handler() http.Handler {
	return http.HandlerFunc(c.serveView)
}

func (c *Cluster) serveView(w http.ResponseWriter, r *http.Request) {
	client := c.guard.Client(r)
	if !c.guard.Allow(w, authn.SurfaceCluster, client) {
		// Before the token is looked at: a blocked client learns nothing.
		c.m.served(http.StatusTooManyRequests)
		writeError(w, http.StatusTooManyRequests, "too many failed authentications; retry later")
		return
	}
	if !c.authorized(r.Header.Get("Authorization")) {
		if _, present, _ := authn.Bearer(r); present {
			c.guard.Fail(authn.SurfaceCluster, client)
		}
		c.m.served(http.StatusUnauthorized)
		w.Header().Set("WWW-Authenticate", `Bearer realm="nymwatch"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	c.guard.Succeed(client)
	v := c.src.View(c.now())
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	c.m.served(http.StatusOK)
	if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
		if err := EncodeView(w, v); err != nil {
			c.log.Debug("cluster: view not sent", "err", err)
		}
		return
	}
	h.Set("Content-Encoding", "gzip")
	// BestSpeed: a view is mostly repeated keys, and it is made every
	// interval for every peer.
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // the level is valid
	err := EncodeView(zw, v)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.log.Debug("cluster: view not sent", "err", err)
	}
}

// writeError answers {"error": msg}, as every other API route does.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg}) // the client may be gone
}

// authorized checks the bearer token against every accepted one. The
// tokens are compared as SHA-256 digests in constant time, so neither a
// token nor its length leaks (a raw ConstantTimeCompare returns at once on
// a length mismatch).
func (c *Cluster) authorized(header string) bool {
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return false
	}
	return authn.MatchAny(header[len(scheme):], c.settings().tokens...)
}

// acceptsGzip reports whether Accept-Encoding allows gzip (RFC 9110
// §12.5.3: "gzip" or "*" with a non-zero q, unless gzip itself is q=0).
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			switch coding {
			case "gzip", "x-gzip":
				return q > 0
			case "*":
				star = q > 0
			}
		}
	}
	return star
}
