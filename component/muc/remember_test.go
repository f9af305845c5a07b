package muc

import (
	"maps"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// TestRememberRooms: joins and leaves edit the hidden list of rooms
// without touching the user's other settings, and a rejoin writes
// nothing.
func TestRememberRooms(t *testing.T) {
	user := jid.MustParse("u@example.org")
	core := &fakeCore{settings: map[string]string{"stay_connected": "true"}}
	s := NewService(core)
	remember := func(room transports.ID, nick string) func() bool {
		return func() bool { return s.RememberRoom(t.Context(), user, room, nick) }
	}
	forget := func(room transports.ID) func() bool {
		return func() bool { s.ForgetRoom(t.Context(), user, room); return false }
	}
	steps := []struct {
		name   string
		do     func() bool
		added  bool
		want   string
		writes int
	}{
		{"join", remember("#b@n", "me"), true, "#b@n\tme\n", 1},
		{"second room, sorted", remember("#a@n", "me2"), true, "#a@n\tme2\n#b@n\tme\n", 2},
		{"rejoin writes nothing", remember("#a@n", "me2"), false, "#a@n\tme2\n#b@n\tme\n", 2},
		{"new nick", remember("#a@n", "other"), false, "#a@n\tother\n#b@n\tme\n", 3},
		{"leave", forget("#b@n"), false, "#a@n\tother\n", 4},
		{"leave a room not listed", forget("#x@n"), false, "#a@n\tother\n", 4},
	}
	for _, st := range steps {
		if added := st.do(); added != st.added {
			t.Errorf("%s: added = %v, want %v", st.name, added, st.added)
		}
		if got := core.settings[RoomsKey]; got != st.want {
			t.Errorf("%s: list %q, want %q", st.name, got, st.want)
		}
		if core.writes != st.writes {
			t.Errorf("%s: %d writes, want %d", st.name, core.writes, st.writes)
		}
		if core.settings["stay_connected"] != "true" {
			t.Fatalf("%s: other settings lost: %v", st.name, core.settings)
		}
	}
}

func TestRememberedRooms(t *testing.T) {
	tests := []struct {
		list string
		want map[transports.ID]string
	}{
		{"", map[transports.ID]string{}},
		{"#a@n\tme\n#b@n\tyou\n", map[transports.ID]string{"#a@n": "me", "#b@n": "you"}},
		{"#a@n\tme\nbroken\n\tnick\n#c@n\t\n", map[transports.ID]string{"#a@n": "me"}},
	}
	for _, tt := range tests {
		if got := RememberedRooms(map[string]string{RoomsKey: tt.list}); !maps.Equal(got, tt.want) {
			t.Errorf("RememberedRooms(%q) = %v, want %v", tt.list, got, tt.want)
		}
	}
}
