// Package cluster connects several nymwatch instances (vantage points): it
// serves this instance's per-target view at GET /api/v1/cluster/view and
// pulls its peers' views every interval, handing them to the detector,
// which decides by quorum (detector.ClusterOptions).
//
// Authentication: a peer pulls with the bearer token the serving instance
// expects. The serving instance accepts its cluster.token_file (meant for
// peers) and its auth.operator_token_file (for a human with curl); each
// instance's cluster.peers[].token_file holds the token that peer accepts.
// The simplest deployment is one shared cluster token on every instance:
// cluster.token_file and every peers[].token_file name the same secret.
// Peers never get the operator token, which can confirm incidents.
//
// A peer that cannot be reached, or answers with anything but a valid view
// of the current version, is reported to the detector (PeerFailed): an
// internal anomaly "vantage point X unreachable" once its last view is
// stale, never evidence about the network.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/common/config"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/authn"
)

// ViewPath is the endpoint of a vantage point's view.
const ViewPath = "/api/v1/cluster/view"

// StaleIntervals: a peer's view counts for this many pull intervals after
// the last successful pull.
const StaleIntervals = 3

// Defaults of Options.
const (
	DefaultInterval     = 30 * time.Second
	DefaultTimeout      = 5 * time.Second
	DefaultMaxClockSkew = 10 * time.Second
)

// ViewSource gives this instance's view (the detector).
type ViewSource interface {
	View(now time.Time) detector.View
}

// ViewSink takes the peers' views and failures (the detector).
type ViewSink interface {
	PeerView(peer string, v detector.View, at time.Time)
	PeerFailed(peer string, err error, at time.Time)
}

// StatusSource gives the quorum state for metrics (the detector).
type StatusSource interface {
	ClusterStatus() detector.ClusterStatus
}

// Peer is another vantage point.
type Peer struct {
	Name string
	// URL is the base URL of the peer's HTTP API (ViewPath is appended).
	URL string
	// Token is the bearer token the peer accepts. Never logged.
	Token string
	// HTTPConfig, if set, builds this peer's own client (TLS, client
	// certificate, credentials that may replace Token).
	HTTPConfig *promconfig.HTTPClientConfig

	client *http.Client // built from HTTPConfig by settings
}

// Options configure a Cluster. Source and Sink are required (both are the
// *detector.Detector); the rest have defaults.
type Options struct {
	Self  string
	Peers []Peer
	// Interval between pulls (Run); Timeout bounds one pull. Defaults 30s
	// and 5s (at most half the interval).
	Interval time.Duration
	Timeout  time.Duration
	// Tokens are the bearer tokens GET /api/v1/cluster/view accepts (the
	// cluster token and the operator token); empty ones are ignored. With
	// none, every request is refused.
	Tokens []string

	Source ViewSource
	Sink   ViewSink
	// Status, if set, feeds the quorum metrics.
	Status StatusSource

	// Client makes the pulls; default: a plain client. Redirects are never
	// followed (the token stays with the peer it is meant for).
	Client *http.Client
	// MaxViewBytes bounds a view (decompressed); default DefaultMaxViewBytes.
	MaxViewBytes int64
	// MaxClockSkew: a view generated further than this outside the pull's
	// start and end (by the local clock) is rejected, since first_seen is
	// compared across vantage points. Default 10s.
	MaxClockSkew time.Duration

	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
	// Guard throttles failed authentication on the view (shared with the
	// API and the console). Nil: the cluster makes its own.
	Guard *authn.Guard
}

// FromConfig returns the Options that cfg decides; the caller adds Source,
// Sink, Status, Registerer and Logger.
func FromConfig(cfg *config.Config) Options {
	o := Options{Self: cfg.Cluster.Name, Interval: cfg.Cluster.PullInterval, Timeout: cfg.Cluster.PullTimeout,
		Tokens: []string{string(cfg.Cluster.Token), string(cfg.Auth.OperatorToken)}}
	for _, p := range cfg.Cluster.Peers {
		peer := Peer{Name: p.Name, URL: p.URL, Token: string(p.Token)}
		if config.HTTPConfigSet(&p.HTTPConfig) {
			peer.HTTPConfig = &p.HTTPConfig
		}
		o.Peers = append(o.Peers, peer)
	}
	return o
}

