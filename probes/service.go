package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Service kinds (Service.Kind). An empty or unknown kind is treated as
// ServiceKindHTTP; config validation should reject unknown kinds.
const (
	ServiceKindNymAPI    = "nym-api"
	ServiceKindNymVPNAPI = "nymvpn-api"
	ServiceKindHTTP      = "http"
)

// ServiceProber checks a centralized service (KindService) according to
// Service.Kind:
//
//   - nym-api: GET {url}/v1/api-status/health must be 200 JSON with status
//     "up" and chain_status "synced" (stalled or unknown is ReasonUnhealthy),
//     and the directory must answer: GET {url}/v1/nym-nodes/rewarded-set is
//     200 JSON (a 503, nym-api's "relevant cache hasn't been initialised
//     yet", is ReasonUnhealthy).
//   - nymvpn-api: GET {url}/public/v1/health is 200 JSON with timestampUtc;
//     GET {url}/public/v1/directory/gateways/entry and /exit are non-empty
//     JSON arrays whose gateways mostly have a last probe younger than
//     StaleAfter (else ReasonStale: clients treat such gateways as unusable).
//   - http: GET {url} as is must answer 2xx.
//
// A correct answer slower than the latency threshold is ReasonSlow.
// Result.Latency is the whole check, all requests in sequence.
type ServiceProber struct {
	h         httpGetter
	opts      ProberOptions
	threshold time.Duration
}

// NewServiceProber returns a ServiceProber with its own client.
func NewServiceProber(opts ProberOptions) *ServiceProber {
	opts = opts.withDefaults()
	return newServiceProber(opts, newProbeHTTPClient(opts))
}

func newServiceProber(opts ProberOptions, c *http.Client) *ServiceProber {
	return &ServiceProber{h: httpGetter{client: c, ua: opts.UserAgent}, opts: opts, threshold: opts.LatencyThreshold}
}

// Probe implements Prober.
func (p *ServiceProber) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	svc := Service{URL: t.Address, Kind: ServiceKindHTTP}
	if t.Service != nil {
		svc = *t.Service
	}
	if svc.Client != nil {
		q := *p
		q.h.client = svc.Client
		p = &q
	}
	err := p.checkTLS(ctx, svc)
	r := probeResult(t, start, err)
	thr := p.threshold
	if svc.LatencyThreshold > 0 {
		thr = svc.LatencyThreshold
	}
	if r.OK && thr > 0 && r.Latency > thr {
		r.OK = false
		r.Reason = ReasonSlow
		r.Detail = Sanitize(fmt.Sprintf("answered in %s, over the %s threshold", r.Latency.Round(time.Millisecond), thr))
	}
	return r
}

func (p *ServiceProber) check(ctx context.Context, svc Service) error {
	base, err := url.Parse(svc.URL)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		// The parse error would quote the URL, which may hold secrets.
		return probeFailf(ReasonNetwork, "invalid service url for %q", svc.Name)
	}
	switch svc.Kind {
	case ServiceKindNymAPI:
		return p.checkNymAPI(ctx, base)
	case ServiceKindNymVPNAPI:
		return p.checkVPNAPI(ctx, base)
	default:
		return p.checkHTTP(ctx, base)
	}
}

func (p *ServiceProber) checkHTTP(ctx context.Context, u *url.URL) error {
	resp, err := p.h.get(ctx, u.String(), p.opts.MaxBodyBytes, true)
	if err != nil {
		return err
	}
	if resp.status < 200 || resp.status > 299 {
		return statusFailure(ReasonHTTPStatus, resp)
	}
	return nil
}

// getJSON GETs base+path, requires 200 (any other status fails with
// ReasonHTTPStatus, or with unavailableReason for a 503) and decodes into
// v. It returns "GET <path>" for further details.
func (p *ServiceProber) getJSON(ctx context.Context, base *url.URL, path string, limit int64, unavailableReason Reason, v any) (string, error) {
	resp, err := p.h.get(ctx, base.JoinPath(path).String(), limit, false)
	if err != nil {
		return "", err
	}
	if resp.status != http.StatusOK {
		r := ReasonHTTPStatus
		if resp.status == http.StatusServiceUnavailable {
			r = unavailableReason
		}
		return resp.what, statusFailure(r, resp)
	}
	return resp.what, decodeProbeJSON(resp.what, resp.body, v)
}

