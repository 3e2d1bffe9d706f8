package probes

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for ProberOptions.
const (
	DefaultMaxBodyBytes      = 64 << 10 // node health and plain HTTP bodies
	DefaultMaxDirectoryBytes = 16 << 20 // NymVPN gateway lists: ~500 gateways × a few KiB
	DefaultStaleAfter        = 60 * time.Minute
	DefaultMaxClockSkew      = 10 * time.Minute
	DefaultUserAgent         = "nymwatch"
	DefaultTCPSettle         = 200 * time.Millisecond
)

// ProberOptions configure the probers. The zero value is usable.
type ProberOptions struct {
	// SourceAddr binds outgoing connections to this local IP
	// (net.Dialer.LocalAddr), so several instances on one host can probe
	// from different addresses. Nil lets the kernel choose.
	SourceAddr net.IP
	// TLSConfig is used for https targets; nil means system roots. It is
	// cloned, not shared.
	TLSConfig *tls.Config
	// UserAgent is sent with every HTTP probe (DefaultUserAgent if empty).
	UserAgent string
	// MaxBodyBytes bounds node health, nym-api and plain HTTP bodies
	// (DefaultMaxBodyBytes if 0). A larger body is ReasonBadBody.
	MaxBodyBytes int64
	// MaxDirectoryBytes bounds each NymVPN directory list
	// (DefaultMaxDirectoryBytes if 0).
	MaxDirectoryBytes int64
	// LatencyThreshold: a service that answers correctly but slower than
	// this fails with ReasonSlow. Service.LatencyThreshold overrides it per
	// service. 0 means no limit.
	LatencyThreshold time.Duration
	// StaleAfter is the age past which a NymVPN directory gateway's last
	// probe makes it unusable for clients (DefaultStaleAfter if 0; the
	// client's MAX_PROBE_RESULT_AGE_MINUTES).
	StaleAfter time.Duration
	// MaxClockSkew: a NymVPN health timestampUtc further than this from our
	// clock means a stale (e.g. cached) answer (DefaultMaxClockSkew if 0,
	// negative disables the check).
	MaxClockSkew time.Duration
	// Now is the wall clock used for freshness checks (time.Now if nil).
	Now func() time.Time
	// TCPSettle is how long a mix-port probe watches the connection after
	// connecting, so that a port that accepts and then resets (or speaks
	// garbage) is not taken for a healthy one (DefaultTCPSettle if 0; at
	// least twice the connect time, within the probe's timeout). Negative
	// means connect only.
	TCPSettle time.Duration
	// AllowPrivate lets node probes reach loopback, private, link-local,
	// CGNAT, ULA, unspecified and multicast addresses
	// (network.allow_private_addresses: labs, the demo and tests). When
	// false such node addresses fail with ReasonPrivateAddress, unprobed.
	// Services and control targets are never restricted.
	AllowPrivate bool
}

