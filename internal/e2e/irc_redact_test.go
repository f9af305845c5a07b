package e2e_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
)

// TestIRCRedaction: XEP-0424 retractions and XEP-0425 moderation both ways
// through Prosody, the component and the irc package, to an IRC server
// that offers IRCv3 draft/message-redaction. No IRC server installed here
// does (TestIRCCorrectionsAndRetractions shows InspIRCd refusing), so the
// server is a scripted one speaking the specification's lines.
func TestIRCRedaction(t *testing.T) {
	const (
		nsRetract  = "urn:xmpp:message-retract:1"
		nsModerate = "urn:xmpp:message-moderate:1"
	)
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	fake := testenv.StartFakeIRC(t)
	logs := &testenv.LogBuffer{}
	network := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers:       map[string]irc.Server{"irc.test": {Address: fake.Addr, Plaintext: true}},
		SendRate:      50, SendBurst: 50,
		Timeout: timeout,
		Logger:  debugLogger(logs),
	})
	s := &stack{gateway: startGateway(t, p, gw, network, logs)}
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.login(t, "alice", "pc")
	room := "#del@" + gw

	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	srv := fake.Accept(t, timeout)
	srv.AnswerRegistration(t, "message-tags", "echo-message", "draft/message-redaction")
	if !slices.Contains(srv.Caps, "draft/message-redaction") || !slices.Contains(srv.Caps, "message-tags") {
		t.Fatalf("the gateway requested %v", srv.Caps)
	}
	srv.AnswerJoin(t, "#del", "@op", "bob")
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))

	retraction := func(from, id string) func(*testenv.Element) bool {
		return func(el *testenv.Element) bool {
			r := el.Child(nsRetract, "retract")
			return el.Name.Local == "message" && el.Attr("from") == from && r != nil && r.Attr("id") == id
		}
	}
	isRedact := func(args ...string) func(testenv.IRCLine) bool {
		return func(l testenv.IRCLine) bool { return l.Command == "REDACT" && slices.Equal(l.Params, args) }
	}

	// The user's message is known by the server's msgid; its retraction
	// (by stanza-id, XEP-0424 §5) is a REDACT, and the server's echo of
	// it the retraction the user's resources see.
	c.Send(t, `<message type="groupchat" id="g1" to="`+room+`"><body>oops</body></message>`)
	srv.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("#del")(l) && l.Param(1) == "oops" })
	srv.Send("@msgid=m1 :alice!u@client.test PRIVMSG #del :oops")
	if refl := c.Expect(t, "reflection", isGroupchat(room+"/alice", "oops")); stanzaID(refl) != "m1" {
		t.Errorf("reflection's stanza-id = %q, want the server's msgid m1: %s", stanzaID(refl), refl)
	}
	c.Send(t, `<message type="groupchat" id="g2" to="`+room+`"><retract xmlns="`+nsRetract+`" id="m1"/>`+
		`<fallback xmlns="urn:xmpp:fallback:0" for="`+nsRetract+`"/><body>This person attempted to retract a previous message.</body></message>`)
	srv.Expect(t, timeout, isRedact("#del", "m1"))
	srv.Send("@msgid=r1 :alice!u@client.test REDACT #del m1")
	srv.Pong(t)
	c.Expect(t, "own retraction", retraction(room+"/alice", "m1"))

	// A channel operator deletes bob's message: a moderation from the
	// room, with the operator and the reason.
	srv.Send("@msgid=b1 :bob!b@h PRIVMSG #del :cheap watches")
	if m := c.Expect(t, "bob's message", isGroupchat(room+"/bob", "cheap watches")); stanzaID(m) != "b1" {
		t.Errorf("bob's message's stanza-id = %q, want b1", stanzaID(m))
	}
	srv.Send("@msgid=r2 :op!o@h REDACT #del b1 :spam")
	mod := c.Expect(t, "moderation", retraction(room, "b1")).Child(nsRetract, "retract")
	if by := mod.Child(nsModerate, "moderated"); by == nil || by.Attr("by") != room+"/op" || mod.ChildText(nsRetract, "reason") != "spam" {
		t.Errorf("moderation: %s", mod)
	}

	// The user moderates: refused by the server (a FAIL of the
	// gateway's words, not the server's), then accepted.
	srv.Send("@msgid=b2 :bob!b@h PRIVMSG #del :more watches")
	c.Expect(t, "bob's second message", isGroupchat(room+"/bob", "more watches"))
	isIQ := func(id string) func(*testenv.Element) bool {
		return func(el *testenv.Element) bool { return el.Name.Local == "iq" && el.Attr("id") == id }
	}
	moderate := `<moderate xmlns="` + nsModerate + `" id="b2"><retract xmlns="` + nsRetract + `"/><reason>spam</reason></moderate>`
	c.Send(t, `<iq type="set" id="mod1" to="`+room+`">`+moderate+`</iq>`)
	srv.Expect(t, timeout, isRedact("#del", "b2", "spam"))
	srv.Send(":srv.test FAIL REDACT REDACT_FORBIDDEN #del b2 :You are not authorised to delete this message")
	srv.Pong(t)
	res := c.Expect(t, "moderation refused", isIQ("mod1"))
	if cond, text := stanzaError(res); res.Attr("type") != "error" || cond != "forbidden" ||
		!strings.Contains(text, "irc.test does not allow you to delete that message") || strings.Contains(text, "authorised") {
		t.Errorf("refused moderation: %s", res)
	}
	c.Send(t, `<iq type="set" id="mod2" to="`+room+`">`+moderate+`</iq>`)
	srv.Expect(t, timeout, isRedact("#del", "b2", "spam"))
	srv.Send("@msgid=r3 :alice!u@client.test REDACT #del b2 :spam")
	srv.Pong(t)
	if res := c.Expect(t, "moderation done", isIQ("mod2")); res.Attr("type") != "result" {
		t.Errorf("moderation: %s", res)
	}
	mod = c.Expect(t, "own moderation", retraction(room, "b2")).Child(nsRetract, "retract")
	if by := mod.Child(nsModerate, "moderated"); by == nil || by.Attr("by") != room+"/alice" {
		t.Errorf("own moderation: %s", mod)
	}

	// One to one: a contact's deletion retracts the message the user got;
	// the user's retraction is a REDACT to the contact.
	bobJID := "bob@" + gw
	srv.Send("@msgid=p1 :bob!b@h PRIVMSG alice :psst")
	pm := c.Expect(t, "bob's private message", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bobJID && body(el) == "psst"
	})
	srv.Send("@msgid=r4 :bob!b@h REDACT alice p1")
	c.Expect(t, "bob's retraction", retraction(bobJID, pm.Attr("id")))

	c.Send(t, `<message type="chat" id="q1" to="`+bobJID+`"><body>see you</body><origin-id xmlns="urn:xmpp:sid:0" id="q1"/></message>`)
	srv.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("bob")(l) && l.Param(1) == "see you" })
	srv.Send("@msgid=q1m :alice!u@client.test PRIVMSG bob :see you")
	c.Send(t, `<message type="chat" id="q2" to="`+bobJID+`"><retract xmlns="`+nsRetract+`" id="q1"/><body>retracted</body></message>`)
	srv.Expect(t, timeout, isRedact("bob", "q1m"))
	srv.Send("@msgid=r5 :alice!u@client.test REDACT bob q1m")
	srv.Pong(t)
	c.ExpectNone(t, 500*time.Millisecond, func(el *testenv.Element) bool {
		return el.Attr("type") == "error" || el.Child(nsRetract, "retract") != nil
	})
}
