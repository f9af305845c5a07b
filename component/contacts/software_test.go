package contacts

import (
	"errors"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

func TestMessagePrivilegeWorks(t *testing.T) {
	tests := []struct {
		sw   Software
		want bool
	}{
		{Software{"ejabberd", "23.01"}, false}, // Debian 12
		{Software{"ejabberd", "23.04"}, false},
		{Software{"ejabberd", "22.10.0"}, false},
		{Software{"ejabberd", "23.10"}, true}, // processone/ejabberd#3990 fixed
		{Software{"ejabberd", "23.10.0"}, true},
		{Software{"ejabberd", "24.02-1"}, true},
		{Software{"ejabberd", "25.04"}, true},
		{Software{"Ejabberd", " 21.12 "}, false},
		{Software{"ejabberd", "master"}, true}, // unreadable: trusted
		{Software{"ejabberd", ""}, true},
		{Software{"Prosody", "0.12.3"}, true},
		{Software{"", ""}, true},
	}
	for _, tt := range tests {
		if got := MessagePrivilegeWorks(tt.sw); got != tt.want {
			t.Errorf("MessagePrivilegeWorks(%+v) = %v, want %v", tt.sw, got, tt.want)
		}
	}
}

// TestMessageGrantChecked: a server's message grant is used only once
// the server said what it runs: withdrawn for an ejabberd that drops
// the carbon (the user's own messages are then shown marked), kept for
// any other server and for one that does not say.
func TestMessageGrantChecked(t *testing.T) {
	advert := `<privilege xmlns="urn:xmpp:privilege:1"><perm access="roster" type="both"/><perm access="message" type="outgoing"/></privilege>`
	tests := []struct {
		name     string
		software Software
		err      error
		usable   bool
		log      string
	}{
		{"ejabberd 23.01", Software{"ejabberd", "23.01"}, nil, false, "processone/ejabberd#3990"},
		{"ejabberd 24.02", Software{"ejabberd", "24.02"}, nil, true, "message privilege in use"},
		{"Prosody", Software{"Prosody", "0.12.3"}, nil, true, "message privilege in use"},
		{"no answer", Software{}, errors.New("example.org answered with an error"), true, "trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCore(t)
			f.deferLater = true
			f.software, f.softwareErr = tt.software, tt.err
			d := NewService(f, testKey)
			el, err := xmltree.Parse(`<message xmlns="jabber:component:accept" from="example.org" to="gw.example.org">` + advert + `</message>`)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Advert(&stanza.In{Element: el, From: jid.MustParse("example.org"), To: jid.MustParse("gw.example.org")}) {
				t.Fatal("advertisement not taken")
			}
			m := &stanza.Message{Type: "chat", From: "rosa@example.org", To: "carol@gw.example.org", Body: "sent from my phone"}
			if d.AsUser("rosa@example.org", "w1", m) != nil {
				t.Error("the message grant used before the check")
			}
			if len(f.later) != 1 {
				t.Fatalf("%d jobs queued, want the check", len(f.later))
			}
			f.later[0](t.Context())
			if len(f.asked) != 1 || f.asked[0] != "example.org" {
				t.Errorf("asked %q for its software, want the server's domain", f.asked)
			}
			if got := d.AsUser("rosa@example.org", "w1", m) != nil; got != tt.usable {
				t.Errorf("message grant usable = %v, want %v", got, tt.usable)
			}
			if g := d.privs.Of("example.org"); g.Roster != "both" {
				t.Errorf("the check changed the roster grant: %+v", g)
			}
			if !strings.Contains(f.logs.String(), tt.log) {
				t.Errorf("log %q does not say %q", f.logs.String(), tt.log)
			}
		})
	}

	t.Run("a new stream meanwhile", func(t *testing.T) {
		f := newFakeCore(t)
		d := NewService(f, testKey)
		d.privs.Set("example.org", Grant{NS: NSPrivilege1, Message: "outgoing"})
		d.StreamUp()
		d.privs.settle("example.org", true)
		if g := d.privs.Of("example.org"); g != (Grant{}) {
			t.Errorf("a check of the last stream granted %+v", g)
		}
	})
}