func (o ProberOptions) withDefaults() ProberOptions {
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxDirectoryBytes <= 0 {
		o.MaxDirectoryBytes = DefaultMaxDirectoryBytes
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = DefaultMaxClockSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TCPSettle == 0 {
		o.TCPSettle = DefaultTCPSettle
	}
	return o
}

// newProbeDialer returns the dialer every probe uses: optional source address,
// no TCP keep-alive (connections never outlive one probe).
func newProbeDialer(o ProberOptions) *net.Dialer {
	d := &net.Dialer{KeepAlive: -1}
	if o.SourceAddr != nil {
		d.LocalAddr = &net.TCPAddr{IP: o.SourceAddr}
	}
	return d
}

// newNodeDialer is newProbeDialer refusing non-public addresses at dial
// time (after name resolution) unless o.AllowPrivate.
func newNodeDialer(o ProberOptions) *net.Dialer {
	d := newProbeDialer(o)
	if !o.AllowPrivate {
		d.Control = guardControl
	}
	return d
}

// newProbeHTTPClient builds the plain client shared by all HTTP probes. Keep-alives
// are off so every probe opens a fresh connection, as a new user would: a
// reused connection can make a gateway look healthy while it no longer
// accepts new clients (nymtech/nym PR #499). Sharing one Transport is then
// safe and saves allocations. No proxy: probes measure our direct path.
// Timeouts come from each probe's context.
// Redirects are never followed (see noRedirects). This client is for the
// operator's own targets (services, control targets): any address.
func newProbeHTTPClient(o ProberOptions) *http.Client {
	return newHTTPClientWithDialer(o, newProbeDialer(o))
}

// newNodeHTTPClient is the client for node targets: as newProbeHTTPClient,
// but refusing non-public addresses unless o.AllowPrivate.
func newNodeHTTPClient(o ProberOptions) *http.Client {
	return newHTTPClientWithDialer(o, newNodeDialer(o))
}

func newHTTPClientWithDialer(o ProberOptions, d *net.Dialer) *http.Client {
	var tlsCfg *tls.Config
	if o.TLSConfig != nil {
		tlsCfg = o.TLSConfig.Clone()
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		DisableKeepAlives:      true,
		TLSClientConfig:        tlsCfg,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{Transport: tr, CheckRedirect: noRedirects}
}

// httpGetter makes single-attempt GETs with a bounded body.
type httpGetter struct {
	client *http.Client
	ua     string
}

// httpResponse is what get returns: status, content type and bounded body.
type httpResponse struct {
	what   string // "GET <path>", for details
	status int
	ctype  string
	body   []byte
}

// Request stages, for the detail of a failure ("awaiting response: timeout"
// says a node accepted the connection and then hung).
const (
	stageConnect int32 = iota
	stageAwait
	stageBody
)

var probeStageNames = [...]string{"connect", "awaiting response", "reading body"}

// get performs one GET of rawURL. It reads at most limit bytes of body (none
// if limit < 0); a longer body is ReasonBadBody unless allowTruncate. Errors
// are prefixed with "GET <path>" and the stage that failed, never the query.
func (h *httpGetter) get(ctx context.Context, rawURL string, limit int64, allowTruncate bool) (httpResponse, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return httpResponse{}, probeFailf(ReasonNetwork, "invalid url: %v", errors.Unwrap(err))
	}
	what := "GET " + urlPathOnly(u)
	var stage atomic.Int32
	trace := &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { stage.Store(stageAwait) },
		GotFirstResponseByte: func() { stage.Store(stageBody) },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, u.String(), nil)
	if err != nil {
		return httpResponse{}, probeFailf(ReasonNetwork, "%s: %v", what, err)
	}
	req.Header.Set("User-Agent", h.ua)
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return httpResponse{}, fmt.Errorf("%s: %s: %w", what, probeStageNames[stage.Load()], err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 && resp.StatusCode != http.StatusNotModified {
		// Not followed: the body is the redirecting server's own and unread.
		return httpResponse{what: what, status: resp.StatusCode}, redirectError(what, resp.StatusCode, u, resp.Header.Get("Location"))
	}
	r := httpResponse{what: what, status: resp.StatusCode, ctype: resp.Header.Get("Content-Type")}
	if limit < 0 {
		return r, nil
	}
	r.body, err = readBodyLimited(resp.Body, limit)
	if errors.Is(err, errBodyTooLarge) {
		if allowTruncate {
			return r, nil
		}
		return r, &probeError{reason: ReasonBadBody, detail: fmt.Sprintf("%s: body larger than %d bytes", what, limit), err: err}
	}
	if err != nil {
		return r, fmt.Errorf("%s: %s: %w", what, probeStageNames[stageBody], err)
	}
	return r, nil
}

// readBodyLimited reads at most limit bytes; errBodyTooLarge if there are more.
func readBodyLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return b[:limit], errBodyTooLarge
	}
	return b, nil
}

// urlPathOnly is u's path for details: no host (the target names it), no query.
func urlPathOnly(u *url.URL) string {
	if u.Path == "" {
		return "/"
	}
	return u.EscapedPath()
}

// statusFailure describes an unexpected status, with a short snippet of a
// plain-text body (nym-api's errors are bare text, e.g. "relevant cache
// hasn't been initialised yet").
func statusFailure(r Reason, resp httpResponse) error {
	d := fmt.Sprintf("%s: %d %s", resp.what, resp.status, http.StatusText(resp.status))
	if snip := bodySnippet(resp); snip != "" {
		d += ": " + snip
	}
	return &probeError{reason: r, detail: d}
}

func bodySnippet(resp httpResponse) string {
	if len(resp.body) == 0 || strings.Contains(resp.ctype, "html") {
		return ""
	}
	b := resp.body
	if len(b) > 120 {
		b = b[:120]
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// decodeProbeJSON unmarshals body into v, or fails with ReasonBadBody.
func decodeProbeJSON(what string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &probeError{reason: ReasonBadBody, detail: fmt.Sprintf("%s: invalid JSON: %v", what, err), err: err}
	}
	return nil
}

// probeResult turns one attempt's outcome into a Result.
func probeResult(t *Target, start time.Time, err error) Result {
	r := Result{Target: t, OK: err == nil, Latency: time.Since(start), At: start.UTC()}
	r.Reason, r.Detail = Classify(err)
	return r
}

// NodeHTTPProber checks a nym-node's HTTP API: GET /api/v1/health must
// answer 200 with JSON {"status":"up",...}. Target.Address is host:port of
// the node's first HTTP port (or a base URL with scheme).
type NodeHTTPProber struct {
	h     httpGetter
	limit int64
}

// NewNodeHTTPProber returns a NodeHTTPProber with its own client.
func NewNodeHTTPProber(opts ProberOptions) *NodeHTTPProber {
	opts = opts.withDefaults()
	return newNodeHTTPProber(opts, newNodeHTTPClient(opts))
}

func newNodeHTTPProber(opts ProberOptions, c *http.Client) *NodeHTTPProber {
	return &NodeHTTPProber{h: httpGetter{client: c, ua: opts.UserAgent}, limit: opts.MaxBodyBytes}
}

// Probe implements Prober.
func (p *NodeHTTPProber) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	return probeResult(t, start, p.check(ctx, t))
}

