package nymapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"

	"github.com/nymwatch/nymwatch/internal/backoff"
	"github.com/nymwatch/nymwatch/probes"
)

// Defaults of the nym-api directory client and of nym-node ports (nym-api
// reference §1.2, §2.2).
const (
	DefaultDirectoryTimeout      = 60 * time.Second
	DefaultDirectoryRetryMax     = 3
	DefaultDirectoryRetryWaitMin = 1 * time.Second
	DefaultDirectoryRetryWaitMax = 15 * time.Second
	// DefaultDirectoryMaxBytes bounds one nym-api body; mainnet's described
	// list is a few MiB for ~750 nodes.
	DefaultDirectoryMaxBytes = 64 << 20
)

// nym-api paths read by the directory client.
const (
	PathDescribedV2 = "/v2/nym-nodes/described"
	PathDescribedV1 = "/v1/nym-nodes/described" // deprecated; used when v2 is 404/501
	PathBonded      = "/v1/nym-nodes/bonded"
	PathSkimmed     = "/v2/unstable/nym-nodes/skimmed"
	PathRewardedSet = "/v1/nym-nodes/rewarded-set"
)

// ErrEmptyDirectory is returned when nym-api answers with no usable node:
// replacing a good directory by an empty one would silently stop all probes.
var ErrEmptyDirectory = errors.New("nym-api directory has no usable nodes")

// RoleSource says where a Directory's node roles came from.
type RoleSource string

const (
	RoleSourceSkimmed     RoleSource = "skimmed"      // /v2/unstable/nym-nodes/skimmed
	RoleSourceRewardedSet RoleSource = "rewarded-set" // /v1/nym-nodes/rewarded-set
	// RoleSourceDeclared means neither role source answered: roles were
	// derived from what nodes declare they can do, not from the epoch's
	// rewarded set, so every capable node counts as active.
	RoleSourceDeclared RoleSource = "declared"
)

// Directory is one snapshot of the network's nodes.
type Directory struct {
	Nodes     []probes.Node `json:"nodes"` // sorted by NodeID; treat as read-only
	FetchedAt time.Time     `json:"fetched_at"`
	// Source is the described endpoint the nodes came from.
	Source     string     `json:"source"`
	RoleSource RoleSource `json:"role_source"`
	EpochID    uint32     `json:"epoch_id,omitempty"` // absolute epoch id, if known
	// Bonded maps node_id to identity for every bond in the contract, from
	// /v1/nym-nodes/bonded; nil if that endpoint was unavailable.
	Bonded map[uint32]string `json:"bonded,omitempty"`
	// Unavailable lists the optional endpoints that failed, with why.
	Unavailable []string `json:"unavailable,omitempty"`
	// Skipped counts described entries dropped as unusable (no identity,
	// no valid address, duplicate id).
	Skipped int `json:"skipped,omitempty"`

	// roles is the rewarded set of this fetch (nil if unknown), used to
	// give nodes carried over from an earlier directory their current role.
	roles map[uint32]NodeRole
}

// IsZero reports whether d holds no directory at all.
func (d Directory) IsZero() bool { return len(d.Nodes) == 0 && d.FetchedAt.IsZero() }

// Counts returns the number of nodes per role (every role present, maybe 0).
func (d Directory) Counts() map[probes.Role]int {
	m := map[probes.Role]int{probes.RoleEntryGateway: 0, probes.RoleExitGateway: 0, probes.RoleMixnode: 0, probes.RoleStandby: 0, probes.RoleInactive: 0}
	for i := range d.Nodes {
		m[d.Nodes[i].Role]++
	}
	return m
}

// NymAPIStatusError is a non-200 answer from nym-api. nym-api's error bodies
// are plain text (e.g. 503 "relevant cache hasn't been initialised yet").
type NymAPIStatusError struct {
	URL        string
	StatusCode int
	Message    string // the start of the body, sanitised
	Attempts   int    // >1 when the status was retried
}

