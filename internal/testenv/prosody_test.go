package testenv

import (
	"strings"
	"testing"
)

func TestProsody(t *testing.T) {
	p := StartProsody(t, ProsodyOptions{Components: map[string]string{"irc.localhost": "s3cret"}})
	alice := p.CreateUser(t, "alice", "pw1")
	bob := p.CreateUser(t, "bob", "pw2")
	a := p.Login(t, alice, "pw1", "pc", 0)
	b := p.Login(t, bob, "pw2", "phone", 0)

	a.Send(t, `<message type="chat" to="bob@localhost"><body>hi bob</body></message>`)
	m := b.Expect(t, "alice's message", func(el *Element) bool { return IsStanza(el, "message") && el.ChildText("", "body") == "hi bob" })
	if m.Attr("from") != "alice@localhost/pc" || b.JID.String() != "bob@localhost/phone" {
		t.Errorf("from = %q", m.Attr("from"))
	}

	items := a.IQ(t, `<iq type="get" to="localhost"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
	for _, want := range []string{"muc.localhost", "upload.localhost", "irc.localhost"} {
		if !strings.Contains(items.String(), `jid="`+want+`"`) {
			t.Errorf("disco#items lacks %s: %s", want, items)
		}
	}

	// Offline storage: what is sent to an offline user arrives at login.
	b.Close()
	a.Send(t, `<message type="chat" to="bob@localhost"><body>while offline</body></message>`)
	a.IQ(t, `<iq type="get" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`) // the server has read the message
	p.Stop(t)
	p.Start(t)
	b2 := p.Login(t, bob, "pw2", "phone", 0)
	b2.Expect(t, "offline message", func(el *Element) bool { return el.ChildText("", "body") == "while offline" })
}

func TestRequireFailsWithInstructions(t *testing.T) {
	if err := lookPaths("no-such-server-binary"); err == nil || !strings.Contains(err.Error(), "make test") {
		t.Fatalf("err = %v", err)
	}
}
