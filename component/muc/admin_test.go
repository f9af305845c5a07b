package muc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
	"github.com/switchboard-im/switchboard/transports"
)

// moderator records the moderation calls of a session.
type moderator struct {
	transports.Adapter
	calls []string
	err   error
}

func (m *moderator) Kick(ctx context.Context, room transports.ID, nick, reason string) error {
	m.calls = append(m.calls, fmt.Sprintf("kick %s %s %s", room, nick, reason))
	return m.err
}

func (m *moderator) SetRole(ctx context.Context, room transports.ID, nick string, role transports.Role) error {
	m.calls = append(m.calls, fmt.Sprintf("role %s %s %d", room, nick, role))
	return m.err
}

func (m *moderator) SetAffiliation(ctx context.Context, room transports.ID, nick string, aff transports.Affiliation) error {
	m.calls = append(m.calls, fmt.Sprintf("aff %s %s %d", room, nick, aff))
	return m.err
}

func TestAdmin(t *testing.T) {
	const room = transports.ID("#c@irc.example.net")
	roomJID := jid.MustParse("#c%irc.example.net@irc.example.org")
	user := jid.MustParse("u@example.org")
	const q = `<query xmlns='http://jabber.org/protocol/muc#admin'>`
	tests := []struct {
		name      string
		typ       string
		query     string
		ready     bool
		noRoom    bool
		adapter   func() transports.Adapter
		wantCond  string
		wantCalls []string
		wantItems []Item // for a get
	}{
		{name: "not in the room", typ: "get", query: q + `<item role='moderator'/></query>`, noRoom: true, wantCond: "not-acceptable"},
		{name: "join not finished", typ: "get", query: q + `<item role='moderator'/></query>`, wantCond: "not-acceptable"},
		{name: "no item", typ: "set", query: q + `</query>`, ready: true, wantCond: "bad-request"},
		{name: "list moderators", typ: "get", query: q + `<item role='moderator'/></query>`, ready: true,
			wantItems: []Item{{Nick: "op", Role: "moderator", Affiliation: "none"}}},
		{name: "list all", typ: "get", query: q + `<item/></query>`, ready: true,
			wantItems: []Item{{Nick: "bob", Role: "participant", Affiliation: "none"}, {Nick: "op", Role: "moderator", Affiliation: "none"}}},
		{name: "no moderation on the network", typ: "set", query: q + `<item nick='bob' role='none'/></query>`, ready: true,
			adapter: func() transports.Adapter { return plainAdapter{} }, wantCond: "feature-not-implemented"},
		{name: "kick and ban in order", typ: "set", query: q + `<item nick='bob' role='none'><reason>spam</reason></item><item nick='eve' affiliation='outcast'/></query>`, ready: true,
			wantCalls: []string{"kick #c@irc.example.net bob spam", "aff #c@irc.example.net eve 4"}},
		{name: "voice", typ: "set", query: q + `<item nick='bob' role='moderator'/></query>`, ready: true,
			wantCalls: []string{"role #c@irc.example.net bob 3"}},
		{name: "bad item", typ: "set", query: q + `<item role='moderator'/></query>`, ready: true, wantCond: "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := &moderator{}
			core := &fakeCore{adapter: mod}
			svc := NewService(core)
			if tt.adapter != nil {
				core.adapter = tt.adapter()
			}
			if !tt.noRoom {
				r := NewRoom(room, roomJID, core.adapter, "me")
				r.ApplyOccupant(&transports.OccupantEvent{Room: room, Nick: "op", Role: transports.RoleModerator})
				r.ApplyOccupant(&transports.OccupantEvent{Room: room, Nick: "bob", Role: transports.RoleParticipant})
				if tt.ready {
					r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
				}
				svc.User(user.String()).Put(r)
			}
			res, err := svc.Admin(t.Context(), user, tt.typ, xmltreetest.Parse(t, tt.query), room)
			var serr *stanzaerr.Error
			if tt.wantCond != "" {
				if !errors.As(err, &serr) || serr.Condition != tt.wantCond {
					t.Fatalf("error %v, want %s", err, tt.wantCond)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(mod.calls, tt.wantCalls) {
				t.Errorf("legacy calls %q, want %q", mod.calls, tt.wantCalls)
			}
			if core.owned == 0 && !tt.noRoom {
				t.Error("the room was read outside its owner")
			}
			if tt.wantItems == nil {
				if res != nil {
					t.Errorf("payload %#v, want none", res)
				}
				return
			}
			aq, ok := res.(*AdminQuery)
			if !ok {
				t.Fatalf("payload %T, want *AdminQuery", res)
			}
			if !slices.Equal(aq.Items, tt.wantItems) {
				t.Errorf("items %+v, want %+v", aq.Items, tt.wantItems)
			}
		})
	}
}

// TestAdminLegacyError: the network's refusal reaches the sender through
// the one mapping, and the items after it are not carried out.
func TestAdminLegacyError(t *testing.T) {
	const room = transports.ID("#c@irc.example.net")
	mod := &moderator{err: fmt.Errorf("%w: you are not channel operator", transports.ErrForbidden)}
	r := NewRoom(room, jid.MustParse("#c%irc.example.net@irc.example.org"), mod, "me")
	r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
	svc := NewService(&fakeCore{adapter: mod})
	svc.User("u@example.org").Put(r)
	q := xmltreetest.Parse(t, `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='a' role='none'/><item nick='b' role='none'/></query>`)
	_, err := svc.Admin(t.Context(), jid.MustParse("u@example.org"), "set", q, room)
	want := stanzaerr.FromLegacy(mod.err)
	var serr *stanzaerr.Error
	if !errors.As(err, &serr) || serr.Condition != want.Condition || serr.Text != want.Text {
		t.Fatalf("error %v, want %v", err, want)
	}
	if len(mod.calls) != 1 {
		t.Errorf("legacy calls %q, want only the first", mod.calls)
	}
}