func (e *NymAPIStatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s: HTTP %d", e.URL, e.StatusCode)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// DirectoryClientOptions configures a DirectoryClient. Zero values take the
// defaults above.
type DirectoryClientOptions struct {
	// BaseURL is nym-api's base (network.nym_api_url), e.g.
	// https://validator.nymtech.net/api; paths are appended to it.
	BaseURL string
	// Timeout bounds one whole Fetch, retries included.
	Timeout time.Duration
	// HTTPClient is used if set; it should be dedicated to the directory,
	// since retryablehttp closes its idle connections after a failed call.
	HTTPClient *http.Client
	Logger     *slog.Logger // retry chatter goes here at debug level; nil = silent
	UserAgent  string       // default "nymwatch"
	// RetryMax is the number of retries after the first attempt (default 3;
	// negative means none). Waits are exponential within
	// [RetryWaitMin, RetryWaitMax], and a Retry-After is capped at RetryWaitMax.
	RetryMax     int
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	MaxBodyBytes int64
	Now          func() time.Time // for FetchedAt; default time.Now
}

// DirectoryClient fetches the node directory from nym-api: the described
// nodes (v2, falling back to v1), roles from the skimmed view (or the
// rewarded set), and custom HTTP ports from the bonds. Directory fetches are
// retried (unlike probes): a cold nym-api cache answers 503 for a while
// after a restart.
type DirectoryClient struct {
	base      string
	timeout   time.Duration
	maxBytes  int64
	userAgent string
	now       func() time.Time
	logger    *slog.Logger
	rc        *retryablehttp.Client
}

// NewDirectoryClient validates opts and returns a client.
func NewDirectoryClient(opts DirectoryClientOptions) (*DirectoryClient, error) {
	base, err := dirParseBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &DirectoryClient{
		base:      base,
		timeout:   opts.Timeout,
		maxBytes:  opts.MaxBodyBytes,
		userAgent: opts.UserAgent,
		now:       opts.Now,
		logger:    opts.Logger,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultDirectoryTimeout
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultDirectoryMaxBytes
	}
	if c.userAgent == "" {
		c.userAgent = "nymwatch"
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 4
		// No client-wide Timeout: Fetch's context deadline bounds everything.
		hc = &http.Client{Transport: t}
	}
	// Never follow a redirect: nym-api's answer is hostile input like any
	// other, and a redirect could point the fetch at internal services.
	// (A copy: the caller's client is not changed.)
	nc := *hc
	nc.CheckRedirect = probes.NoRedirects
	hc = &nc
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		RetryMax:     opts.RetryMax,
		RetryWaitMin: opts.RetryWaitMin,
		RetryWaitMax: opts.RetryWaitMax,
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      backoff.Retryable,
		ErrorHandler: dirErrorHandler,
	}
	switch {
	case rc.RetryMax == 0:
		rc.RetryMax = DefaultDirectoryRetryMax
	case rc.RetryMax < 0:
		rc.RetryMax = 0
	}
	if rc.RetryWaitMin <= 0 {
		rc.RetryWaitMin = DefaultDirectoryRetryWaitMin
	}
	if rc.RetryWaitMax <= 0 {
		rc.RetryWaitMax = DefaultDirectoryRetryWaitMax
	}
	if rc.RetryWaitMax < rc.RetryWaitMin {
		rc.RetryWaitMax = rc.RetryWaitMin
	}
	// The default logger prints every request to stderr; use ours at debug
	// level, or an untyped nil (a typed nil would make it panic).
	if opts.Logger != nil {
		rc.Logger = dirRetryLogger{opts.Logger}
	} else {
		rc.Logger = nil
	}
	c.rc = rc
	return c, nil
}

// BaseURL returns the normalised nym-api base URL.
func (c *DirectoryClient) BaseURL() string { return c.base }

func dirParseBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("nym-api base URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("nym-api base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("nym-api base URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("nym-api base URL %q: no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("nym-api base URL %q: must not have a query or fragment", raw)
	}
	if u.User != nil {
		return "", errors.New("nym-api base URL: must not embed credentials")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// dirRetriesExhausted carries the attempt count out of retryablehttp.
type dirRetriesExhausted struct {
	attempts int
	err      error
}

func (e *dirRetriesExhausted) Error() string {
	return fmt.Sprintf("giving up after %d attempts: %v", e.attempts, e.err)
}
func (e *dirRetriesExhausted) Unwrap() error { return e.err }

// dirErrorHandler keeps the last response (so its status and plain-text
// message reach the error) and records how many attempts were made.
func dirErrorHandler(resp *http.Response, err error, tries int) (*http.Response, error) {
	return resp, &dirRetriesExhausted{attempts: tries, err: err}
}

// dirRetryLogger adapts slog to retryablehttp.LeveledLogger. Every retry
// message is debug level: a failed attempt is not yet a failure.
type dirRetryLogger struct{ l *slog.Logger }

func dirLogArgs(kv []any) []any {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "error" {
			kv[i] = "err"
		}
	}
	return kv
}

func (a dirRetryLogger) Error(msg string, kv ...any) {
	a.l.Debug("nym-api directory: "+msg, dirLogArgs(kv)...)
}
func (a dirRetryLogger) Info(msg string, kv ...any) {
	a.l.Debug("nym-api directory: "+msg, dirLogArgs(kv)...)
}
func (a dirRetryLogger) Debug(msg string, kv ...any) {
	a.l.Debug("nym-api directory: "+msg, dirLogArgs(kv)...)
}
func (a dirRetryLogger) Warn(msg string, kv ...any) {
	a.l.Debug("nym-api directory: "+msg, dirLogArgs(kv)...)
}

// get fetches base+path and returns the body of a 200 answer.
func (c *DirectoryClient) get(ctx context.Context, path string) ([]byte, error) {
	u := c.base + path
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.rc.Do(req)
	attempts := 1
	if ex, ok := errors.AsType[*dirRetriesExhausted](err); ok {
		attempts = ex.attempts
	}
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		// retryablehttp's own wrapping already names the URL.
		return nil, fmt.Errorf("GET %s: %w", u, dirUnwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		base, _ := url.Parse(u)
		return nil, &NymAPIStatusError{
			URL:        u,
			StatusCode: resp.StatusCode,
			Message:    "redirect to " + probes.RedirectTarget(base, resp.Header.Get("Location")) + " not followed",
			Attempts:   attempts,
		}
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &NymAPIStatusError{
			URL:        u,
			StatusCode: resp.StatusCode,
			Message:    strings.TrimSpace(nymSnippet(msg, 200)),
			Attempts:   attempts,
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	if int64(len(body)) > c.maxBytes {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", u, c.maxBytes)
	}
	return body, nil
}

// dirUnwrapURLError drops net/http's `Get "<url>":` prefix (we add our own)
// while keeping the error chain for errors.Is.
func dirUnwrapURLError(err error) error {
	if ex, ok := errors.AsType[*dirRetriesExhausted](err); ok {
		if ue, ok := errors.AsType[*url.Error](ex.err); ok {
			return &dirRetriesExhausted{attempts: ex.attempts, err: ue.Err}
		}
		return err
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// Fetch reads the directory from nym-api. The described list is required;
// roles (skimmed, else rewarded set, else declared) and bonds are best
// effort, and what was unavailable is listed in Directory.Unavailable.
func (c *DirectoryClient) Fetch(ctx context.Context) (Directory, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// The optional fetches are pointless once the described one failed.
	optCtx, cancelOpt := context.WithCancel(ctx)
	defer cancelOpt()

	var (
		wg        sync.WaitGroup
		described []NymNodeDescription
		source    string
		descErr   error
		skimmed   NymSkimmed
		skimErr   error
		rewarded  NymRewardedSet
		rewErr    error
		bonded    []NymBondedNode
		bondErr   error
	)
	wg.Go(func() {
		described, source, descErr = c.fetchDescribed(ctx)
		if descErr != nil {
			cancelOpt()
		}
	})
	wg.Go(func() {
		var body []byte
		if body, skimErr = c.get(optCtx, PathSkimmed); skimErr == nil {
			skimmed, skimErr = DecodeSkimmed(body)
		}
	})
	wg.Go(func() {
		var body []byte
		if body, rewErr = c.get(optCtx, PathRewardedSet); rewErr == nil {
			rewarded, rewErr = DecodeRewardedSet(body)
		}
	})
	wg.Go(func() {
		var body []byte
		if body, bondErr = c.get(optCtx, PathBonded); bondErr == nil {
			bonded, bondErr = DecodeBonded(body)
		}
	})
	wg.Wait()
	if descErr != nil {
		return Directory{}, descErr
	}

	in := dirInputs{described: described}
	var unavailable []string
	switch {
	case skimErr != nil:
		unavailable = append(unavailable, "skimmed: "+skimErr.Error())
	case len(skimmed.Nodes) == 0:
		unavailable = append(unavailable, fmt.Sprintf("skimmed: no nodes (status %q)", skimmed.Status))
	default:
		in.skimmed = &skimmed
	}
	if rewErr != nil {
		unavailable = append(unavailable, "rewarded-set: "+rewErr.Error())
	} else {
		in.rewarded = &rewarded
	}
	if bondErr != nil {
		unavailable = append(unavailable, "bonded: "+bondErr.Error())
	} else {
		in.bonded = bonded
		in.bondedKnown = true
	}

	d := buildDirectory(in)
	if len(d.Nodes) == 0 {
		return Directory{}, fmt.Errorf("%s: %d entries, %d unusable: %w", source, len(described), d.Skipped, ErrEmptyDirectory)
	}
	d.FetchedAt = c.now().UTC()
	d.Source = source
	d.Unavailable = unavailable
	if d.RoleSource == RoleSourceDeclared {
		c.logger.Warn("nym-api role sources unavailable; roles derived from declared capabilities", "unavailable", strings.Join(unavailable, "; "))
	}
	return d, nil
}

// fetchDescribed gets /v2/nym-nodes/described, or v1 if this nym-api does
// not have v2 yet (404, or 501 for a route stub).
func (c *DirectoryClient) fetchDescribed(ctx context.Context) ([]NymNodeDescription, string, error) {
	path := PathDescribedV2
	body, err := c.get(ctx, path)
	if se, ok := errors.AsType[*NymAPIStatusError](err); ok &&
		(se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusNotImplemented) {
		c.logger.Debug("nym-api has no v2 described endpoint, using v1", "status", se.StatusCode)
		path = PathDescribedV1
		body, err = c.get(ctx, path)
	}
	src := c.base + path
	if err != nil {
		return nil, src, err
	}
	items, err := DecodeDescribed(body)
	if err != nil {
		return nil, src, fmt.Errorf("%s: %w", src, err)
	}
	if len(items) == 0 {
		return nil, src, fmt.Errorf("%s: empty list: %w", src, ErrEmptyDirectory)
	}
	return items, src, nil
}

// dirInputs are the decoded nym-api answers one directory is built from.
type dirInputs struct {
	described   []NymNodeDescription
	skimmed     *NymSkimmed     // nil if unavailable
	rewarded    *NymRewardedSet // nil if unavailable
	bonded      []NymBondedNode
	bondedKnown bool
}

// buildDirectory turns nym-api answers into validated Nodes, sorted by id.
func buildDirectory(in dirInputs) Directory {
	var d Directory
	bonds := make(map[uint32]NymBondedNode, len(in.bonded))
	if in.bondedKnown {
		d.Bonded = make(map[uint32]string, len(in.bonded))
		for _, b := range in.bonded {
			bonds[b.NodeID] = b
			d.Bonded[b.NodeID] = b.IdentityKey
		}
	}
	var skim map[uint32]NymSkimmedNode
	if in.skimmed != nil {
		skim = make(map[uint32]NymSkimmedNode, len(in.skimmed.Nodes))
		for _, n := range in.skimmed.Nodes {
			skim[n.NodeID] = n
		}
		d.RoleSource = RoleSourceSkimmed
		d.EpochID = in.skimmed.AbsoluteEpochID
	}
	if in.rewarded != nil {
		d.roles = in.rewarded.Roles()
		if d.RoleSource == "" {
			d.RoleSource = RoleSourceRewardedSet
		}
		if d.EpochID == 0 {
			d.EpochID = in.rewarded.EpochID
		}
	}
	if d.RoleSource == "" {
		d.RoleSource = RoleSourceDeclared
	}

	seen := make(map[uint32]bool, len(in.described))
	d.Nodes = make([]probes.Node, 0, len(in.described))
	for _, it := range in.described {
		if seen[it.NodeID] {
			d.Skipped++
			continue
		}
		bond, hasBond := bonds[it.NodeID]
		n, ok := dirNodeFromDescription(it, bond, hasBond)
		if !ok {
			d.Skipped++
			continue
		}
		seen[it.NodeID] = true
		switch d.RoleSource {
		case RoleSourceSkimmed:
			if s, ok := skim[n.NodeID]; ok && (s.Identity == "" || s.Identity == n.Identity) {
				n.Role, n.Layer = s.Role.Role, s.Role.Layer
				n.Performance = float64(s.Performance)
			} else {
				n.Role, n.Layer = dirRoleFromSet(d.roles, n.NodeID)
			}
		case RoleSourceRewardedSet:
			n.Role, n.Layer = dirRoleFromSet(d.roles, n.NodeID)
		default:
			r := DeclaredRole(n.Declared)
			n.Role, n.Layer = r.Role, r.Layer
		}
		d.Nodes = append(d.Nodes, n)
	}
	slices.SortFunc(d.Nodes, func(a, b probes.Node) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return d
}

// dirRoleFromSet is the node's role in a rewarded set; absent (or no set
// known) means inactive.
func dirRoleFromSet(roles map[uint32]NodeRole, id uint32) (probes.Role, int) {
	if r, ok := roles[id]; ok {
		return r.Role, r.Layer
	}
	return probes.RoleInactive, 0
}

// DeclaredRole is the role a node would have if it were active in what it
// declares: exit-capable (NR and IPR) → exit gateway, entry → entry gateway,
// mixnode → mixnode of unknown layer (0). Used only when nym-api's epoch
// roles are unavailable.
func DeclaredRole(d probes.DeclaredRoles) NodeRole {
	switch {
	case d.Entry && d.ExitNR && d.ExitIPR:
		return NodeRole{Role: probes.RoleExitGateway}
	case d.Entry:
		return NodeRole{Role: probes.RoleEntryGateway}
	case d.Mixnode:
		return NodeRole{Role: probes.RoleMixnode}
	default:
		return NodeRole{Role: probes.RoleInactive}
	}
}

// dirNodeFromDescription validates one described entry. probes.Role is left for
// the caller. ok is false if the entry cannot be probed or identified.
func dirNodeFromDescription(it NymNodeDescription, bond NymBondedNode, hasBond bool) (probes.Node, bool) {
	d := it.Description
	if it.NodeID == 0 || d == nil {
		return probes.Node{}, false
	}
	id := strings.TrimSpace(d.HostInformation.Keys.Ed25519)
	if !dirValidBase58Key(id) {
		return probes.Node{}, false
	}
	// A bond whose identity differs is not this node (nym-api itself
	// rejects such nodes); ignore its host and port.
	if hasBond && bond.IdentityKey != "" && bond.IdentityKey != id {
		hasBond = false
	}
	n := probes.Node{
		NodeID:   it.NodeID,
		Identity: id,
		Declared: d.DeclaredRole,
		Role:     probes.RoleInactive,
	}
	addHost := func(h string) {
		if h != "" && len(n.Hosts) < dirMaxHostsPerNode && !slices.Contains(n.Hosts, h) {
			n.Hosts = append(n.Hosts, h)
		}
	}
	for _, raw := range d.HostInformation.IPAddress {
		addHost(dirNormIP(raw))
	}
	if h := d.HostInformation.Hostname; h != nil {
		if ip := dirNormIP(*h); ip != "" {
			addHost(ip)
		} else if hn := dirNormHostname(*h); hn != "" {
			n.Hostname = hn
			addHost(hn)
		}
	}
	if hasBond {
		// The bond's host is what nym-api itself dials (§2.3).
		if ip := dirNormIP(bond.Host); ip != "" {
			addHost(ip)
		} else {
			addHost(dirNormHostname(bond.Host))
		}
	}
	if len(n.Hosts) == 0 {
		return probes.Node{}, false
	}
	if loc := d.AuxiliaryDetails.Location; loc != nil {
		n.Country = dirNormCountry(*loc)
	}
	if hasBond && bond.CustomHTTPPort != 0 {
		n.HTTPPorts = append(n.HTTPPorts, bond.CustomHTTPPort)
	}
	if !slices.Contains(n.HTTPPorts, probes.DefaultNodeHTTPPort) {
		n.HTTPPorts = append(n.HTTPPorts, probes.DefaultNodeHTTPPort)
	}
	n.MixPort = probes.DefaultMixPort
	if p := d.AuxiliaryDetails.AnnouncePorts.MixPort; p != nil && *p != 0 {
		n.MixPort = *p
	}
	if n.Declared.Entry {
		n.WSPort = probes.DefaultWSPort
		if ws := d.MixnetWebsockets; ws != nil {
			if ws.WSPort != 0 {
				n.WSPort = ws.WSPort
			}
			if ws.WSSPort != nil {
				n.WSSPort = *ws.WSSPort
			}
		}
	}
	n.Version = dirClip(strings.TrimSpace(d.BuildInformation.BuildVersion), 64)
	return n, true
}

// dirMaxHostsPerNode bounds a node's address list: real nodes announce one
// or two IPs, and a hostile list must not make building the directory
// quadratic.
const dirMaxHostsPerNode = 16

// dirNormIP returns the canonical text of a unicast IP, or "" if s is not
// one. Zoned and unspecified addresses cannot be dialled from outside.
func dirNormIP(s string) string {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || ip.Zone() != "" || ip.IsUnspecified() || ip.IsMulticast() {
		return ""
	}
	return ip.Unmap().String()
}

// dirNormHostname returns s lowercased if it is a plausible DNS name, else
// "". Hosts end up in URLs and dial addresses, so anything that could
// smuggle a path, port or userinfo is refused.
func dirNormHostname(s string) string {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if len(s) == 0 || len(s) > 253 {
		return ""
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return ""
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return ""
			}
		}
	}
	return s
}

// dirNormCountry returns an upper-case ISO alpha-2 code, or "".
func dirNormCountry(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return ""
	}
	return s
}

const dirBase58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// dirValidBase58Key accepts base58 text of a plausible key length (32-byte
// keys are 43–44 characters; allow some slack for other key types).
func dirValidBase58Key(s string) bool {
	if len(s) < 32 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(dirBase58Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

func dirClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return nymSnippet([]byte(s), n)
}
