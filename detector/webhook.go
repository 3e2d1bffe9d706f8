package detector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nymwatch/nymwatch/internal/authn"
)

// WebhookMessage is Alertmanager's webhook payload, version 4
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
type WebhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a WebhookMessage.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// WebhookOptions configure NewWebhookHandler.
type WebhookOptions struct {
	// Token, if non-empty, is the bearer token Alertmanager must send
	// (auth.webhook_token_file). The handler keeps only its SHA-256 digest
	// and compares digests in constant time; never logged.
	Token []byte
	// MaxBodyBytes bounds a request body. Default 1 MiB; larger gets 413.
	MaxBodyBytes int64
	// Sink receives the accepted alerts. It must store them durably (upsert
	// on Alert.Key: Alertmanager re-sends) before returning nil; an error
	// is answered 503 so that Alertmanager retries. Required.
	Sink func(ctx context.Context, alerts []Alert, receivedAt time.Time) error
	// Classify classifies an alert without a valid `class` label (the
	// config's rules); ok=false means no rule matched.
	Classify func(labels map[string]string) (Class, bool)
	// DefaultClass is the class of an alert no label or rule classifies.
	// Default operational: alerts reach nymwatch only through a route the
	// team chose, and a draft waits for a human anyway.
	DefaultClass Class
	// Now is the clock (default time.Now).
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// DefaultWebhookMaxBody is the default body limit of the webhook.
const DefaultWebhookMaxBody = 1 << 20

// Bounds on what one payload may carry, so a hostile body cannot make us
// keep huge strings (the body limit bounds the rest).
const (
	maxLabels      = 128
	maxLabelLen    = 4096
	maxFingerprint = 128
	// An alert's labels are its identity: beyond this total it is refused.
	// Its annotations are description: kept up to this total, the values
	// clipped (nymwatch shows summary/description/message, clipped too).
	// So each held alert costs at most ~12 KiB, whatever the body limit.
	maxLabelBytes      = 8192
	maxAnnotationBytes = 4096
	maxAnnotationLen   = 1024
)

// errBadPayload marks a payload error (400): Alertmanager does not retry 4xx.
var errBadPayload = errors.New("bad payload")

// NewWebhookHandler returns the Alertmanager webhook receiver for
// POST /api/v1/alertmanager. Codes: 200 after the sink stored the alerts;
// 400 malformed payload (not retried by Alertmanager); 401 bad or missing
// token; 405 not POST; 413 body too large; 415 non-JSON content type; 429
// some new firing alerts refused over alerts.max_firing (the rest stored);
// 503 the sink failed (Alertmanager retries 5xx).
func NewWebhookHandler(opts WebhookOptions) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultWebhookMaxBody
	}
	if !opts.DefaultClass.Valid() {
		opts.DefaultClass = ClassOperational
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
	o     WebhookOptions
	token authn.Token
	logs  logLimiter // rejections are logged at most once a minute per reason
}

