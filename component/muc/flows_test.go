package muc

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
	"github.com/switchboard-im/switchboard/transports"
)

// recCore is fakeCore that records what the service writes: stanzas to
// the stream (sent), to the outbox (queued), and its answers. Post runs
// fn inline.
type recCore struct {
	*fakeCore
	sent    []*xmltree.Element
	queued  []*xmltree.Element
	errs    []string // conditions of ReplyError and JoinError, in order
	results int
	paired  int
	limited bool // IncomingAllowed says no
}

func newRecCore(t *testing.T, a transports.Adapter) *recCore {
	t.Helper()
	return &recCore{fakeCore: &fakeCore{adapter: a}}
}

func tree(v any) *xmltree.Element {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(err)
	}
	el, err := xmltree.Parse(string(b))
	if err != nil {
		panic(err)
	}
	return el
}

func (f *recCore) Post(user string, fn func(context.Context)) { fn(context.Background()) }
func (f *recCore) Domain() jid.JID                            { return jid.MustParse("irc.example.org") }
func (f *recCore) Send(ctx context.Context, v any)            { f.sent = append(f.sent, tree(v)) }
func (f *recCore) SendQuiet(ctx context.Context, v any)       { f.sent = append(f.sent, tree(v)) }
func (f *recCore) QueueOrSend(ctx context.Context, user jid.JID, m *stanza.Message) {
	f.queued = append(f.queued, tree(m))
}
func (f *recCore) ReplyError(s *stanza.In, e *stanzaerr.Error) { f.errs = append(f.errs, e.Condition) }
func (f *recCore) JoinError(s *stanza.In, e *stanzaerr.Error)  { f.errs = append(f.errs, e.Condition) }
func (f *recCore) Result(s *stanza.In, payload any)            { f.results++ }
func (f *recCore) IncomingAllowed(user jid.JID) bool           { return !f.limited }
func (f *recCore) Archive() *archive.Archive                   { return nil }
func (f *recCore) PairID(ctx context.Context, user string, room transports.ID, legacyID, xmppID string) error {
	f.paired++
	return nil
}

// in parses a stanza as the router hands it over.
func in(t *testing.T, s string) *stanza.In {
	t.Helper()
	el := xmltreetest.Parse(t, s)
	return &stanza.In{Element: el, From: jid.MustParse(el.Attr("from")), To: jid.MustParse(el.Attr("to")), ID: el.Attr("id"), Type: el.Attr("type")}
}

