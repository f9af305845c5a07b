package e2e_test

import (
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/storage"
)

// TestJournalRoomMessageAfterRejoin: a registered user in bouncer mode
// sends two messages to an IRC channel; the second is read and journaled
// but waits for the send rate when Switchboard stops. After the restart
// it waits in turn for the rejoin of the remembered channel, and reaches
// the channel once; the user gets no error for it, and the first is not
// sent again.
func TestJournalRoomMessageAfterRejoin(t *testing.T) {
	s := newStack(t)
	slow := true
	s.tune = func(cfg *component.Config, st storage.Store) {
		cfg.Journal = journal.New(st, journal.Limits{})
		if slow {
			// One message through, the next waits in the user's lane.
			cfg.SendRate, cfg.SendBurst = 0.0001, 1
		}
	}
	s.restart(t)

	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.login(t, "alice", "pc")
	registerAliceIRC(t, c)
	bob := testenv.DialIRC(t, s.ircd.Addr(), "bob")
	bob.Join(t, "#den")
	room := "#den@" + gw
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "own presence", isPresenceFrom(room+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })

	said := func(text string) func(testenv.IRCLine) bool {
		return func(l testenv.IRCLine) bool { return privmsg("#den")(l) && l.Source == "alice" && l.Param(1) == text }
	}
	c.Send(t, `<message type="groupchat" id="r1" to="`+room+`"><body>first</body></message>`)
	bob.Expect(t, timeout, said("first"))
	journalHolds(t, s.comp, 0) // the first acknowledged: it is not the one left
	c.Send(t, `<message type="groupchat" id="r2" to="`+room+`"><body>second</body></message>`)
	journalHolds(t, s.comp, 1)

	slow = false
	s.restart(t)
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	bob.Expect(t, timeout, said("second"))
	bob.ExpectNone(t, 2*time.Second, func(l testenv.IRCLine) bool { return said("second")(l) || said("first")(l) })
	c.ExpectNone(t, 500*time.Millisecond, func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "error" && el.Attr("id") == "r2"
	})
	journalHolds(t, s.comp, 0)
}

// journalHolds waits until c's journal holds n messages.
func journalHolds(t *testing.T, c *component.Component, n int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for c.Stats().JournalPending != n {
		if time.Now().After(deadline) {
			t.Fatalf("journal holds %d messages, want %d", c.Stats().JournalPending, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
