// Package alertwebhook is the HTTP receiver of Alertmanager's webhook
// (POST /api/v1/alertmanager): authentication, body limits, status codes
// and rate-limited logging. Decoding and classifying the payload is the
// detector's pure model (detector.DecodeWebhook).
package alertwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/authn"
)

// Options configure NewHandler.
type Options struct {
	// Token, if non-empty, is the bearer token Alertmanager must send
	// (auth.webhook_token_file). The handler keeps only its SHA-256 digest
	// and compares digests in constant time; never logged.
	Token []byte
	// MaxBodyBytes bounds a request body. Default 1 MiB; larger gets 413.
	MaxBodyBytes int64
	// Sink receives the accepted alerts. It must store them durably (upsert
	// on Alert.Key: Alertmanager re-sends) before returning nil; an error
	// is answered 503 so that Alertmanager retries. Required.
	Sink func(ctx context.Context, alerts []detector.Alert, receivedAt time.Time) error
	// Classify classifies an alert without a valid `class` label (the
	// config's rules); ok=false means no rule matched.
	Classify func(labels map[string]string) (detector.Class, bool)
	// DefaultClass is the class of an alert no label or rule classifies.
	// Default operational: alerts reach nymwatch only through a route the
	// team chose, and a draft waits for a human anyway.
	DefaultClass detector.Class
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *detector.Metrics
}

// DefaultMaxBody is the default body limit of the webhook.
const DefaultMaxBody = 1 << 20

// NewHandler returns the Alertmanager webhook receiver for
// POST /api/v1/alertmanager. Codes: 200 after the sink stored the alerts;
// 400 malformed payload (not retried by Alertmanager); 401 bad or missing
// token; 405 not POST; 413 body too large; 415 non-JSON content type; 429
// some new firing alerts refused over alerts.max_firing (the rest stored);
// 503 the sink failed (Alertmanager retries 5xx).
func NewHandler(opts Options) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBody
	}
	if !opts.DefaultClass.Valid() {
		opts.DefaultClass = detector.ClassOperational
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &webhook{o: opts, token: authn.NewToken(opts.Token)}
	h.o.Token = nil // only the digest is kept
	return h
}

type webhook struct {
	o     Options
	token authn.Token
	logs  logLimiter // rejections are logged at most once a minute per reason
}

