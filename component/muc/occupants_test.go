package muc

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

func TestHatsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		hats []transports.Hat
	}{
		{"none", nil},
		{"one", []transports.Hat{{ID: "r1", Title: "Mods", Hue: 240}}},
		{"no hue, empty title", []transports.Hat{{ID: "r2", Hue: -1}}},
		{"separators and digits in the text", []transports.Hat{
			{ID: "12:3;x", Title: "a:b;c\x00", Hue: 0.5},
			{ID: "", Title: "9:", Hue: 359.999},
		}},
		{"unicode", []transports.Hat{{ID: "ü", Title: "Модераторы 🛡", Hue: 120}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodeHats(tt.hats)
			if got := decodeHats(enc); !reflect.DeepEqual(got, tt.hats) {
				t.Errorf("decodeHats(encodeHats(%v)) = %v (encoded %q)", tt.hats, got, enc)
			}
		})
	}
}

// TestHatsEncodingTellsApart: two lists of hats encode alike exactly
// when they are equal, as the change check compares the encodings.
func TestHatsEncodingTellsApart(t *testing.T) {
	tests := []struct {
		name string
		a, b []transports.Hat
		same bool
	}{
		{"nil and empty", nil, []transports.Hat{}, true},
		{"equal", []transports.Hat{{ID: "a", Title: "A", Hue: 1}}, []transports.Hat{{ID: "a", Title: "A", Hue: 1}}, true},
		{"zero and minus zero", []transports.Hat{{ID: "a"}}, []transports.Hat{{ID: "a", Hue: math.Copysign(0, -1)}}, true},
		{"hue", []transports.Hat{{ID: "a", Hue: 1}}, []transports.Hat{{ID: "a", Hue: 2}}, false},
		{"text moved between ID and title", []transports.Hat{{ID: "ab", Title: "c"}}, []transports.Hat{{ID: "a", Title: "bc"}}, false},
		{"order", []transports.Hat{{ID: "a"}, {ID: "b"}}, []transports.Hat{{ID: "b"}, {ID: "a"}}, false},
		{"one more", []transports.Hat{{ID: "a"}}, []transports.Hat{{ID: "a"}, {ID: "a"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encodeHats(tt.a) == encodeHats(tt.b); got != tt.same {
				t.Errorf("encodings equal = %v, want %v", got, tt.same)
			}
		})
	}
}

func TestOccupantList(t *testing.T) {
	var l occupantList
	for _, n := range []string{"mallory", "alice", "Zed", "bob"} {
		l.set(&Occupant{Nick: n, Role: transports.RoleParticipant})
	}
	nicks := func() []string {
		var out []string
		for _, h := range l {
			out = append(out, h.Value().nick)
		}
		return out
	}
	if got, want := nicks(), []string{"Zed", "alice", "bob", "mallory"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("nicks %v, want %v (byte order)", got, want)
	}
	op := Occupant{Nick: "bob", Role: transports.RoleModerator, Account: "bobby", OccupantID: "id-b",
		Presence: transports.Presence{Show: transports.Away, Status: "out"}, Hats: []transports.Hat{{ID: "h", Title: "Ops", Hue: 10}}}
	if l.shows(&op) {
		t.Error("shows: bob as moderator before he is one")
	}
	l.set(&op)
	if !l.shows(&op) {
		t.Error("shows: not bob as moderator after set")
	}
	if got, ok := l.get("bob"); !ok || !reflect.DeepEqual(got, op) {
		t.Errorf("get(bob) = %+v, %v; want %+v", got, ok, op)
	}
	if len(l) != 4 {
		t.Errorf("%d occupants after replacing bob, want 4", len(l))
	}
	if got, ok := l.remove("alice"); !ok || got.Nick != "alice" {
		t.Errorf("remove(alice) = %+v, %v", got, ok)
	}
	if _, ok := l.remove("alice"); ok {
		t.Error("remove(alice) twice found her")
	}
	if _, ok := l.get("carol"); ok {
		t.Error("get(carol) found someone")
	}
	if got, want := nicks(), []string{"Zed", "bob", "mallory"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nicks %v, want %v", got, want)
	}
}

// TestOccupantsShared: two users' rooms that saw the same member hold
// one record, and each user's list still follows only its own events.
func TestOccupantsShared(t *testing.T) {
	a, b := newTestRoom("me"), newTestRoom("you")
	a.SetReady("", transports.RoleParticipant, transports.AffiliationNone)
	b.SetReady("", transports.RoleParticipant, transports.AffiliationNone)
	alice := &transports.OccupantEvent{Room: "#chan", Nick: "alice", Role: transports.RoleParticipant, Account: "alice"}
	a.ApplyOccupant(alice)
	b.ApplyOccupant(alice)
	if len(a.occupants) != 1 || len(b.occupants) != 1 || a.occupants[0] != b.occupants[0] {
		t.Fatalf("the same member is not one shared record: %v, %v", a.occupants, b.occupants)
	}
	op := *alice
	op.Role = transports.RoleModerator
	if ch := a.ApplyOccupant(&op); ch.Kind != Present || ch.Occupant.Role != transports.RoleModerator {
		t.Errorf("a's change %+v, want alice present as moderator", ch)
	}
	if got := occupants(b); got != "alice:participant:none" {
		t.Errorf("b sees %q after a's event alone, want alice as participant", got)
	}
	if ch := b.ApplyOccupant(&op); ch.Kind != Present {
		t.Errorf("b's own event about the op: %+v, want Present", ch)
	}
	if a.occupants[0] != b.occupants[0] {
		t.Error("after the same event, the two rooms hold different records")
	}
}

// TestOccupantListGrowsByAnEighth: a user's list keeps little unused
// room however many members join one by one.
func TestOccupantListGrowsByAnEighth(t *testing.T) {
	var l occupantList
	for i := range 1000 {
		l.set(&Occupant{Nick: fmt.Sprintf("n%04d", 999-i)})
		if n := len(l); cap(l) > n+n/8+4 {
			t.Fatalf("%d members, capacity %d", n, cap(l))
		}
	}
	for i, h := range l {
		if want := fmt.Sprintf("n%04d", i); h.Value().nick != want {
			t.Fatalf("member %d is %q, want %q", i, h.Value().nick, want)
		}
	}
}

// TestOccupantPhotoShown: the picture hash last shown is kept with the
// occupant, is no change of what the occupant shows, and is forgotten
// when the occupant is recorded again, as the map of occupants did.
func TestOccupantPhotoShown(t *testing.T) {
	var l occupantList
	alice := Occupant{Nick: "alice", Role: transports.RoleParticipant}
	l.set(&alice)
	ph := photo{hash: "abc", known: true}
	l.setPhoto("alice", ph)
	l.setPhoto("nobody", ph) // no such occupant: nothing
	if got, _ := l.get("alice"); got.photo != ph {
		t.Errorf("photo %+v after setPhoto, want %+v", got.photo, ph)
	}
	if len(l) != 1 {
		t.Errorf("%d occupants, want 1", len(l))
	}
	if !l.shows(&alice) {
		t.Error("shows: alice with her photo shown is not alice as the network gives her")
	}
	if got, _ := l.remove("alice"); got.photo != ph {
		t.Errorf("removed alice's photo %+v, want %+v", got.photo, ph)
	}
	l.set(&alice)
	if got, _ := l.get("alice"); got.photo != (photo{}) {
		t.Errorf("photo %+v after alice was recorded again, want none", got.photo)
	}
}
