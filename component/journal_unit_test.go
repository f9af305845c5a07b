package component

import (
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/journal"
)

// TestJournaled: which messages the journal keeps, and that what it
// stores reads back as the same stanza.
func TestJournaled(t *testing.T) {
	tests := []struct {
		name, xml string
		want      bool
	}{
		{"chat to a contact", `<message xmlns="jabber:component:accept" type="chat" id="1" from="u@x/r" to="bob@gw"><body>hi &amp; &lt;bye&gt;
two lines</body></message>`, true},
		{"normal to a contact", `<message xmlns="jabber:component:accept" from="u@x/r" to="bob@gw"><body>hi</body></message>`, true},
		{"groupchat to a room", `<message xmlns="jabber:component:accept" type="groupchat" from="u@x/r" to="#c%irc@gw"><body>hi</body></message>`, true},
		{"retraction", `<message xmlns="jabber:component:accept" type="chat" from="u@x/r" to="bob@gw"><retract xmlns="urn:xmpp:message-retract:1" id="9"/></message>`, true},
		{"reactions", `<message xmlns="jabber:component:accept" type="chat" from="u@x/r" to="bob@gw"><reactions xmlns="urn:xmpp:reactions:0" id="9"><reaction>👍</reaction></reactions></message>`, true},
		{"chat state alone", `<message xmlns="jabber:component:accept" type="chat" from="u@x/r" to="bob@gw"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`, false},
		{"to the gateway itself", `<message xmlns="jabber:component:accept" type="chat" from="u@x/r" to="gw"><body>help</body></message>`, false},
		{"error", `<message xmlns="jabber:component:accept" type="error" from="u@x/r" to="bob@gw"><body>hi</body></message>`, false},
		{"headline", `<message xmlns="jabber:component:accept" type="headline" from="u@x/r" to="bob@gw"><body>hi</body></message>`, false},
		{"presence", `<presence xmlns="jabber:component:accept" from="u@x/r" to="bob@gw"/>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := xmltree.Parse(tt.xml)
			if err != nil {
				t.Fatal(err)
			}
			s := &stanza.In{Element: n, ID: n.Attr("id"), Type: n.Attr("type"),
				From: jid.MustParse(n.Attr("from")), To: jid.MustParse(n.Attr("to"))}
			if got := journaled(s); got != tt.want {
				t.Fatalf("journaled = %v, want %v", got, tt.want)
			}
			// What the journal stores is the element's String: read back,
			// it is the same stanza.
			back, err := xmltree.Parse(n.String())
			if err != nil {
				t.Fatal(err)
			}
			if back.String() != n.String() || back.Name != n.Name || back.ChildText("", "body") != n.ChildText("", "body") {
				t.Fatalf("read back %s, want %s", back, n)
			}
		})
	}
}

// TestJournalsOnlyServedUsers: a stranger's message is never written to
// the journal (no storage write on the stream's reader for it); a served
// user's is; without a journal nothing is.
func TestJournalsOnlyServedUsers(t *testing.T) {
	msg := func(from string) *stanza.In {
		n, err := xmltree.Parse(`<message xmlns="jabber:component:accept" type="chat" from="` + from + `" to="bob@gw"><body>hi</body></message>`)
		if err != nil {
			t.Fatal(err)
		}
		return &stanza.In{Element: n, Type: "chat", From: jid.MustParse(from), To: jid.MustParse("bob@gw")}
	}
	served := &Component{allowed: map[string]bool{"example.org": true}, cfg: Config{Journal: &journal.Journal{}}}
	for _, tt := range []struct {
		name string
		c    *Component
		from string
		want bool
	}{
		{"served user", served, "u@example.org/r", true},
		{"stranger", served, "u@elsewhere.net/r", false},
		{"no journal", &Component{allowed: map[string]bool{"*": true}}, "u@example.org/r", false},
	} {
		if got := tt.c.journals(msg(tt.from)); got != tt.want {
			t.Errorf("%s: journals = %v, want %v", tt.name, got, tt.want)
		}
	}
}