// TestMessageChecks: what the stream reader refuses of a message to a
// room or occupant JID before any work is queued.
func TestMessageChecks(t *testing.T) {
	const (
		room = "#go%irc.example.net@irc.example.org"
		head = `<message xmlns='jabber:component:accept' from='u@example.org/pc' `
	)
	tests := []struct {
		name     string
		stanza   string
		ok       bool
		wantCond string
	}{
		{"group chat", head + `to='` + room + `' type='groupchat'><body>hi</body></message>`, true, ""},
		{"group chat to an occupant", head + `to='` + room + `/bob' type='groupchat'><body>hi</body></message>`, false, "bad-request"},
		{"private message", head + `to='` + room + `/bob' type='chat'><body>hi</body></message>`, false, "feature-not-implemented"},
		{"chat state to an occupant", head + `to='` + room + `/bob' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`, false, ""},
		{"invitation", head + `to='` + room + `'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='x@example.org'/></x></message>`, false, "feature-not-implemented"},
		{"chat to the room", head + `to='` + room + `' type='chat'><body>hi</body></message>`, false, "not-acceptable"},
		{"chat state to the room", head + `to='` + room + `' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := newRecCore(t, nil)
			ok := NewService(core).Message(in(t, tt.stanza))
			if ok != tt.ok {
				t.Errorf("Message = %v, want %v", ok, tt.ok)
			}
			want := []string{}
			if tt.wantCond != "" {
				want = append(want, tt.wantCond)
			}
			if len(core.errs) != len(want) || len(want) == 1 && core.errs[0] != want[0] {
				t.Errorf("answers %q, want %q", core.errs, want)
			}
		})
	}
}

// TestSelfPing: XEP-0410 answers a result only to a joined resource under
// the room's nick, through its current session.
func TestSelfPing(t *testing.T) {
	const room = transports.ID("#go@irc.example.net")
	ping := func(from, to string) string {
		return `<iq xmlns='jabber:component:accept' type='get' id='p' from='` + from + `' to='` + to + `'><ping xmlns='urn:xmpp:ping'/></iq>`
	}
	roomJID := "#go%irc.example.net@irc.example.org"
	tests := []struct {
		name       string
		stale      bool // the room belongs to an earlier session
		joining    bool // the legacy join is still under way
		from, to   string
		wantResult bool
	}{
		{"joined, own nick", false, false, "u@example.org/pc", roomJID + "/me", true},
		{"joined, the room", false, false, "u@example.org/pc", roomJID, true},
		{"another nick", false, false, "u@example.org/pc", roomJID + "/bob", false},
		{"resource not joined", false, false, "u@example.org/phone", roomJID + "/me", false},
		{"another user", false, false, "v@example.org/pc", roomJID + "/me", false},
		{"earlier session", true, false, "u@example.org/pc", roomJID + "/me", false},
		{"still joining", false, true, "u@example.org/pc", roomJID + "/me", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := plainAdapter{}
			core := newRecCore(t, a)
			svc := NewService(core)
			var ra transports.Adapter = a
			if tt.stale {
				ra = &plainAdapter{}
			}
			r := NewRoom(room, jid.MustParse(roomJID), ra, "me")
			r.Join(jid.MustParse("u@example.org/pc"), "me", NoHistory)
			if !tt.joining {
				r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
			}
			svc.User("u@example.org").Put(r)

			svc.SelfPing(in(t, ping(tt.from, tt.to)), room)
			if got := core.results == 1; got != tt.wantResult {
				t.Errorf("result %v, want %v (errors %q)", got, tt.wantResult, core.errs)
			}
			if !tt.wantResult && (len(core.errs) != 1 || core.errs[0] != "not-acceptable") {
				t.Errorf("errors %q, want not-acceptable", core.errs)
			}
		})
	}
}

// TestMessageEventAway: a room message while no resource of the user is
// in the room is kept for the next join; a highlight also goes to the
// bare JID through the outbox, from the speaker's occupant JID, marked as
// from a room and to be stored, unless the incoming limit says no.
func TestMessageEventAway(t *testing.T) {
	const room = transports.ID("#go@irc.example.net")
	user := jid.MustParse("u@example.org")
	tests := []struct {
		name       string
		ev         transports.MessageEvent
		limited    bool
		wantQueued bool
	}{
		{"chatter", transports.MessageEvent{From: room, Room: true, Nick: "bob", Body: "hi", RemoteID: "L1"}, false, false},
		{"mention", transports.MessageEvent{From: room, Room: true, Nick: "bob", Body: "me: hi", Mention: true, RemoteID: "L2"}, false, true},
		{"own mention", transports.MessageEvent{From: room, Room: true, Own: true, Body: "me: hi", Mention: true, RemoteID: "L3"}, false, false},
		{"mention over the limit", transports.MessageEvent{From: room, Room: true, Nick: "bob", Body: "me: hi", Mention: true, RemoteID: "L4"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := newRecCore(t, plainAdapter{})
			core.limited = tt.limited
			svc := NewService(core)
			r := NewRoom(room, jid.MustParse("#go%irc.example.net@irc.example.org"), plainAdapter{}, "me")
			svc.User(user.String()).Put(r)

			svc.MessageEvent(t.Context(), user, &tt.ev)
			if len(core.sent) != 0 {
				t.Errorf("sent %v with no resource in the room", core.sent)
			}
			if away := r.TakeAway(); len(away.Since(time.Time{}, 10)) != 1 {
				t.Errorf("away backlog %+v, want the message", away)
			}
			if !tt.wantQueued {
				if len(core.queued) != 0 {
					t.Errorf("queued %v", core.queued)
				}
				return
			}
			if len(core.queued) != 1 {
				t.Fatalf("queued %v, want the highlight", core.queued)
			}
			m := core.queued[0]
			if m.Attr("type") != "chat" || m.Attr("to") != user.String() || m.Attr("from") != "#go%irc.example.net@irc.example.org/bob" ||
				m.Attr("id") != string(tt.ev.RemoteID) || m.ChildText("", "body") != tt.ev.Body {
				t.Errorf("highlight %s", m)
			}
			if m.Child(NSUser, "x") == nil || m.Child("urn:xmpp:hints", "store") == nil {
				t.Errorf("highlight without muc#user x or store hint: %s", m)
			}
		})
	}
}

// TestMessageEventJoined: a room message reaches every joined resource,
// held back for one still syncing, and the user's echo is paired with
// their own id.
func TestMessageEventJoined(t *testing.T) {
	const room = transports.ID("#go@irc.example.net")
	user := jid.MustParse("u@example.org")
	core := newRecCore(t, plainAdapter{})
	svc := NewService(core)
	r := NewRoom(room, jid.MustParse("#go%irc.example.net@irc.example.org"), plainAdapter{}, "me")
	r.Join(jid.MustParse("u@example.org/pc"), "me", NoHistory)
	r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
	for _, rr := range r.InPhase(Syncing) {
		rr.Flush() // pc is past its join
	}
	r.JoinAgain(jid.MustParse("u@example.org/phone"), "me", NoHistory) // syncing
	svc.User(user.String()).Put(r)
	core.sent = nil

	svc.MessageEvent(t.Context(), user, &transports.MessageEvent{From: room, Room: true, Own: true, EchoOf: "o1", Body: "hi", RemoteID: "L1"})
	var to []string
	for _, m := range core.sent {
		if m.Is("", "message") && m.ChildText("", "body") == "hi" {
			to = append(to, m.Attr("to"))
		}
	}
	if len(to) != 1 || to[0] != "u@example.org/pc" {
		t.Errorf("delivered to %q, want the joined resource only (the other is syncing)", to)
	}
	if core.paired != 1 {
		t.Errorf("%d pairs stored, want the echo's", core.paired)
	}
}

// TestLeaveNotInRoom: a leave for a room the resource is not in is
// confirmed anyway (clients wait for it), from the occupant JID it went
// to, with status 110, and creates no room state.
func TestLeaveNotInRoom(t *testing.T) {
	core := newRecCore(t, nil)
	svc := NewService(core)
	svc.Leave(t.Context(), in(t, `<presence xmlns='jabber:component:accept' type='unavailable' from='u@example.org/pc' to='#go%irc.example.net@irc.example.org/me'/>`), "#go@irc.example.net")
	if len(core.sent) != 1 {
		t.Fatalf("sent %v, want one confirmation", core.sent)
	}
	p := core.sent[0]
	x := p.Child(NSUser, "x")
	if !p.Is("", "presence") || p.Attr("type") != "unavailable" || p.Attr("from") != "#go%irc.example.net@irc.example.org/me" || p.Attr("to") != "u@example.org/pc" ||
		x == nil || x.Child(NSUser, "status") == nil || x.Child(NSUser, "status").Attr("code") != "110" {
		t.Errorf("confirmation %s", p)
	}
	if svc.Rooms("u@example.org") != nil {
		t.Error("a leave created room state")
	}
}

// TestOnState: when the session that joined a room is gone, its joined
// resources are told they are out (status 333, the reason in the status)
// and the room is forgotten; rooms of the current session stay.
func TestOnState(t *testing.T) {
	user := jid.MustParse("u@example.org")
	cur, old := &plainAdapter{}, &plainAdapter{}
	core := newRecCore(t, cur)
	svc := NewService(core)
	mk := func(id transports.ID, local string, a transports.Adapter) *Room {
		r := NewRoom(id, jid.MustParse(local+"@irc.example.org"), a, "me")
		r.Join(jid.MustParse("u@example.org/pc"), "me", NoHistory)
		r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
		svc.User(user.String()).Put(r)
		return r
	}
	gone := mk("#old@irc.example.net", "#old%irc.example.net", old)
	kept := mk("#new@irc.example.net", "#new%irc.example.net", cur)

	svc.OnState(t.Context(), user, transports.Status{State: transports.StateTransientDisconnect, Text: "connection reset"})
	if svc.Room(user, gone.ID) != nil || svc.Room(user, kept.ID) != kept {
		t.Errorf("rooms after the state change: old %v, current %v", svc.Room(user, gone.ID), svc.Room(user, kept.ID))
	}
	if len(core.sent) != 1 {
		t.Fatalf("sent %v, want one unavailable presence", core.sent)
	}
	p := core.sent[0]
	var codes []string
	if x := p.Child(NSUser, "x"); x != nil {
		for _, s := range x.ChildrenNamed(NSUser, "status") {
			codes = append(codes, s.Attr("code"))
		}
	}
	if p.Attr("type") != "unavailable" || p.Attr("from") != "#old%irc.example.net@irc.example.org/me" || p.Attr("to") != "u@example.org/pc" ||
		p.ChildText("", "status") != "Disconnected from IRC: connection reset." || strings.Join(codes, ",") != "110,333" {
		t.Errorf("presence %s (codes %v)", p, codes)
	}
}
