package muc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// fakeCore is a bridge core with at most one user's session. Own runs
// fn inline, counting the calls. The methods it does not define are the
// embedded nil Core's: a test that reaches one panics.
type fakeCore struct {
	Core
	caps    transports.Capabilities
	adapter transports.Adapter // for user "u@example.org"
	owned   int

	settings map[string]string // user "u@example.org"'s
	setErr   error
	writes   int
}

func (f *fakeCore) Settings(ctx context.Context, user string) (map[string]string, error) {
	return maps.Clone(f.settings), nil
}

func (f *fakeCore) SetSettings(ctx context.Context, user string, settings map[string]string) error {
	f.writes++
	if f.setErr != nil {
		return f.setErr
	}
	f.settings = maps.Clone(settings)
	return nil
}

func (f *fakeCore) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func (f *fakeCore) Own(ctx context.Context, user string, fn func(context.Context)) bool {
	f.owned++
	fn(ctx)
	return true
}

func (f *fakeCore) Adapter(user string) transports.Adapter {
	if user == "u@example.org" {
		return f.adapter
	}
	return nil
}

func (f *fakeCore) Capabilities() transports.Capabilities { return f.caps }

func (f *fakeCore) OccupantPhoto(string, transports.ID, string, string) (string, bool) {
	return "", false
}

func (f *fakeCore) NetworkName() string { return "IRC" }

func (f *fakeCore) LegacyJID(id transports.ID) (jid.JID, error) {
	if strings.HasPrefix(string(id), "!") {
		return jid.JID{}, fmt.Errorf("no address for %q", id)
	}
	return jid.New(strings.ReplaceAll(string(id), "@", "%"), "irc.example.org", "")
}

// plainAdapter is a session that cannot list rooms; only ListRooms of
// listingAdapter is ever called by the service.
type plainAdapter struct{ transports.Adapter }

// listingAdapter lists rooms, counting the calls.
type listingAdapter struct {
	transports.Adapter
	rooms []transports.RoomInfo
	err   error
	calls int
}

func (l *listingAdapter) ListRooms(ctx context.Context, server transports.ID) ([]transports.RoomInfo, error) {
	l.calls++
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("no deadline on the legacy call")
	}
	return l.rooms, l.err
}

func TestListRooms(t *testing.T) {
	rooms := []transports.RoomInfo{{ID: "#a@irc.example.net", Members: 3}}
	errDown := errors.New("network down")
	tests := []struct {
		name      string
		listing   bool
		adapter   func() transports.Adapter
		user      string
		want      int
		wantCond  string // stanza error condition, "" for none
		wantErr   error
		wantCalls int
	}{
		{"no listing on the network", false, func() transports.Adapter { return &listingAdapter{rooms: rooms} }, "u@example.org", 0, "", nil, 0},
		{"no session", true, nil, "other@example.org", 0, "item-not-found", nil, 0},
		{"session cannot list", true, func() transports.Adapter { return plainAdapter{} }, "u@example.org", 0, "", nil, 0},
		{"listed", true, func() transports.Adapter { return &listingAdapter{rooms: rooms} }, "u@example.org", 1, "", nil, 1},
		{"network error as it is", true, func() transports.Adapter { return &listingAdapter{err: errDown} }, "u@example.org", 0, "", errDown, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := &fakeCore{caps: transports.Capabilities{RoomListing: tt.listing}}
			if tt.adapter != nil {
				core.adapter = tt.adapter()
			}
			s := NewService(core)
			got, err := s.ListRooms(t.Context(), tt.user, "irc.example.net")
			var serr *stanzaerr.Error
			switch {
			case tt.wantCond != "":
				if !errors.As(err, &serr) || serr.Condition != tt.wantCond || !strings.Contains(serr.Text, "IRC") {
					t.Fatalf("error %v, want %s naming the network", err, tt.wantCond)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("%d rooms, want %d", len(got), tt.want)
			}
			if l, ok := core.adapter.(*listingAdapter); ok && l.calls != tt.wantCalls {
				t.Errorf("%d legacy calls, want %d", l.calls, tt.wantCalls)
			}
		})
	}
}

// TestListRoomsCache: a list is reused for ListTTL per user and server,
// then asked again; a failed listing is not kept.
func TestListRoomsCache(t *testing.T) {
	l := &listingAdapter{rooms: []transports.RoomInfo{{ID: "#a@irc.example.net"}}}
	s := NewService(&fakeCore{caps: transports.Capabilities{RoomListing: true}, adapter: l})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	steps := []struct {
		advance time.Duration
		server  transports.ID
		calls   int
	}{
		{0, "irc.example.net", 1},
		{ListTTL - time.Second, "irc.example.net", 1},
		{0, "irc.other.net", 2},
		{time.Second, "irc.example.net", 3},
		{0, "irc.example.net", 3},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		if _, err := s.ListRooms(t.Context(), "u@example.org", st.server); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if l.calls != st.calls {
			t.Errorf("step %d (%s): %d legacy calls, want %d", i, st.server, l.calls, st.calls)
		}
	}
	l.err = errors.New("down")
	now = now.Add(ListTTL)
	if _, err := s.ListRooms(t.Context(), "u@example.org", "irc.example.net"); err == nil {
		t.Fatal("no error from a failed listing")
	}
	l.err = nil
	if _, err := s.ListRooms(t.Context(), "u@example.org", "irc.example.net"); err != nil || l.calls != 5 {
		t.Errorf("after a failure: err %v, %d calls, want a new call (5)", err, l.calls)
	}
}

func TestPageRooms(t *testing.T) {
	s := NewService(&fakeCore{})
	long := strings.Repeat("ü", MaxItemName)
	tests := []struct {
		name string
		room transports.RoomInfo
		want string // "" for left out
	}{
		{"name, members, topic", transports.RoomInfo{ID: "#a@n", Name: "A", Members: 2, Topic: "hi"}, "A (2) hi"},
		{"ID when no name", transports.RoomInfo{ID: "#b@n", Members: 0}, "#b@n (0)"},
		{"no address: left out", transports.RoomInfo{ID: "!c"}, ""},
		{"long topic cut", transports.RoomInfo{ID: "#d@n", Name: "D", Topic: long}, "D (0) " + strings.Repeat("ü", (MaxItemName-len("D (0) ")-len("…"))/2) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, serr := s.PageRooms([]transports.RoomInfo{tt.room}, nil)
			if serr != nil {
				t.Fatal(serr)
			}
			if tt.want == "" {
				if len(res.Items) != 0 {
					t.Fatalf("items %v, want none", res.Items)
				}
				return
			}
			if len(res.Items) != 1 {
				t.Fatalf("%d items, want 1", len(res.Items))
			}
			it := res.Items[0]
			if it.Name != tt.want {
				t.Errorf("name %q, want %q", it.Name, tt.want)
			}
			if len(it.Name) > MaxItemName {
				t.Errorf("name of %d bytes, over %d", len(it.Name), MaxItemName)
			}
			if want, _ := (&fakeCore{}).LegacyJID(tt.room.ID); !it.JID.Equal(want) {
				t.Errorf("JID %v, want %v", it.JID, want)
			}
		})
	}
}
