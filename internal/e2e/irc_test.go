package e2e_test

import (
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
)

const (
	gw      = "irc.localhost"
	secret  = "s3cret"
	nsMUC   = "http://jabber.org/protocol/muc"
	nsUser  = "http://jabber.org/protocol/muc#user"
	timeout = 15 * time.Second
)

// stack is the whole gateway path with real servers: Prosody, the
// component bridging to the IRC network, and InspIRCd with Atheme.
type stack struct {
	*gateway
	ircd *testenv.InspIRCd
}

func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackOn(t, testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}}))
}

// newStackOn is newStack on the XMPP server p.
func newStackOn(t *testing.T, p testenv.XMPPServer) *stack {
	t.Helper()
	logs := &testenv.LogBuffer{}
	ircd := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{Services: true})
	network := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers:       map[string]irc.Server{"irc.test": {Address: ircd.Addr(), Plaintext: true}},
		SendRate:      50, SendBurst: 50,
		Timeout: timeout,
		Logger:  debugLogger(logs),
	})
	return &stack{gateway: startGateway(t, p, gw, network, logs), ircd: ircd}
}

func (s *stack) login(t *testing.T, local, resource string) *testenv.Client {
	t.Helper()
	j := jid.MustParse(local + "@localhost")
	return s.p.Login(t, j, "xmpp-pw", resource, 0)
}

func body(el *testenv.Element) string { return el.ChildText("", "body") }

func isGroupchat(from, text string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "groupchat" && el.Attr("from") == from && body(el) == text
	}
}

