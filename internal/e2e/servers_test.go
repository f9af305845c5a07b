package e2e_test

import (
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// TestIRCOnEveryXMPPServer: through each XMPP server the README names
// (Prosody and ejabberd), an XMPP user registers with the IRC gateway,
// joins a channel on a real InspIRCd as a MUC room and talks both ways
// there and in private.
func TestIRCOnEveryXMPPServer(t *testing.T) {
	testenv.ForEachXMPPServer(t, map[string]string{gw: secret}, func(t *testing.T, srv testenv.XMPPServer) {
		s := newStackOn(t, srv)
		srv.CreateUser(t, "alice", "xmpp-pw")
		bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
		bob.Join(t, "#room")
		c := s.login(t, "alice", "pc")

		res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
			`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
			`<field var="nick"><value>alice</value></field></x></query></iq>`)
		if res.Attr("type") != "result" {
			t.Fatalf("registration: %s", res)
		}
		c.Expect(t, "the gateway's subscription request", func(el *testenv.Element) bool {
			return testenv.IsStanza(el, "presence") && el.Attr("type") == "subscribe" && el.Attr("from") == gw
		})
		c.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)

		room := "#room%irc.test@" + gw
		c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
		c.Expect(t, "bob's presence", isPresenceFrom(room+"/bob"))
		c.Expect(t, "own presence with 110", isPresenceFrom(room+"/alice", "110"))
		bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

		c.Send(t, `<message type="groupchat" id="m1" to="`+room+`"><body>hello bob</body></message>`)
		bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("#room")(l) && l.Param(1) == "hello bob" })
		if r := c.Expect(t, "reflection", isGroupchat(room+"/alice", "hello bob")); r.Attr("id") != "m1" {
			t.Errorf("reflection: %s", r)
		}
		bob.Send("PRIVMSG #room :hi alice")
		c.Expect(t, "bob's message", isGroupchat(room+"/bob", "hi alice"))

		bob.Send("PRIVMSG alice :a word in private")
		m := c.Expect(t, "private message", func(el *testenv.Element) bool {
			return testenv.IsStanza(el, "message") && body(el) == "a word in private"
		})
		if from, err := jid.Parse(m.Attr("from")); err != nil || from.Bare().String() != "bob@"+gw || m.Attr("type") != "chat" {
			t.Errorf("private message: %s", m)
		}
		c.Send(t, `<message type="chat" to="bob@`+gw+`"><body>and back</body></message>`)
		bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("bob")(l) && l.Param(1) == "and back" })
	})
}
