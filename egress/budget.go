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
	if b.PerUserPerMinute > 0 {
		b.expire(now)
	}
	if b.Max > 0 && b.open >= b.Max {
		return nil, ErrTooMany
	}
	if b.PerUserPerMinute > 0 {
		if b.users == nil {
			b.users = make(map[string][]time.Time)
		}
		starts := b.users[user]
		if len(starts) >= b.PerUserPerMinute {
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

// expire forgets starts older than a minute; b.mu is held.
func (b *Budget) expire(now time.Time) {
	cut := now.Add(-time.Minute)
	for u, starts := range b.users {
		i := 0
		for i < len(starts) && !starts[i].After(cut) {
			i++
		}
		if i == len(starts) {
			delete(b.users, u)
		} else if i > 0 {
			b.users[u] = append(starts[:0], starts[i:]...)
		}
	}
}
