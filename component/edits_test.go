package component_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// Names of the message features, matched by namespace and local name.
const (
	nsCorrect   = "urn:xmpp:message-correct:0"
	nsRetract   = "urn:xmpp:message-retract:1"
	nsModerate  = "urn:xmpp:message-moderate:1"
	nsFallback  = "urn:xmpp:fallback:0"
	nsReactions = "urn:xmpp:reactions:0"
	nsReply     = "urn:xmpp:reply:0"
	nsChat      = "http://jabber.org/protocol/chatstates"
	nsHints     = "urn:xmpp:hints"
	bobJID      = "bob@" + gw
)

// noSend fails when the adapter sends anything within d.
func noSend(t *testing.T, a *transportstest.Adapter, d time.Duration) {
	t.Helper()
	select {
	case m := <-a.Sent():
		t.Fatalf("sent %+v, want nothing", m)
	case <-time.After(d):
	}
}

func nextSent(t *testing.T, a *transportstest.Adapter) transports.Message {
	t.Helper()
	select {
	case m := <-a.Sent():
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("nothing sent within 10 s")
	}
	return transports.Message{}
}

// isErrorReply matches the error bounced for the message with id.
func isErrorReply(id string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == id
	}
}

// features returns the disco#info features of j as the user asks them.
func features(t *testing.T, c *testenv.Client, j string) []string {
	t.Helper()
	res := c.IQ(t, `<iq type="get" to="`+j+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	q := res.Find(qDiscoInfo)
	if q == nil {
		t.Fatalf("no disco#info answer from %s: %s", j, res)
	}
	var out []string
	for _, f := range q.ChildrenNamed("http://jabber.org/protocol/disco#info", "feature") {
		out = append(out, f.Attr("var"))
	}
	return out
}

// TestDirectCorrectionsAndRetractions: a one-to-one correction or
// retraction from the user reaches the network as an edit or deletion of
// the legacy message the ID map pairs with it where the network can; where
// it cannot, the correction is one new message marked as such and the
// retraction is refused, and its fallback body never sent.
func TestDirectCorrectionsAndRetractions(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	tests := []struct {
		name    string
		canEdit bool
	}{
		{"network edits and deletes", true},
		{"network cannot edit or delete", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{prosody: p, caps: func(c *transports.Capabilities) {
				c.Corrections, c.Retractions = tt.canEdit, tt.canEdit
			}})
			local := []string{"dora", "emil"}[i]
			c := e.user(t, local, "pc", 0)
			e.register(t, c)
			a := e.adapter(t, local+"@localhost")

			gotFeatures := features(t, c, gw)
			for _, ns := range []string{nsCorrect, nsRetract} {
				if slices.Contains(gotFeatures, ns) != tt.canEdit {
					t.Errorf("gateway advertises %s: %v, want %v", ns, slices.Contains(gotFeatures, ns), tt.canEdit)
				}
			}

			c.Send(t, `<message type="chat" id="o1" to="`+bobJID+`"><body>helo</body><origin-id xmlns="urn:xmpp:sid:0" id="o1"/></message>`)
			if m := nextSent(t, a); m.Body != "helo" || m.To != "bob" {
				t.Fatalf("first message sent as %+v", m)
			}

			c.Send(t, `<message type="chat" id="o2" to="`+bobJID+`"><body>hello</body><replace xmlns="`+nsCorrect+`" id="o1"/></message>`)
			if tt.canEdit {
				waitFor(t, "the edit", func() bool { return len(a.Edits()) == 1 })
				ed := a.Edits()[0]
				if ed.To != "bob" || ed.Body != "hello" || ed.Target == "" {
					t.Errorf("edit = %+v", ed)
				}
				noSend(t, a, 300*time.Millisecond)
			} else {
				if m := nextSent(t, a); m.Body != "✎ hello" || m.To != "bob" {
					t.Errorf("correction sent as %+v, want one message \"✎ hello\"", m)
				}
				noSend(t, a, 300*time.Millisecond)
				if n := len(a.Edits()); n != 0 {
					t.Errorf("%d edits on a network that claims none", n)
				}
			}

			c.Send(t, `<message type="chat" id="o3" to="`+bobJID+`"><retract xmlns="`+nsRetract+`" id="o1"/>`+
				`<fallback xmlns="`+nsFallback+`" for="`+nsRetract+`"/><body>/me retracted a message</body><store xmlns="`+nsHints+`"/></message>`)
			if tt.canEdit {
				waitFor(t, "the retraction", func() bool { return len(a.Retractions()) == 1 })
				if r := a.Retractions()[0]; r.To != "bob" || r.Target != a.Edits()[0].Target || r.Moderated {
					t.Errorf("retraction = %+v, want the edited message %q", r, a.Edits()[0].Target)
				}
				// A message the gateway never paired cannot be named.
				c.Send(t, `<message type="chat" id="o4" to="`+bobJID+`"><retract xmlns="`+nsRetract+`" id="unknown"/><body>x</body></message>`)
				wantError(t, c.Expect(t, "unknown retraction refused", isErrorReply("o4")), "item-not-found", "does not know that message")
			} else {
				wantError(t, c.Expect(t, "retraction refused", isErrorReply("o3")), "feature-not-implemented", "cannot delete messages")
			}
			noSend(t, a, 300*time.Millisecond) // the fallback body is never a message
		})
	}
}

