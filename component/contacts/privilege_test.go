package contacts

import (
	"encoding/xml"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// TestReadGrant: either version of the advertisement is read, the
// version's namespace kept; permissions of unknown access or type grant
// nothing.
func TestReadGrant(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
		want Grant
	}{
		{"v2 both", `<privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="both"/><perm access="message" type="outgoing"/></privilege>`,
			true, Grant{NS: NSPrivilege2, Roster: "both", Message: "outgoing"}},
		{"v1 roster get", `<privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="get"/></privilege>`,
			true, Grant{NS: NSPrivilege1, Roster: "get"}},
		{"v1 roster set", `<privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="set"/></privilege>`,
			true, Grant{NS: NSPrivilege1, Roster: "set"}},
		{"unknown types", `<privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="all"/><perm access="message" type="incoming"/></privilege>`,
			true, Grant{NS: NSPrivilege2}},
		{"unknown access", `<privilege xmlns="urn:xmpp:privilege:2"><perm access="presence" type="roster"/></privilege>`,
			true, Grant{NS: NSPrivilege2}},
		{"perm of another namespace", `<privilege xmlns="urn:xmpp:privilege:2"><perm xmlns="urn:example" access="roster" type="both"/></privilege>`,
			true, Grant{NS: NSPrivilege2}},
		{"other namespace", `<privilege xmlns="urn:example:other"><perm access="roster" type="both"/></privilege>`, false, Grant{}},
		{"none", `<body>hi</body>`, false, Grant{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, err := xmltree.Parse(`<message xmlns="jabber:component:accept">` + tt.body + `</message>`)
			if err != nil {
				t.Fatal(err)
			}
			g, ok := ReadGrant(el)
			if ok != tt.ok || g != tt.want {
				t.Errorf("ReadGrant = %+v, %v; want %+v, %v", g, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCanSetRoster(t *testing.T) {
	for roster, want := range map[string]bool{"": false, "get": false, "set": true, "both": true} {
		if got := (Grant{Roster: roster}).CanSetRoster(); got != want {
			t.Errorf("roster %q: CanSetRoster = %v, want %v", roster, got, want)
		}
	}
}

// TestPrivilegeAdvert: grants are believed from a served server's bare
// domain only, in either version of the XEP, and replace the last one;
// a new stream forgets them.
func TestPrivilegeAdvert(t *testing.T) {
	f := newFakeCore(t)
	d := NewService(f, testKey)
	in := func(from, to, body string) *stanza.In {
		el, err := xmltree.Parse(`<message xmlns="jabber:component:accept" from="` + from + `" to="` + to + `">` + body + `</message>`)
		if err != nil {
			t.Fatal(err)
		}
		return &stanza.In{Element: el, From: jid.MustParse(from), To: jid.MustParse(to)}
	}
	both := `<perm access="roster" type="both"/><perm access="message" type="outgoing"/>`
	tests := []struct {
		name        string
		from, to    string
		body        string
		taken       bool
		roster, msg string
		ns          string
	}{
		{"v2", "example.org", "gw.example.org", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, true, "both", "outgoing", NSPrivilege2},
		{"v1 replaces", "example.org", "gw.example.org", `<privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="get"/></privilege>`, true, "get", "", NSPrivilege1},
		{"a user cannot grant", "mallory@example.org", "gw.example.org", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, true, "get", "", NSPrivilege1},
		{"a resource cannot grant", "example.org/res", "gw.example.org", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, true, "get", "", NSPrivilege1},
		{"another server cannot grant", "evil.example", "gw.example.org", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, true, "get", "", NSPrivilege1},
		{"to a contact is no advertisement", "example.org", "carol@gw.example.org", `<privilege xmlns="urn:xmpp:privilege:2">` + both + `</privilege>`, false, "get", "", NSPrivilege1},
		{"other namespace is no grant", "example.org", "gw.example.org", `<privilege xmlns="urn:example:other">` + both + `</privilege>`, false, "get", "", NSPrivilege1},
		{"unknown types ignored", "example.org", "gw.example.org", `<privilege xmlns="urn:xmpp:privilege:2"><perm access="roster" type="all"/><perm access="message" type="incoming"/></privilege>`, true, "", "", NSPrivilege2},
	}
	for _, tt := range tests {
		if got := d.Advert(in(tt.from, tt.to, tt.body)); got != tt.taken {
			t.Errorf("%s: taken = %v, want %v", tt.name, got, tt.taken)
		}
		g := d.privs.Of("EXAMPLE.org")
		if g.Roster != tt.roster || g.Message != tt.msg || g.NS != tt.ns {
			t.Errorf("%s: grant = %+v, want roster %q message %q in %s", tt.name, g, tt.roster, tt.msg, tt.ns)
		}
	}
	if d.privs.Of("evil.example") != (Grant{}) {
		t.Error("a grant recorded for another server")
	}
	if len(f.dropped) != 3 {
		t.Errorf("dropped %q, want the user's, the resource's and the other server's advertisements", f.dropped)
	}
	d.StreamUp()
	if d.privs.Of("example.org") != (Grant{}) {
		t.Error("a grant outlived its stream")
	}
}

// TestAsUser: a message sent on a user's behalf is wrapped as the
// server's grant version says, the inner message in jabber:client with
// an ID signed for the user, by which its echo is known — also by another
// Service with the same key (a restart), never by one with another key,
// and never for an ID a user made up.
func TestAsUser(t *testing.T) {
	d := NewService(newFakeCore(t), testKey)
	m := &stanza.Message{Type: "chat", From: "rosa@example.org", To: "carol@gw.example.org", Body: "sent from my phone"}
	if d.AsUser("rosa@example.org", "w1", m) != nil {
		t.Fatal("wrapped without a message grant")
	}
	d.privs.Set("example.org", Grant{NS: NSPrivilege1, Roster: "both"})
	if d.AsUser("rosa@example.org", "w1", m) != nil {
		t.Fatal("wrapped with a roster grant only")
	}
	d.privs.Set("example.org", Grant{NS: NSPrivilege1, Message: "outgoing"})
	if d.AsUser("rosa@example.org", "w1", m) != nil {
		t.Fatal("wrapped with a message grant not checked yet")
	}
	d.privs.settle("example.org", true)
	p := d.AsUser("rosa@example.org", "w1", m)
	b, err := xml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	el, err := xmltree.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	inner := el.Child(NSPrivilege1, "privilege").Child(NSForward, "forwarded").Child("jabber:client", "message")
	if el.Attr("to") != "example.org" || el.Attr("from") != "gw.example.org" || el.Attr("id") != "w1" || inner == nil ||
		inner.Attr("from") != "rosa@example.org" || inner.ChildText("jabber:client", "body") != "sent from my phone" {
		t.Fatalf("wrapped message: %s", b)
	}
	id := inner.Attr("id")
	if id == "" || id != m.ID || inner.Child("urn:xmpp:sid:0", "origin-id") == nil {
		t.Fatalf("inner message has no signed id and origin-id: %s", b)
	}
	part, _, _ := strings.Cut(id, ".")
	echo := func(local, from, id string) *stanza.In {
		el, _ := xmltree.Parse(`<` + local + ` xmlns="jabber:component:accept"/>`)
		return &stanza.In{Element: el, From: jid.MustParse(from), To: jid.MustParse("carol@gw.example.org"), ID: id}
	}
	restarted := NewService(newFakeCore(t), testKey)
	otherKey := NewService(newFakeCore(t), []byte("another key"))
	tests := []struct {
		name        string
		d           *Service
		local, from string
		id          string
		want        bool
	}{
		{"a full JID's message", d, "message", "rosa@example.org/phone", id, false},
		{"another user's message with the ID", d, "message", "mallory@example.org", id, false},
		{"a presence with the ID", d, "presence", "rosa@example.org", id, false},
		{"no ID", d, "message", "rosa@example.org", "", false},
		{"a forged signature", d, "message", "rosa@example.org", part + ".00112233445566778899aabbccddeeff", false},
		{"no signature", d, "message", "rosa@example.org", part, false},
		{"the echo", d, "message", "rosa@example.org", id, true},
		{"the echo after a restart", restarted, "message", "rosa@example.org", id, true},
		{"another key", otherKey, "message", "rosa@example.org", id, false},
	}
	for _, tt := range tests {
		if got := tt.d.Echo(echo(tt.local, tt.from, tt.id)); got != tt.want {
			t.Errorf("%s: Echo = %v, want %v", tt.name, got, tt.want)
		}
	}
}
