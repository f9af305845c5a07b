package component_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/storage/bolt"
)

// TestJournalSkipsPairedReplay: an entry whose message the stopped
// process had sent and paired (the message-ID map knows its stanza id)
// but not yet acknowledged is acknowledged by the next component without
// being sent again; the entry behind it, never paired, is sent.
func TestJournalSkipsPairedReplay(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "pia", "pc", 0)
	e.register(t, c)
	e.adapter(t, "pia@localhost")
	e.stop()

	// What a process killed between the pairing of p1 and its
	// acknowledgement leaves behind, with p2 read and not yet sent.
	st, err := bolt.Open(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	j := journal.New(st, journal.Limits{})
	for _, id := range []string{"p1", "p2"} {
		stanza := `<message xmlns="jabber:component:accept" type="chat" id="` + id + `" from="pia@localhost/pc" to="bob@` + gw +
			`"><body>paired ` + id + `</body></message>`
		if _, err := j.Write(ctx, "fake", "pia@localhost", []byte(stanza)); err != nil {
			t.Fatal(err)
		}
	}
	if err := msgid.New(st).Pair(ctx, "pia@localhost", "fake", "bob", "legacy-p1", "p1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	e.start(t, e.key, nil)
	a2 := e.adapter(t, "pia@localhost")
	c.Send(t, chatTo("bob", "p3", "paired p3"))
	var got []string
	for range 2 {
		got = append(got, nextSent(t, a2).Body)
	}
	if want := []string{"paired p2", "paired p3"}; !slices.Equal(got, want) {
		t.Fatalf("sent after the restart %q, want %q (p1 was sent before the stop)", got, want)
	}
	e.journalIDs(t)
	if n := len(a2.Sent()); n != 0 {
		t.Fatalf("%d more messages sent", n)
	}
	if !strings.Contains(e.logs.String(), "journaled message already sent before the stop") {
		t.Errorf("no log line for the skipped entry:\n%s", e.logs)
	}
}

// TestJournalReplaysGroupchatAfterRejoin: a room message of a user in
// bouncer mode, read and not sent when the component stopped, waits at
// the next component until the user's remembered room is rejoined, and
// is then sent to the room once, in order with a one-to-one message
// journaled after it; the user gets no error for it.
func TestJournalReplaysGroupchatAfterRejoin(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, tune: slowSends})
	c, a := roomUser(t, e, "hal")
	if err := e.reg.SetSettings(context.Background(), "hal@localhost", "fake", map[string]string{"stay_connected": "true"}); err != nil {
		t.Fatal(err)
	}
	joinAndSync(t, c, testRoom, "hal")

	c.Send(t, `<message type="groupchat" id="g1" to="`+testRoom+`"><body>room one</body></message>`)
	c.Send(t, `<message type="groupchat" id="g2" to="`+testRoom+`"><body>room two</body></message>`)
	c.Send(t, chatTo("bob", "g3", "after the room"))
	if m := nextSent(t, a); m.Body != "room one" || !m.Room {
		t.Fatalf("first message sent = %+v", m)
	}
	e.journalIDs(t, "g2", "g3")
	e.stop()

	e.tune = nil
	e.start(t, e.key, nil)
	a2 := e.adapter(t, "hal@localhost")
	var got []string
	for range 2 {
		m := nextSent(t, a2)
		got = append(got, fmt.Sprintf("%s room=%v: %s", m.To, m.Room, m.Body))
	}
	if want := []string{"#test room=true: room two", "bob room=false: after the room"}; !slices.Equal(got, want) {
		t.Fatalf("sent after the restart %q, want %q", got, want)
	}
	if !a2.Joined("#test") {
		t.Errorf("the remembered room was not rejoined")
	}
	e.journalIDs(t)
	c.ExpectNone(t, 500*time.Millisecond, isErrorReply("g2"))
	if n := len(a2.Sent()); n != 0 {
		t.Fatalf("%d more messages sent", n)
	}
	if js := a2.Joins(); len(js) != 1 {
		t.Errorf("JoinRoom called %d times after the restart, want once", len(js))
	}
}