// DetectorOptions returns the detector's cluster options for cfg: peers'
// views go stale after StaleIntervals pulls, and a failure too few vantage
// points see waits for the others' hysteresis (failure_threshold + 1
// probe intervals) and two pulls before it is a path problem.
func DetectorOptions(cfg *config.Config) detector.ClusterOptions {
	c := detector.ClusterOptions{Self: cfg.Cluster.Name, Quorum: cfg.Cluster.Quorum}
	for _, p := range cfg.Cluster.Peers {
		c.Peers = append(c.Peers, p.Name)
	}
	pull := cfg.Cluster.PullInterval
	if pull <= 0 {
		pull = cfg.Probes.Interval
	}
	c.StaleAfter = StaleIntervals * pull
	c.Wait = time.Duration(cfg.Probes.FailureThreshold+1)*cfg.Probes.Interval + 2*pull
	return c
}

// settings is the part of Options that Reconfigure swaps.
type settings struct {
	self     string
	peers    []Peer
	interval time.Duration
	timeout  time.Duration
	tokens   []authn.Token
}

// Cluster serves this vantage point's view and pulls its peers'.
type Cluster struct {
	src    ViewSource
	sink   ViewSink
	client *http.Client
	max    int64
	skew   time.Duration
	log    *slog.Logger
	now    func() time.Time
	m      *metrics
	guard  *authn.Guard

	mu    sync.Mutex
	s     settings
	up    map[string]bool // last pull result per peer, for logging transitions
	reset chan struct{}   // Run's ticker follows a new interval
}

// New returns a Cluster; it registers its metrics with o.Registerer.
func New(o Options) (*Cluster, error) {
	if o.Source == nil || o.Sink == nil {
		return nil, errors.New("cluster: Source and Sink are required")
	}
	s, err := o.settings()
	if err != nil {
		return nil, err
	}
	c := &Cluster{src: o.Source, sink: o.Sink, max: o.MaxViewBytes, skew: o.MaxClockSkew, log: o.Logger, now: o.Now,
		s: s, up: map[string]bool{}, reset: make(chan struct{}, 1)}
	if c.max <= 0 {
		c.max = DefaultMaxViewBytes
	}
	if c.skew <= 0 {
		c.skew = DefaultMaxClockSkew
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.guard = o.Guard
	if c.guard == nil {
		g, err := authn.NewGuard(authn.GuardOptions{Throttle: authn.ThrottleOptions{Now: c.now}, Logger: c.log})
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		c.guard = g
	}
	if o.Client != nil {
		cl := *o.Client
		c.client = &cl
	} else {
		c.client = &http.Client{}
	}
	c.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.m = newMetrics(o.Registerer)
	for _, p := range s.peers {
		c.m.addPeer(p.Name)
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(&statusCollector{peersUp: c.peersUp, src: o.Status}); err != nil {
			return nil, fmt.Errorf("cluster: register metrics: %w", err)
		}
	}
	if len(s.tokens) == 0 {
		c.log.Warn("cluster: no cluster or operator token configured: GET " + ViewPath + " refuses every request")
	}
	return c, nil
}

func (o *Options) settings() (settings, error) {
	s := settings{self: o.Self, peers: slices.Clone(o.Peers), interval: o.Interval, timeout: o.Timeout}
	if s.interval <= 0 {
		s.interval = DefaultInterval
	}
	if s.timeout <= 0 {
		s.timeout = min(DefaultTimeout, s.interval/2)
	}
	var errs []error
	if len(s.peers) > 0 && !nameRe.MatchString(s.self) {
		errs = append(errs, fmt.Errorf("cluster: self name %q is not valid", s.self))
	}
	seen := map[string]bool{s.self: true}
	for i, p := range s.peers {
		if p.HTTPConfig != nil {
			hc, err := promconfig.NewClientFromConfig(*p.HTTPConfig, "cluster-peer-"+p.Name)
			if err != nil {
				errs = append(errs, fmt.Errorf("cluster: peer %s: http_config: %w", p.Name, err))
			} else {
				// The token and the view stay with the peer they are for.
				hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
				s.peers[i].client = hc
			}
		}
		if !nameRe.MatchString(p.Name) || seen[p.Name] {
			errs = append(errs, fmt.Errorf("cluster: peer name %q is invalid, duplicate or this instance's", p.Name))
		}
		seen[p.Name] = true
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("cluster: peer %s: URL is not an absolute http(s) URL", p.Name))
		}
		if p.Token == "" && (p.HTTPConfig == nil || !config.HTTPConfigAuth(p.HTTPConfig)) {
			errs = append(errs, fmt.Errorf("cluster: peer %s: no token", p.Name))
		}
	}
	for _, t := range o.Tokens {
		if t != "" {
			s.tokens = append(s.tokens, authn.NewToken([]byte(t)))
		}
	}
	return s, errors.Join(errs...)
}