func isPresenceFrom(from string, codes ...string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		if el.Name.Local != "presence" || el.Attr("from") != from {
			return false
		}
		x := el.Child(nsUser, "x")
		for _, code := range codes {
			found := false
			if x != nil {
				for _, st := range x.Children {
					if st.Name.Local == "status" && st.Attr("code") == code {
						found = true
					}
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
}

func item(el *testenv.Element) *testenv.Element {
	if x := el.Child(nsUser, "x"); x != nil {
		return x.Child(nsUser, "item")
	}
	return nil
}

func privmsg(target string) func(testenv.IRCLine) bool {
	return func(l testenv.IRCLine) bool { return l.Command == "PRIVMSG" && strings.EqualFold(l.Param(0), target) }
}

// TestGroupChat: an unregistered XMPP user with two resources joins an IRC
// channel as a MUC room, biboumi-style, and everything of a conversation
// crosses both ways.
func TestGroupChat(t *testing.T) {
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob", "message-tags", "server-time")
	bob.Join(t, "#room")
	bob.Send("TOPIC #room :Welcome to #room")
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "TOPIC" })

	room := "#room%irc.test@" + gw
	pc := s.login(t, "alice", "pc")
	pc.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	bobP := pc.Expect(t, "bob's presence", isPresenceFrom(room+"/bob"))
	if it := item(bobP); it == nil || it.Attr("role") != "moderator" || it.Attr("affiliation") != "admin" {
		t.Errorf("bob (operator) presence: %s", bobP)
	}
	pc.Expect(t, "own presence with 110", isPresenceFrom(room+"/alice", "110"))
	subj := pc.Expect(t, "subject", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Child("", "subject") != nil
	})
	if subj.ChildText("", "subject") != "Welcome to #room" {
		t.Errorf("subject: %s", subj)
	}
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

	// A second resource joins the same room: same IRC connection.
	phone := s.login(t, "alice", "phone")
	phone.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	phone.Expect(t, "bob's presence (phone)", isPresenceFrom(room+"/bob"))
	phone.Expect(t, "own presence (phone)", isPresenceFrom(room+"/alice", "110"))
	bob.ExpectNone(t, 300*time.Millisecond, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

	// XMPP → IRC, reflected to both resources with the sender's id.
	pc.Send(t, `<message type="groupchat" id="m1" to="`+room+`"><body>hello bob</body></message>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("#room")(l) && l.Param(1) == "hello bob" })
	for _, c := range []*testenv.Client{pc, phone} {
		r := c.Expect(t, "reflection", isGroupchat(room+"/alice", "hello bob"))
		if r.Attr("id") != "m1" {
			t.Errorf("reflection id = %q, want m1", r.Attr("id"))
		}
	}

	// IRC → XMPP: message, action, notice reach both resources.
	bob.Send("PRIVMSG #room :hi alice")
	bob.Send("PRIVMSG #room :\x01ACTION dances\x01")
	bob.Send("NOTICE #room :maintenance tonight")
	for _, c := range []*testenv.Client{pc, phone} {
		m := c.Expect(t, "bob's message", isGroupchat(room+"/bob", "hi alice"))
		if m.Child("urn:xmpp:delay", "delay") != nil {
			t.Errorf("a live message carries a delay: %s", m)
		}
		c.Expect(t, "bob's action", isGroupchat(room+"/bob", "/me dances"))
		c.Expect(t, "bob's notice", func(el *testenv.Element) bool {
			return el.Attr("type") == "groupchat" && strings.Contains(body(el), "maintenance tonight")
		})
	}

	// Nick change (303), topic, kick (307).
	bob.Send("NICK robert")
	nc := pc.Expect(t, "nick change", isPresenceFrom(room+"/bob", "303"))
	if it := item(nc); it == nil || it.Attr("nick") != "robert" {
		t.Errorf("nick change: %s", nc)
	}
	pc.Expect(t, "new nick", isPresenceFrom(room+"/robert"))
	bob.Send("TOPIC #room :New topic")
	pc.Expect(t, "new subject", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.ChildText("", "subject") == "New topic" && el.Attr("from") == room+"/robert"
	})
	carol := testenv.DialIRC(t, s.ircd.Addr(), "carol")
	carol.Join(t, "#room")
	pc.Expect(t, "carol joins", isPresenceFrom(room+"/carol"))
	bob.Send("KICK #room carol :behave")
	k := pc.Expect(t, "carol kicked", isPresenceFrom(room+"/carol", "307"))
	if k.Attr("type") != "unavailable" {
		t.Errorf("kick presence: %s", k)
	}

	// One resource leaves: still in the channel. The last leaves: PART.
	phone.Send(t, `<presence type="unavailable" to="`+room+`/alice"/>`)
	phone.Expect(t, "own unavailable (phone)", func(el *testenv.Element) bool {
		return isPresenceFrom(room+"/alice", "110")(el) && el.Attr("type") == "unavailable"
	})
	bob.ExpectNone(t, 500*time.Millisecond, func(l testenv.IRCLine) bool { return l.Command == "PART" })
	pc.Send(t, `<presence type="unavailable" to="`+room+`/alice"/>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "PART" && l.Source == "alice" })
}

// TestJoinErrors: IRC refusals become MUC join errors with the server's
// text.
func TestJoinErrors(t *testing.T) {
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	op := testenv.DialIRC(t, s.ircd.Addr(), "op")
	op.Join(t, "#closed")
	op.Send("MODE #closed +b alice!*@*")
	op.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "MODE" })

	c := s.login(t, "alice", "pc")
	room := "#closed@" + gw // the short form, with default_server
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	e := c.Expect(t, "join error", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "error"
	})
	errEl := e.Child("", "error")
	if errEl == nil || errEl.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "forbidden") == nil ||
		!strings.Contains(errEl.ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text"), "#closed") {
		t.Errorf("ban on join: %s", e)
	}
	c.Send(t, `<presence to="#open@`+gw+`/op"><x xmlns="`+nsMUC+`"/></presence>`)
	e = c.Expect(t, "nick conflict", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "error"
	})
	if errEl := e.Child("", "error"); errEl == nil || errEl.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "conflict") == nil {
		t.Errorf("nick in use: %s", e)
	}
}

