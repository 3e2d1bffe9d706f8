package detector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nymwatch/nymwatch/internal/unixms"
)

// The HTTP receiver of these payloads is internal/alertwebhook: this file
// is the pure model (decoding, bounds, classification) so that the
// detector imports no net/http.

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

// Names lists the refused alerts' names, quoted, clipped and bounded, for
// a log line.
func (e *AlertsRejectedError) Names() string {
	var names bounded
	for i := range e.Rejected {
		names.add(quoteName(e.Rejected[i].Name()))
	}
	return names.String()
}

// CountAlerts is the number of alerts in m (0 for nil): what a rejected
// payload counts as in the metrics.
func CountAlerts(m *WebhookMessage) int {
	return countAlerts(m)
}

func countAlerts(m *WebhookMessage) int {
	if m == nil {
		return 0
	}
	return len(m.Alerts)
}

// DecodeWebhook parses and validates one Alertmanager webhook body
// received at now and classifies its alerts (see ClassifyAlert). An error
// means the payload is bad (answer 400) and says what is wrong; the
// message, if non-nil, is what could be decoded.
func DecodeWebhook(body []byte, now time.Time, classify func(map[string]string) (Class, bool), def Class) ([]Alert, *WebhookMessage, error) {
	return decodeWebhook(body, now, classify, def)
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
		StartsAt:     unixms.Time(unixms.From(wa.StartsAt.UTC())),
		EndsAt:       unixms.Time(unixms.From(wa.EndsAt.UTC())),
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
