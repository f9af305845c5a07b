package egress

import (
	"errors"
	"sync"
	"time"
)

var (
	// ErrTooMany is returned when the process already holds as many
	// legacy connections as it may.
	ErrTooMany = errors.New("too many legacy connections")
	// ErrRate is returned when a user opened too many connections in the
	// last minute.
	ErrRate = errors.New("too many new connections")
)

// Budget counts legacy connections: at most Max open in the whole
// process, and at most PerUserPerMinute new ones per user in any minute.
// A nil *Budget allows everything. It is safe for concurrent use; the
// memory it keeps per user expires after a minute.
type Budget struct {
	// Max is the process-wide cap on open connections; 0 means none.
	Max int
	// PerUserPerMinute caps new connections per user; 0 means none.
	PerUserPerMinute int

	mu    sync.Mutex
	open  int
	users map[string][]time.Time // starts in the last minute, oldest first
	swept time.Time              // last removal of users idle for a minute
	now   func() time.Time
}

// Open accounts for one new connection of user. On success the caller
// must call release exactly once when the connection is gone (further
// calls do nothing). Reconnections after a drop count like new ones.
func (b *Budget) Open(user string) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.now != nil {
		now = b.now()
	}
	cut := now.Add(-time.Minute)
	if b.PerUserPerMinute > 0 && now.Sub(b.swept) > time.Minute {
		b.expire(cut)
		b.swept = now
	}
	if b.Max > 0 && b.open >= b.Max {
		return nil, ErrTooMany
	}
	if b.PerUserPerMinute > 0 {
		if b.users == nil {
			b.users = make(map[string][]time.Time)
		}
		starts := recent(b.users[user], cut)
		if len(starts) >= b.PerUserPerMinute {
			b.users[user] = starts
			return nil, ErrRate
		}
		b.users[user] = append(starts, now)
	}
	b.open++
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.open--
			b.mu.Unlock()
		})
	}, nil
}

// Count reports the number of connections currently accounted for.
func (b *Budget) Count() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// expire forgets the users with no start after cut; b.mu is held. It runs
// at most once a minute: Open trims the starts of the user it counts.
func (b *Budget) expire(cut time.Time) {
	for u, starts := range b.users {
		if len(recent(starts, cut)) == 0 {
			delete(b.users, u)
		}
	}
}

// recent returns the starts after cut (starts is oldest first).
func recent(starts []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(starts) && !starts[i].After(cut) {
		i++
	}
	return starts[i:]
}
