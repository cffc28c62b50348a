package adminui

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// maxSessions bounds the session store: past it, the oldest session is
// dropped (its UI logs in again).
const maxSessions = 10_000

// sessions are the ids handed out on login, so that the UI reconnects
// without the password. instrument()'s InMemoryStore keeps them forever;
// these expire after ttl and are bounded in number.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	max int                  // most sessions kept
	ids map[string]time.Time // id -> expiry
}

func newSessions(ttl time.Duration, max int) *sessions {
	return &sessions{ttl: ttl, max: max, ids: map[string]time.Time{}}
}

// create makes a new session id.
func (ss *sessions) create() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	id := hex.EncodeToString(b)
	now := time.Now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.ids) >= ss.max {
		ss.prune(now)
	}
	if len(ss.ids) >= ss.max {
		oldest, at := "", time.Time{}
		for k, exp := range ss.ids {
			if oldest == "" || exp.Before(at) {
				oldest, at = k, exp
			}
		}
		delete(ss.ids, oldest)
	}
	ss.ids[id] = now.Add(ss.ttl)
	return id, nil
}

// valid reports whether id was handed out and has not expired.
func (ss *sessions) valid(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	exp, ok := ss.ids[id]
	if ok && time.Now().After(exp) {
		delete(ss.ids, id)
		return false
	}
	return ok
}

// prune drops expired sessions; ss.mu must be held.
func (ss *sessions) prune(now time.Time) {
	for id, exp := range ss.ids {
		if now.After(exp) {
			delete(ss.ids, id)
		}
	}
}
