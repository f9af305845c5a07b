package e2e_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// TestIRCCorrectionsAndRetractions: IRC cannot edit a message, so the
// gateway does not advertise XEP-0308, and a correction reaches the
// channel as one PRIVMSG marked as a correction, never a silent
// duplicate. It deletes messages only on servers that offer IRCv3
// draft/message-redaction; capabilities are static per network, so
// XEP-0424 and XEP-0425 are advertised for every IRC server, and on one
// without it (InspIRCd here) a retraction and a moderator's retraction
// are refused with feature-not-implemented and a text naming the server,
// and nothing reaches IRC.
func TestIRCCorrectionsAndRetractions(t *testing.T) {
	const (
		nsCorrect  = "urn:xmpp:message-correct:0"
		nsRetract  = "urn:xmpp:message-retract:1"
		nsModerate = "urn:xmpp:message-moderate:1"
	)
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
	bob.Join(t, "#edits")
	room := "#edits@" + gw
	c := s.login(t, "alice", "pc")

	for _, j := range []string{gw, room} {
		res := c.IQ(t, `<iq type="get" to="`+j+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
		q := res.Child("http://jabber.org/protocol/disco#info", "query")
		if q == nil {
			t.Fatalf("disco#info of %s: %s", j, res)
		}
		var vars []string
		for _, f := range q.ChildrenNamed("http://jabber.org/protocol/disco#info", "feature") {
			vars = append(vars, f.Attr("var"))
		}
		if slices.Contains(vars, nsCorrect) {
			t.Errorf("%s advertises %s, which IRC cannot do", j, nsCorrect)
		}
		want := []string{nsRetract}
		if j == room {
			want = append(want, nsModerate)
		}
		for _, ns := range want {
			if !slices.Contains(vars, ns) {
				t.Errorf("%s does not advertise %s (draft/message-redaction, where a server offers it)", j, ns)
			}
		}
	}

	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

	c.Send(t, `<message type="groupchat" id="e1" to="`+room+`"><body>helo bob</body></message>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("#edits")(l) && l.Param(1) == "helo bob" })
	c.Expect(t, "reflection", isGroupchat(room+"/alice", "helo bob"))

	c.Send(t, `<message type="groupchat" id="e2" to="`+room+`"><body>hello bob</body><replace xmlns="`+nsCorrect+`" id="e1"/></message>`)
	l := bob.Expect(t, timeout, privmsg("#edits"))
	if l.Source != "alice" || l.Param(1) != "✎ hello bob" {
		t.Errorf("correction reached IRC as %q, want one PRIVMSG \"✎ hello bob\"", l.Raw)
	}
	c.Expect(t, "the marked correction, reflected", isGroupchat(room+"/alice", "✎ hello bob"))
	bob.ExpectNone(t, 500*time.Millisecond, privmsg("#edits"))

	isError := func(id string) func(*testenv.Element) bool {
		return func(el *testenv.Element) bool {
			return el.Name.Local == "message" && el.Attr("type") == "error" && el.Attr("id") == id
		}
	}
	c.Send(t, `<message type="groupchat" id="e3" to="`+room+`"><retract xmlns="`+nsRetract+`" id="e1"/>`+
		`<fallback xmlns="urn:xmpp:fallback:0" for="`+nsRetract+`"/><body>This person attempted to retract a previous message.</body></message>`)
	e := c.Expect(t, "retraction refused", isError("e3"))
	errEl := e.Child("", "error")
	const noRedaction = "irc.test does not offer message deletion"
	if errEl.Child(nsStanzas, "feature-not-implemented") == nil || !strings.Contains(errEl.ChildText(nsStanzas, "text"), noRedaction) {
		t.Errorf("retraction error: %s", e)
	}

	// One to one, through the session the room opened: the same.
	bobJID := "bob@" + gw
	c.Send(t, `<message type="chat" id="p1" to="`+bobJID+`"><body>see you at 5</body><origin-id xmlns="urn:xmpp:sid:0" id="p1"/></message>`)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return privmsg("bob")(l) && l.Param(1) == "see you at 5" })
	c.Send(t, `<message type="chat" id="p2" to="`+bobJID+`"><body>see you at 6</body><replace xmlns="`+nsCorrect+`" id="p1"/></message>`)
	l = bob.Expect(t, timeout, privmsg("bob"))
	if l.Source != "alice" || l.Param(1) != "✎ see you at 6" {
		t.Errorf("private correction reached IRC as %q, want one PRIVMSG \"✎ see you at 6\"", l.Raw)
	}
	c.Send(t, `<message type="chat" id="p3" to="`+bobJID+`"><retract xmlns="`+nsRetract+`" id="p1"/><body>retracted</body></message>`)
	e = c.Expect(t, "private retraction refused", isError("p3"))
	if errEl := e.Child("", "error"); errEl.Child(nsStanzas, "feature-not-implemented") == nil || !strings.Contains(errEl.ChildText(nsStanzas, "text"), noRedaction) {
		t.Errorf("private retraction error: %s", e)
	}
	bob.ExpectNone(t, 500*time.Millisecond, privmsg("bob"))

	res := c.IQ(t, `<iq type="set" to="`+room+`"><moderate xmlns="`+nsModerate+`" id="e1"><retract xmlns="`+nsRetract+`"/><reason>test</reason></moderate></iq>`)
	if errEl := res.Child("", "error"); res.Attr("type") != "error" || errEl.Child(nsStanzas, "feature-not-implemented") == nil ||
		!strings.Contains(errEl.ChildText(nsStanzas, "text"), noRedaction) {
		t.Errorf("moderation: %s", res)
	}
	bob.ExpectNone(t, 500*time.Millisecond, func(l testenv.IRCLine) bool { return privmsg("#edits")(l) || l.Command == "REDACT" })
}
