package disclosure

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/nymwatch/nymwatch/internal/authn"
)

// apiAuth holds the API's tokens. The operator token may read and change
// incidents; the viewer token may only read. Without a configured operator
// token state changes are refused: the API is never open for writing.
type apiAuth struct {
	operator   authn.Token
	viewer     authn.Token
	publicRead bool
}

// role is what an authenticated request may do.
type role int

const (
	roleNone role = iota
	roleViewer
	roleOperator
)

// authenticate returns the role the request's bearer token grants, or the
// HTTP status and message that refuse it. want is the least role the
// route needs. wrong is true when a token was presented and did not match
// (a guess, for the throttle), as opposed to a missing one.
func (a apiAuth) authenticate(w http.ResponseWriter, r *http.Request, want role) (got role, status int, msg string, wrong bool) {
	if want == roleViewer && a.publicRead {
		// Reads are public; a token, if sent, is not even looked at.
		return roleViewer, 0, "", false
	}
	if want == roleOperator && !a.operator.Set() {
		return roleNone, http.StatusForbidden, "state changes are disabled: no operator token is configured (set auth.operator_token_file)", false
	}
	tok, present, ok := authn.Bearer(r)
	if !present {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nymwatch"`)
		if want == roleViewer {
			return roleNone, http.StatusUnauthorized, "missing token: incidents are private (web.public_read is off); send Authorization: Bearer <operator or viewer token>", false
		}
		return roleNone, http.StatusUnauthorized, "missing operator token: send Authorization: Bearer <token>", false
	}
	// Both are always compared, so the time taken does not say which
	// token (if any) was sent.
	isOp := ok && a.operator.Matches(tok)
	isViewer := ok && a.viewer.Matches(tok)
	switch {
	case isOp:
		return roleOperator, 0, "", false
	case isViewer && want == roleViewer:
		return roleViewer, 0, "", false
	case isViewer:
		// A valid token without the right: no guess, so not throttled.
		return roleViewer, http.StatusForbidden, "the viewer token may only read; state changes need the operator token", false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="nymwatch", error="invalid_token"`)
	if want == roleViewer {
		return roleNone, http.StatusUnauthorized, "invalid token", true
	}
	return roleNone, http.StatusUnauthorized, "invalid operator token", true
}

// maxActorRunes bounds the self-declared operator name.
const maxActorRunes = 64

// actorFor names the human behind an authenticated request for the audit
// trail. X-Nymwatch-Actor is informational (everyone with the token is
// "operator"); it is reduced to a safe, bounded form.
func actorFor(r *http.Request) Actor {
	name := "operator"
	var b strings.Builder
	n := 0
	for _, c := range r.Header.Get("X-Nymwatch-Actor") {
		if n == maxActorRunes {
			break
		}
		if unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("._-@+ ", c) {
			b.WriteRune(c)
			n++
		}
	}
	if s := strings.TrimSpace(b.String()); s != "" {
		name += ":" + s
	}
	return Actor{Name: name, RemoteAddr: r.RemoteAddr}
}
