package simnet

import (
	"context"
	"crypto/sha1" //nolint:gosec // the websocket handshake is defined with SHA-1 (RFC 6455)
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

type faultKey struct{}

// faultFrom is the fault the guard let through to a handler (None or a
// service-specific kind such as CacheCold).
func faultFrom(ctx context.Context) Fault {
	f, _ := ctx.Value(faultKey{}).(Fault)
	return f
}

// errorBody writes a service's error response.
type errorBody func(w http.ResponseWriter, status int, msg string)

// nodeErrorBody is nym-api's and nym-node's: the bare message as plain text.
func nodeErrorBody(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// vpnErrorBody is the NymVPN API's NymErrorResponse.
func vpnErrorBody(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(struct {
		Message         string  `json:"message"`
		MessageID       *string `json:"messageId"`
		CodeReferenceID *string `json:"codeReferenceId"`
		Status          string  `json:"status"`
	}{Message: msg, Status: "error"})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// guard applies the per-request part of faults before next runs.
func (n *Network) guard(errBody errorBody, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := connFrom(r.Context())
		if sc == nil {
			errBody(w, http.StatusInternalServerError, "simnet: request without a connection")
			return
		}
		f := n.requestFault(sc)
		switch f.Kind {
		case KindRefuse:
			// Switched to Refuse while this keep-alive connection was open.
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				resetConn(c)
				return
			}
			errBody(w, http.StatusServiceUnavailable, "connection refused")
			return
		case KindHang:
			// The connection closing (client timeout, or Close) ends it.
			<-r.Context().Done()
			return
		case KindSlow:
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		case KindHTTP5xx:
			msg := strings.ToLower(http.StatusText(f.status()))
			if msg == "" {
				msg = "server error"
			}
			if sc.t.node == nil && sc.t.svc == svcNymVPNAPI {
				msg = "Service temporarily unavailable"
			}
			errBody(w, f.status(), msg)
			return
		case KindRedirect:
			w.Header().Set("Location", f.Location)
			errBody(w, http.StatusFound, "moved")
			return
		case KindGarbage:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(garbageBytes())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), faultKey{}, f)))
	})
}

func serveControl(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// serveWS answers a websocket upgrade as a gateway's client port does, then
// keeps the connection open without speaking (no Nym client protocol here).
func (n *Network) serveWS(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") || key == "" {
		nodeErrorBody(w, http.StatusBadRequest, "expected a websocket upgrade")
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		nodeErrorBody(w, http.StatusInternalServerError, "cannot upgrade")
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetWriteDeadline(time.Time{})
	n.hold(c, n.opts.IdleTimeout)
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func writeJSONBytes(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		nodeErrorBody(w, http.StatusInternalServerError, "simnet: encoding response: "+err.Error())
		return
	}
	writeJSONBytes(w, body)
}

// renderCache keeps one rendered response, reused while its key holds, as
// nym-api serves its directory from caches refreshed periodically.
type renderCache struct {
	mu   sync.Mutex
	key  cacheKey
	body []byte
	ok   bool
}

type cacheKey struct {
	bucket  int64
	gen     uint64
	variant string
}

func (c *renderCache) get(key cacheKey, build func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.key == key {
		return c.body, nil
	}
	body, err := build()
	if err != nil {
		return nil, err
	}
	c.key, c.body, c.ok = key, body, true
	return body, nil
}

func cacheNames() []string {
	names := []string{
		"described-v1", "described-v2", "bonded", "rewarded-set",
		"skimmed", "skimmed-entry", "skimmed-exit", "skimmed-mix-active", "skimmed-mix-all",
	}
	for _, l := range []vpnList{vpnAll, vpnEntry, vpnExit} {
		for _, c := range []bool{false, true} {
			names = append(names, vpnCacheName(l, c))
		}
	}
	return names
}

// bucket is the refresh period now falls in and when it began.
func (n *Network) bucket(now time.Time) (int64, time.Time) {
	ttl := int64(n.opts.CacheTTL)
	b := now.UnixNano() / ttl
	return b, time.Unix(0, b*ttl).UTC()
}

func (n *Network) serveCached(w http.ResponseWriter, name string, key cacheKey, build func() ([]byte, error)) {
	body, err := n.caches[name].get(key, build)
	if err != nil {
		n.log.Error("simnet: rendering response", "route", name, "err", err)
		nodeErrorBody(w, http.StatusInternalServerError, "simnet: rendering response")
		return
	}
	writeJSONBytes(w, body)
}
