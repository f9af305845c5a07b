package irc_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/irc"
	"github.com/switchboard-im/switchboard/transports"
)

// TestInspIRCdNickAndAccounts: against InspIRCd with Atheme, a member
// logged in to a services account carries it as the occupant ID (from
// extended-join, and across a nick change); one without an account has
// none. The user's own nick change goes through and comes back as their
// own occupant event; a nick in use or malformed is refused with the
// right sentinel.
func TestInspIRCdNickAndAccounts(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{Services: true})
	srv.RegisterAccount(t, "bob", "pw-of-bob")
	n := network("irc.test", srv.Addr())

	a, ev := connect(t, n, nil)
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#room", "alice"); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	expect(t, ev, func(e *transports.RoomReadyEvent) bool { return e.Room == "#room" })

	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Send("PRIVMSG NickServ :IDENTIFY pw-of-bob")
	bob.Expect(t, waitFor, func(l testenv.IRCLine) bool {
		return l.Command == "NOTICE" && strings.EqualFold(l.Source, "NickServ") && strings.Contains(l.Param(1), "identified")
	})
	bob.Join(t, "#room")
	carol := testenv.DialIRC(t, srv.Addr(), "carol")
	carol.Join(t, "#room")

	jb := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Nick == "bob" && !e.Left })
	if jb.Account != "bob" || jb.OccupantID != "account:bob" {
		t.Errorf("bob joined with account %q, occupant ID %q; want bob, account:bob", jb.Account, jb.OccupantID)
	}
	jc := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Nick == "carol" && !e.Left })
	if jc.OccupantID != "" {
		t.Errorf("carol has no account, yet occupant ID %q", jc.OccupantID)
	}
	bob.Send("NICK bobby")
	nc := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.NewNick == "bobby" })
	if nc.OccupantID != "account:bob" {
		t.Errorf("bob's nick change has occupant ID %q, want account:bob", nc.OccupantID)
	}

	nicker := a.(transports.Nicker)
	if err := nicker.SetNick(ctx(t), "#room", "alicia"); err != nil {
		t.Fatalf("SetNick: %v", err)
	}
	own := expect(t, ev, func(e *transports.OccupantEvent) bool { return e.Self && e.NewNick != "" })
	if own.Nick != "alice" || own.NewNick != "alicia" {
		t.Errorf("own nick change = %+v", own)
	}
	carol.Expect(t, waitFor, func(l testenv.IRCLine) bool { return l.Command == "NICK" && l.Param(0) == "alicia" })

	tests := []struct {
		nick string
		want error
	}{
		{"carol", transports.ErrConflict},
		{"bad nick!", transports.ErrInvalidInput},
		{"#chan", transports.ErrInvalidInput},
	}
	for _, tt := range tests {
		if err := nicker.SetNick(ctx(t), "#room", tt.nick); !errors.Is(err, tt.want) {
			t.Errorf("SetNick(%q) = %v, want %v", tt.nick, err, tt.want)
		}
	}
	if err := nicker.SetNick(ctx(t), "#elsewhere", "x"); !errors.Is(err, transports.ErrForbidden) {
		t.Errorf("SetNick in a room the user is not in = %v, want ErrForbidden (as for every room operation)", err)
	}
}

// TestInspIRCdOwnOccupantID: a user logged in to their services account
// (SASL) has it as their own occupant ID in the rooms they join, as the
// others see it.
func TestInspIRCdOwnOccupantID(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{Services: true})
	srv.RegisterAccount(t, "dora", "pw-of-dora")
	n := network("irc.test", srv.Addr())
	a, ev := connect(t, n, transports.Credentials{"nick": "dora", "password": "pw-of-dora"})
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#own", "dora"); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	ready := expect(t, ev, func(e *transports.RoomReadyEvent) bool { return e.Room == "#own" })
	if ready.OccupantID != "account:dora" {
		t.Errorf("own occupant ID = %q, want account:dora", ready.OccupantID)
	}
}

// TestServersListed: the gateway's list of a user's IRC servers holds
// the configured ones and those the user is connected to, each once.
func TestServersListed(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := irc.New(irc.Config{
		DefaultServer: "irc.test",
		Servers: map[string]irc.Server{
			"irc.test":    {Address: srv.Addr(), Plaintext: true},
			"irc.example": {Address: "127.0.0.1:1", Plaintext: true},
		},
		Timeout: waitFor,
	})
	a, _ := connect(t, n, nil)
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#listed", "lister"); err != nil {
		t.Fatalf("JoinRoom: %v", err)
	}
	got, err := a.(transports.ServerLister).Servers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, string(s.ID))
		if kind, err := n.Kind(s.ID); err != nil || kind != transports.KindServer {
			t.Errorf("%s is not a server ID: %v %v", s.ID, kind, err)
		}
	}
	if want := []string{"irc.test", "irc.example"}; !slices.Equal(ids, want) {
		t.Errorf("servers %q, want %q", ids, want)
	}
}
