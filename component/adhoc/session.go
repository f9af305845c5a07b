package adhoc

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"mellium.im/xmpp/jid"
)

// Session defaults: how long a stage waits for its answer, and how many
// unfinished sessions one user (bare JID) may have.
const (
	DefaultTTL     = 15 * time.Minute
	DefaultPerUser = 8
)

// sweepEvery is how often Open forgets every user's expired sessions.
const sweepEvery = time.Minute

// Sessions remembers commands between their stages. A session belongs to
// the full JID that started it (XEP-0050 §4.3: valid between one requester
// and one responder), expires TTL after its last stage, and each user has
// at most PerUser of them: opening one more forgets that user's oldest.
// Expired sessions are forgotten at the latest a minute after they expire,
// whether or not their user comes back, so memory stays bounded by the
// users who used commands in the last TTL.
//
// Its methods do no I/O, never block beyond a short mutex, and are safe for
// concurrent use. The zero value is not ready; use NewSessions.
type Sessions struct {
	ttl     time.Duration
	perUser int
	now     func() time.Time

	mu    sync.Mutex
	users map[string]map[string]session // bare JID → session ID → session
	swept time.Time
}

type session struct {
	node    string
	owner   string // the full JID that started it
	expires time.Time
}

// NewSessions returns an empty store whose sessions last ttl after their
// last stage, at most perUser per user; zero or less picks DefaultTTL and
// DefaultPerUser.
func NewSessions(ttl time.Duration, perUser int) *Sessions {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if perUser <= 0 {
		perUser = DefaultPerUser
	}
	return &Sessions{ttl: ttl, perUser: perUser, now: time.Now, users: make(map[string]map[string]session)}
}

// Open remembers that owner has command node waiting on its next stage,
// under id, or under a new ID if id is empty, and returns the ID. It
// forgets expired sessions (at most once a minute) and, if owner's user
// already has PerUser sessions, the one that expires first.
func (s *Sessions) Open(id, node string, owner jid.JID) string {
	if id == "" {
		id = newID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	user := owner.Bare().String()
	m := s.users[user]
	if m == nil {
		m = make(map[string]session)
		s.users[user] = m
	}
	if _, ok := m[id]; !ok && len(m) >= s.perUser {
		oldest := ""
		for k, v := range m {
			if oldest == "" || v.expires.Before(m[oldest].expires) {
				oldest = k
			}
		}
		delete(m, oldest)
	}
	m[id] = session{node: node, owner: owner.String(), expires: now.Add(s.ttl)}
	return id
}

// Take ends session id of command node for requester and returns nil, or
// the stanza error to answer (XEP-0050 §4.6), leaving the store as it was:
// bad-request with <bad-sessionid/> if there is no such session, or it is
// another command's or another requester's (a different resource of the
// same user included); not-allowed with <session-expired/> if it timed out
// (it is forgotten then).
func (s *Sessions) Take(id, node string, requester jid.JID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	user := requester.Bare().String()
	v, ok := s.users[user][id]
	if !ok || v.node != node || v.owner != requester.String() {
		return appError("modify", "bad-request", "bad-sessionid", "There is no such command session of yours; start the command again.")
	}
	s.deleteLocked(user, id)
	if !s.now().Before(v.expires) {
		return appError("cancel", "not-allowed", "session-expired", "The command session has expired; start the command again.")
	}
	return nil
}

// Len returns how many sessions are remembered, expired or not.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.users {
		n += len(m)
	}
	return n
}

func (s *Sessions) deleteLocked(user, id string) {
	delete(s.users[user], id)
	if len(s.users[user]) == 0 {
		delete(s.users, user)
	}
}

// sweepLocked forgets expired sessions, at most once per sweepEvery.
func (s *Sessions) sweepLocked(now time.Time) {
	if now.Sub(s.swept) <= sweepEvery {
		return
	}
	for user, m := range s.users {
		for id, v := range m {
			if !now.Before(v.expires) {
				s.deleteLocked(user, id)
			}
		}
	}
	s.swept = now
}

// newID returns a session ID nobody can guess: 128 random bits.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