func (p *ServiceProber) checkNymAPI(ctx context.Context, base *url.URL) error {
	var h struct {
		Status      *string         `json:"status"`
		ChainStatus json.RawMessage `json:"chain_status"`
	}
	what, err := p.getJSON(ctx, base, "/v1/api-status/health", p.opts.MaxBodyBytes, ReasonHTTPStatus, &h)
	if err != nil {
		return err
	}
	if h.Status == nil {
		return probeFailf(ReasonBadBody, "%s: no status field", what)
	}
	if *h.Status != "up" {
		return probeFailf(ReasonUnhealthy, "%s: status %q", what, *h.Status)
	}
	if err := checkChainStatus(h.ChainStatus); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}

	// The process being up is not enough: clients need the directory. A
	// 503 here is nym-api's caches still cold (or failing to refresh).
	var rs struct {
		EpochID *uint64 `json:"epoch_id"`
	}
	what, err = p.getJSON(ctx, base, "/v1/nym-nodes/rewarded-set", p.opts.MaxBodyBytes, ReasonUnhealthy, &rs)
	if err != nil {
		return err
	}
	if rs.EpochID == nil {
		return probeFailf(ReasonBadBody, "%s: no epoch_id field", what)
	}
	return nil
}

// checkChainStatus interprets nym-api's chain_status: "synced", "unknown" or
// {"stalled":{"approximate_amount":"7m 41s"}}. An absent field (nym-api
// older than chain-status reporting) is accepted.
func checkChainStatus(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch s {
		case "synced":
			return nil
		case "unknown":
			return probeFailf(ReasonUnhealthy, "chain status unknown (nym-api cannot query the chain)")
		default:
			return probeFailf(ReasonUnhealthy, "chain status %q", s)
		}
	}
	var obj struct {
		Stalled *struct {
			ApproximateAmount string `json:"approximate_amount"`
		} `json:"stalled"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return &probeError{reason: ReasonBadBody, detail: fmt.Sprintf("chain_status: %v", err), err: err}
	}
	if obj.Stalled != nil {
		return probeFailf(ReasonUnhealthy, "chain stalled, no new block for about %s", obj.Stalled.ApproximateAmount)
	}
	return probeFailf(ReasonUnhealthy, "chain status %s", raw)
}

// vpnGateway is the part of NymDirectoryGateway the freshness check needs.
type vpnGateway struct {
	LastProbe *struct {
		LastUpdatedUTC string `json:"last_updated_utc"`
	} `json:"last_probe"`
}

func (p *ServiceProber) checkVPNAPI(ctx context.Context, base *url.URL) error {
	var h struct {
		TimestampUTC *string `json:"timestampUtc"`
	}
	what, err := p.getJSON(ctx, base, "/public/v1/health", p.opts.MaxBodyBytes, ReasonHTTPStatus, &h)
	if err != nil {
		return err
	}
	if h.TimestampUTC == nil {
		return probeFailf(ReasonBadBody, "%s: no timestampUtc field", what)
	}
	serverNow, err := time.Parse(time.RFC3339Nano, *h.TimestampUTC)
	if err != nil {
		return probeFailf(ReasonBadBody, "%s: timestampUtc %q is not RFC 3339", what, *h.TimestampUTC)
	}
	if p.opts.MaxClockSkew > 0 {
		// A health answer far from now is a cached (stale) response, or a
		// server clock clients will misjudge gateway freshness with.
		if skew := p.opts.Now().Sub(serverNow); skew > p.opts.MaxClockSkew || -skew > p.opts.MaxClockSkew {
			return probeFailf(ReasonStale, "%s: timestampUtc is %s off our clock", what, skew.Round(time.Second))
		}
	}
	for _, side := range [...]string{"entry", "exit"} {
		var gws []vpnGateway
		what, err := p.getJSON(ctx, base, "/public/v1/directory/gateways/"+side, p.opts.MaxDirectoryBytes, ReasonHTTPStatus, &gws)
		if err != nil {
			return err
		}
		if len(gws) == 0 {
			return probeFailf(ReasonBadBody, "%s: empty gateway directory", what)
		}
		// Clients correct their clock by timestampUtc, so judge ages on the
		// server's time as they do.
		if err := vpnFreshness(what, gws, serverNow, p.opts.StaleAfter); err != nil {
			return err
		}
	}
	return nil
}

// vpnFreshness fails with ReasonStale when more than half of gws have a last
// probe older than staleAfter (or none at all): clients then consider most
// of the directory unusable.
func vpnFreshness(what string, gws []vpnGateway, now time.Time, staleAfter time.Duration) error {
	stale := 0
	var newest time.Time
	for _, g := range gws {
		if g.LastProbe == nil {
			stale++
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, g.LastProbe.LastUpdatedUTC)
		if err != nil {
			stale++
			continue
		}
		if at.After(newest) {
			newest = at
		}
		if now.Sub(at) > staleAfter {
			stale++
		}
	}
	if stale*2 <= len(gws) {
		return nil
	}
	newestAge := "none has a valid probe time"
	if !newest.IsZero() {
		newestAge = "newest " + now.Sub(newest).Round(time.Second).String() + " old"
	}
	return probeFailf(ReasonStale, "%s: %d of %d gateways' last probe older than %s (%s)",
		what, stale, len(gws), staleAfter, newestAge)
}