// Reconfigure swaps peers, tokens, interval and timeout (SIGHUP); the
// rest of o is ignored. On error nothing changes. A removed peer's
// metrics are dropped; tell the detector too (detector.Reconfigure).
func (c *Cluster) Reconfigure(o Options) error {
	s, err := o.settings()
	if err != nil {
		return err
	}
	c.mu.Lock()
	old := c.s
	c.s = s
	for _, p := range old.peers {
		if !slices.ContainsFunc(s.peers, func(q Peer) bool { return q.Name == p.Name }) {
			c.m.removePeer(p.Name)
			delete(c.up, p.Name)
		}
	}
	for _, p := range s.peers {
		c.m.addPeer(p.Name)
	}
	c.mu.Unlock()
	if old.interval != s.interval {
		select {
		case c.reset <- struct{}{}:
		default:
		}
	}
	return nil
}

func (c *Cluster) settings() settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *Cluster) peersUp() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, up := range c.up {
		if up {
			n++
		}
	}
	return n
}

// Interval returns the current pull interval (for a scheduler).
func (c *Cluster) Interval() time.Duration { return c.settings().interval }

// Register mounts GET /api/v1/cluster/view on mux.
func (c *Cluster) Register(mux *http.ServeMux) {
	mux.Handle("GET "+ViewPath, c.Handler())
}

// Run pulls every peer now and then every interval until ctx ends. A
// scheduler may call Tick instead.
func (c *Cluster) Run(ctx context.Context) error {
	t := time.NewTicker(c.Interval())
	defer t.Stop()
	c.Tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.reset:
			t.Reset(c.Interval())
			continue
		case <-t.C:
		}
		c.Tick(ctx)
	}
}

// Tick pulls every peer's view once, concurrently, each within the
// timeout, and hands each result to the sink. It returns when all are
// done. Running it twice at once is harmless (the sink keeps the latest).
func (c *Cluster) Tick(ctx context.Context) {
	s := c.settings()
	var wg sync.WaitGroup
	for _, p := range s.peers {
		wg.Go(func() { c.pullOne(ctx, p, s.timeout) })
	}
	wg.Wait()
}

func (c *Cluster) pullOne(ctx context.Context, p Peer, timeout time.Duration) {
	start := c.now()
	v, err := c.pull(ctx, p, timeout)
	end := c.now()
	c.m.pulled(p.Name, end.Sub(start), err)
	if err != nil && ctx.Err() != nil {
		return // shutting down: not the peer's fault
	}
	c.mu.Lock()
	wasUp, known := c.up[p.Name]
	if !slices.ContainsFunc(c.s.peers, func(q Peer) bool { return q.Name == p.Name }) {
		c.mu.Unlock()
		return // removed while we pulled
	}
	c.up[p.Name] = err == nil
	c.mu.Unlock()
	if err != nil {
		c.sink.PeerFailed(p.Name, err, end)
		if wasUp || !known {
			c.log.Warn("cluster: cannot pull a peer's view", "peer", p.Name, "err", err)
		} else {
			c.log.Debug("cluster: peer still unreachable", "peer", p.Name, "err", err)
		}
		return
	}
	c.sink.PeerView(p.Name, v, end)
	if known && !wasUp {
		c.log.Info("cluster: peer's view received again", "peer", p.Name)
	}
}
