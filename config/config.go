// Package config loads and validates nymwatch's YAML configuration.
//
// Every problem is reported, not just the first, and each one names the file,
// the line and the dotted key: `config.yaml:12: probes.interval: "3x" is not a
// duration`. Unknown keys, wrong types and duplicate keys are errors.
//
// Relative file paths (storage.path, storage.password_file, token files)
// resolve against the directory of the config file. Token files are read at
// load time into Secret fields, which never appear in String's output.
package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	promconfig "github.com/prometheus/common/config"
)

// DefaultListen is the default address of the HTTP API and /metrics.
const DefaultListen = "127.0.0.1:9478"

// maxConfigSize bounds what Load reads: a real config is a few KiB.
const maxConfigSize = 8 << 20

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Service kinds (services[].kind).
const (
	ServiceKindNymAPI    = "nym-api"
	ServiceKindNymVPNAPI = "nymvpn-api"
	ServiceKindHTTP      = "http"
)

// Alert classes, as in section II of the disclosure policy.
const (
	ClassSecurity    = "security"
	ClassOperational = "operational"
	ClassInternal    = "internal"
)

// Config is the whole configuration. Field tags are the YAML keys.
type Config struct {
	// Listen is the host:port of the HTTP API and /metrics.
	Listen         string         `yaml:"listen"`
	Storage        Storage        `yaml:"storage"`
	Network        Network        `yaml:"network"`
	Probes         Probes         `yaml:"probes"`
	Services       []Service      `yaml:"services"`
	ControlTargets []string       `yaml:"control_targets" redact:"url"`
	Classification Classification `yaml:"classification"`
	Pagers         Pagers         `yaml:"pagers"`
	Auth           Auth           `yaml:"auth"`
	Web            Web            `yaml:"web"`
	Cluster        Cluster        `yaml:"cluster"`
	Alerts         Alerts         `yaml:"alerts"`
	Status         Status         `yaml:"status"`
	Disclosure     Disclosure     `yaml:"disclosure"`
}

// Storage says where incidents are kept.
type Storage struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string `yaml:"driver"`
	// Path is the SQLite database file (driver sqlite).
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string without a password (driver
	// postgres); the password comes from PasswordFile.
	DSN string `yaml:"dsn" redact:"dsn"`
	// PasswordFile holds the PostgreSQL password (driver postgres).
	PasswordFile string `yaml:"password_file"`
	// Password is the content of PasswordFile, read by Load.
	Password promconfig.Secret `yaml:"-"`
}

// Network says where the Nym network's directory is.
type Network struct {
	// NymAPIURL is the nym-api base URL the node directory is read from.
	NymAPIURL string `yaml:"nym_api_url" redact:"url"`
	// RefreshInterval is how often the directory is re-read.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// StagingNodes are node ids (decimal) or identity keys (base58) whose
	// failures are internal: staging / pre-production nodes.
	StagingNodes []string `yaml:"staging_nodes"`
	// AllowPrivateAddresses lets nymwatch probe node addresses in
	// loopback, private, link-local, CGNAT, ULA, unspecified or multicast
	// ranges (labs, the demo, tests). Off: such a node is recorded as
	// announcing a non-public address and never probed.
	AllowPrivateAddresses bool `yaml:"allow_private_addresses"`
	// HTTPConfig configures the client of the directory fetches (TLS,
	// client certificates, auth, proxy); their outcome is the directory's
	// health.
	HTTPConfig promconfig.HTTPClientConfig `yaml:"http_config"`
}

// Probes tunes the probe loop.
type Probes struct {
	Interval          time.Duration `yaml:"interval"`
	Timeout           time.Duration `yaml:"timeout"`
	Concurrency       int           `yaml:"concurrency"`
	FailureThreshold  int           `yaml:"failure_threshold"`
	RecoveryThreshold int           `yaml:"recovery_threshold"`
	// PerTargetMetrics enables per-target metric labels (high cardinality).
	PerTargetMetrics bool `yaml:"per_target_metrics"`
	// SourceAddress is an optional local IP outgoing probes bind to.
	SourceAddress string `yaml:"source_address"`
	// IdentityInterval is how often each node's signed host-information is
	// checked against its bonded identity (at least Interval).
	IdentityInterval time.Duration `yaml:"identity_interval"`
}