// TestDirectLegacyEditsAndMore: a contact's edits, deletions, replies,
// typing and reactions reach the user as corrections, retractions (with
// a fallback body), replies, chat states and reactions naming the XMPP id
// the user's client knows; the user's own message from another client is
// marked, never shown as the contact's.
func TestDirectLegacyEditsAndMore(t *testing.T) {
	e := newEnv(t, envOptions{caps: func(c *transports.Capabilities) {
		c.Corrections, c.Retractions, c.Reactions, c.Replies, c.ChatStates = true, true, true, true, true
	}})
	c := e.user(t, "fred", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "fred@localhost")

	a.Emit(&transports.MessageEvent{From: "bob", Body: "helo", RemoteID: "r1"})
	orig := c.Expect(t, "bob's message", isMessageFrom(bobJID))
	xid := orig.Attr("id")
	if xid == "" || orig.Find("{urn:xmpp:sid:0}origin-id") == nil || orig.Find("{urn:xmpp:sid:0}origin-id").Attr("id") != xid {
		t.Fatalf("message without id or origin-id: %s", orig)
	}

	a.Emit(&transports.EditEvent{From: "bob", Target: "r1", Body: "hello"})
	ed := c.Expect(t, "bob's correction", isMessageFrom(bobJID))
	if r := ed.Child(nsCorrect, "replace"); r == nil || r.Attr("id") != xid || bodyOf(ed) != "hello" {
		t.Errorf("correction = %s, want body hello replacing %s", ed, xid)
	}

	a.Emit(&transports.MessageEvent{From: "bob", Body: "see above", RemoteID: "r2", ReplyTo: "r1"})
	re := c.Expect(t, "bob's reply", isMessageFrom(bobJID))
	if r := re.Child(nsReply, "reply"); r == nil || r.Attr("id") != xid {
		t.Errorf("reply = %s, want a reply to %s", re, xid)
	}

	a.Emit(&transports.TypingEvent{From: "bob", State: transports.Composing})
	c.Expect(t, "bob is typing", func(el *testenv.Element) bool {
		return isStanza(el, "message") && bareOf(el.Attr("from")) == bobJID && el.Child(nsChat, "composing") != nil &&
			el.Child("", "body") == nil && el.Child(nsHints, "no-store") != nil
	})

	isReactions := func(want ...string) func(*testenv.Element) bool {
		return func(el *testenv.Element) bool {
			r := el.Child(nsReactions, "reactions")
			if bareOf(el.Attr("from")) != bobJID || r == nil || r.Attr("id") != xid {
				return false
			}
			var got []string
			for _, ch := range r.ChildrenNamed(nsReactions, "reaction") {
				got = append(got, ch.Text)
			}
			return slices.Equal(got, want)
		}
	}
	a.Emit(&transports.ReactionEvent{From: "bob", Target: "r1", Reaction: "👍"})
	c.Expect(t, "bob's reaction", isReactions("👍"))
	a.Emit(&transports.ReactionEvent{From: "bob", Target: "r1", Reaction: "🎉"})
	c.Expect(t, "bob's two reactions", isReactions("👍", "🎉"))
	a.Emit(&transports.ReactionEvent{From: "bob", Target: "r1", Reaction: "👍", Remove: true})
	c.Expect(t, "bob took one back", isReactions("🎉"))

	a.Emit(&transports.RetractEvent{From: "bob", Target: "r1"})
	rt := c.Expect(t, "bob's retraction", isMessageFrom(bobJID))
	if r := rt.Child(nsRetract, "retract"); r == nil || r.Attr("id") != xid {
		t.Errorf("retraction = %s, want a retraction of %s", rt, xid)
	}
	if f := rt.Child(nsFallback, "fallback"); f == nil || f.Attr("for") != nsRetract || rt.Child(nsHints, "store") == nil {
		t.Errorf("retraction without fallback marker or store hint: %s", rt)
	}

	// What the map does not know is still shown, marked.
	a.Emit(&transports.EditEvent{From: "bob", Target: "r-unknown", Body: "again"})
	un := c.Expect(t, "correction of an unknown message", isMessageFrom(bobJID))
	if bodyOf(un) != "✎ again" || un.Child(nsCorrect, "replace") != nil {
		t.Errorf("unknown correction = %s, want a new message \"✎ again\"", un)
	}

	// The user's own message, sent from another legacy client.
	a.Emit(&transports.MessageEvent{From: "bob", Nick: "Bob", Body: "sent from my phone", RemoteID: "r3", Own: true})
	own := c.Expect(t, "own message", isMessageFrom(bobJID))
	if bodyOf(own) != "[you, from another client] sent from my phone" {
		t.Errorf("own message body %q", bodyOf(own))
	}
	if own.Child("http://jabber.org/protocol/nick", "nick") != nil {
		t.Errorf("own message carries the contact's nick: %s", own)
	}
	// The user's own reaction from another legacy client, without the
	// message privilege: marked text, never a reactions element from bob.
	a.Emit(&transports.ReactionEvent{From: "bob", Target: "r1", Reaction: "🙂", Own: true})
	or := c.Expect(t, "own reaction", isMessageFrom(bobJID))
	if bodyOf(or) != "[you, from another client] [reacted 🙂 to an earlier message]" || or.Child(nsReactions, "reactions") != nil {
		t.Errorf("own reaction = %s, want a marked text", or)
	}
}

