package page

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/nymwatch/nymwatch/internal/backoff"
)

// Pager delivers one page to one receiver. Send makes one bounded delivery
// (it may retry briefly inside ctx); the outbox owns durable retries, so a
// Pager keeps no state about pages.
type Pager interface {
	// Name identifies the receiver in the outbox and in logs. It must be
	// stable across restarts (queued rows refer to it) and hold no secret.
	Name() string
	Send(ctx context.Context, p Page) error
}

// pagerKinded is implemented by the pagers of this package; the kind is the
// bounded pager_kind metric label (never the URL).
type pagerKinded interface{ Kind() string }

// KindOf is the pager_kind metric label of p: its Kind, or "other".
func KindOf(p Pager) string {
	if k, ok := p.(pagerKinded); ok {
		return k.Kind()
	}
	return "other"
}

// Failure reasons, the bounded reason label of nymwatch_pages_failed_total.
const (
	ReasonNetwork   = "network"
	ReasonTimeout   = "timeout"
	ReasonHTTP4xx   = "http_4xx"
	ReasonHTTP5xx   = "http_5xx"
	ReasonHTTPOther = "http_other" // 1xx/3xx: redirects are not followed for a POST
	ReasonExpired   = "expired"    // given up after MaxAge
	ReasonInvalid   = "invalid"    // a queued row that cannot be decoded
)

// Error is a failed delivery, described so the outbox can schedule the
// next attempt. Its message never holds a URL's query string, userinfo or a
// token.
type Error struct {
	Reason string
	// Permanent: the receiver rejected the payload (4xx other than 408/429);
	// the same bytes will be rejected again, so the row is dropped (logged
	// and counted). Nothing is lost: a pending draft is re-sent with a new
	// row every resend interval, and an end page that cannot be delivered
	// lets the alert lapse at its endsAt.
	Permanent bool
	// RetryAfter is the receiver's Retry-After, uncapped; the outbox caps it.
	RetryAfter time.Duration
	msg        string
}

func (e *Error) Error() string { return e.msg }

// HTTPOptions configure the HTTP side of the Alertmanager and webhook
// pagers. Zero values take the defaults.
type HTTPOptions struct {
	// Client is the base HTTP client (TLS settings, proxy). Each pager gets
	// its own copy with a cloned transport: retryablehttp closes the idle
	// connections of its client after every failed request, which must not
	// hit other pagers. Redirects are never followed (a POST must not turn
	// into a GET). Nil builds a client with dial/TLS/header timeouts.
	Client *http.Client
	// RetryMax is the number of quick retries inside one Send (default 2,
	// negative for none). Durable retries are the outbox's job.
	RetryMax int
	// RetryWaitMin/RetryWaitMax bound the wait between quick retries,
	// Retry-After included (default 250ms / 2s). A Retry-After longer than
	// RetryWaitMax ends the Send and is handed to the outbox.
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	// UserAgent defaults to "nymwatch".
	UserAgent string
}

const (
	pagerDefaultRetryMax     = 2
	pagerDefaultRetryWaitMin = 250 * time.Millisecond
	pagerDefaultRetryWaitMax = 2 * time.Second
	pagerMaxErrorBody        = 512
	pagerMaxDrain            = 64 << 10
	maxErrorLen              = 512
)

// pagerHTTP is what both HTTP pagers share: a retryablehttp client set up to
// avoid the library's pitfalls, and a redactor for everything it reports.
type pagerHTTP struct {
	name      string
	endpoint  string
	userAgent string
	header    http.Header
	client    *retryablehttp.Client
	redact    *pagerRedactor
}

