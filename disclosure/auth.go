package disclosure

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"unicode"
)

// operatorAuth checks the operator's bearer token on state changes. Without
// a configured token, state changes are refused: the API is never open.
type operatorAuth struct {
	configured bool
	sum        [sha256.Size]byte
}

func newOperatorAuth(token []byte) operatorAuth {
	token = bytes.TrimSpace(token) // token files usually end in a newline
	if len(token) == 0 {
		return operatorAuth{}
	}
	return operatorAuth{configured: true, sum: sha256.Sum256(token)}
}

// check returns 0 if the request may change state, else the HTTP status and
// a message. Comparing fixed-size digests in constant time leaks neither the
// token nor its length.
func (a operatorAuth) check(w http.ResponseWriter, r *http.Request) (int, string) {
	if !a.configured {
		return http.StatusForbidden, "state changes are disabled: no operator token is configured (set auth.operator_token_file)"
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nymwatch"`)
		return http.StatusUnauthorized, "missing operator token: send Authorization: Bearer <token>"
	}
	token = strings.TrimSpace(token)
	sum := sha256.Sum256([]byte(token))
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || subtle.ConstantTimeCompare(sum[:], a.sum[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nymwatch", error="invalid_token"`)
		return http.StatusUnauthorized, "invalid operator token"
	}
	return 0, ""
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