func (h *webhook) reply(w http.ResponseWriter, code int, body any) {
	h.o.Metrics.webhookRequest(code)
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
	alerts, msg, err := decodeWebhook(body, now, h.o.Classify, h.o.DefaultClass)
	if err != nil {
		h.o.Metrics.webhookAlert("invalid", max(countAlerts(msg), 1))
		h.o.Metrics.alertsRejected("invalid", max(countAlerts(msg), 1))
		if n, ok := h.logs.allow("invalid", max(countAlerts(msg), 1), now); ok {
			h.o.Logger.Warn("rejected alertmanager webhook payload", "err", err, "remote", r.RemoteAddr,
				"rejected_alerts_since_last_log", n)
		}
		h.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.o.Sink == nil {
		h.o.Metrics.webhookAlert("sink_error", len(alerts))
		h.fail(w, http.StatusServiceUnavailable, "no alert sink configured")
		return
	}
	err = h.o.Sink(r.Context(), alerts, now)
	if rej, ok := errors.AsType[*AlertsRejectedError](err); ok {
		var resolved int
		for i := range alerts {
			if alerts[i].Resolved() {
				resolved++
			}
		}
		h.o.Metrics.webhookAlert("firing", len(alerts)-resolved-len(rej.Rejected))
		h.o.Metrics.webhookAlert("resolved", resolved)
		h.tooMany(w, r, rej, msg.Receiver)
		return
	}
	if err != nil {
		h.o.Metrics.webhookAlert("sink_error", len(alerts))
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
	h.o.Metrics.webhookAlert("firing", firing)
	h.o.Metrics.webhookAlert("resolved", resolved)
	h.reply(w, http.StatusOK, map[string]any{"status": "success", "alerts": len(alerts)})
}

// AlertsRejectedError is what a Sink returns when it stored some alerts
// and refused others over a limit: the handler answers 429 and counts them.
type AlertsRejectedError struct {
	Rejected []Alert
	Accepted int
	Limit    int // alerts.max_firing
}

func (e *AlertsRejectedError) Error() string {
	return fmt.Sprintf("%d new firing alert(s) refused: nymwatch already holds alerts.max_firing = %d firing alerts (%d of this request accepted)",
		len(e.Rejected), e.Limit, e.Accepted)
}

// tooMany answers a POST some of whose alerts were refused over the limit.
// Alertmanager's webhook notifier does not retry a 4xx at once: the
// notification counts as failed (alertmanager_notifications_failed_total,
// its log shows this body) and the group is sent again, whole, at its
// next group_interval. The alerts accepted now are upserted again then;
// the refused ones get in once others have resolved.
func (h *webhook) tooMany(w http.ResponseWriter, r *http.Request, e *AlertsRejectedError, receiver string) {
	n := len(e.Rejected)
	h.o.Metrics.alertsRejected("max_firing", n)
	if total, ok := h.logs.allow("max_firing", n, h.o.Now()); ok {
		var names bounded
		for i := range e.Rejected {
			names.add(quoteName(e.Rejected[i].Name()))
		}
		h.o.Logger.Warn("refused new firing alerts over alerts.max_firing; alertmanager sends them again at its next group_interval",
			"rejected", n, "rejected_since_last_log", total, "accepted", e.Accepted, "max_firing", e.Limit,
			"alertnames", names.String(), "receiver", clip(receiver, maxNameLen), "remote", r.RemoteAddr)
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

func countAlerts(m *WebhookMessage) int {
	if m == nil {
		return 0
	}
	return len(m.Alerts)
}

// authorized compares SHA-256 digests in constant time, as every
// authenticated surface does (internal/authn).
func (h *webhook) authorized(r *http.Request) bool {
	tok, _, ok := authn.Bearer(r)
	return ok && h.token.Matches(tok)
}

// decodeWebhook parses and validates one payload and classifies its alerts.
// Every error wraps errBadPayload and says what is wrong.
func decodeWebhook(body []byte, now time.Time, classify func(map[string]string) (Class, bool), def Class) ([]Alert, *WebhookMessage, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errBadPayload, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, bad("empty body")
	}
	if !utf8.Valid(body) {
		return nil, nil, bad("body is not valid UTF-8")
	}
	var msg WebhookMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&msg); err != nil {
		if _, ok := errors.AsType[*time.ParseError](err); ok {
			return nil, nil, bad("bad time: %v", err)
		}
		return nil, nil, bad("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &msg, bad("trailing data after the JSON object")
	}
	if msg.Version != "4" {
		return nil, &msg, bad("unsupported payload version %q, want \"4\" (Alertmanager webhook_config)", msg.Version)
	}
	if len(msg.Alerts) == 0 {
		return nil, &msg, bad("no alerts in payload")
	}
	if def == "" || !def.Valid() {
		def = ClassOperational
	}
	out := make([]Alert, 0, len(msg.Alerts))
	for i, wa := range msg.Alerts {
		a, err := convertAlert(&wa, now, classify, def)
		if err != nil {
			return nil, &msg, bad("alerts[%d]: %v", i, err)
		}
		a.Receiver = clip(msg.Receiver, maxNameLen)
		out = append(out, a)
	}
	return out, &msg, nil
}

func convertAlert(wa *WebhookAlert, now time.Time, classify func(map[string]string) (Class, bool), def Class) (Alert, error) {
	switch wa.Status {
	case AlertFiring, AlertResolved:
	default:
		return Alert{}, fmt.Errorf("status %q is neither firing nor resolved", wa.Status)
	}
	if len(wa.Labels) == 0 {
		return Alert{}, errors.New("alert has no labels")
	}
	if len(wa.Labels) > maxLabels || len(wa.Annotations) > maxLabels {
		return Alert{}, fmt.Errorf("more than %d labels or annotations", maxLabels)
	}
	for k, v := range wa.Labels {
		if k == "" || len(k) > maxLabelLen || len(v) > maxLabelLen {
			return Alert{}, fmt.Errorf("label %q: empty name or longer than %d bytes", clip(k, 64), maxLabelLen)
		}
	}
	if n := mapBytes(wa.Labels); n > maxLabelBytes {
		return Alert{}, fmt.Errorf("labels total %d bytes, more than %d", n, maxLabelBytes)
	}
	if wa.StartsAt.IsZero() {
		return Alert{}, errors.New("startsAt is missing")
	}
	if y := wa.StartsAt.Year(); y < 2000 || y > 9999 {
		return Alert{}, fmt.Errorf("startsAt %s is out of range", wa.StartsAt.Format(time.RFC3339))
	}
	if !wa.EndsAt.IsZero() {
		if y := wa.EndsAt.Year(); y < 2000 || y > 9999 {
			return Alert{}, fmt.Errorf("endsAt %s is out of range", wa.EndsAt.Format(time.RFC3339))
		}
		if wa.EndsAt.Before(wa.StartsAt) {
			return Alert{}, fmt.Errorf("endsAt %s is before startsAt %s",
				wa.EndsAt.UTC().Format(time.RFC3339Nano), wa.StartsAt.UTC().Format(time.RFC3339Nano))
		}
	}
	if wa.Status == AlertResolved && wa.EndsAt.IsZero() {
		return Alert{}, errors.New("resolved alert without endsAt")
	}
	if len(wa.Fingerprint) > maxFingerprint {
		return Alert{}, fmt.Errorf("fingerprint longer than %d bytes", maxFingerprint)
	}
	a := Alert{
		Fingerprint:  strings.TrimSpace(wa.Fingerprint),
		Status:       wa.Status,
		Labels:       cloneMap(wa.Labels),
		Annotations:  boundAnnotations(wa.Annotations),
		StartsAt:     fromMs(toMs(wa.StartsAt.UTC())),
		EndsAt:       fromMs(toMs(wa.EndsAt.UTC())),
		GeneratorURL: clip(wa.GeneratorURL, maxLabelLen),
		ReceivedAt:   now,
	}
	if a.Fingerprint == "" {
		a.Fingerprint = Fingerprint(a.Labels)
	}
	a.Class, a.ClassSource = ClassifyAlert(a.Labels, classify, def)
	return a, nil
}

func mapBytes(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// boundAnnotations keeps summary, description and message first, then the
// others by name, each value clipped, until maxAnnotationBytes.
func boundAnnotations(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	prio := map[string]int{"summary": 0, "description": 1, "message": 2}
	sort.Slice(keys, func(i, j int) bool {
		pi, oki := prio[keys[i]]
		pj, okj := prio[keys[j]]
		switch {
		case oki && okj:
			return pi < pj
		case oki != okj:
			return oki
		}
		return keys[i] < keys[j]
	})
	out := make(map[string]string, len(m))
	n := 0
	for _, k := range keys {
		v := clip(m[k], maxAnnotationLen)
		if len(k) > maxNameLen || n+len(k)+len(v) > maxAnnotationBytes {
			continue
		}
		out[k] = v
		n += len(k) + len(v)
	}
	return out
}

// ClassifyAlert: the `class` label (security|operational|internal) wins;
// then classify (config rules); then def. It returns the class and its
// source ("label", "rule", "default").
func ClassifyAlert(labels map[string]string, classify func(map[string]string) (Class, bool), def Class) (Class, string) {
	if c := Class(strings.ToLower(strings.TrimSpace(labels["class"]))); c.Valid() {
		return c, "label"
	}
	if classify != nil {
		if c, ok := classify(labels); ok && c.Valid() {
			return c, "rule"
		}
	}
	if !def.Valid() {
		def = ClassOperational
	}
	return def, "default"
}
