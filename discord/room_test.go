package discord

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/switchboard-im/switchboard/transports"
)

func TestDisplayName(t *testing.T) {
	tests := []struct {
		name string
		u    discordgo.User
		m    *discordgo.Member
		want string
	}{
		{"guild nick first", discordgo.User{ID: "1", Username: "bob", GlobalName: "Bob B"}, &discordgo.Member{Nick: "bobby"}, "bobby"},
		{"then the global name", discordgo.User{ID: "1", Username: "bob", GlobalName: "Bob B"}, &discordgo.Member{}, "Bob B"},
		{"then the username", discordgo.User{ID: "1", Username: "bob"}, nil, "bob"},
		{"control characters go", discordgo.User{ID: "1", Username: "bo\x00b\n"}, nil, "bob"},
		{"nothing left: the ID", discordgo.User{ID: "1", Username: "\x01"}, nil, "1"},
	}
	for _, tt := range tests {
		if got := displayName(&tt.u, tt.m); got != tt.want {
			t.Errorf("%s: displayName = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestNicksUnique: members whose names clash get the username, then the
// ID, added; each keeps the nick it got.
func TestNicksUnique(t *testing.T) {
	r := newRoom("8%9", "8", "9")
	users := []discordgo.User{
		{ID: "11", Username: "sam1"},
		{ID: "12", Username: "sam2"},
		{ID: "13", Username: "sam2"},  // another account with the same username
		{ID: "14", Username: "other"}, // named like the first one's fallback, which nobody took
	}
	want := []string{"Sam", "Sam (sam2)", "Sam (13)", "Sam (sam1)"}
	bases := []string{"Sam", "Sam", "Sam", "Sam (sam1)"}
	for i := range users {
		got, added := r.assign(&users[i], bases[i])
		if got != want[i] || !added {
			t.Errorf("assign(%s, %q) = %q, %v; want %q, added", users[i].ID, bases[i], got, added, want[i])
		}
	}
	if got, added := r.assign(&users[1], "Other"); got != "Sam (sam2)" || added {
		t.Errorf("assign again = %q, %v; want the nick kept", got, added)
	}
	if n := r.nicks(); len(n) != 4 || n["Sam (13)"] != "13" {
		t.Errorf("nicks = %v", n)
	}
}

func TestClassify(t *testing.T) {
	rest := func(code int, body string) error {
		var msg *discordgo.APIErrorMessage
		if body != "" {
			msg = &discordgo.APIErrorMessage{Message: body}
		}
		return &discordgo.RESTError{Response: &http.Response{StatusCode: code}, Message: msg, ResponseBody: []byte("raw body must not show")}
	}
	tests := []struct {
		err  error
		want error
		text string
	}{
		{rest(401, "401: Unauthorized"), transports.ErrBadCredentials, "Discord: 401: Unauthorized (HTTP 401)"},
		{rest(403, "Missing Access"), transports.ErrForbidden, "Missing Access"},
		{rest(404, "Unknown Channel"), transports.ErrNotFound, "Unknown Channel"},
		{rest(429, ""), transports.ErrBusy, "HTTP 429"},
		{rest(400, "Invalid Form Body\n\x1b[31m"), transports.ErrInvalidInput, "Invalid Form Body [31m (HTTP 400)"},
		{rest(502, ""), transports.ErrUnavailable, "HTTP 502"},
		{rest(400, strings.Repeat("é", 300)), transports.ErrInvalidInput, "…"},
		{&websocket.CloseError{Code: 4004}, transports.ErrBadCredentials, "4004"},
		{&websocket.CloseError{Code: 4014}, transports.ErrForbidden, "4014"},
		{&websocket.CloseError{Code: 1006}, transports.ErrUnavailable, "1006"},
		{errors.New("dial tcp 10.1.2.3:443: connection refused"), transports.ErrUnavailable, "could not reach Discord"},
	}
	for _, tt := range tests {
		got := classify(tt.err)
		if !errors.Is(got, tt.want) || !strings.Contains(got.Error(), tt.text) {
			t.Errorf("classify(%v) = %v; want %v with %q", tt.err, got, tt.want, tt.text)
		}
		if s := got.Error(); strings.Contains(s, "raw body") || strings.Contains(s, "10.1.2.3") || len(s) > 300 {
			t.Errorf("classify(%v) = %q quotes too much", tt.err, s)
		}
	}
}

// TestPresenceShown: a member's status reaches each room showing them
// (all rooms when the event names no guild, as Spacebar's do), and
// nobody else's room. Spacebar's events carry no status, so the events
// here are Discord's documented ones, handled without I/O.
func TestPresenceShown(t *testing.T) {
	s, err := discordgo.New("Bot x")
	if err != nil {
		t.Fatal(err)
	}
	sk := newSink()
	n, _ := New(Config{ServerURL: "http://127.0.0.1:9/"})
	a := &adapter{n: n, s: s, sink: sk, self: "1", rooms: map[string]*room{}, dmOf: map[string]string{}}
	in := newRoom("10%20", "10", "20")
	in.assign(&discordgo.User{ID: "2", Username: "bob"}, "bob")
	other := newRoom("11%21", "11", "21")
	a.rooms["10"], a.rooms["11"] = in, other
	tests := []struct {
		guild  string
		status discordgo.Status
		want   transports.Show
	}{
		{"20", discordgo.StatusIdle, transports.Away},
		{"20", discordgo.StatusDoNotDisturb, transports.DoNotDisturb},
		{"", discordgo.StatusOnline, transports.Available},
		{"20", discordgo.StatusOffline, transports.ExtendedAway},
	}
	for i, tt := range tests {
		a.onPresence(&discordgo.PresenceUpdate{GuildID: tt.guild, Presence: discordgo.Presence{User: &discordgo.User{ID: "2"}, Status: tt.status}})
		evs := sk.all()
		if len(evs) != i+1 {
			t.Fatalf("after %d updates: %s", i+1, describe(evs))
		}
		o, ok := evs[i].(*transports.OccupantEvent)
		if !ok || o.Room != "10%20" || o.Nick != "bob" || o.Presence.Show != tt.want || o.Account != "2" {
			t.Errorf("%s in guild %q: %+v; want bob in 10%%20 as %v", tt.status, tt.guild, evs[i], tt.want)
		}
	}
	a.onPresence(&discordgo.PresenceUpdate{GuildID: "21", Presence: discordgo.Presence{User: &discordgo.User{ID: "2"}, Status: discordgo.StatusIdle}})
	a.onPresence(&discordgo.PresenceUpdate{GuildID: "20", Presence: discordgo.Presence{User: &discordgo.User{ID: "3"}, Status: discordgo.StatusIdle}})
	if evs := sk.all(); len(evs) != len(tests) {
		t.Errorf("presences of people a room does not show: %s", describe(evs[len(tests):]))
	}
}

// TestPartnerPresence: a DM partner's status is their presence; offline
// is unavailable.
func TestPartnerPresence(t *testing.T) {
	s, err := discordgo.New("Bot x")
	if err != nil {
		t.Fatal(err)
	}
	sk := newSink()
	n, _ := New(Config{ServerURL: "http://127.0.0.1:9/"})
	a := &adapter{n: n, s: s, sink: sk, self: "1", rooms: map[string]*room{}, dmOf: map[string]string{"2": "30"}}
	a.onPresence(&discordgo.PresenceUpdate{Presence: discordgo.Presence{User: &discordgo.User{ID: "3"}, Status: discordgo.StatusIdle}})
	if evs := sk.all(); len(evs) != 0 {
		t.Fatalf("events %s for someone not a partner", describe(evs))
	}
	for i, tt := range []struct {
		status discordgo.Status
		want   transports.Show
	}{
		{discordgo.StatusDoNotDisturb, transports.DoNotDisturb},
		{discordgo.StatusIdle, transports.Away},
		{discordgo.StatusOnline, transports.Available},
		{discordgo.StatusOffline, transports.Offline},
		{discordgo.StatusInvisible, transports.Offline},
	} {
		a.onPresence(&discordgo.PresenceUpdate{Presence: discordgo.Presence{User: &discordgo.User{ID: "2"}, Status: tt.status}})
		evs := sk.all()
		if len(evs) != i+1 {
			t.Fatalf("after %s: events %s", tt.status, describe(evs))
		}
		if p, ok := evs[i].(*transports.PresenceEvent); !ok || p.From != "2" || p.Presence.Show != tt.want {
			t.Errorf("%s: event %+v; want 2 as %v", tt.status, evs[i], tt.want)
		}
	}
}
