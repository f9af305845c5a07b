package muc

import (
	"testing"

	"mellium.im/xmpp/jid"
)

// TestUsersRelease: the table keeps an entry while it holds a room or an
// anonymous session, and forgets it, once idle, only if it is still the
// user's entry.
func TestUsersRelease(t *testing.T) {
	s := NewService(&fakeCore{})
	if s.Rooms("u@example.org") != nil {
		t.Fatal("an entry before any")
	}
	ur := s.User("u@example.org")
	if s.User("u@example.org") != ur || s.Rooms("u@example.org") != ur {
		t.Fatal("User made a second entry")
	}
	r := NewRoom("#a@n", jid.MustParse("#a%n@gw.example"), nil, "me")
	ur.PutNew(r)
	s.Release("u@example.org", ur)
	if s.Rooms("u@example.org") != ur {
		t.Error("an entry with a room was forgotten")
	}
	ur.Remove(r)
	ur.Anon = true
	s.Release("u@example.org", ur)
	if s.Rooms("u@example.org") != ur {
		t.Error("an entry with an anonymous session was forgotten")
	}
	ur.Anon = false
	stale := ur
	s.Release("u@example.org", ur)
	if s.Rooms("u@example.org") != nil {
		t.Error("an idle entry was kept")
	}
	fresh := s.User("u@example.org")
	fresh.PutNew(r)
	s.Release("u@example.org", stale)
	if s.Rooms("u@example.org") != fresh {
		t.Error("releasing a stale entry dropped the user's new one")
	}
}