func (h *webhook) reply(w http.ResponseWriter, code int, body any) {
	h.o.Metrics.ObserveWebhookRequest(code)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func (h *webhook) fail(w http.ResponseWriter, code int, msg string) {
	h.reply(w, code, map[string]string{"status": "error", "error": msg})
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	if h.token.Set() && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nymwatch"`)
		h.fail(w, http.StatusUnauthorized, "missing or invalid bearer token")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			h.fail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q is not JSON", ct))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", h.o.MaxBodyBytes))
			return
		}
		h.fail(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	now := h.o.Now().UTC()
	alerts, msg, err := detector.DecodeWebhook(body, now, h.o.Classify, h.o.DefaultClass)
	if err != nil {
		h.o.Metrics.ObserveWebhookAlerts("invalid", max(detector.CountAlerts(msg), 1))
		h.o.Metrics.ObserveAlertsRejected("invalid", max(detector.CountAlerts(msg), 1))
		if n, ok := h.logs.allow("invalid", max(detector.CountAlerts(msg), 1), now); ok {
			h.o.Logger.Warn("rejected alertmanager webhook payload", "err", err, "remote", r.RemoteAddr,
				"rejected_alerts_since_last_log", n)
		}
		h.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.o.Sink == nil {
		h.o.Metrics.ObserveWebhookAlerts("sink_error", len(alerts))
		h.fail(w, http.StatusServiceUnavailable, "no alert sink configured")
		return
	}
	err = h.o.Sink(r.Context(), alerts, now)
	if rej, ok := errors.AsType[*detector.AlertsRejectedError](err); ok {
		var resolved int
		for i := range alerts {
			if alerts[i].Resolved() {
				resolved++
			}
		}
		h.o.Metrics.ObserveWebhookAlerts("firing", len(alerts)-resolved-len(rej.Rejected))
		h.o.Metrics.ObserveWebhookAlerts("resolved", resolved)
		h.tooMany(w, r, rej, msg.Receiver)
		return
	}
	if err != nil {
		h.o.Metrics.ObserveWebhookAlerts("sink_error", len(alerts))
		h.o.Logger.Error("storing alertmanager alerts failed; alertmanager will retry", "err", err,
			"alerts", len(alerts), "receiver", msg.Receiver)
		w.Header().Set("Retry-After", "10")
		h.fail(w, http.StatusServiceUnavailable, "alerts could not be stored; retry")
		return
	}
	var firing, resolved int
	for i := range alerts {
		if v := alerts[i].Labels["class"]; v != "" && alerts[i].ClassSource != "label" {
			// Accepted (losing an alert is worse), but a typo in a rule's
			// class label must not go unnoticed.
			h.o.Logger.Warn("alert has an invalid class label; classified by rules/default instead",
				"alertname", alerts[i].Name(), "class_label", clip(v, 64), "class", alerts[i].Class, "source", alerts[i].ClassSource)
		}
		if alerts[i].Resolved() {
			resolved++
		} else {
			firing++
		}
	}
	h.o.Metrics.ObserveWebhookAlerts("firing", firing)
	h.o.Metrics.ObserveWebhookAlerts("resolved", resolved)
	h.reply(w, http.StatusOK, map[string]any{"status": "success", "alerts": len(alerts)})
}

// tooMany answers a POST some of whose alerts were refused over the limit.
// Alertmanager's webhook notifier does not retry a 4xx at once: the
// notification counts as failed (alertmanager_notifications_failed_total,
// its log shows this body) and the group is sent again, whole, at its
// next group_interval. The alerts accepted now are upserted again then;
// the refused ones get in once others have resolved.
func (h *webhook) tooMany(w http.ResponseWriter, r *http.Request, e *detector.AlertsRejectedError, receiver string) {
	n := len(e.Rejected)
	h.o.Metrics.ObserveAlertsRejected("max_firing", n)
	if total, ok := h.logs.allow("max_firing", n, h.o.Now()); ok {
		h.o.Logger.Warn("refused new firing alerts over alerts.max_firing; alertmanager sends them again at its next group_interval",
			"rejected", n, "rejected_since_last_log", total, "accepted", e.Accepted, "max_firing", e.Limit,
			"alertnames", e.Names(), "receiver", clip(receiver, maxNameLen), "remote", r.RemoteAddr)
	}
	h.reply(w, http.StatusTooManyRequests, map[string]any{
		"status": "error", "error": e.Error() + "; resolve or silence alerts, or raise alerts.max_firing",
		"max_firing": e.Limit, "accepted": e.Accepted, "rejected": n,
	})
}

// logLimiter lets one log line per reason through per minute, with the
// count of what happened since the last line.
type logLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
	n    map[string]int
}

const logEvery = time.Minute

func (l *logLimiter) allow(reason string, n int, now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.n = map[string]time.Time{}, map[string]int{}
	}
	l.n[reason] += n
	if t, ok := l.last[reason]; ok && now.Sub(t) < logEvery && !now.Before(t) {
		return 0, false
	}
	total := l.n[reason]
	l.last[reason], l.n[reason] = now, 0
	return total, true
}

// authorized compares SHA-256 digests in constant time, as every
// authenticated surface does (internal/authn).
func (h *webhook) authorized(r *http.Request) bool {
	tok, _, ok := authn.Bearer(r)
	return ok && h.token.Matches(tok)
}

// maxNameLen bounds a name copied from a payload into a log line (the
// detector's own bound on alert names).
const maxNameLen = 100

// clip cuts s to n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