// Service is a centralized service probed as a whole.
type Service struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url" redact:"url"`
	// Kind is "nym-api", "nymvpn-api" or "http" (default).
	Kind string `yaml:"kind"`
	// Staging marks a pre-production service: its failures are internal.
	Staging bool `yaml:"staging"`
	// LatencyThreshold is the latency above which a probe counts as slow.
	LatencyThreshold time.Duration `yaml:"latency_threshold"`
	// TLSPinSHA256 are base64 SHA-256 hashes of acceptable certificate
	// public keys (SPKI pins, as curl --pinnedpubkey); empty: no pinning.
	TLSPinSHA256 []string `yaml:"tls_pin_sha256"`
	// HTTPConfig configures the service probe's client (private CA,
	// client certificates, auth, proxy). Redirects are still refused.
	HTTPConfig promconfig.HTTPClientConfig `yaml:"http_config"`
}

func (s *Service) setDefaults() {
	s.Kind = ServiceKindHTTP
	s.LatencyThreshold = 2 * time.Second
}

// Classification holds the thresholds of section II.
type Classification struct {
	GatewayFailureRatio float64 `yaml:"gateway_failure_ratio"`
	// MinFailingGateways keeps a single node from ever being an incident.
	MinFailingGateways  int     `yaml:"min_failing_gateways"`
	MixnodeFailureRatio float64 `yaml:"mixnode_failure_ratio"`
	CountryFailureRatio float64 `yaml:"country_failure_ratio"`
	CountryMinNodes     int     `yaml:"country_min_nodes"`
	// ServiceFailureFor is how long a service must keep failing beyond
	// probes.failure_threshold before it is disclosable.
	ServiceFailureFor time.Duration `yaml:"service_failure_for"`
	Degradation       Degradation   `yaml:"degradation"`
	Vantage           Vantage       `yaml:"vantage"`
	Flapping          Flapping      `yaml:"flapping"`
	// GroupingWindow: an anomaly starting within this window of an open
	// disclosable incident of the same architecture joins it.
	GroupingWindow time.Duration `yaml:"grouping_window"`
	// DefaultAlertClass classifies Alertmanager alerts no rule matches.
	DefaultAlertClass string `yaml:"default_alert_class"`
	// Rules classify Alertmanager alerts without a class label; the first
	// matching rule wins.
	Rules []Rule `yaml:"rules"`
	// PromotionLookback: a target failing for longer than this when its
	// group crosses a threshold is background, not the outage's first_seen.
	PromotionLookback time.Duration `yaml:"promotion_lookback"`
}

// Degradation tunes network-wide performance degradation detection.
type Degradation struct {
	// SuccessRatioDrop is the drop of the success ratio below its baseline
	// (absolute, 0.2 = 20 percentage points) that counts as degraded.
	SuccessRatioDrop float64 `yaml:"success_ratio_drop"`
	// LatencyFactor: latency above baseline × factor counts as degraded.
	LatencyFactor  float64       `yaml:"latency_factor"`
	Sustain        time.Duration `yaml:"sustain"`
	BaselineWindow time.Duration `yaml:"baseline_window"`
}

// Vantage tunes the "is it us?" check.
type Vantage struct {
	// ControlFailureRatio: this fraction of control targets failing means
	// the monitor itself is cut off.
	ControlFailureRatio float64 `yaml:"control_failure_ratio"`
	// NetworkFailureRatio: this fraction of all targets failing at once is
	// treated as the monitor being cut off.
	NetworkFailureRatio float64 `yaml:"network_failure_ratio"`
}

