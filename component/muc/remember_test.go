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
	steps := []struct {
		name   string
		do     func()
		want   string
		writes int
	}{
		{"join", func() { s.RememberRoom(t.Context(), user, "#b@n", "me") }, "#b@n\tme\n", 1},
		{"second room, sorted", func() { s.RememberRoom(t.Context(), user, "#a@n", "me2") }, "#a@n\tme2\n#b@n\tme\n", 2},
		{"rejoin writes nothing", func() { s.RememberRoom(t.Context(), user, "#a@n", "me2") }, "#a@n\tme2\n#b@n\tme\n", 2},
		{"new nick", func() { s.RememberRoom(t.Context(), user, "#a@n", "other") }, "#a@n\tother\n#b@n\tme\n", 3},
		{"leave", func() { s.ForgetRoom(t.Context(), user, "#b@n") }, "#a@n\tother\n", 4},
		{"leave a room not listed", func() { s.ForgetRoom(t.Context(), user, "#x@n") }, "#a@n\tother\n", 4},
	}
	for _, st := range steps {
		st.do()
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
