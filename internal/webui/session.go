package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// session is one logged-in browser. Sessions live in memory only: a restart
// logs everybody out, which is acceptable for an on-call console and keeps
// session ids out of the database.
type session struct {
	actor   string // the operator's self-declared name, sanitized; may be empty
	expires time.Time
	grant   [sha256.Size]byte // digest of the token that granted it
}

// sessions maps the SHA-256 of a session id to its session. Keying by the
// hash means the ids themselves are held nowhere after they are handed out,
// and map lookups never branch on secret bytes.
type sessions struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]session
	ttl time.Duration
	max int
	now func() time.Time
}

func newSessions(ttl time.Duration, maxSessions int, now func() time.Time) *sessions {
	return &sessions{m: map[[sha256.Size]byte]session{}, ttl: ttl, max: maxSessions, now: now}
}

// create starts a session and returns its id: 32 random bytes, base64url.
func (s *sessions) create(actor string, grant [sha256.Size]byte) (string, time.Time) {
	// crypto/rand.Read never fails (Go 1.24+: it crashes the program if the
	// kernel's generator is unavailable), so there is no error to handle.
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	sess := session{actor: actor, expires: now.Add(s.ttl), grant: grant}

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.pruneLocked(now)
	}
	if len(s.m) >= s.max {
		// Still full of live sessions: drop the one closest to expiry, so
		// the newest login (the person on call right now) always works.
		var oldest [sha256.Size]byte
		first := true
		for k, v := range s.m {
			if first || v.expires.Before(s.m[oldest].expires) {
				oldest, first = k, false
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(id))] = sess
	return id, sess.expires
}

// get returns the live session for id.
func (s *sessions) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[key]
	if !ok {
		return session{}, false
	}
	if !s.now().Before(sess.expires) {
		delete(s.m, key)
		return session{}, false
	}
	return sess, true
}

func (s *sessions) delete(id string) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// clear ends every session and returns how many there were.
func (s *sessions) clear() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.m)
	clear(s.m)
	return n
}

// count returns the number of live sessions (for the gauge).
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(s.now())
	return len(s.m)
}

func (s *sessions) pruneLocked(now time.Time) {
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
}
