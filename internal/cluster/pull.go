package cluster

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nymwatch/nymwatch/detector"
)

// Pull error reasons (the metric's reason label: a fixed set).
const (
	reasonTimeout  = "timeout"
	reasonConnect  = "connect"
	reasonAuth     = "auth"
	reasonStatus   = "status"
	reasonTooLarge = "too_large"
	reasonInvalid  = "invalid"
	reasonVersion  = "version"
	reasonInstance = "instance"
	reasonSkew     = "clock_skew"
)

var pullReasons = []string{reasonTimeout, reasonConnect, reasonAuth, reasonStatus, reasonTooLarge,
	reasonInvalid, reasonVersion, reasonInstance, reasonSkew}

// PullError says why a peer's view could not be had. Its message names
// neither the URL nor the token.
type PullError struct {
	Peer   string
	Reason string // one of a fixed set: timeout, connect, auth, status, too_large, invalid, version, instance, clock_skew
	Err    error
}

func (e *PullError) Error() string { return "vantage point " + e.Peer + ": " + e.Err.Error() }
func (e *PullError) Unwrap() error { return e.Err }

// ErrTooLarge: the view is larger than the limit.
var ErrTooLarge = errors.New("view too large")

// pull makes one attempt at p's view within timeout.
func (c *Cluster) pull(ctx context.Context, p Peer, timeout time.Duration) (detector.View, error) {
	fail := func(reason string, err error) (detector.View, error) {
		return detector.View{}, &PullError{Peer: p.Name, Reason: reason, Err: err}
	}
	u, err := url.JoinPath(p.URL, ViewPath)
	if err != nil {
		return fail(reasonConnect, errors.New("bad peer URL"))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail(reasonConnect, errors.New("bad peer URL"))
	}
	if p.Token != "" { // else the peer's http_config authenticates
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	req.Header.Set("Accept", "application/json")
	// Set explicitly, so the transport does not decompress behind our back
	// and the size limit applies to what we decompress ourselves.
	req.Header.Set("Accept-Encoding", "gzip")
	start := c.now()
	client := c.client
	if p.client != nil {
		client = p.client
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(classify(ctx, err, timeout))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fail(reasonAuth, fmt.Errorf("HTTP %d: the peer refuses our token (check cluster.peers[].token_file against its cluster.token_file)", resp.StatusCode))
	case resp.StatusCode == http.StatusTooManyRequests:
		// The peer throttles this address after failed tokens: ours, if
		// it was wrong, or another client's behind the same address.
		return fail(reasonAuth, errors.New("HTTP 429: the peer throttles this address after failed authentications (check cluster.peers[].token_file against its cluster.token_file)"))
	case resp.StatusCode != http.StatusOK:
		return fail(reasonStatus, fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	body := io.LimitReader(resp.Body, c.max+1)
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return fail(classifyRead(ctx, err, timeout, reasonInvalid))
		}
		defer zr.Close()
		body = zr
	default:
		return fail(reasonInvalid, fmt.Errorf("unsupported Content-Encoding %q", clipName(enc)))
	}
	data, err := io.ReadAll(io.LimitReader(body, c.max+1))
	if err != nil {
		return fail(classifyRead(ctx, err, timeout, reasonInvalid))
	}
	if int64(len(data)) > c.max {
		return fail(reasonTooLarge, fmt.Errorf("%w: over %d bytes", ErrTooLarge, c.max))
	}
	v, err := DecodeView(data)
	switch {
	case errors.Is(err, ErrViewVersion):
		return fail(reasonVersion, err)
	case err != nil:
		return fail(reasonInvalid, err)
	case v.Instance != p.Name:
		return fail(reasonInstance, fmt.Errorf("view from instance %q, want %q (check the peer's cluster.name and URL)", v.Instance, p.Name))
	}
	end := c.now()
	if v.GeneratedAt.Before(start.Add(-c.skew)) || v.GeneratedAt.After(end.Add(c.skew)) {
		return fail(reasonSkew, fmt.Errorf("view generated at %s by its clock, %s by ours: clocks differ by more than %s (first_seen is compared across vantage points; check NTP)",
			v.GeneratedAt.Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano), c.skew))
	}
	return v, nil
}

// classify turns a transport error into a reason and a message without
// the URL (url.Error repeats it).
func classify(ctx context.Context, err error, timeout time.Duration) (string, error) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return reasonTimeout, fmt.Errorf("no answer within %s", timeout)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return reasonTimeout, fmt.Errorf("no answer within %s", timeout)
	}
	return reasonConnect, fmt.Errorf("GET %s: %w", ViewPath, err)
}

func classifyRead(ctx context.Context, err error, timeout time.Duration, other string) (string, error) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return reasonTimeout, fmt.Errorf("view not received within %s", timeout)
	}
	return other, fmt.Errorf("read view: %w", err)
}