func newPagerHTTP(kind, rawURL string, endpoint func(*url.URL) *url.URL, secrets [][]byte, opts HTTPOptions) (*pagerHTTP, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		// url.Parse errors quote the whole input, query string included.
		return nil, fmt.Errorf("%s pager: invalid url", kind)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s pager: url %s: want http(s)://host[:port][/path]", kind, pagerSafeURL(u))
	}
	ep := endpoint(u)
	red := newPagerRedactor(u, secrets...)
	ph := &pagerHTTP{
		name:      kind + "=" + pagerSafeURL(u),
		endpoint:  ep.String(),
		userAgent: opts.UserAgent,
		header:    http.Header{},
		redact:    red,
	}
	if ph.userAgent == "" {
		ph.userAgent = "nymwatch"
	}
	retryMax := opts.RetryMax
	switch {
	case retryMax == 0:
		retryMax = pagerDefaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	waitMin := durOr(opts.RetryWaitMin, pagerDefaultRetryWaitMin)
	waitMax := durOr(opts.RetryWaitMax, pagerDefaultRetryWaitMax)
	if waitMax < waitMin {
		waitMax = waitMin
	}
	ph.client = &retryablehttp.Client{
		HTTPClient:   pagerOwnClient(opts.Client),
		Logger:       nil, // its messages carry the URL with the query string
		RetryWaitMin: waitMin,
		RetryWaitMax: waitMax,
		RetryMax:     retryMax,
		CheckRetry:   pagerCheckRetry(waitMax),
		Backoff:      backoff.Retryable,
		// Hand back the last response and error as they are: Send reads the
		// status and rebuilds the error without the URL.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return ph, nil
}

func durOr(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

func pagerOwnClient(base *http.Client) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
		if t, ok := base.Transport.(*http.Transport); ok {
			c.Transport = t.Clone()
		}
	} else {
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		c.Transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// pagerCheckRetry retries network errors, 429 and 5xx (not 501) quickly, but
// not when the receiver asks for a longer pause than waitMax: that pause is
// the outbox's to schedule, durably.
func pagerCheckRetry(waitMax time.Duration) retryablehttp.CheckRetry {
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil {
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented) {
			if ra, ok := pagerParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && ra > waitMax {
				return false, nil
			}
			return true, nil
		}
		return false, nil
	}
}

// pagerParseRetryAfter reads delta-seconds or an HTTP date.
func pagerParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64((100*365*24*time.Hour)/time.Second) {
			n = int64((100 * 365 * 24 * time.Hour) / time.Second) // no overflow
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// post makes one bounded delivery of body and turns the outcome into nil or
// a *Error.
func (ph *pagerHTTP) post(ctx context.Context, body []byte) error {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, ph.endpoint, body)
	if err != nil {
		return &Error{Reason: ReasonNetwork, msg: ph.redact.clean("build request: " + err.Error())}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ph.userAgent)
	for k, vs := range ph.header {
		req.Header[k] = vs
	}
	resp, err := ph.client.Do(req)
	if err != nil {
		if resp != nil {
			pagerDrain(resp.Body)
		}
		return ph.transportError(ctx, err)
	}
	defer pagerDrain(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, pagerMaxErrorBody))
	pe := &Error{}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		pe.Reason = ReasonHTTP4xx
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		pe.Reason, pe.Permanent = ReasonHTTP4xx, true
	case resp.StatusCode >= 500:
		pe.Reason = ReasonHTTP5xx
	default:
		pe.Reason = ReasonHTTPOther
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		pe.RetryAfter, _ = pagerParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	msg := fmt.Sprintf("post %s: %s", ph.redact.safeURL, resp.Status)
	if s := pagerPrintable(snippet); s != "" {
		msg += ": " + s
	}
	pe.msg = ph.redact.clean(msg)
	return pe
}

// transportError rebuilds a client error without the request URL: a
// *url.Error quotes it whole, query string and all (retryablehttp #206).
func (ph *pagerHTTP) transportError(ctx context.Context, err error) error {
	reason := ReasonNetwork
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = ReasonTimeout
	}
	inner := err
	if ue, ok := errors.AsType[*url.Error](err); ok {
		inner = ue.Err
	}
	// The message is a fresh string (not %w): wrapping would keep the
	// original error, URL included, reachable by anyone who unwraps it.
	return &Error{Reason: reason, msg: ph.redact.clean(fmt.Sprintf("post %s: %v", ph.redact.safeURL, inner))}
}

func pagerDrain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, pagerMaxDrain))
	_ = body.Close()
}

// pagerPrintable flattens a response body snippet for an error message.
func pagerPrintable(b []byte) string {
	b = bytes.ToValidUTF8(b, []byte("?"))
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b))
	return strings.Join(strings.Fields(s), " ")
}

// pagerSafeURL is scheme://host/path: no userinfo, query or fragment.
func pagerSafeURL(u *url.URL) string {
	s := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return s.String()
}

// pagerRedactor removes the secrets a pager knows of from any text it
// reports: the query string and its values, the userinfo password, tokens.
type pagerRedactor struct {
	safeURL string
	secrets []string // longest first
}

func newPagerRedactor(u *url.URL, extra ...[]byte) *pagerRedactor {
	r := &pagerRedactor{safeURL: pagerSafeURL(u)}
	add := func(s string) {
		// Very short values would mangle every message and are no secret.
		if len(s) >= 4 && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	add(u.RawQuery)
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
			add(url.QueryEscape(v))
		}
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.QueryEscape(p))
		}
	}
	add(u.Fragment)
	for _, s := range extra {
		add(strings.TrimSpace(string(s)))
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

// clean redacts and bounds s.
func (r *pagerRedactor) clean(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "REDACTED")
	}
	return truncate(s, maxErrorLen)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// NewError is a delivery failure for callers outside this package (the
// outbox wraps an error a foreign Pager returned); msg is bounded.
func NewError(reason string, permanent bool, msg string) *Error {
	return &Error{Reason: reason, Permanent: permanent, msg: truncate(msg, maxErrorLen)}
}