func (p *NodeHTTPProber) check(ctx context.Context, t *Target) error {
	base := t.Address
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	resp, err := p.h.get(ctx, strings.TrimRight(base, "/")+"/api/v1/health", p.limit, false)
	if err != nil {
		return err
	}
	what := resp.what
	if resp.status != http.StatusOK {
		return statusFailure(ReasonHTTPStatus, resp)
	}
	var h struct {
		Status *string `json:"status"`
	}
	if err := decodeProbeJSON(what, resp.body, &h); err != nil {
		return err
	}
	if h.Status == nil {
		return probeFailf(ReasonBadBody, "%s: no status field", what)
	}
	if *h.Status != "up" {
		return probeFailf(ReasonUnhealthy, "%s: status %q", what, *h.Status)
	}
	return nil
}

// ControlProber checks our own connectivity through well-known endpoints
// that are not part of the Nym network. An http(s) URL counts as reachable on
// any HTTP response, even 4xx/5xx; tcp://host:port on a completed connect.
type ControlProber struct {
	h      httpGetter
	dialer *net.Dialer
}

// NewControlProber returns a ControlProber with its own client.
func NewControlProber(opts ProberOptions) *ControlProber {
	opts = opts.withDefaults()
	return newControlProber(opts, newProbeHTTPClient(opts))
}

func newControlProber(opts ProberOptions, c *http.Client) *ControlProber {
	return &ControlProber{h: httpGetter{client: c, ua: opts.UserAgent}, dialer: newProbeDialer(opts)}
}

// Probe implements Prober.
func (p *ControlProber) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	return probeResult(t, start, p.check(ctx, t.Address))
}

func (p *ControlProber) check(ctx context.Context, addr string) error {
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok {
		return probeFailf(ReasonNetwork, "control target has no scheme")
	}
	switch strings.ToLower(scheme) {
	case "tcp":
		// Connect only: an arbitrary TCP service may well speak first.
		_, err := dialAndClose(ctx, p.dialer, strings.TrimRight(rest, "/"))
		return err
	case "http", "https":
		// Any answer proves the path works; the body does not matter. A
		// redirect is an answer too (not followed).
		_, err := p.h.get(ctx, addr, -1, true)
		if pe, ok := errors.AsType[*probeError](err); ok && pe.reason == ReasonRedirect {
			return nil
		}
		return err
	default:
		return probeFailf(ReasonNetwork, "unsupported control target scheme %q", scheme)
	}
}

// Multi dispatches each target to the prober for its Kind. Entries may be
// replaced before the Multi is first used; it is read-only afterwards.
type Multi map[Kind]Prober

// NewMulti returns a Multi covering every Kind, all HTTP probers sharing one
// keep-alive-free Transport: mix ports get a TCPProber, client websocket
// ports a WebsocketProber.
//
// Node targets (HTTP, mix, websocket, identity) go through a client and
// dialers that refuse non-public addresses unless opts.AllowPrivate; a
// literal non-public address is refused before any dial. Services and
// control targets use an unrestricted client. No client follows redirects.
func NewMulti(opts ProberOptions) Multi {
	opts = opts.withDefaults()
	c := newProbeHTTPClient(opts)
	nc := c
	guard := func(p Prober) Prober { return p }
	if !opts.AllowPrivate {
		nc = newNodeHTTPClient(opts)
		guard = func(p Prober) Prober { return guardedProber{inner: p} }
	}
	return Multi{
		KindNodeHTTP: guard(newNodeHTTPProber(opts, nc)),
		KindMixPort:  guard(NewTCPProber(opts)),
		KindWSPort:   guard(NewWebsocketProber(opts)),
		KindIdentity: guard(newIdentityProber(opts, nc)),
		KindService:  newServiceProber(opts, c),
		KindControl:  newControlProber(opts, c),
	}
}

// Probe implements Prober.
func (m Multi) Probe(ctx context.Context, t *Target) Result {
	if p, ok := m[t.Kind]; ok {
		return p.Probe(ctx, t)
	}
	return probeResult(t, time.Now(), probeFailf(ReasonNetwork, "no prober for kind %q", t.Kind))
}
