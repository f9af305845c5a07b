package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// TestChannelReplayAfterRestart: a registered user in bouncer mode is in
// an IRC channel with InspIRCd's chanhistory on (+H). What is said in it
// while Switchboard is stopped reaches the user once after the restart,
// from the server's replay at the rejoin (here as highlights, stored
// offline: the user's client is away); what the user had before the stop
// is not delivered again.
func TestChannelReplayAfterRestart(t *testing.T) {
	s := newStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.login(t, "alice", "pc")
	registerAliceIRC(t, c)
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
	bob.Join(t, "#den")
	setHistory(t, bob, "#den")
	room := "#den@" + gw
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	for k := 1; k <= 2; k++ {
		bob.Sendf("PRIVMSG #den :alice: before %d", k)
		c.Expect(t, "live line", isGroupchat(room+"/bob", fmt.Sprintf("alice: before %d", k)))
	}
	c.Close()

	s.stop()
	s.stop = nil
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "QUIT" && l.Source == "alice" })
	for k := 1; k <= 3; k++ {
		bob.Sendf("PRIVMSG #den :alice: while down %d", k)
	}
	s.start(t)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	bob.Send("PRIVMSG #den :alice: after")

	c = s.login(t, "alice", "pc")
	c.Send(t, `<presence/>`)
	var order []string
	count := map[string]int{}
	for deadline := time.Now().Add(timeout); ; {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		el, err := c.Next(ctx, func(el *testenv.Element) bool {
			return el.Name.Local == "message" && strings.HasPrefix(el.Attr("from"), room) && strings.HasPrefix(body(el), "alice: ")
		})
		cancel()
		if err != nil {
			break
		}
		order = append(order, body(el))
		count[body(el)]++
		if body(el) == "alice: after" {
			// What else is on its way: a little longer, for duplicates.
			deadline = time.Now().Add(2 * time.Second)
		}
		if el.Child("urn:xmpp:delay", "delay") == nil && strings.Contains(body(el), "while down") {
			t.Errorf("a line said while the gateway was down came without its time: %s", el)
		}
	}
	want := []string{"alice: while down 1", "alice: while down 2", "alice: while down 3", "alice: after"}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Errorf("after the restart alice got %q, want %q (each once, in order; nothing she had before)", order, want)
	}
}

// setHistory turns on InspIRCd's replay of channel's last 50 lines of the
// last hour at each JOIN (mode +H of chanhistory), as an operator of it.
func setHistory(t *testing.T, op *testenv.IRCClient, channel string) {
	t.Helper()
	op.Send("MODE " + channel + " +H 50:1h")
	op.Expect(t, timeout, func(l testenv.IRCLine) bool {
		return l.Command == "MODE" && strings.EqualFold(l.Param(0), channel) && strings.HasPrefix(l.Param(1), "+H")
	})
}
