package irc_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
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
