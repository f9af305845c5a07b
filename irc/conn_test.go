package irc

import (
	"errors"
	"testing"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

func testConn(t *testing.T) *conn {
	t.Helper()
	n := New(Config{DefaultServer: "irc.test"})
	a := n.newAdapter(transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	t.Cleanup(func() { a.Close() })
	c := newConn(a, "irc.test", "me", "")
	c.nick = "me"
	return c
}

func TestMentions(t *testing.T) {
	tests := []struct {
		body, nick string
		want       bool
	}{
		{"me: hi", "me", true},
		{"hi ME", "me", true},
		{"hey me, look", "me", true},
		{"meme", "me", false},
		{"some", "me", false},
		{"[me] hi", "[me]", true},
		{"{me} hi", "[me]", true}, // rfc1459 case mapping
		{"anything", "", false},
	}
	for _, tt := range tests {
		if got := mentions(tt.body, tt.nick); got != tt.want {
			t.Errorf("mentions(%q, %q) = %v, want %v", tt.body, tt.nick, got, tt.want)
		}
	}
}

func TestRoleMapping(t *testing.T) {
	c := testConn(t)
	tests := []struct {
		modes string
		role  transports.Role
		aff   transports.Affiliation
	}{
		{"q", transports.RoleModerator, transports.AffiliationOwner},
		{"qo", transports.RoleModerator, transports.AffiliationOwner},
		{"a", transports.RoleModerator, transports.AffiliationAdmin},
		{"o", transports.RoleModerator, transports.AffiliationAdmin},
		{"h", transports.RoleModerator, transports.AffiliationMember},
		{"v", transports.RoleParticipant, transports.AffiliationMember},
		{"", transports.RoleParticipant, transports.AffiliationNone},
	}
	for _, tt := range tests {
		role, aff := c.roleOf(tt.modes)
		if role != tt.role || aff != tt.aff {
			t.Errorf("roleOf(%q) = %v, %v; want %v, %v", tt.modes, role, aff, tt.role, tt.aff)
		}
	}
}

func TestISupportAndModes(t *testing.T) {
	c := testConn(t)
	c.parseISupport([]string{"me", "PREFIX=(qaohv)~&@%+", "CHANMODES=beI,k,l,imnpst", "CHANTYPES=#", "are supported"})
	if c.isupport.prefixModes != "qaohv" || c.isupport.prefixChars != "~&@%+" || c.isupport.chanTypes != "#" {
		t.Fatalf("isupport = %+v", c.isupport)
	}
	ch := &channel{name: "#c", id: "#c"}
	c.channels["#c"] = ch
	c.onChannelEvent(girc.ParseEvent(":me!u@h JOIN #c"))
	t.Cleanup(func() { ch.sub.close() })
	c.onChannelEvent(&girc.Event{Command: "353", Params: []string{"me", "=", "#c", "~&@bob!b@h +carol me"}})
	members := ch.sub.members()
	if got := members["bob"].prefixes; got != "qao" {
		t.Errorf("bob's modes = %q, want qao (multi-prefix)", got)
	}
	if got := members["carol"].prefixes; got != "v" {
		t.Errorf("carol's modes = %q, want v", got)
	}
	// +k takes a parameter, +l too when set, -l not: the nicks must line up.
	changed := c.applyModesLocked(ch.sub.v.members, "+kov-lv", []string{"key", "carol", "me", "carol"})
	if len(changed) != 3 {
		t.Fatalf("changed %d members, want 3 (carol +o, me +v, carol -v)", len(changed))
	}
	members = ch.sub.members()
	if got := members["carol"].prefixes; got != "o" {
		t.Errorf("carol's modes = %q, want o", got)
	}
	if got := members["me"].prefixes; got != "v" {
		t.Errorf("my modes = %q, want v", got)
	}
}

func TestServerErrorConditions(t *testing.T) {
	tests := []struct {
		numeric string
		want    error
	}{
		{"401", transports.ErrNotFound},
		{"404", transports.ErrForbidden},
		{"433", transports.ErrConflict},
		{"471", transports.ErrUnavailable},
		{"473", transports.ErrForbidden},
		{"474", transports.ErrForbidden},
		{"475", transports.ErrForbidden},
		{"482", transports.ErrForbidden},
		{"904", transports.ErrBadCredentials},
		{"432", transports.ErrInvalidInput},
	}
	for _, tt := range tests {
		err := serverError("irc.example", &girc.Event{Command: tt.numeric, Params: []string{"me", "#chan", "Server text"}})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s → %v, want %v", tt.numeric, err, tt.want)
		}
		if got, want := err.Error(), tt.want.Error()+": irc.example: #chan: Server text"; got != want {
			t.Errorf("%s → %q, want %q: the sentinel, the server's name and its text, once each", tt.numeric, got, want)
		}
	}
}

func TestEscapeTag(t *testing.T) {
	if got := escapeTag("a;b c\\d\r\n\x00"); got != `a\:b\sc\\d\r\n` {
		t.Errorf("escapeTag = %q", got)
	}
}

func TestLoginValidation(t *testing.T) {
	n := New(Config{AllowedServers: []string{"*"}})
	tests := []struct {
		creds transports.Credentials
		ok    bool
	}{
		{transports.Credentials{"nick": "alice", "server": "irc.example.net"}, true},
		{transports.Credentials{"nick": "alice"}, false},                                   // no server, no default
		{transports.Credentials{"nick": "al ice", "server": "irc.example.net"}, false},     // bad nick
		{transports.Credentials{"nick": "alice", "server": "irc example"}, false},          // bad server
		{transports.Credentials{"nick": "alice", "server": "irc.example.net:6667"}, false}, // ports come from config
		{transports.Credentials{"nick": "alice", "server": "irc.example.net", "password": "a\r\nQUIT"}, false},
	}
	for _, tt := range tests {
		_, err := n.login(tt.creds)
		if (err == nil) != tt.ok {
			t.Errorf("login(%v) = %v, want ok=%v", tt.creds, err, tt.ok)
		}
		if err != nil && !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("login(%v) = %v, not ErrInvalidInput", tt.creds, err)
		}
	}
}

func TestAddress(t *testing.T) {
	n := New(Config{Servers: map[string]Server{
		"plain.test": {Address: "127.0.0.1:6668", Plaintext: true},
		"tls.test":   {Address: "10.0.0.1"},
	}})
	tests := []struct {
		server, addr string
		tls          bool
	}{
		{"irc.libera.chat", "irc.libera.chat:6697", true},
		{"plain.test", "127.0.0.1:6668", false},
		{"tls.test", "10.0.0.1:6697", true},
	}
	for _, tt := range tests {
		addr, tls := n.address(tt.server)
		if addr != tt.addr || tls != tt.tls {
			t.Errorf("address(%q) = %s, %v; want %s, %v", tt.server, addr, tls, tt.addr, tt.tls)
		}
	}
}