// TestDirectStatesReactionsReplies: the user's chat states, reactions and
// replies in a one-to-one chat reach the network where it claims them,
// and reactions are refused where it does not.
func TestDirectStatesReactionsReplies(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	t.Run("claimed", func(t *testing.T) {
		e := newEnv(t, envOptions{prosody: p, caps: func(c *transports.Capabilities) {
			c.Reactions, c.Replies, c.ChatStates = true, true, true
		}})
		c := e.user(t, "gina", "pc", 0)
		e.register(t, c)
		a := e.adapter(t, "gina@localhost")
		if f := features(t, c, gw); !slices.Contains(f, nsReactions) || !slices.Contains(f, nsReply) || !slices.Contains(f, nsChat) {
			t.Errorf("gateway features %v lack reactions, replies or chat states", f)
		}

		c.Send(t, `<message type="chat" to="`+bobJID+`"><composing xmlns="`+nsChat+`"/></message>`)
		waitFor(t, "the typing notification", func() bool { return len(a.Typings()) == 1 })
		if got := a.Typings()[0]; got != (transportstest.Typing{To: "bob", State: transports.Composing}) {
			t.Errorf("typing = %+v", got)
		}

		a.Emit(&transports.MessageEvent{From: "bob", Body: "lunch?", RemoteID: "q1"})
		xid := c.Expect(t, "bob's question", isMessageFrom(bobJID)).Attr("id")

		c.Send(t, `<message type="chat" to="`+bobJID+`"><reactions xmlns="`+nsReactions+`" id="`+xid+`"><reaction>❤</reaction><reaction>👍</reaction></reactions></message>`)
		waitFor(t, "two reactions", func() bool { return len(a.Reactions()) == 2 })
		c.Send(t, `<message type="chat" to="`+bobJID+`"><reactions xmlns="`+nsReactions+`" id="`+xid+`"><reaction>👍</reaction></reactions></message>`)
		waitFor(t, "a reaction taken back", func() bool { return len(a.Reactions()) == 3 })
		want := []transportstest.Reaction{
			{To: "bob", Target: "q1", Reaction: "❤"},
			{To: "bob", Target: "q1", Reaction: "👍"},
			{To: "bob", Target: "q1", Reaction: "❤", Remove: true},
		}
		if got := a.Reactions(); !slices.Equal(got, want) {
			t.Errorf("reactions = %+v, want %+v", got, want)
		}

		c.Send(t, `<message type="chat" id="y1" to="`+bobJID+`"><body>yes</body><reply xmlns="`+nsReply+`" id="`+xid+`" to="`+bobJID+`"/></message>`)
		if m := nextSent(t, a); m.Body != "yes" || m.ReplyTo != "q1" {
			t.Errorf("reply sent as %+v, want a reply to q1", m)
		}
	})
	t.Run("not claimed", func(t *testing.T) {
		e := newEnv(t, envOptions{prosody: p})
		c := e.user(t, "hugo", "pc", 0)
		e.register(t, c)
		a := e.adapter(t, "hugo@localhost")
		if f := features(t, c, gw); slices.Contains(f, nsReactions) || slices.Contains(f, nsChat) {
			t.Errorf("gateway features %v claim reactions or chat states", f)
		}
		c.Send(t, `<message type="chat" to="`+bobJID+`"><composing xmlns="`+nsChat+`"/></message>`)
		c.Send(t, `<message type="chat" id="rx" to="`+bobJID+`"><reactions xmlns="`+nsReactions+`" id="x"><reaction>❤</reaction></reactions></message>`)
		wantError(t, c.Expect(t, "reactions refused", isErrorReply("rx")), "feature-not-implemented", "has no reactions")
		if n := len(a.Typings()) + len(a.Reactions()); n != 0 {
			t.Errorf("%d typing or reaction calls on a network that claims none", n)
		}
	})
}