// TestRegisteredPrivateAndOffline: registration is checked by a real SASL
// login against Atheme; private messages cross both ways; a private
// message received while the user is offline is stored by Prosody and
// delivered when they log in again.
func TestRegisteredPrivateAndOffline(t *testing.T) {
	s := newStack(t)
	s.ircd.RegisterAccount(t, "alice", "irc-pw-9f3")
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.login(t, "alice", "pc")

	form := func(pw string) string {
		return `<iq type="set" to="` + gw + `"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">` +
			`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>` +
			`<field var="nick"><value>alice</value></field>` +
			`<field var="password"><value>` + pw + `</value></field></x></query></iq>`
	}
	res := c.IQ(t, form("wrong-pw"))
	if res.Attr("type") != "error" || res.Child("", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "not-acceptable") == nil {
		t.Fatalf("wrong password: %s", res)
	}
	if strings.Contains(res.String(), "wrong-pw") {
		t.Errorf("the error echoes the password: %s", res)
	}
	if res := c.IQ(t, form("irc-pw-9f3")); res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Expect(t, "subscription request", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "subscribe" && el.Attr("from") == gw
	})
	c.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)

	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
	// Wait until alice is on IRC, logged in to her account.
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		bob.Send("WHOIS alice")
		l := bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "330" || l.Command == "318" || l.Command == "401" })
		if l.Command == "330" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice never logged in on IRC\n%s", s.logs)
		}
	}
	bob.Send("PRIVMSG alice :hi, are you there?")
	m := c.Expect(t, "private message", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && body(el) == "hi, are you there?"
	})
	if m.Attr("from") != "bob@"+gw || m.Attr("type") != "chat" {
		t.Errorf("private message: %s", m)
	}
	c.Send(t, `<message type="chat" to="bob@`+gw+`"><body>yes</body></message>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("bob")(l) && l.Param(1) == "yes" })
	c.Send(t, `<message type="chat" to="nobody@`+gw+`" id="e1"><body>hello?</body></message>`)
	e := c.Expect(t, "error for a missing nick", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "error" && el.Attr("id") == "e1"
	})
	if e.Child("", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found") == nil {
		t.Errorf("message to a missing nick: %s", e)
	}

	// In a channel too, then offline: the IRC connection and the channel
	// stay (bouncer mode); a private message and a highlight wait in
	// Prosody's offline store.
	room := "#room@" + gw
	bob.Join(t, "#room")
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	c.Close()
	time.Sleep(3 * time.Second) // past the component's grace period for a client going offline
	bob.Send("PRIVMSG alice :ping while you were away")
	bob.Send("PRIVMSG #room :alice: did you see this?")
	bob.Send("PRIVMSG #room :chatter nobody needs offline")
	bob.ExpectNone(t, time.Second, func(l testenv.IRCLine) bool {
		return (l.Command == "QUIT" || l.Command == "PART") && l.Source == "alice"
	})
	c = s.login(t, "alice", "pc")
	c.Send(t, `<presence/>`)
	off := c.Expect(t, "offline message", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && body(el) == "ping while you were away"
	})
	if off.Attr("from") != "bob@"+gw {
		t.Errorf("offline message: %s", off)
	}
	hl := c.Expect(t, "offline highlight", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && strings.Contains(body(el), "did you see this?")
	})
	if !strings.HasPrefix(hl.Attr("from"), room) {
		t.Errorf("highlight: %s", hl)
	}
	// Back in the room: the channel was kept, so no JOIN on IRC.
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence again", isPresenceFrom(room+"/alice", "110"))
	bob.ExpectNone(t, 500*time.Millisecond, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	if strings.Contains(s.logs.String(), "irc-pw-9f3") {
		t.Error("the IRC password is in the log")
	}
}

// TestIRCServerRestart: the IRC server goes away and comes back; the
// transport reconnects, rejoins and tells the user in the room.
func TestIRCServerRestart(t *testing.T) {
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.login(t, "alice", "pc")
	room := "#room@" + gw
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))

	s.ircd.Stop()
	c.Expect(t, "lost notice", func(el *testenv.Element) bool {
		return el.Attr("type") == "groupchat" && el.Attr("from") == room && strings.Contains(body(el), "lost")
	})
	if err := s.ircd.Start(); err != nil {
		t.Fatal(err)
	}
	c.Expect(t, "rejoined notice", func(el *testenv.Element) bool {
		return el.Attr("type") == "groupchat" && el.Attr("from") == room && strings.Contains(body(el), "rejoined")
	})
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
	bob.Join(t, "#room")
	bob.Send("PRIVMSG #room :welcome back")
	c.Expect(t, "message after the restart", isGroupchat(room+"/bob", "welcome back"))
	c.Send(t, `<message type="groupchat" to="`+room+`"><body>thanks</body></message>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("#room")(l) && l.Param(1) == "thanks" })
}