// Flapping tunes flap detection: Transitions state changes within Window.
type Flapping struct {
	Window      time.Duration `yaml:"window"`
	Transitions int           `yaml:"transitions"`
}

// Pagers says where draft incidents are paged.
type Pagers struct {
	Alertmanager AlertmanagerPager `yaml:"alertmanager"`
	Webhook      WebhookPager      `yaml:"webhook"`
	// Escalation lists the ages after which a still-draft incident is paged
	// again with a higher severity, in increasing order.
	Escalation []time.Duration `yaml:"escalation"`
	// OutboxMaxAge is how long an undeliverable page is retried.
	OutboxMaxAge time.Duration `yaml:"outbox_max_age"`
}

// AlertmanagerPager sends pages to Alertmanager's API v2.
type AlertmanagerPager struct {
	// URL is one Alertmanager base URL; URLs lists a cluster's members.
	// Use AlertmanagerURLs for the merged list.
	URL            string        `yaml:"url" redact:"url"`
	URLs           []string      `yaml:"urls" redact:"url"`
	ResendInterval time.Duration `yaml:"resend_interval"`
	Timeout        time.Duration `yaml:"timeout"`
	// Watchdog keeps the always-firing NymwatchWatchdog alert (a dead man's
	// switch) in every configured Alertmanager; default true.
	Watchdog bool `yaml:"watchdog"`
	// HTTPConfig configures the client of every Alertmanager in URLs.
	HTTPConfig promconfig.HTTPClientConfig `yaml:"http_config"`
}

// WebhookPager sends pages to a generic webhook.
type WebhookPager struct {
	URL string `yaml:"url" redact:"url"`
	// HTTPConfig configures the webhook's client.
	HTTPConfig promconfig.HTTPClientConfig `yaml:"http_config"`
}

// Auth holds the bearer tokens of the HTTP API.
type Auth struct {
	// OperatorTokenFile holds the token humans use to confirm, dismiss and
	// resolve incidents.
	OperatorTokenFile string `yaml:"operator_token_file"`
	// WebhookTokenFile holds the token Alertmanager sends to the webhook
	// receiver; unset means the receiver takes no token.
	WebhookTokenFile string `yaml:"webhook_token_file"`
	// OperatorToken and WebhookToken are the files' contents, trimmed.
	OperatorToken promconfig.Secret `yaml:"-"`
	WebhookToken  promconfig.Secret `yaml:"-"`
	// ViewerTokenFile holds a read-only token: it may read incidents
	// through the API (when web.public_read is off) but change nothing.
	ViewerTokenFile string `yaml:"viewer_token_file"`
	// ViewerToken is ViewerTokenFile's content, trimmed.
	ViewerToken promconfig.Secret `yaml:"-"`
}

// Alerts bounds what the Alertmanager webhook receiver keeps.
type Alerts struct {
	// MaxFiring is how many firing alerts nymwatch holds at once; a POST
	// bringing new firing alerts beyond it is answered 429 for those.
	MaxFiring int `yaml:"max_firing"`
	// MaxGroups is how many alert groups (alertname or component label)
	// get an anomaly of their own; alerts of further groups share one
	// anomaly per class.
	MaxGroups int `yaml:"max_groups"`
}

// Default alert bounds: see docs/alertmanager-webhook.md for the sizing.
const (
	DefaultAlertsMaxFiring = 5000
	DefaultAlertsMaxGroups = 50
)