// TestMUCCorrectionsRetractionsModeration: in a room, the user's
// corrections and retractions become edits and deletions, reflected when
// the network echoes them; a moderator's XEP-0425 request deletes
// another's message, shown as a moderated retraction from the room; a
// network that cannot gets a marked correction and refusals; disco says
// which.
func TestMUCCorrectionsRetractionsModeration(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	tests := []struct {
		name    string
		canEdit bool
	}{
		{"network edits, deletes and moderates", true},
		{"network cannot", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{prosody: p, rooms: true, caps: func(c *transports.Capabilities) {
				c.Corrections, c.Retractions, c.Moderation = tt.canEdit, tt.canEdit, tt.canEdit
			}})
			e.net.SeedRoom("#test", transportstest.RoomSeed{
				Occupants: []transports.OccupantEvent{{Room: "#test", Nick: "bob", Role: transports.RoleParticipant}},
				OwnRole:   transports.RoleModerator,
			})
			local := []string{"ivy", "jon"}[i]
			c, a := roomUser(t, e, local)
			joinAndSync(t, c, testRoom, local)
			me := testRoom + "/" + local

			f := features(t, c, testRoom)
			for _, ns := range []string{nsCorrect, nsRetract, nsModerate} {
				if slices.Contains(f, ns) != tt.canEdit {
					t.Errorf("room advertises %s: %v, want %v", ns, slices.Contains(f, ns), tt.canEdit)
				}
			}

			c.Send(t, `<message type="groupchat" id="g1" to="`+testRoom+`"><body>helo</body></message>`)
			refl := c.Expect(t, "reflection", isGroupchat(me, "helo"))
			sid := refl.Find("{urn:xmpp:sid:0}stanza-id")
			if refl.Attr("id") != "g1" || sid == nil || sid.Attr("id") == "" {
				t.Fatalf("reflection = %s", refl)
			}
			legacy := sid.Attr("id")
			nextSent(t, a)

			c.Send(t, `<message type="groupchat" id="g2" to="`+testRoom+`"><body>hello</body><replace xmlns="`+nsCorrect+`" id="g1"/></message>`)
			if tt.canEdit {
				cr := c.Expect(t, "reflected correction", isGroupchat(me, "hello"))
				if r := cr.Child(nsCorrect, "replace"); r == nil || r.Attr("id") != "g1" {
					t.Errorf("reflected correction = %s, want it to replace g1", cr)
				}
				if got := a.Edits(); len(got) != 1 || got[0] != (transportstest.Edit{To: "#test", Target: transports.RemoteID(legacy), Body: "hello"}) {
					t.Errorf("edits = %+v", got)
				}
				noSend(t, a, 300*time.Millisecond)
			} else {
				if m := nextSent(t, a); m.Body != "✎ hello" || m.Action {
					t.Errorf("correction sent as %+v, want one message \"✎ hello\"", m)
				}
				c.Expect(t, "the marked message, reflected", isGroupchat(me, "✎ hello"))
			}

			c.Send(t, `<message type="groupchat" id="g3" to="`+testRoom+`"><retract xmlns="`+nsRetract+`" id="`+legacy+`"/>`+
				`<fallback xmlns="`+nsFallback+`" for="`+nsRetract+`"/><body>retracted</body></message>`)
			if tt.canEdit {
				rt := c.Expect(t, "reflected retraction", func(el *testenv.Element) bool {
					r := el.Child(nsRetract, "retract")
					return el.Attr("from") == me && r != nil && r.Attr("id") == legacy && r.Child(nsModerate, "moderated") == nil
				})
				if rt.Child(nsFallback, "fallback") == nil {
					t.Errorf("retraction without fallback marker: %s", rt)
				}
			} else {
				wantError(t, c.Expect(t, "retraction refused", isErrorReply("g3")), "feature-not-implemented", "cannot delete messages")
			}
			noSend(t, a, 300*time.Millisecond)

			// Bob's message, edited on the network, then moderated.
			a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "spam", RemoteID: "b1"})
			c.Expect(t, "bob's message", isGroupchat(testRoom+"/bob", "spam"))
			a.Emit(&transports.EditEvent{From: "#test", Room: true, Nick: "bob", Target: "b1", Body: "SPAM"})
			be := c.Expect(t, "bob's correction", isGroupchat(testRoom+"/bob", "SPAM"))
			if r := be.Child(nsCorrect, "replace"); r == nil || r.Attr("id") != "b1" {
				t.Errorf("bob's correction = %s, want it to replace b1", be)
			}

			res := c.IQ(t, `<iq type="set" to="`+testRoom+`"><moderate xmlns="`+nsModerate+`" id="b1">`+
				`<retract xmlns="`+nsRetract+`"/><reason>no spam</reason></moderate></iq>`)
			if !tt.canEdit {
				wantError(t, res, "feature-not-implemented", "does not let moderators delete")
				return
			}
			if res.Attr("type") != "result" {
				t.Fatalf("moderation: %s", res)
			}
			mod := c.Expect(t, "moderated retraction", func(el *testenv.Element) bool {
				r := el.Child(nsRetract, "retract")
				return el.Attr("from") == testRoom && r != nil && r.Attr("id") == "b1"
			})
			r := mod.Child(nsRetract, "retract")
			if m := r.Child(nsModerate, "moderated"); m == nil || m.Attr("by") != me || r.ChildText(nsRetract, "reason") != "no spam" {
				t.Errorf("moderated retraction = %s", mod)
			}
			want := []transportstest.Retraction{
				{To: "#test", Target: transports.RemoteID(legacy)},
				{To: "#test", Target: "b1", Moderated: true, Reason: "no spam"},
			}
			if got := a.Retractions(); !slices.Equal(got, want) {
				t.Errorf("retractions = %+v, want %+v", got, want)
			}
		})
	}
}

