package page

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// AlertmanagerPager posts pages to one Alertmanager's API v2, the way
// Prometheus sends alerts: POST {url}/api/v2/alerts with a JSON array of
// {labels, annotations, startsAt, endsAt, generatorURL}. For a cluster,
// build one per member (NewAlertmanagerPagers): like Prometheus, nymwatch
// sends to every member and the cluster's gossip deduplicates.
type AlertmanagerPager struct {
	h *pagerHTTP
}

// NewAlertmanagerPager builds a pager for the Alertmanager at rawURL (its
// base URL, with any path prefix, e.g. http://am:9093 or
// https://host/alertmanager). Basic auth may come as userinfo; neither it nor
// a query string ever appears in Name, logs or errors.
func NewAlertmanagerPager(rawURL string, opts HTTPOptions) (*AlertmanagerPager, error) {
	h, err := newPagerHTTP("alertmanager", rawURL, func(u *url.URL) *url.URL {
		return u.JoinPath("api", "v2", "alerts")
	}, nil, opts)
	if err != nil {
		return nil, err
	}
	return &AlertmanagerPager{h: h}, nil
}

// NewAlertmanagerPagers builds one pager per cluster member.
func NewAlertmanagerPagers(urls []string, opts HTTPOptions) ([]Pager, error) {
	out := make([]Pager, 0, len(urls))
	for i, u := range urls {
		p, err := NewAlertmanagerPager(u, opts)
		if err != nil {
			return nil, fmt.Errorf("alertmanager url %d: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Name is "alertmanager=<scheme://host/path>".
func (a *AlertmanagerPager) Name() string { return a.h.name }

// Kind is the pager_kind metric label.
func (a *AlertmanagerPager) Kind() string { return "alertmanager" }

// pagerAMTime marshals like go-openapi's strfmt.DateTime, which Prometheus
// uses for postable alerts: RFC 3339, UTC, milliseconds.
type pagerAMTime time.Time

func (t pagerAMTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + FormatTime(time.Time(t)) + `"`), nil
}

// pagerAMAlert is Alertmanager's models.PostableAlert.
type pagerAMAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     pagerAMTime       `json:"startsAt"`
	EndsAt       pagerAMTime       `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Send posts the page as a one-alert array.
func (a *AlertmanagerPager) Send(ctx context.Context, p Page) error {
	body, err := json.Marshal([]pagerAMAlert{{
		Labels:       p.Labels,
		Annotations:  p.Annot,
		StartsAt:     pagerAMTime(p.StartsAt),
		EndsAt:       pagerAMTime(p.EndsAt),
		GeneratorURL: p.Annot["incident_url"],
	}})
	if err != nil {
		return &Error{Reason: ReasonInvalid, Permanent: true, msg: "encode alert: " + err.Error()}
	}
	return a.h.post(ctx, body)
}
