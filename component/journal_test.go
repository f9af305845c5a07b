package component_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/transports"
)

// slowSends lets one message through to the network and makes the next
// ones wait (the per-user send rate): they are read, journaled and in the
// user's lane, not sent, when the component stops.
func slowSends(cfg *component.Config) {
	cfg.SendRate, cfg.SendBurst = 0.0001, 1
}

// journalIDs waits until the component's journal holds exactly the
// messages with stanza ids want, in that order.
func (e *env) journalIDs(t *testing.T, want ...string) {
	t.Helper()
	var ids []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		// A journal of its own over the same store: Pending only reads.
		entries, err := journal.New(e.store, journal.Limits{}).Pending(t.Context(), "fake")
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, en := range entries {
			n, err := xmltree.Parse(string(en.Stanza))
			if err != nil {
				t.Fatalf("journaled stanza unreadable: %v", err)
			}
			ids = append(ids, n.Attr("id"))
		}
		if slices.Equal(ids, want) {
			return
		}
	}
	t.Fatalf("journal holds %q, want %q\n%s", ids, want, e.logs)
}

func receiptFor(id string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		r := el.Child("urn:xmpp:receipts", "received")
		return isStanza(el, "message") && r != nil && r.Attr("id") == id
	}
}

func chatTo(to, id, body string) string {
	return fmt.Sprintf(`<message type="chat" id="%s" to="%s@%s"><body>%s</body><request xmlns="urn:xmpp:receipts"/></message>`, id, to, gw, body)
}

// TestJournalReplaysAfterStop: messages the component had read but not
// sent when it stopped (waiting in the user's lane) are sent by the next
// component over the same store, once each, in order, with receipts under
// their original ids; the one already sent is not sent again.
func TestJournalReplaysAfterStop(t *testing.T) {
	e := newEnv(t, envOptions{tune: slowSends})
	c := e.user(t, "alice", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "alice@localhost")

	for i := 1; i <= 3; i++ {
		c.Send(t, chatTo("bob", fmt.Sprint("j", i), fmt.Sprint("journaled ", i)))
	}
	if m := nextSent(t, a); m.Body != "journaled 1" {
		t.Fatalf("first message sent = %q", m.Body)
	}
	c.Expect(t, "receipt for j1", receiptFor("j1"))
	e.journalIDs(t, "j2", "j3") // j1 acknowledged; j2 waits for the rate, j3 behind it
	e.stop()
	if n := len(a.Sent()); n != 0 {
		t.Fatalf("%d more messages reached the network before the stop", n)
	}

	e.tune = nil
	e.start(t, e.key, nil)
	a2 := e.adapter(t, "alice@localhost")
	if a2 == a {
		t.Fatal("the restarted component uses the old session")
	}
	// j2 and j3 once each, in order; then a new message, with nothing
	// (no j1, no second j2) before it.
	c.Send(t, chatTo("bob", "j4", "journaled 4"))
	var got []string
	for range 3 {
		m := nextSent(t, a2)
		got = append(got, string(m.To)+": "+m.Body)
	}
	want := []string{"bob: journaled 2", "bob: journaled 3", "bob: journaled 4"}
	if !slices.Equal(got, want) {
		t.Fatalf("sent after the restart %q, want %q", got, want)
	}
	for _, id := range []string{"j2", "j3", "j4"} {
		c.Expect(t, "receipt for "+id, receiptFor(id))
	}
	e.journalIDs(t)
	if n := len(a2.Sent()); n != 0 {
		t.Fatalf("%d messages sent twice", n)
	}
}

// TestJournalDropsOldMessages: a journaled message older than the
// journal's age bound when the component comes back is not sent; the user
// gets an error for it, and the log says so.
func TestJournalDropsOldMessages(t *testing.T) {
	e := newEnv(t, envOptions{tune: slowSends})
	c := e.user(t, "bea", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "bea@localhost")

	c.Send(t, chatTo("bob", "o1", "fresh"))
	c.Send(t, chatTo("bob", "o2", "will be stale"))
	if m := nextSent(t, a); m.Body != "fresh" {
		t.Fatalf("first message sent = %q", m.Body)
	}
	e.journalIDs(t, "o2")
	e.stop()

	e.tune = func(cfg *component.Config) {
		cfg.Journal = journal.New(e.store, journal.Limits{MaxAge: time.Minute})
		cfg.Journal.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	}
	e.start(t, e.key, nil)
	errMsg := c.Expect(t, "error for the stale message", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "o2"
	})
	wantError(t, errMsg, "remote-server-timeout", "too old to send")
	if !strings.Contains(e.logs.String(), "journaled message too old to send, dropped") {
		t.Errorf("no log line for the dropped message:\n%s", e.logs)
	}
	a2 := e.adapter(t, "bea@localhost")
	c.Send(t, chatTo("bob", "o3", "new"))
	if m := nextSent(t, a2); m.Body != "new" {
		t.Fatalf("sent after the restart %q, want only the new message", m.Body)
	}
	e.journalIDs(t)
}