// TestMUCEditsWhileAway: edits and deletions in a room while none of the
// user's resources is in it (bouncer mode) are not lost: the next join's
// history shows them as marked messages after the original.
func TestMUCEditsWhileAway(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, caps: func(c *transports.Capabilities) {
		c.Corrections, c.Retractions, c.Moderation = true, true, true
	}})
	e.net.SeedRoom("#away", transportstest.RoomSeed{NoHistory: true})
	const room = "#away@" + gw
	j := e.p.CreateUser(t, "kai", "xmpp-pw")
	c := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "kai@localhost")
	if err := e.reg.SetSettings(context.Background(), "kai@localhost", "fake", map[string]string{"stay_connected": "true"}); err != nil {
		t.Fatal(err)
	}
	joinAndSync(t, c, room, "kai")
	c.Close()
	time.Sleep(3 * time.Second) // the grace period after the last resource left
	if !a.Joined("#away") {
		t.Fatalf("bouncer mode: the room was left\n%s", e.logs)
	}
	a.Emit(&transports.MessageEvent{From: "#away", Room: true, Nick: "bob", Body: "spam", RemoteID: "w1"})
	a.Emit(&transports.EditEvent{From: "#away", Room: true, Nick: "bob", Target: "w1", Body: "SPAM"})
	a.Emit(&transports.RetractEvent{From: "#away", Room: true, Nick: "bob", Target: "w1", Moderated: true, By: "alice", Reason: "no spam"})

	c2 := e.p.Login(t, j, "xmpp-pw", "pc", 0)
	join(t, c2, room, "kai", "")
	c2.Expect(t, "self-presence", isSelfPresence(room+"/kai"))
	c2.Expect(t, "the original", isGroupchat(room+"/bob", "spam"))
	c2.Expect(t, "the edit, marked", isGroupchat(room+"/bob", "✎ SPAM"))
	c2.Expect(t, "the deletion, said by the moderator", isGroupchat(room+"/alice", "[deleted a message as moderator (it was bob's): no spam]"))
	c2.Expect(t, "subject", isSubject(room))
}
