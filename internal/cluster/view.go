package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/internal/unixms"
	"github.com/nymwatch/nymwatch/probes"
)

// ViewVersion is the version of the view's wire format. A peer sending
// another version is treated like an unreachable one (its view does not
// count) until both run the same: mixed versions during an upgrade lose
// the quorum for a while, never misread a view.
const ViewVersion = 1

// Wire format limits: a view is validated before it counts.
const (
	// DefaultMaxViewBytes bounds a view once decompressed (and so also
	// compressed). 10,000 targets make about 1.5 MB of JSON.
	DefaultMaxViewBytes = 64 << 20
	maxTargets          = 1 << 20
	maxIDLen            = 512
	maxReasonLen        = 64
)

// Errors of DecodeView, for errors.Is.
var (
	ErrInvalidView = errors.New("invalid view")
	ErrViewVersion = errors.New("unsupported view version")
)

// nameRe is what an instance name may look like (config's rule).
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// wireView is the JSON of GET /api/v1/cluster/view. Times are UTC unix
// milliseconds (the detector's precision); 0 or absent means unknown.
//
//	{"version":1,"instance":"ams-1","generated_at":1778929200000,
//	 "targets":[{"id":"node/12/node_http","state":"failing","first_seen":1778929140000,
//	             "last_healthy":1778929110000,"last_observed":1778929195000,"reason":"timeout",
//	             "detail":"GET /api/v1/health: no answer within 5s"}, ...]}
type wireView struct {
	Version     int          `json:"version"`
	Instance    string       `json:"instance"`
	GeneratedAt int64        `json:"generated_at"`
	Targets     []wireTarget `json:"targets"`
}

type wireTarget struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	FirstSeen    int64  `json:"first_seen,omitempty"`
	LastHealthy  int64  `json:"last_healthy,omitempty"`
	RecoveredAt  int64  `json:"recovered_at,omitempty"`
	LastObserved int64  `json:"last_observed,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// EncodeView writes v in the wire format (uncompressed JSON).
func EncodeView(w io.Writer, v detector.View) error {
	wv := wireView{Version: ViewVersion, Instance: v.Instance, GeneratedAt: unixms.From(v.GeneratedAt),
		Targets: make([]wireTarget, len(v.Targets))}
	for i := range v.Targets {
		t := &v.Targets[i]
		wv.Targets[i] = wireTarget{ID: t.ID, State: string(t.State), FirstSeen: unixms.From(t.FirstSeen),
			LastHealthy: unixms.From(t.LastHealthy), RecoveredAt: unixms.From(t.RecoveredAt), LastObserved: unixms.From(t.LastObserved),
			Reason: t.Reason, Detail: t.Detail}
	}
	if err := json.NewEncoder(w).Encode(&wv); err != nil {
		return fmt.Errorf("encode view: %w", err)
	}
	return nil
}

// maxTime is far enough in the future to be certainly wrong (year 2200).
const maxTime = 7258118400000

// DecodeView parses and validates one view (uncompressed JSON). Anything
// it returns is safe to hand to the detector: names and ids are bounded
// and printable, states known, times ordered, reasons and details
// sanitized. Errors wrap ErrInvalidView or ErrViewVersion.
func DecodeView(data []byte) (detector.View, error) {
	var wv wireView
	if err := json.Unmarshal(data, &wv); err != nil {
		return detector.View{}, fmt.Errorf("%w: %w", ErrInvalidView, err)
	}
	bad := func(format string, args ...any) (detector.View, error) {
		return detector.View{}, fmt.Errorf("%w: %s", ErrInvalidView, fmt.Sprintf(format, args...))
	}
	if wv.Version != ViewVersion {
		return detector.View{}, fmt.Errorf("%w: %d, want %d", ErrViewVersion, wv.Version, ViewVersion)
	}
	if !nameRe.MatchString(wv.Instance) {
		return bad("instance %q is not a valid name", clipName(wv.Instance))
	}
	if wv.GeneratedAt <= 0 || wv.GeneratedAt > maxTime {
		return bad("generated_at %d out of range", wv.GeneratedAt)
	}
	if len(wv.Targets) > maxTargets {
		return bad("%d targets, at most %d", len(wv.Targets), maxTargets)
	}
	v := detector.View{Instance: wv.Instance, GeneratedAt: unixms.Time(wv.GeneratedAt), Targets: make([]detector.TargetView, len(wv.Targets))}
	seen := make(map[string]struct{}, len(wv.Targets))
	for i := range wv.Targets {
		t := &wv.Targets[i]
		if t.ID == "" || len(t.ID) > maxIDLen || !utf8.ValidString(t.ID) || strings.ContainsFunc(t.ID, unicode.IsControl) {
			return bad("target %d: id %q is not a valid target id", i, clipName(t.ID))
		}
		if _, dup := seen[t.ID]; dup {
			return bad("target %q listed twice", t.ID)
		}
		seen[t.ID] = struct{}{}
		state := detector.ViewState(t.State)
		if !state.Valid() {
			return bad("target %q: state %q is not healthy, failing or unknown", t.ID, clipName(t.State))
		}
		for _, ms := range []int64{t.FirstSeen, t.LastHealthy, t.RecoveredAt, t.LastObserved} {
			// Every time is the peer's own observation, made before it
			// generated the view.
			if ms < 0 || ms > wv.GeneratedAt {
				return bad("target %q: time %d outside 0 … generated_at", t.ID, ms)
			}
		}
		if state == detector.ViewFailing {
			if t.FirstSeen == 0 {
				return bad("target %q: failing without first_seen", t.ID)
			}
			if t.LastHealthy > t.FirstSeen {
				return bad("target %q: last_healthy after first_seen", t.ID)
			}
		}
		tv := detector.TargetView{ID: t.ID, State: state, LastHealthy: unixms.Time(t.LastHealthy), LastObserved: unixms.Time(t.LastObserved)}
		switch state {
		case detector.ViewFailing:
			tv.FirstSeen = unixms.Time(t.FirstSeen)
			tv.Reason, tv.Detail = sanitize(t.Reason, maxReasonLen), probes.Sanitize(t.Detail)
		case detector.ViewHealthy:
			tv.RecoveredAt = unixms.Time(t.RecoveredAt)
		default:
			tv.LastHealthy = time.Time{}
		}
		v.Targets[i] = tv
	}
	return v, nil
}

// sanitize makes a peer's short string printable and bounded.
func sanitize(s string, n int) string {
	s = probes.Sanitize(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimSpace(s[:n])
}

// clipName bounds untrusted text quoted in an error.
func clipName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
