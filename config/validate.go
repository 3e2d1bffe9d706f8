package config

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Minimums from the design: short settings are valid so tests and the demo
// can run whole outages in seconds.
const (
	minProbeInterval   = time.Second
	minProbeTimeout    = 100 * time.Millisecond
	minRefreshInterval = 5 * time.Second
	minResendInterval  = time.Second
	maxConcurrency     = 65536
	// defaultPullTimeout bounds one pull of a peer's view unless
	// cluster.pull_timeout says otherwise (or half the pull interval is
	// shorter).
	defaultPullTimeout = 5 * time.Second
)

// nameRe is what service, cluster and peer names may look like: they end up
// in component ids ("service/<name>"), URLs and metric labels.
var (
	nameRe        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	dsnPasswordRe = regexp.MustCompile(`(?i)(^|\s)password\s*=`)
)

// normalize completes a decoded config: relative paths, the default quorum,
// compiled rules. lines says which keys the file set.
func normalize(c *Config, lines map[string]int, baseDir string) {
	abs := func(p *string) {
		if *p != "" && baseDir != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(baseDir, *p)
		}
	}
	abs(&c.Storage.Path)
	abs(&c.Storage.PasswordFile)
	abs(&c.Auth.OperatorTokenFile)
	abs(&c.Auth.WebhookTokenFile)
	for i := range c.Cluster.Peers {
		abs(&c.Cluster.Peers[i].TokenFile)
	}
	abs(&c.Cluster.TokenFile)
	abs(&c.Auth.ViewerTokenFile)
	// Relative paths in http_config blocks are relative to the config
	// file, as in Prometheus.
	if baseDir != "" {
		c.Network.HTTPConfig.SetDirectory(baseDir)
		c.Pagers.Alertmanager.HTTPConfig.SetDirectory(baseDir)
		c.Pagers.Webhook.HTTPConfig.SetDirectory(baseDir)
		for i := range c.Services {
			c.Services[i].HTTPConfig.SetDirectory(baseDir)
		}
		for i := range c.Cluster.Peers {
			c.Cluster.Peers[i].HTTPConfig.SetDirectory(baseDir)
		}
	}
	if _, set := lines["cluster.quorum"]; !set {
		c.Cluster.Quorum = (1+len(c.Cluster.Peers))/2 + 1
	}
	if _, set := lines["cluster.pull_interval"]; !set {
		c.Cluster.PullInterval = c.Probes.Interval
	}
	if _, set := lines["cluster.pull_timeout"]; !set {
		c.Cluster.PullTimeout = min(defaultPullTimeout, c.Cluster.PullInterval/2)
	}
	for i := range c.Classification.Rules {
		r := &c.Classification.Rules[i]
		if ms, err := r.ParseMatchers(); err == nil {
			r.compiled = ms
		}
	}
}

type validator struct {
	errs  *collector
	lines map[string]int
}

// lineOf returns the line of key, or of its nearest ancestor in the file:
// a missing services[0].url is reported on the line of services[0].
func (v *validator) lineOf(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := v.lines[k]; ok {
			return l
		}
	}
	return 0
}

func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

// isBad reports whether key or an ancestor failed to decode: its value is a
// leftover default, and a second problem about it would only confuse.
func (v *validator) isBad(key string) bool {
	for k := key; k != ""; k = parentKey(k) {
		if v.errs.bad[k] {
			return true
		}
	}
	return false
}

// fail reports a problem with key, unless key or one of also is bad. The
// line is key's, or if the file does not set key, that of the first key of
// also that it sets (the one that makes key a problem), or key's parent's.
func (v *validator) fail(key string, also []string, format string, args ...any) {
	if v.isBad(key) {
		return
	}
	for _, a := range also {
		if v.isBad(a) {
			return
		}
	}
	line := v.lineOf(key)
	if _, set := v.lines[key]; !set {
		for _, a := range also {
			if l, ok := v.lines[a]; ok {
				line = l
				break
			}
		}
	}
	v.errs.add(line, key, format, args...)
}