// Web tunes links and the web console.
type Web struct {
	// ExternalURL is the URL humans reach nymwatch at, used in page links.
	ExternalURL string `yaml:"external_url" redact:"url"`
	// PublicRead opens the console's read-only views (incident list and
	// pages) without login. State changes always need the operator token.
	PublicRead bool `yaml:"public_read"`
	// TrustedProxies are the CIDRs (or single addresses) of reverse
	// proxies whose X-Forwarded-For names the client, for the throttle of
	// failed logins and tokens. Empty: the peer address is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Cluster configures several vantage points agreeing by quorum.
type Cluster struct {
	// Name is this instance's name among its peers.
	Name  string `yaml:"name"`
	Peers []Peer `yaml:"peers"`
	// Quorum is how many vantage points (this one included) must agree that
	// a target fails; default: a majority of 1+len(peers).
	Quorum int `yaml:"quorum"`
	// TokenFile holds the token peers send to this instance's
	// GET /api/v1/cluster/view (the operator token is accepted too).
	TokenFile string `yaml:"token_file"`
	// PullInterval is how often each peer's view is pulled; default
	// probes.interval. PullTimeout bounds one pull; default 5s, or half the
	// pull interval when that is shorter.
	PullInterval time.Duration `yaml:"pull_interval"`
	PullTimeout  time.Duration `yaml:"pull_timeout"`
	// Token is the content of TokenFile, read by Load.
	Token promconfig.Secret `yaml:"-"`
}

// Peer is another nymwatch instance.
type Peer struct {
	Name      string            `yaml:"name"`
	URL       string            `yaml:"url" redact:"url"`
	TokenFile string            `yaml:"token_file"`
	Token     promconfig.Secret `yaml:"-"`
	// HTTPConfig configures the client that pulls this peer's view; its
	// credentials may replace TokenFile (never both).
	HTTPConfig promconfig.HTTPClientConfig `yaml:"http_config"`
}

// String and GoString keep the secrets out of fmt's output (%v, %+v, %#v),
// also when the struct is printed as a field of Config.
func (s Storage) String() string { return structString(s) }

// GoString implements fmt.GoStringer, redacting the secret.
func (s Storage) GoString() string { return "config.Storage" + s.String() }

// String and GoString keep the tokens out of fmt's output.
func (a Auth) String() string {
	return fmt.Sprintf("{OperatorTokenFile:%s WebhookTokenFile:%s OperatorToken:%s WebhookToken:%s ViewerTokenFile:%s ViewerToken:%s}",
		a.OperatorTokenFile, a.WebhookTokenFile, redacted(a.OperatorToken), redacted(a.WebhookToken),
		a.ViewerTokenFile, redacted(a.ViewerToken))
}

// GoString implements fmt.GoStringer, redacting the tokens.
func (a Auth) GoString() string { return "config.Auth" + a.String() }

// String and GoString keep the tokens out of fmt's output.
func (c Cluster) String() string {
	return fmt.Sprintf("{Name:%s Peers:%v Quorum:%d TokenFile:%s PullInterval:%s PullTimeout:%s Token:%s}",
		c.Name, c.Peers, c.Quorum, c.TokenFile, c.PullInterval, c.PullTimeout, redacted(c.Token))
}

// GoString implements fmt.GoStringer, redacting the tokens.
func (c Cluster) GoString() string { return "config.Cluster" + c.String() }

// String and GoString keep the token out of fmt's output.
func (p Peer) String() string {
	return fmt.Sprintf("{Name:%s URL:%s TokenFile:%s Token:%s}", p.Name, redactURL(p.URL), p.TokenFile, redacted(p.Token))
}

// GoString implements fmt.GoStringer, redacting the token.
func (p Peer) GoString() string { return "config.Peer" + p.String() }

func redacted(s promconfig.Secret) string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// Default returns the configuration used for every key a file leaves out.
func Default() *Config {
	return &Config{
		Listen: DefaultListen,
		Storage: Storage{
			Driver: DriverSQLite,
			Path:   "/var/lib/nymwatch/nymwatch.db",
		},
		Network: Network{
			NymAPIURL:       "https://validator.nymtech.net/api",
			RefreshInterval: 5 * time.Minute,
		},
		Probes: Probes{
			Interval:          30 * time.Second,
			Timeout:           5 * time.Second,
			Concurrency:       256,
			FailureThreshold:  3,
			RecoveryThreshold: 2,
			IdentityInterval:  5 * time.Minute,
		},
		Classification: Classification{
			GatewayFailureRatio: 0.10,
			MinFailingGateways:  2,
			MixnodeFailureRatio: 0.25,
			CountryFailureRatio: 0.5,
			CountryMinNodes:     3,
			ServiceFailureFor:   0,
			Degradation: Degradation{
				SuccessRatioDrop: 0.2,
				LatencyFactor:    3.0,
				Sustain:          5 * time.Minute,
				BaselineWindow:   time.Hour,
			},
			Vantage: Vantage{
				ControlFailureRatio: 0.5,
				NetworkFailureRatio: 0.8,
			},
			Flapping: Flapping{
				Window:      10 * time.Minute,
				Transitions: 4,
			},
			GroupingWindow:    10 * time.Minute,
			DefaultAlertClass: ClassOperational,
			PromotionLookback: 30 * time.Minute,
		},
		Pagers: Pagers{
			Alertmanager: AlertmanagerPager{
				ResendInterval: time.Minute,
				Timeout:        10 * time.Second,
				Watchdog:       true,
			},
			Escalation:   []time.Duration{15 * time.Minute, time.Hour},
			OutboxMaxAge: 24 * time.Hour,
		},
		Cluster: Cluster{Quorum: 1, PullInterval: 30 * time.Second, PullTimeout: 5 * time.Second},
		Alerts:  Alerts{MaxFiring: DefaultAlertsMaxFiring, MaxGroups: DefaultAlertsMaxGroups},
		Status:  Status{Name: DefaultStatusName},
	}
}

// Load reads, parses and validates the config file at path, and reads the
// token files it names. Relative paths in it resolve against its directory.
// The error, if any, joins one *Error per problem (see Errors).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: pathErr(err).Error(), Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, &Error{File: path, Msg: pathErr(err).Error(), Err: err}
	}
	if len(data) > maxConfigSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", maxConfigSize)}
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	return Parse(data, path, dir)
}