// TestJournalCap: a user with the journal's cap of messages
// unacknowledged gets resource-constraint for the next one, which is not
// sent; others' messages are taken.
func TestJournalCap(t *testing.T) {
	e := newEnv(t, envOptions{tune: slowSends, journal: journal.Limits{MaxPerUser: 2}})
	c := e.user(t, "cid", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "cid@localhost")

	c.Send(t, chatTo("bob", "c1", "one"))
	if m := nextSent(t, a); m.Body != "one" {
		t.Fatalf("first message sent = %q", m.Body)
	}
	c.Expect(t, "receipt for c1", receiptFor("c1"))
	c.Send(t, chatTo("bob", "c2", "two"))
	c.Send(t, chatTo("bob", "c3", "three"))
	e.journalIDs(t, "c2", "c3")
	c.Send(t, chatTo("bob", "c4", "four"))
	errMsg := c.Expect(t, "error for the message over the cap", func(el *testenv.Element) bool {
		return isStanza(el, "message") && el.Attr("type") == "error" && el.Attr("id") == "c4"
	})
	wantError(t, errMsg, "resource-constraint", "still on their way")
	e.journalIDs(t, "c2", "c3")
}

// TestJournalInFlightDuplicate: where the network pipelines, messages
// the network took but had not confirmed when the component stopped are
// the bounded duplicates: sent again after the restart, each once more,
// in order, with their receipts; a confirmed one is not.
func TestJournalInFlightDuplicate(t *testing.T) {
	e := newEnv(t, envOptions{caps: func(c *transports.Capabilities) { c.Pipelining = true }})
	e.net.HoldQueued(true)
	c := e.user(t, "dov", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "dov@localhost")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	for i := 1; i <= 3; i++ {
		c.Send(t, chatTo("bob", fmt.Sprint("f", i), fmt.Sprint("in flight ", i)))
	}
	if _, err := a.WaitHeld(ctx, 3); err != nil {
		t.Fatalf("messages in flight: %v", err)
	}
	if m, _ := a.Confirm(); m.Body != "in flight 1" {
		t.Fatalf("confirmed %q first", m.Body)
	}
	c.Expect(t, "receipt for f1", receiptFor("f1"))
	e.journalIDs(t, "f2", "f3")
	e.stop()

	e.net.HoldQueued(false)
	e.start(t, e.key, nil)
	a2 := e.adapter(t, "dov@localhost")
	c.Send(t, chatTo("bob", "f4", "in flight 4"))
	var got []string
	for range 3 {
		got = append(got, nextSent(t, a2).Body)
	}
	if want := []string{"in flight 2", "in flight 3", "in flight 4"}; !slices.Equal(got, want) {
		t.Fatalf("sent after the restart %q, want %q", got, want)
	}
	for _, id := range []string{"f2", "f3", "f4"} {
		c.Expect(t, "receipt for "+id, receiptFor(id))
	}
	e.journalIDs(t)
	if n := len(a2.Sent()); n != 0 {
		t.Fatalf("%d more messages sent", n)
	}
}

// TestJournalReplaysGroupchat: a room message read and not sent when the
// component stopped is handled again by the next one; a user who does not
// stay connected has no remembered rooms to rejoin, so the room is not
// joined when the message's turn comes: the user gets the usual error for
// it, under its id, never silence, and nothing reaches the room. (In
// bouncer mode the room is rejoined first:
// TestJournalReplaysGroupchatAfterRejoin.)
func TestJournalReplaysGroupchat(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, tune: slowSends})
	c, a := roomUser(t, e, "gus")
	joinAndSync(t, c, testRoom, "gus")

	c.Send(t, `<message type="groupchat" id="r1" to="`+testRoom+`"><body>room one</body></message>`)
	c.Send(t, `<message type="groupchat" id="r2" to="`+testRoom+`"><body>room two</body></message>`)
	if m := nextSent(t, a); m.Body != "room one" || !m.Room {
		t.Fatalf("first message sent = %+v", m)
	}
	e.journalIDs(t, "r2")
	e.stop()

	e.tune = nil
	e.start(t, e.key, nil)
	errMsg := c.Expect(t, "the error for the replayed room message", isErrorReply("r2"))
	wantError(t, errMsg, "not-acceptable", "not in this room")
	e.journalIDs(t)
	a2 := e.adapter(t, "gus@localhost")
	if n := len(a2.Sent()); n != 0 {
		t.Fatalf("%d messages sent after the restart", n)
	}
}

// TestDeliveredWhileStopping: what an adapter delivers while it is closed
// by a stopping component (an IRC connection's last lines after QUIT) is
// kept in the outbox and reaches the user from the next run.
func TestDeliveredWhileStopping(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "olga", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "olga@localhost")
	a.EmitOnClose(&transports.MessageEvent{From: "bob", Body: "said as you left", RemoteID: "last1"})
	e.stop()
	if !a.Closed() {
		t.Fatal("the adapter was not closed")
	}
	e.start(t, e.key, nil)
	c.Expect(t, "the message read while stopping", func(el *testenv.Element) bool {
		return isStanza(el, "message") && bareOf(el.Attr("from")) == "bob@"+gw && bodyOf(el) == "said as you left"
	})
}