func (v *validator) failf(key, format string, args ...any) { v.fail(key, nil, format, args...) }

func (v *validator) validate(c *Config) {
	v.listen("listen", c.Listen)
	v.storage(&c.Storage)
	v.network(&c.Network)
	v.probes(&c.Probes)
	v.services(c.Services)
	v.controlTargets(c.ControlTargets)
	v.classification(&c.Classification)
	v.pagers(&c.Pagers)
	if c.Web.ExternalURL != "" {
		v.httpURL("web.external_url", c.Web.ExternalURL)
		if u, err := url.Parse(c.Web.ExternalURL); err == nil && (u.RawQuery != "" || u.Fragment != "") {
			v.failf("web.external_url", "must not have a query or fragment")
		}
	}
	v.cluster(&c.Cluster)
	v.alerts(c)
	v.web(&c.Web)
	v.httpConfigs(c)
	v.status(c)
	v.disclosure(&c.Disclosure)
}

// httpConfigs checks every http_config block.
func (v *validator) httpConfigs(c *Config) {
	v.httpConfig("network.http_config", &c.Network.HTTPConfig)
	v.httpConfig("pagers.alertmanager.http_config", &c.Pagers.Alertmanager.HTTPConfig)
	v.httpConfig("pagers.webhook.http_config", &c.Pagers.Webhook.HTTPConfig)
	for i := range c.Services {
		v.httpConfig(fmt.Sprintf("services[%d].http_config", i), &c.Services[i].HTTPConfig)
	}
	for i := range c.Cluster.Peers {
		v.httpConfig(fmt.Sprintf("cluster.peers[%d].http_config", i), &c.Cluster.Peers[i].HTTPConfig)
	}
}

func (v *validator) listen(key, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.failf(key, "%q is not host:port (e.g. %s)", addr, DefaultListen)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.failf(key, "%q: port %q is not a number from 0 to 65535", addr, port)
		return
	}
	if strings.ContainsAny(host, " /\t") {
		v.failf(key, "%q: %q is not a host name or IP address", addr, host)
	}
}

func (v *validator) storage(s *Storage) {
	switch s.Driver {
	case DriverSQLite:
		if s.Path == "" {
			v.failf("storage.path", "is required with driver sqlite")
		}
		if s.DSN != "" {
			v.failf("storage.dsn", "only used with driver postgres (storage.driver is sqlite)")
		}
		if s.PasswordFile != "" {
			v.failf("storage.password_file", "only used with driver postgres (storage.driver is sqlite)")
		}
	case DriverPostgres:
		if s.DSN == "" {
			v.fail("storage.dsn", []string{"storage.driver"}, "is required with driver postgres")
		} else if msg := checkDSN(s.DSN); msg != "" {
			v.failf("storage.dsn", "%s", msg)
		}
	default:
		v.failf("storage.driver", "unknown driver %q (want sqlite or postgres)", s.Driver)
	}
}

// checkDSN accepts a postgres:// URL or libpq key=value pairs, without a
// password: it belongs in storage.password_file, not in a file that is
// printed and copied around.
func checkDSN(dsn string) string {
	const pw = "must not contain a password; put it in storage.password_file"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return fmt.Sprintf("is not a valid postgres URL: %v", urlErr(err))
		}
		if _, has := u.User.Password(); has || u.Query().Has("password") {
			return pw
		}
		return ""
	}
	if strings.Contains(dsn, "://") {
		return "unsupported URL scheme (want postgres:// or postgresql://, or key=value pairs)"
	}
	if !strings.Contains(dsn, "=") {
		return "is neither a postgres:// URL nor key=value pairs (e.g. host=/run/postgresql dbname=nymwatch)"
	}
	if dsnPasswordRe.MatchString(dsn) {
		return pw
	}
	return ""
}