// Parse parses and validates a config. filename is used in error messages
// only. Relative paths in the config resolve against baseDir; if baseDir is
// empty they are kept relative (to the working directory). Token files are
// read, so Parse does file I/O when the config names any.
func Parse(data []byte, filename, baseDir string) (*Config, error) {
	cfg := Default()
	d := newDecoder(filename)
	d.decodeDocument(data, cfg)
	normalize(cfg, d.lines, baseDir)
	if !d.tooMany() {
		v := &validator{errs: &d.collector, lines: d.lines}
		v.validate(cfg)
		if !d.tooMany() {
			loadSecrets(cfg, d)
		}
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks a Config built in code (for example from Default) the way
// Parse checks a file. It reads no files: Secret fields are taken as they are.
// Errors carry keys but no file or line.
func (c *Config) Validate() error {
	d := newDecoder("")
	v := &validator{errs: &d.collector, lines: nil}
	v.validate(c)
	return d.err()
}

// AlertmanagerURLs returns pagers.alertmanager.url followed by
// pagers.alertmanager.urls, without duplicates (compared ignoring the case
// of scheme and host and a trailing slash).
func (c *Config) AlertmanagerURLs() []string {
	am := c.Pagers.Alertmanager
	all := make([]string, 0, 1+len(am.URLs))
	if am.URL != "" {
		all = append(all, am.URL)
	}
	all = append(all, am.URLs...)
	seen := make(map[string]bool, len(all))
	out := make([]string, 0, len(all))
	for _, u := range all {
		k := urlKey(u)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// String returns the configuration as YAML, with every default filled in,
// secrets left out and passwords and query values in URLs redacted (and a
// DSN's password and sslpassword). It is a valid config file. A value
// receiver, so %v of a Config (not only of a *Config) is redacted too.
func (c Config) String() string {
	return string(marshal(&c, true))
}
