package component

import (
	"encoding/xml"
	"log/slog"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// TestPrivilegeAdvert: grants are believed from a served server's bare
// domain only, in either version of the XEP, and replace the last one.
func TestPrivilegeAdvert(t *testing.T) {
	c := &Component{log: slog.New(slog.DiscardHandler), domain: jid.MustParse("gw.example.org"),
		allowed: map[string]bool{"example.org": true}}
	in := func(from, body string) *stanza.In {
		el, err := xmltree.Parse(`<message xmlns="jabber:component:accept" from="` + from + `" to="gw.example.org">` + body + `</message>`)
		if err != nil {
			t.Fatal(err)
		}
		return &stanza.In{Element: el, From: jid.MustParse(from), To: jid.MustParse("gw.example.org")}
	}
	both := `<perm access="roster" type="both"/><perm access="message" type="outgoing"/>`
	tests := []struct {
		name        string
		from, body  string
		taken       bool
		roster, msg string
		ns          string
	}{
		{"v2", "example.org", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, true, "both", "outgoing", nsPrivilege2},
		{"v1 replaces", "example.org", `<privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="get"/></privilege>`, true, "get", "", nsPrivilege1},
		{"a user cannot grant", "mallory@example.org", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, true, "get", "", nsPrivilege1},
		{"another server cannot grant", "evil.example", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, true, "get", "", nsPrivilege1},
		{"other namespace is no grant", "example.org", `<privilege xmlns="urn:example:other">` + both + `</privilege>`, false, "get", "", nsPrivilege1},
		{"unknown types ignored", "example.org", `<privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="all"/><perm access="message" type="incoming"/></privilege>`, true, "", "", nsPrivilege2},
	}
	for _, tt := range tests {
		if got := c.privilegeAdvert(in(tt.from, tt.body)); got != tt.taken {
			t.Errorf("%s: taken = %v, want %v", tt.name, got, tt.taken)
		}
		g := c.privs.of("EXAMPLE.org")
		if g.roster != tt.roster || g.message != tt.msg || g.ns != tt.ns {
			t.Errorf("%s: grant = %+v, want roster %q message %q in %s", tt.name, g, tt.roster, tt.msg, tt.ns)
		}
	}
	if c.privs.of("evil.example") != (grant{}) {
		t.Error("a grant recorded for another server")
	}
}

// TestAsUser: a message sent on a user's behalf is wrapped as the
// server's grant version says, the inner message in jabber:client, and
// its echo is recognised once.
func TestAsUser(t *testing.T) {
	c := &Component{log: slog.New(slog.DiscardHandler), domain: jid.MustParse("gw.example.org")}
	m := &stanza.Message{ID: "m1", Type: "chat", From: "rosa@example.org", To: "carol@gw.example.org", Body: "sent from my phone"}
	if c.asUser("rosa@example.org", m) != nil {
		t.Fatal("wrapped without a message grant")
	}
	c.privs.set("example.org", grant{ns: nsPrivilege1, message: "outgoing"})
	p := c.asUser("rosa@example.org", m)
	b, err := xml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	el, err := xmltree.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	inner := el.Child(nsPrivilege1, "privilege").Child(nsForward, "forwarded").Child("jabber:client", "message")
	if el.Attr("to") != "example.org" || el.Attr("from") != "gw.example.org" || inner == nil ||
		inner.Attr("from") != "rosa@example.org" || inner.ChildText("jabber:client", "body") != "sent from my phone" {
		t.Fatalf("wrapped message: %s", b)
	}
	echo := func(from, id string) *stanza.In {
		el, _ := xmltree.Parse(`<message xmlns="jabber:component:accept"/>`)
		return &stanza.In{Element: el, From: jid.MustParse(from), To: jid.MustParse("carol@gw.example.org"), ID: id}
	}
	if c.echoOfOwn(echo("rosa@example.org/phone", "m1")) {
		t.Error("a full JID's message taken for the server's echo")
	}
	if c.echoOfOwn(echo("mallory@example.org", "m1")) {
		t.Error("another user's message with the ID taken for the echo")
	}
	if !c.echoOfOwn(echo("rosa@example.org", "m1")) {
		t.Error("the echo is not recognised")
	}
	if c.echoOfOwn(echo("rosa@example.org", "m1")) {
		t.Error("the echo is recognised twice")
	}
}