// TestIRCv3AndModeration: chat states, replies and reactions cross as
// IRCv3 client tags; an XMPP moderator's kick becomes KICK; the server JID
// lists the server's channels with result set management.
func TestIRCv3AndModeration(t *testing.T) {
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob", "message-tags", "server-time", "echo-message")
	bob.Join(t, "#room")
	for _, ch := range []string{"#one", "#two", "#three"} {
		bob.Join(t, ch)
	}
	c := s.login(t, "alice", "pc")
	room := "#room@" + gw
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

	// IRC → XMPP: a message with a msgid; a typing notification; a reply
	// and a reaction to it.
	bob.Send("PRIVMSG #room :first")
	first := c.Expect(t, "first", isGroupchat(room+"/bob", "first"))
	sid := first.Child("urn:xmpp:sid:0", "stanza-id")
	if sid == nil || sid.Attr("id") == "" {
		t.Fatalf("no stanza-id on a message from IRC: %s", first)
	}
	msgid := sid.Attr("id")
	bob.Send("@+typing=active TAGMSG #room")
	c.Expect(t, "composing", func(el *testenv.Element) bool {
		return el.Attr("from") == room+"/bob" && el.Child("http://jabber.org/protocol/chatstates", "composing") != nil
	})
	bob.Send("@+draft/reply=" + msgid + " PRIVMSG #room :a reply")
	rep := c.Expect(t, "reply", isGroupchat(room+"/bob", "a reply"))
	if r := rep.Child("urn:xmpp:reply:0", "reply"); r == nil || r.Attr("id") != msgid {
		t.Errorf("reply reference: %s", rep)
	}
	bob.Send("@+draft/react=👍;+draft/reply=" + msgid + " TAGMSG #room")
	react := c.Expect(t, "reaction", func(el *testenv.Element) bool {
		return el.Attr("from") == room+"/bob" && el.Child("urn:xmpp:reactions:0", "reactions") != nil
	})
	if r := react.Child("urn:xmpp:reactions:0", "reactions"); r.Attr("id") != msgid || r.ChildText("urn:xmpp:reactions:0", "reaction") != "👍" {
		t.Errorf("reaction: %s", react)
	}

	// XMPP → IRC: typing, a reply, a reaction.
	c.Send(t, `<message type="groupchat" to="`+room+`"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool {
		return l.Command == "TAGMSG" && l.Source == "alice" && l.Tags["+typing"] == "active"
	})
	c.Send(t, `<message type="groupchat" to="`+room+`"><body>answer</body><reply xmlns="urn:xmpp:reply:0" to="`+room+`/bob" id="`+msgid+`"/></message>`)
	l := bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("#room")(l) && l.Param(1) == "answer" })
	if l.Tags["+draft/reply"] != msgid {
		t.Errorf("reply tag: %s", l.Raw)
	}
	c.Send(t, `<message type="groupchat" to="`+room+`"><reactions xmlns="urn:xmpp:reactions:0" id="`+msgid+`"><reaction>🎉</reaction></reactions></message>`)
	l = bob.Expect(t, timeout, func(l testenv.IRCLine) bool {
		return l.Command == "TAGMSG" && l.Source == "alice" && l.Tags["+draft/react"] != ""
	})
	if l.Tags["+draft/react"] != "🎉" || l.Tags["+draft/reply"] != msgid {
		t.Errorf("reaction tags: %s", l.Raw)
	}

	// Moderation: without operator status the kick fails with the
	// server's text; with it, it becomes KICK.
	res := c.IQ(t, `<iq type="set" to="`+room+`"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="bob" role="none"><reason>out</reason></item></query></iq>`)
	if res.Attr("type") != "error" || !strings.Contains(res.String(), "#room") {
		t.Errorf("kick without rights: %s", res)
	}
	bob.Send("MODE #room +o alice")
	c.Expect(t, "alice is moderator", func(el *testenv.Element) bool {
		it := item(el)
		return isPresenceFrom(room+"/alice")(el) && it != nil && it.Attr("role") == "moderator"
	})
	carol := testenv.DialIRC(t, s.ircd.Addr(), "carol")
	carol.Join(t, "#room")
	c.Expect(t, "carol", isPresenceFrom(room+"/carol"))
	res = c.IQ(t, `<iq type="set" to="`+room+`"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="carol" role="none"><reason>spam</reason></item></query></iq>`)
	if res.Attr("type") != "result" {
		t.Errorf("kick: %s", res)
	}
	l = carol.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "KICK" })
	if l.Param(1) != "carol" || l.Param(2) != "spam" || l.Source != "alice" {
		t.Errorf("KICK line: %s", l.Raw)
	}
	c.Expect(t, "carol kicked", isPresenceFrom(room+"/carol", "307"))

	// The server JID lists its channels, two at a time.
	server := "irc.test@" + gw
	var got []string
	after := ""
	for page := 0; page < 5; page++ {
		set := `<set xmlns="http://jabber.org/protocol/rsm"><max>2</max>`
		if after != "" {
			set += `<after>` + after + `</after>`
		}
		set += `</set>`
		res := c.IQ(t, `<iq type="get" to="`+server+`"><query xmlns="http://jabber.org/protocol/disco#items">`+set+`</query></iq>`)
		if res.Attr("type") != "result" {
			t.Fatalf("disco#items on the server: %s", res)
		}
		q := res.Child("http://jabber.org/protocol/disco#items", "query")
		n := 0
		for _, it := range q.Children {
			if it.Name.Local == "item" {
				got = append(got, it.Attr("jid"))
				n++
			}
		}
		rsm := q.Child("http://jabber.org/protocol/rsm", "set")
		if n == 0 || rsm == nil || rsm.ChildText("http://jabber.org/protocol/rsm", "last") == "" {
			break
		}
		if n > 2 {
			t.Errorf("page of %d items, max 2", n)
		}
		after = rsm.ChildText("http://jabber.org/protocol/rsm", "last")
	}
	joined := strings.Join(got, " ")
	for _, want := range []string{"#one@" + gw, "#two@" + gw, "#three@" + gw, "#room@" + gw} {
		if !strings.Contains(joined, want) {
			t.Errorf("listing %v lacks %s", got, want)
		}
	}

	// The gateway lists the user's servers, the server JID among them.
	res = c.IQ(t, `<iq type="get" to="`+gw+`"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	found := false
	if q := res.Child("http://jabber.org/protocol/disco#items", "query"); q != nil {
		for _, it := range q.ChildrenNamed("http://jabber.org/protocol/disco#items", "item") {
			found = found || it.Attr("jid") == server
		}
	}
	if !found {
		t.Errorf("the gateway's disco#items lacks %s: %s", server, res)
	}
}

// TestServerJIDAwayAndRefusals: raw commands to the server JID and their
// answers; IRC away ↔ XMPP show; a moderator's role change becomes MODE;
// a message the channel refuses (+m) is an error stanza with the text.
func TestServerJIDAwayAndRefusals(t *testing.T) {
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob", "away-notify")
	bob.Join(t, "#room")
	c := s.login(t, "alice", "pc")
	c.Send(t, `<presence/>`) // initial presence: the server forwards later changes to the rooms
	room := "#room@" + gw
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

	// Raw commands to the server JID are for registered users only: an
	// anonymous user's is refused with a text saying so.
	server := "irc.test@" + gw
	c.Send(t, `<message type="chat" id="raw1" to="`+server+`"><body>WHOIS bob</body></message>`)
	w := c.Expect(t, "raw command refusal", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == server && el.Attr("type") == "error" && el.Attr("id") == "raw1"
	})
	if errEl := w.Child("jabber:client", "error"); errEl == nil || errEl.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "not-allowed") == nil ||
		!strings.Contains(errEl.ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text"), "registered users") {
		t.Errorf("anonymous raw command: %s", w)
	}

	// IRC away → the occupant's show; XMPP away → IRC AWAY.
	bob.Send("AWAY :lunch")
	aw := c.Expect(t, "bob away", func(el *testenv.Element) bool {
		return isPresenceFrom(room+"/bob")(el) && el.ChildText("", "show") == "away"
	})
	if aw.ChildText("", "status") != "lunch" {
		t.Errorf("away presence: %s", aw)
	}
	// Clients send a status change to each joined room themselves.
	c.Send(t, `<presence><show>dnd</show><status>busy</status></presence>`)
	c.Send(t, `<presence to="`+room+`/alice"><show>dnd</show><status>busy</status></presence>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool {
		return l.Command == "AWAY" && l.Source == "alice" && l.Param(0) == "busy"
	})

	// The channel creator (bob) makes alice an operator; she voices carol
	// through muc#admin; bob moderates the channel and takes her status.
	bob.Send("MODE #room +o alice")
	c.Expect(t, "alice moderator", func(el *testenv.Element) bool {
		it := item(el)
		return isPresenceFrom(room+"/alice")(el) && it != nil && it.Attr("role") == "moderator"
	})
	carol := testenv.DialIRC(t, s.ircd.Addr(), "carol")
	carol.Join(t, "#room")
	c.Expect(t, "carol", isPresenceFrom(room+"/carol"))
	res := c.IQ(t, `<iq type="set" to="`+room+`"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="carol" role="moderator"/></query></iq>`)
	if res.Attr("type") != "result" {
		t.Errorf("role change: %s", res)
	}
	l := carol.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "MODE" && l.Source == "alice" })
	if l.Param(1) != "+o" || l.Param(2) != "carol" {
		t.Errorf("MODE line: %s", l.Raw)
	}
	bob.Send("MODE #room +m-o alice")
	c.Expect(t, "alice participant", func(el *testenv.Element) bool {
		it := item(el)
		return isPresenceFrom(room+"/alice")(el) && it != nil && it.Attr("role") == "participant"
	})
	c.Send(t, `<message type="groupchat" id="m404" to="`+room+`"><body>may I?</body></message>`)
	e := c.Expect(t, "refusal", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "error" && el.Attr("id") == "m404"
	})
	errEl := e.Child("", "error")
	if errEl == nil || errEl.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "forbidden") == nil ||
		!strings.Contains(errEl.ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text"), "#room") {
		t.Errorf("+m refusal: %s", e)
	}
}

// registerAliceIRC registers alice (client c) with the IRC gateway as
// nick alice, accepts its subscription and goes online.
func registerAliceIRC(t *testing.T, c *testenv.Client) {
	t.Helper()
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><username>alice</username></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)
}

// TestBouncerRoomsSurviveRestart: a registered user who stays connected is
// back in their channels after Switchboard restarts, before their client
// returns, so a highlight meanwhile is stored offline.
func TestBouncerRoomsSurviveRestart(t *testing.T) {
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.login(t, "alice", "pc")
	registerAliceIRC(t, c)
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
	bob.Join(t, "#den")
	room := "#den@" + gw
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	c.Close()

	s.restart(t)
	// The new session is alice's; it joins #den again by itself.
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	bob.Send("PRIVMSG #den :alice: welcome back")
	c = s.login(t, "alice", "pc")
	c.Send(t, `<presence/>`)
	hl := c.Expect(t, "offline highlight", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && strings.Contains(body(el), "welcome back")
	})
	if !strings.HasPrefix(hl.Attr("from"), room) {
		t.Errorf("highlight: %s", hl)
	}
	// Leaving the room for good forgets it.
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	c.Send(t, `<presence type="unavailable" to="`+room+`/alice"/>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "PART" && l.Source == "alice" })
	c.Close()
	s.restart(t)
	bob.ExpectNone(t, 3*time.Second, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
}
