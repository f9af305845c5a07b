package adhoc

import (
	"fmt"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// clock is a time a test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time           { return c.t }
func (c *clock) add(d time.Duration)      { c.t = c.t.Add(d) }
func newClock() *clock                    { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func must(t *testing.T, s string) jid.JID { t.Helper(); return jid.MustParse(s) }

// testSessions is a store on a hand-moved clock.
func testSessions(t *testing.T, ttl time.Duration, perUser int) (*Sessions, *clock) {
	t.Helper()
	s := NewSessions(ttl, perUser)
	c := newClock()
	s.now = c.now
	return s, c
}

// TestSessionTake: who may continue a session, and what the others read.
func TestSessionTake(t *testing.T) {
	const ttl = 15 * time.Minute
	tests := []struct {
		name      string
		node      string // node of the Take
		requester string
		after     time.Duration // clock moves this far between Open and Take
		want      cond          // zero: taken
		kept      bool          // the owner can still take it afterwards
	}{
		{"its owner", "settings", "alice@example.org/phone", 0, cond{}, false},
		{"its owner just before expiry", "settings", "alice@example.org/phone", ttl - time.Second, cond{}, false},
		{"another resource of the same user", "settings", "alice@example.org/laptop", 0,
			cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"the bare JID of the owner", "settings", "alice@example.org", 0,
			cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"another user", "settings", "mallory@example.org/phone", 0,
			cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"another command's node", "register", "alice@example.org/phone", 0,
			cond{"modify", "bad-request", "bad-sessionid"}, true},
		{"expired", "settings", "alice@example.org/phone", ttl,
			cond{"cancel", "not-allowed", "session-expired"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := testSessions(t, ttl, 0)
			owner := must(t, "alice@example.org/phone")
			id := s.Open("", "settings", owner)
			c.add(tt.after)
			err := s.Take(id, tt.node, must(t, tt.requester))
			if tt.want == (cond{}) {
				if err != nil {
					t.Fatalf("Take: %v", err)
				}
			} else if err == nil {
				t.Fatalf("Take by %s accepted, want %+v", tt.requester, tt.want)
			} else if got := wireCond(t, err); got != tt.want {
				t.Errorf("Take by %s: %+v, want %+v", tt.requester, got, tt.want)
			}
			c.t = c.t.Add(-tt.after) // back, so that "kept" is about ownership, not time
			if err := s.Take(id, "settings", owner); (err == nil) != tt.kept {
				t.Errorf("owner's Take afterwards: %v, want kept=%v", err, tt.kept)
			}
		})
	}
}

// TestSessionEndsOnce: a session taken is gone; opening it again under its
// ID (the next stage) renews its expiry.
func TestSessionEndsOnce(t *testing.T) {
	s, c := testSessions(t, time.Minute, 0)
	alice := must(t, "alice@example.org/phone")
	id := s.Open("", "settings", alice)
	if err := s.Take(id, "settings", alice); err != nil {
		t.Fatal(err)
	}
	if err := s.Take(id, "settings", alice); err == nil {
		t.Fatal("a session was taken twice")
	} else if got := wireCond(t, err); got != (cond{"modify", "bad-request", "bad-sessionid"}) {
		t.Errorf("second Take: %+v", got)
	}

	c.add(50 * time.Second)
	if got := s.Open(id, "settings", alice); got != id {
		t.Fatalf("Open(%q) = %q", id, got)
	}
	c.add(50 * time.Second) // 100 s after the first Open, 50 s after the second
	if err := s.Take(id, "settings", alice); err != nil {
		t.Errorf("renewed session: %v", err)
	}
	if s.Len() != 0 {
		t.Errorf("%d sessions left", s.Len())
	}
}

// TestSessionIDs: new IDs are long, random and distinct.
func TestSessionIDs(t *testing.T) {
	s, _ := testSessions(t, 0, 1000)
	seen := map[string]bool{}
	for range 200 {
		id := s.Open("", "n", must(t, "alice@example.org/phone"))
		if len(id) != 32 || seen[id] {
			t.Fatalf("id %q (len %d, seen %v)", id, len(id), seen[id])
		}
		seen[id] = true
	}
}

// TestSessionsPerUser: a user's sessions are bounded; one more forgets that
// user's oldest, never another user's.
func TestSessionsPerUser(t *testing.T) {
	s, c := testSessions(t, time.Hour, 3)
	alice := must(t, "alice@example.org/phone")
	aliceLaptop := must(t, "alice@example.org/laptop")
	bob := must(t, "bob@example.org/phone")
	bobID := s.Open("", "settings", bob)
	var ids []string
	for i, who := range []jid.JID{alice, aliceLaptop, alice} {
		c.add(time.Second)
		ids = append(ids, s.Open(fmt.Sprint("a", i), "settings", who))
	}
	// Renewing one at the bound forgets nothing.
	c.add(time.Second)
	s.Open(ids[0], "settings", alice)
	if s.Len() != 4 {
		t.Fatalf("%d sessions, want 4", s.Len())
	}
	c.add(time.Second)
	s.Open("", "settings", aliceLaptop) // the fourth of alice's: a1 (oldest now) goes
	if s.Len() != 4 {
		t.Errorf("%d sessions, want 4", s.Len())
	}
	if err := s.Take(ids[1], "settings", aliceLaptop); err == nil {
		t.Error("alice's oldest session was kept")
	}
	for _, tc := range []struct {
		id  string
		who jid.JID
	}{{ids[0], alice}, {ids[2], alice}, {bobID, bob}} {
		if err := s.Take(tc.id, "settings", tc.who); err != nil {
			t.Errorf("session %s of %s: %v", tc.id, tc.who, err)
		}
	}
}

// TestSessionsSweep: sessions nobody finishes are forgotten once expired,
// without waiting for their user to come back.
func TestSessionsSweep(t *testing.T) {
	s, c := testSessions(t, 15*time.Minute, 0)
	for i := range 50 {
		s.Open("", "register", must(t, fmt.Sprintf("u%d@example.org/r", i)))
	}
	c.add(10 * time.Minute)
	s.Open("", "register", must(t, "late@example.org/r"))
	if s.Len() != 51 {
		t.Fatalf("%d sessions before expiry, want 51", s.Len())
	}
	c.add(6 * time.Minute) // the first 50 expired, the late one not
	s.Open("", "register", must(t, "new@example.org/r"))
	if s.Len() != 2 {
		t.Errorf("%d sessions after the sweep, want 2", s.Len())
	}
}
