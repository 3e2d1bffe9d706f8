// Package authn holds what every authenticated surface of nymwatch shares:
// bearer-token comparison that leaks neither the token nor its length, the
// client address behind trusted reverse proxies, and the throttle of failed
// authentication.
package authn

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token is the SHA-256 digest of a configured secret. Only the digest is
// kept; comparing fixed-size digests in constant time leaks neither the
// token nor its length (a raw ConstantTimeCompare returns at once on a
// length mismatch).
type Token struct {
	set bool
	sum [sha256.Size]byte
}

// NewToken digests token, trimmed of surrounding whitespace (token files
// usually end in a newline). An empty token matches nothing.
func NewToken(token []byte) Token {
	token = bytes.TrimSpace(token)
	if len(token) == 0 {
		return Token{}
	}
	return Token{set: true, sum: sha256.Sum256(token)}
}

// Set reports whether a token is configured.
func (t Token) Set() bool { return t.set }

// Matches reports whether presented (trimmed) is the token.
func (t Token) Matches(presented string) bool {
	presented = strings.TrimSpace(presented)
	if !t.set || presented == "" {
		return false
	}
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1
}

// Equal reports whether t and o are the same configured token.
func (t Token) Equal(o Token) bool {
	return t.set == o.set && subtle.ConstantTimeCompare(t.sum[:], o.sum[:]) == 1
}

// Bearer returns the token of an "Authorization: Bearer <token>" header.
// present is false when the header is missing; ok is false when it is
// present but not a bearer token.
func Bearer(r *http.Request) (token string, present, ok bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, false
	}
	scheme, tok, found := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", true, false
	}
	return tok, true, true
}

// MatchAny reports whether presented matches any of tokens. Every token is
// compared, so the time taken does not say which one matched.
func MatchAny(presented string, tokens ...Token) bool {
	match := false
	for _, t := range tokens {
		if t.Matches(presented) {
			match = true
		}
	}
	return match
}
