package page

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
)

// WebhookPager posts each page to a generic webhook (chat ops, an incident
// tool) as JSON:
//
//	{"version":"1","status":"firing|resolved","page":{…Page…}}
//
// with an optional bearer token. Retries and failure handling are those of
// the Alertmanager pager.
type WebhookPager struct {
	h *pagerHTTP
}

// WebhookVersion is the "version" of the webhook payload.
const WebhookVersion = "1"

// NewWebhookPager builds a pager for the webhook at rawURL. token (e.g. the
// contents of a credentials file; surrounding whitespace is trimmed) is sent
// as "Authorization: Bearer <token>" when not empty, and is redacted from
// every error.
func NewWebhookPager(rawURL string, token []byte, opts HTTPOptions) (*WebhookPager, error) {
	tok := bytes.TrimSpace(token)
	if bytes.ContainsAny(tok, "\r\n") {
		return nil, errors.New("webhook pager: token must be one line")
	}
	h, err := newPagerHTTP("webhook", rawURL, func(u *url.URL) *url.URL { return u }, [][]byte{tok}, opts)
	if err != nil {
		return nil, err
	}
	if len(tok) > 0 {
		h.header.Set("Authorization", "Bearer "+string(tok))
	}
	return &WebhookPager{h: h}, nil
}

// Name is "webhook=<scheme://host/path>".
func (w *WebhookPager) Name() string { return w.h.name }

// Kind is the pager_kind metric label.
func (w *WebhookPager) Kind() string { return "webhook" }

// pagerWebhookPayload is the body posted by WebhookPager.
type pagerWebhookPayload struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	Page    Page   `json:"page"`
}

// Send posts the page.
func (w *WebhookPager) Send(ctx context.Context, p Page) error {
	status := "firing"
	if p.Resolved {
		status = "resolved"
	}
	body, err := json.Marshal(pagerWebhookPayload{Version: WebhookVersion, Status: status, Page: p})
	if err != nil {
		return &Error{Reason: ReasonInvalid, Permanent: true, msg: "encode page: " + err.Error()}
	}
	return w.h.post(ctx, body)
}