// urlErr drops url.Error's repetition of the URL, which may hold a secret.
func urlErr(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

func (v *validator) network(n *Network) {
	v.httpURL("network.nym_api_url", n.NymAPIURL)
	v.minDuration("network.refresh_interval", n.RefreshInterval, minRefreshInterval)
	for i, s := range n.StagingNodes {
		if !validNodeRef(s) {
			v.failf(fmt.Sprintf("network.staging_nodes[%d]", i), "%q is neither a node id nor a base58 identity key", s)
		}
	}
}

func (v *validator) probes(p *Probes) {
	v.minDuration("probes.interval", p.Interval, minProbeInterval)
	if v.minDuration("probes.timeout", p.Timeout, minProbeTimeout) && p.Timeout >= p.Interval && p.Interval >= minProbeInterval {
		key := "probes.timeout"
		if _, set := v.lines[key]; !set && v.lines != nil {
			key = "probes.interval" // the default timeout is only too long for the interval set
		}
		v.fail(key, []string{"probes.timeout", "probes.interval"},
			"probes.timeout (%s) must be less than probes.interval (%s)", formatDuration(p.Timeout), formatDuration(p.Interval))
	}
	if p.Concurrency <= 0 || p.Concurrency > maxConcurrency {
		v.failf("probes.concurrency", "must be from 1 to %d, got %d", maxConcurrency, p.Concurrency)
	}
	v.minInt("probes.failure_threshold", p.FailureThreshold, 1)
	v.minInt("probes.recovery_threshold", p.RecoveryThreshold, 1)
	if p.SourceAddress != "" {
		if _, err := netip.ParseAddr(p.SourceAddress); err != nil {
			v.failf("probes.source_address", "%q is not an IP address", p.SourceAddress)
		}
	}
	if v.minDuration("probes.identity_interval", p.IdentityInterval, minProbeInterval) &&
		p.Interval >= minProbeInterval && p.IdentityInterval < p.Interval {
		key := "probes.identity_interval"
		if _, set := v.lines[key]; !set && v.lines != nil {
			key = "probes.interval" // the default is only too short for the interval set
		}
		v.fail(key, []string{"probes.identity_interval", "probes.interval"},
			"probes.identity_interval (%s) must be at least probes.interval (%s)", formatDuration(p.IdentityInterval), formatDuration(p.Interval))
	}
}

func (v *validator) services(ss []Service) {
	first := map[string]int{}
	for i, s := range ss {
		key := fmt.Sprintf("services[%d]", i)
		switch {
		case s.Name == "":
			v.failf(key+".name", "is required")
		case !nameRe.MatchString(s.Name):
			v.failf(key+".name", "%q is not a valid name (letters, digits, '.', '_', '-'; at most 64)", s.Name)
		default:
			if j, dup := first[s.Name]; dup {
				v.failf(key+".name", "duplicate service name %q (first %s)", s.Name, v.where(fmt.Sprintf("services[%d].name", j)))
			} else {
				first[s.Name] = i
			}
		}
		if s.URL == "" {
			v.failf(key+".url", "is required")
		} else {
			v.httpURL(key+".url", s.URL)
		}
		switch s.Kind {
		case ServiceKindNymAPI, ServiceKindNymVPNAPI, ServiceKindHTTP:
		default:
			v.failf(key+".kind", "unknown kind %q (want nym-api, nymvpn-api or http)", s.Kind)
		}
		v.positiveDuration(key+".latency_threshold", s.LatencyThreshold)
		for j, pin := range s.TLSPinSHA256 {
			if !validPin(pin) {
				v.failf(fmt.Sprintf("%s.tls_pin_sha256[%d]", key, j),
					"%q is not a base64 SHA-256 public key hash (44 characters, as curl --pinnedpubkey sha256//...)", clipValue(pin))
			}
		}
		if len(s.TLSPinSHA256) > 0 && !strings.HasPrefix(strings.ToLower(s.URL), "https://") {
			v.failf(key+".tls_pin_sha256", "pins need an https url")
		}
	}
}

// validPin accepts a standard base64 SHA-256 hash (32 bytes), without the
// "sha256//" prefix curl uses.
func validPin(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// clipValue keeps an invalid value short in an error message.
func clipValue(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// where says where key is: "on line N", or "at key" without lines.
func (v *validator) where(key string) string {
	if l := v.lineOf(key); l > 0 {
		return fmt.Sprintf("on line %d", l)
	}
	return "at " + key
}

func (v *validator) controlTargets(ts []string) {
	first := map[string]int{}
	for i, t := range ts {
		key := fmt.Sprintf("control_targets[%d]", i)
		if t == "" {
			v.failf(key, "is empty")
			continue
		}
		if msg := checkURL(t, true); msg != "" {
			v.failf(key, "%s", msg)
			continue
		}
		if j, dup := first[t]; dup {
			v.failf(key, "duplicate control target (first %s)", v.where(fmt.Sprintf("control_targets[%d]", j)))
			continue
		}
		first[t] = i
	}
}

func (v *validator) classification(c *Classification) {
	const k = "classification."
	v.ratio(k+"gateway_failure_ratio", c.GatewayFailureRatio)
	v.minInt(k+"min_failing_gateways", c.MinFailingGateways, 1)
	v.ratio(k+"mixnode_failure_ratio", c.MixnodeFailureRatio)
	v.ratio(k+"country_failure_ratio", c.CountryFailureRatio)
	v.minInt(k+"country_min_nodes", c.CountryMinNodes, 1)
	v.nonNegativeDuration(k+"service_failure_for", c.ServiceFailureFor)
	v.ratio(k+"degradation.success_ratio_drop", c.Degradation.SuccessRatioDrop)
	if !(c.Degradation.LatencyFactor > 1) {
		v.failf(k+"degradation.latency_factor", "must be greater than 1, got %s", formatFloat(c.Degradation.LatencyFactor))
	}
	v.nonNegativeDuration(k+"degradation.sustain", c.Degradation.Sustain)
	if v.positiveDuration(k+"degradation.baseline_window", c.Degradation.BaselineWindow) &&
		c.Degradation.Sustain >= 0 && c.Degradation.BaselineWindow <= c.Degradation.Sustain {
		v.fail(k+"degradation.baseline_window", []string{k + "degradation.sustain"},
			"classification.degradation.baseline_window (%s) must be longer than classification.degradation.sustain (%s)",
			formatDuration(c.Degradation.BaselineWindow), formatDuration(c.Degradation.Sustain))
	}
	v.ratio(k+"vantage.control_failure_ratio", c.Vantage.ControlFailureRatio)
	v.ratio(k+"vantage.network_failure_ratio", c.Vantage.NetworkFailureRatio)
	v.positiveDuration(k+"flapping.window", c.Flapping.Window)
	v.minInt(k+"flapping.transitions", c.Flapping.Transitions, 2)
	v.nonNegativeDuration(k+"grouping_window", c.GroupingWindow)
	v.positiveDuration(k+"promotion_lookback", c.PromotionLookback)
	if !validClass(c.DefaultAlertClass) {
		v.failf(k+"default_alert_class", "invalid class %q (want security, operational or internal)", c.DefaultAlertClass)
	}
	for i, r := range c.Rules {
		key := fmt.Sprintf("%srules[%d]", k, i)
		if len(r.Matchers) == 0 {
			v.failf(key+".matchers", "a rule needs at least one matcher")
		}
		for _, label := range sortedKeys(r.Matchers) {
			if _, err := ParseMatcher(label, r.Matchers[label]); err != nil {
				v.failf(key+".matchers."+label, "%v", err)
			}
		}
		if r.Class == "" {
			v.failf(key+".class", "is required")
		} else if !validClass(r.Class) {
			v.failf(key+".class", "invalid class %q (want security, operational or internal)", r.Class)
		}
	}
}

func (v *validator) pagers(p *Pagers) {
	am := p.Alertmanager
	if am.URL != "" {
		v.httpURL("pagers.alertmanager.url", am.URL)
	}
	for i, u := range am.URLs {
		key := fmt.Sprintf("pagers.alertmanager.urls[%d]", i)
		if u == "" {
			v.failf(key, "is empty")
			continue
		}
		v.httpURL(key, u)
	}
	v.minDuration("pagers.alertmanager.resend_interval", am.ResendInterval, minResendInterval)
	v.positiveDuration("pagers.alertmanager.timeout", am.Timeout)
	if p.Webhook.URL != "" {
		v.httpURL("pagers.webhook.url", p.Webhook.URL)
	}
	for i, d := range p.Escalation {
		key := fmt.Sprintf("pagers.escalation[%d]", i)
		if !v.positiveDuration(key, d) {
			continue
		}
		if i > 0 && d <= p.Escalation[i-1] && p.Escalation[i-1] > 0 {
			v.fail(key, []string{fmt.Sprintf("pagers.escalation[%d]", i-1)},
				"must be longer than the step before it (%s), got %s", formatDuration(p.Escalation[i-1]), formatDuration(d))
		}
	}
	v.positiveDuration("pagers.outbox_max_age", p.OutboxMaxAge)
}

func (v *validator) cluster(c *Cluster) {
	if len(c.Peers) > 0 && c.Name == "" {
		v.fail("cluster.name", []string{"cluster.peers"}, "is required when cluster.peers is set")
	} else if c.Name != "" && !nameRe.MatchString(c.Name) {
		v.failf("cluster.name", "%q is not a valid name (letters, digits, '.', '_', '-'; at most 64)", c.Name)
	}
	first := map[string]int{}
	for i, p := range c.Peers {
		key := fmt.Sprintf("cluster.peers[%d]", i)
		switch {
		case p.Name == "":
			v.failf(key+".name", "is required")
		case !nameRe.MatchString(p.Name):
			v.failf(key+".name", "%q is not a valid name (letters, digits, '.', '_', '-'; at most 64)", p.Name)
		case p.Name == c.Name:
			v.failf(key+".name", "%q is this instance's own cluster.name", p.Name)
		default:
			if j, dup := first[p.Name]; dup {
				v.failf(key+".name", "duplicate peer name %q (first %s)", p.Name, v.where(fmt.Sprintf("cluster.peers[%d].name", j)))
			} else {
				first[p.Name] = i
			}
		}
		if p.URL == "" {
			v.failf(key+".url", "is required")
		} else {
			v.httpURL(key+".url", p.URL)
		}
		switch auth := HTTPConfigAuth(&p.HTTPConfig); {
		case p.TokenFile == "" && !auth:
			v.failf(key+".token_file", "is required: peers authenticate each other")
		case p.TokenFile != "" && auth:
			v.fail(key+".http_config", []string{key + ".token_file"},
				"sets credentials and so does %s.token_file: use one of them", key)
		}
	}
	if n := 1 + len(c.Peers); c.Quorum < 1 || c.Quorum > n {
		v.failf("cluster.quorum", "must be from 1 to %d (this instance and %d peers), got %d", n, len(c.Peers), c.Quorum)
	}
	// Unset, both follow probes.interval, which is checked on its own.
	_, intervalSet := v.lines["cluster.pull_interval"]
	_, timeoutSet := v.lines["cluster.pull_timeout"]
	if !intervalSet && !timeoutSet && v.lines != nil {
		return
	}
	if v.minDuration("cluster.pull_interval", c.PullInterval, minProbeInterval) &&
		v.positiveDuration("cluster.pull_timeout", c.PullTimeout) && c.PullTimeout >= c.PullInterval {
		v.fail("cluster.pull_timeout", []string{"cluster.pull_interval"},
			"cluster.pull_timeout (%s) must be less than cluster.pull_interval (%s)", formatDuration(c.PullTimeout), formatDuration(c.PullInterval))
	}
}

func (v *validator) httpURL(key, raw string) {
	if msg := checkURL(raw, false); msg != "" {
		v.failf(key, "%s", msg)
	}
}

// checkURL returns what is wrong with raw as a probe or API URL, or "".
// tcpOK allows tcp://host:port (control targets).
func checkURL(raw string, tcpOK bool) string {
	shown := redactURL(raw)
	want := "http:// or https://"
	if tcpOK {
		want = "http://, https:// or tcp://host:port"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%q is not a valid URL: %v", shown, urlErr(err))
	}
	if u.Scheme == "" || u.Opaque != "" || (u.Host == "" && !strings.HasPrefix(strings.ToLower(raw), u.Scheme+"://")) {
		return fmt.Sprintf("%q is not an absolute URL (want %s)", shown, want)
	}
	switch u.Scheme {
	case "http", "https":
	case "tcp":
		if !tcpOK {
			return fmt.Sprintf("%q: unsupported scheme %q (want http or https)", shown, u.Scheme)
		}
		if u.Port() == "" || u.Hostname() == "" {
			return fmt.Sprintf("%q: a tcp target needs host:port", shown)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Sprintf("%q: a tcp target is only tcp://host:port", shown)
		}
	default:
		if tcpOK {
			return fmt.Sprintf("%q: unsupported scheme %q (want http, https or tcp)", shown, u.Scheme)
		}
		return fmt.Sprintf("%q: unsupported scheme %q (want http or https)", shown, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Sprintf("%q has no host", shown)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Sprintf("%q: port %q is not a number from 1 to 65535", shown, p)
		}
	}
	return ""
}

// urlKey normalizes a URL for de-duplication.
func urlKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

// redactURL hides a URL's password and query values, where secrets hide.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			return "xxxxx" + raw[i:]
		}
		return raw
	}
	_, hasPW := u.User.Password()
	if !hasPW && u.RawQuery == "" {
		return raw
	}
	if hasPW {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			for i := range q[k] {
				q[k][i] = "xxxxx"
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func (v *validator) ratio(key string, r float64) {
	if !(r > 0 && r <= 1) {
		v.failf(key, "must be in (0, 1], got %s", formatFloat(r))
	}
}

func (v *validator) minInt(key string, n, lo int) {
	if n < lo {
		v.failf(key, "must be at least %d, got %d", lo, n)
	}
}

func (v *validator) minDuration(key string, d, lo time.Duration) bool {
	if d < lo {
		v.failf(key, "must be at least %s, got %s", formatDuration(lo), formatDuration(d))
		return false
	}
	return true
}

func (v *validator) positiveDuration(key string, d time.Duration) bool {
	if d <= 0 {
		v.failf(key, "must be greater than 0, got %s", formatDuration(d))
		return false
	}
	return true
}

func (v *validator) nonNegativeDuration(key string, d time.Duration) {
	if d < 0 {
		v.failf(key, "must not be negative, got %s", formatDuration(d))
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// validNodeRef accepts a node id (a decimal uint32) or an ed25519 identity
// key in base58 (32 bytes), the two ways nym-api names a node.
func validNodeRef(s string) bool {
	if _, err := strconv.ParseUint(s, 10, 32); err == nil {
		return true
	}
	return isBase58Key(s)
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func isBase58Key(s string) bool {
	if len(s) < 32 || len(s) > 44 {
		return false
	}
	n := new(big.Int)
	b58 := big.NewInt(58)
	zeros := 0
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base58Alphabet, s[i])
		if d < 0 {
			return false
		}
		if d == 0 && n.Sign() == 0 {
			zeros++
		}
		n.Mul(n, b58)
		n.Add(n, big.NewInt(int64(d)))
	}
	return zeros+len(n.Bytes()) == 32
}
