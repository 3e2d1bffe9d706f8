package disclosure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultServer is where the CLI finds the daemon (the default listen address).
const DefaultServer = "http://127.0.0.1:9478"

// Bounds of the CLI's HTTP client.
const (
	clientTimeout      = 30 * time.Second
	maxClientBodyBytes = 32 << 20
)

// apiClient is a thin client of the incidents API, for the CLI.
type apiClient struct {
	base  *url.URL
	token string
	actor string
	http  *http.Client
}

// apiError is a non-2xx answer of the API.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// unreachableError is a request that got no HTTP answer at all.
type unreachableError struct {
	Server string
	Err    error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach nymwatch at %s: %v (is the daemon running? set --server or NYMWATCH_SERVER)", e.Server, e.Err)
}

func (e *unreachableError) Unwrap() error { return e.Err }

func newAPIClient(server, token, actor string) (*apiClient, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("--server %q: %w", server, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want an http:// or https:// URL such as %s", server, DefaultServer)
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("--server %q: credentials and query strings are not allowed (the token comes from NYMWATCH_TOKEN)", server)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &apiClient{base: u, token: token, actor: actor, http: &http.Client{Timeout: clientTimeout}}, nil
}

func (c *apiClient) url(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	return u.String()
}

func incidentPath(id string, suffix string) string {
	return "/api/v1/incidents/" + url.PathEscape(id) + suffix
}

// do sends a request and returns the body of a 2xx answer.
func (c *apiClient) do(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/markdown")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.actor != "" {
		req.Header.Set("X-Nymwatch-Actor", c.actor)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Unwrap the url.Error: the server is named once, by us.
		if u := errors.Unwrap(err); u != nil {
			err = u
		}
		return nil, &unreachableError{Server: c.base.String(), Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxClientBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", c.base, err)
	}
	if len(b) > maxClientBodyBytes {
		return nil, fmt.Errorf("answer of %s larger than %d bytes", c.base, maxClientBodyBytes)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return nil, &apiError{Status: resp.StatusCode, Message: msg}
	}
	return b, nil
}

// listedIncident is what the CLI's table shows of an incident.
type listedIncident struct {
	ID           string  `json:"id"`
	Class        string  `json:"class"`
	State        string  `json:"state"`
	Title        string  `json:"title"`
	Architecture string  `json:"architecture"`
	FirstSeen    *string `json:"first_seen"`
	ResolvedAt   *string `json:"resolved_at"`
}

func (c *apiClient) list(ctx context.Context, state, class string) ([]byte, []listedIncident, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if class != "" {
		q.Set("class", class)
	}
	b, err := c.do(ctx, http.MethodGet, "/api/v1/incidents", q, nil)
	if err != nil {
		return nil, nil, err
	}
	var out struct {
		Incidents []listedIncident `json:"incidents"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, nil, fmt.Errorf("decode incident list: %w", err)
	}
	return b, out.Incidents, nil
}

func (c *apiClient) get(ctx context.Context, id string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, incidentPath(id, ""), nil, nil)
}

func (c *apiClient) report(ctx context.Context, id string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, incidentPath(id, "/report.md"), nil, nil)
}

func (c *apiClient) action(ctx context.Context, id, action string, body any) ([]byte, error) {
	return c.do(ctx, http.MethodPost, incidentPath(id, "/"+action), nil, body)
}

func (c *apiClient) edit(ctx context.Context, id string, fields map[string]string) ([]byte, error) {
	return c.do(ctx, http.MethodPatch, incidentPath(id, ""), nil, fields)
}
