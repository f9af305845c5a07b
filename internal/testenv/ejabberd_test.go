package testenv

import (
	"testing"
)

// TestEjabberd: two users chat through a real ejabberd, and a message to
// an offline user survives a restart of the server. (The component side —
// handshake, disco, routing — is tested in component and internal/e2e.)
func TestEjabberd(t *testing.T) {
	e := StartEjabberd(t, EjabberdOptions{Components: map[string]string{"irc.localhost": "s3cret"}})
	alice := e.CreateUser(t, "alice", "pw1")
	bob := e.CreateUser(t, "bob", "pw2")
	a := e.Login(t, alice, "pw1", "pc", 0)
	b := e.Login(t, bob, "pw2", "phone", 0)

	a.Send(t, `<message type="chat" to="bob@localhost"><body>hi bob</body></message>`)
	m := b.Expect(t, "alice's message", func(el *Element) bool { return IsStanza(el, "message") && el.ChildText("", "body") == "hi bob" })
	if m.Attr("from") != "alice@localhost/pc" || b.JID.String() != "bob@localhost/phone" {
		t.Errorf("from = %q, bound %s", m.Attr("from"), b.JID)
	}

	b.Close()
	a.Send(t, `<message type="chat" to="bob@localhost"><body>while offline</body></message>`)
	a.IQ(t, `<iq type="get" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`) // the server has read the message
	e.Stop(t)
	e.Start(t)
	b2 := e.Login(t, bob, "pw2", "phone", 0)
	b2.Expect(t, "offline message", func(el *Element) bool { return el.ChildText("", "body") == "while offline" })
}

// TestXMPPServersAreTheirKind: each name in XMPPServers starts that server.
func TestXMPPServersAreTheirKind(t *testing.T) {
	ForEachXMPPServer(t, map[string]string{"irc.localhost": "s3cret"}, func(t *testing.T, s XMPPServer) {
		if s.Name() != t.Name()[len("TestXMPPServersAreTheirKind/"):] {
			t.Errorf("started %s for %s", s.Name(), t.Name())
		}
		j := s.CreateUser(t, "carol", "pw3")
		c := s.Login(t, j, "pw3", "r", 0)
		res := c.IQ(t, `<iq type="get" to="`+s.Host()+`"><ping xmlns="urn:xmpp:ping"/></iq>`)
		if res.Attr("type") != "result" {
			t.Errorf("ping: %s", res)
		}
	})
}

// TestRequireNamesTheEjabberdPackage: a missing ejabberdctl says which
// Debian package to install.
func TestRequireNamesTheEjabberdPackage(t *testing.T) {
	if got := debPackage("ejabberdctl"); got != "ejabberd" {
		t.Errorf("debPackage(ejabberdctl) = %q, want ejabberd", got)
	}
}
