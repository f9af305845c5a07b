package muc

import (
	"context"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
	"github.com/switchboard-im/switchboard/transports"
)

// archCore is recCore with a room archive, the message-ID map's XMPP
// refs, and a stream that records what MAM writes.
type archCore struct {
	*recCore
	arch    *archive.Archive
	refs    map[transports.RemoteID]string // legacy ID → the user's own id
	written []*xmltree.Element
}

func (f *archCore) Archive() *archive.Archive { return f.arch }
func (f *archCore) NetworkKey() string        { return "irc" }
func (f *archCore) XMPPRef(_ context.Context, _ string, _ transports.ID, target transports.RemoteID) string {
	return f.refs[target]
}
func (f *archCore) Write(_ context.Context, v any) error {
	f.written = append(f.written, tree(v))
	return nil
}

// TestArchivedEdits: corrections, retractions and moderations are
// archived as messages of their own, whether a resource is in the room
// or not, in the order they came (the user's own correction echoed by
// the network too); the live stanza carries the archive ID as its
// stanza-id; a MAM query returns originals and edits in order, each
// with <replace/> or <retract/> as sent live, and join history (Latest)
// leaves the edits out.
func TestArchivedEdits(t *testing.T) {
	const room = transports.ID("#go@irc.example.net")
	roomJID := jid.MustParse("#go%irc.example.net@irc.example.org")
	user := jid.MustParse("u@example.org")
	events := []transports.Event{
		&transports.MessageEvent{From: room, Room: true, Nick: "bob", Body: "helo", RemoteID: "L1"},
		&transports.EditEvent{From: room, Room: true, Nick: "bob", Target: "L1", Body: "hello"},
		&transports.MessageEvent{From: room, Room: true, Own: true, EchoOf: "o2", Body: "mine", RemoteID: "L2"},
		&transports.EditEvent{From: room, Room: true, Own: true, Target: "L2", Body: "mine, fixed"},
		&transports.MessageEvent{From: room, Room: true, Nick: "carol", Body: "spam", RemoteID: "L3"},
		&transports.RetractEvent{From: room, Room: true, Nick: "carol", Target: "L3"},
		&transports.RetractEvent{From: room, Room: true, Nick: "bob", Target: "L1", Moderated: true, By: "dave", Reason: "rude"},
	}
	// What is stored: the entries without their generated IDs and times.
	type stored struct {
		Nick, Body, Replace, Retract, By, Reason string
		Own, Moderated                           bool
	}
	want := []stored{
		{Nick: "bob", Body: "helo"},
		{Nick: "bob", Body: "hello", Replace: "L1"},
		{Nick: "me", Body: "mine", Own: true},
		{Nick: "me", Body: "mine, fixed", Replace: "o2", Own: true},
		{Nick: "carol", Body: "spam"},
		{Nick: "carol", Retract: "L3"},
		{Retract: "L1", Moderated: true, By: "dave", Reason: "rude"},
	}
	// What MAM forwards of each, by namespace and local name.
	type forwarded struct {
		from, body, replace, retract, moderatedBy, reason string
	}
	wantMAM := []forwarded{
		{from: "/bob", body: "helo"},
		{from: "/bob", body: "hello", replace: "L1"},
		{from: "/me", body: "mine"},
		{from: "/me", body: "mine, fixed", replace: "o2"},
		{from: "/carol", body: "spam"},
		{from: "/carol", body: stanza.RetractFallback, retract: "L3"},
		{from: "", body: moderatedFallback, retract: "L1", moderatedBy: roomJID.String() + "/dave", reason: "rude"},
	}
	for _, joined := range []bool{true, false} {
		name := "away"
		if joined {
			name = "joined"
		}
		t.Run(name, func(t *testing.T) {
			core := &archCore{recCore: newRecCore(t, plainAdapter{}), arch: archive.New(bolttest.New(t).Store(), archive.Bounds{}),
				refs: map[transports.RemoteID]string{"L2": "o2"}}
			svc := NewService(core)
			r := NewRoom(room, roomJID, plainAdapter{}, "me")
			if joined {
				r.Join(jid.MustParse("u@example.org/pc"), "me", NoHistory)
				r.SetReady("me", transports.RoleParticipant, transports.AffiliationNone)
				for _, rr := range r.InPhase(Syncing) {
					rr.Flush()
				}
			}
			svc.User(user.String()).Put(r)
			core.sent = nil
			for _, ev := range events {
				switch ev := ev.(type) {
				case *transports.MessageEvent:
					svc.MessageEvent(t.Context(), user, ev)
				case *transports.EditEvent:
					svc.EditEvent(t.Context(), user, ev)
				case *transports.RetractEvent:
					svc.RetractEvent(t.Context(), user, ev)
				}
			}

			p, err := core.arch.Query(t.Context(), user.String(), "irc", string(room), archive.Query{Max: -1})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) != len(want) {
				t.Fatalf("%d entries archived, want %d: %+v", len(p.Entries), len(want), p.Entries)
			}
			for i, e := range p.Entries {
				got := stored{Nick: e.Nick, Body: e.Body, Replace: e.Replace, Retract: e.Retract, By: e.By, Reason: e.Reason, Own: e.Own, Moderated: e.Moderated}
				if got != want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got, want[i])
				}
				if e.ID == "" || e.Time.IsZero() {
					t.Errorf("entry %d without an ID or a time: %+v", i, e)
				}
			}
			if joined {
				// Live, each carries the archive ID as its stanza-id.
				if len(core.sent) != len(want) {
					t.Fatalf("%d stanzas sent live, want %d", len(core.sent), len(want))
				}
				for i, m := range core.sent {
					if sid := m.Child(stanza.NSSID, "stanza-id"); sid == nil || sid.Attr("id") != p.Entries[i].ID {
						t.Errorf("live stanza %d: stanza-id %v, archived as %s: %s", i, sid, p.Entries[i].ID, m)
					}
				}
			} else if len(core.sent) != 0 {
				t.Errorf("sent %d stanzas with no resource in the room", len(core.sent))
			}
			es, total, err := core.arch.Latest(t.Context(), user.String(), "irc", string(room), p.Entries[0].Time, 10)
			if err != nil || len(es) != 3 || total != 3 {
				t.Errorf("join history: %d of %d entries (%v), want the 3 messages", len(es), total, err)
			}

			// A client catching up with MAM gets them all, in order.
			q := in(t, `<iq xmlns="jabber:component:accept" type="set" id="q1" from="u@example.org/phone" to="`+roomJID.String()+`">`+
				`<query xmlns="urn:xmpp:mam:2" queryid="f1"/></iq>`)
			svc.MAM(t.Context(), q, q.Child("urn:xmpp:mam:2", "query"), room)
			if len(core.written) != len(wantMAM) || core.results != 1 {
				t.Fatalf("MAM wrote %d results and %d answers, want %d and 1", len(core.written), core.results, len(wantMAM))
			}
			for i, w := range core.written {
				res := w.Child("urn:xmpp:mam:2", "result")
				fwd := res.Child("urn:xmpp:forward:0", "forwarded")
				m := fwd.Child("jabber:client", "message")
				if res.Attr("id") != p.Entries[i].ID || m.Child(stanza.NSSID, "stanza-id").Attr("id") != p.Entries[i].ID {
					t.Errorf("result %d: id %s, want the archive ID %s", i, res.Attr("id"), p.Entries[i].ID)
				}
				got := forwarded{from: m.Attr("from")[len(roomJID.String()):], body: m.ChildText("", "body")}
				if rep := m.Child(stanza.NSCorrect, "replace"); rep != nil {
					got.replace = rep.Attr("id")
				}
				if ret := m.Child(stanza.NSRetract, "retract"); ret != nil {
					got.retract = ret.Attr("id")
					got.reason = ret.ChildText(stanza.NSRetract, "reason")
					if mod := ret.Child("urn:xmpp:message-moderate:1", "moderated"); mod != nil {
						got.moderatedBy = mod.Attr("by")
					}
					if fb := m.Child("urn:xmpp:fallback:0", "fallback"); fb == nil || fb.Attr("for") != stanza.NSRetract {
						t.Errorf("result %d: a retraction without its fallback marker: %s", i, m)
					}
				}
				if got != wantMAM[i] {
					t.Errorf("result %d = %+v, want %+v\n%s", i, got, wantMAM[i], m)
				}
			}
		})
	}
}
