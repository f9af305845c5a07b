package component_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// Prosody closes a component stream on a stanza over its limit (512 KiB).
// Such a stanza in the outbox (queued before the cap existed: injected
// here at the storage level, with the gateway's limit above Prosody's)
// must neither block the queue nor take the stanza after it down with it:
// the one after is delivered, the big one is moved to the dead-letter
// record after a bounded number of reconnections, and the user is told.
func TestRefusedOutboxStanzaDeadLettered(t *testing.T) {
	e := newEnv(t, envOptions{maxStanza: 1 << 20})
	c := e.user(t, "alice", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "alice@localhost")
	c.Expect(t, "the gateway's presence saying connected", func(el *testenv.Element) bool {
		return isPresence(gw, "")(el) && el.ChildText("", "status") == "Connected"
	})
	before := e.comp.Stats().StreamConnects

	big := `<message type="chat" id="big1" from="bob@` + gw + `" to="alice@localhost"><body>` + strings.Repeat("x", 700<<10) + `</body></message>`
	if _, err := e.out.Enqueue(context.Background(), "alice@localhost", "fake", []byte(big)); err != nil {
		t.Fatal(err)
	}
	a.Emit(&transports.MessageEvent{From: "bob", Body: "small after big"})

	c.Expect(t, "the small message queued after the big one", func(el *testenv.Element) bool {
		return isMessageFrom("bob@"+gw)(el) && bodyOf(el) == "small after big"
	})
	notice := c.Expect(t, "the gateway telling about the dead letter", isMessageFrom(gw))
	if b := bodyOf(notice); !strings.Contains(b, "A message from bob@"+gw+" could not be delivered") || !strings.Contains(b, "your server refused it") {
		t.Errorf("notice = %q", b)
	}
	for _, el := range c.Pending() {
		if isStanza(el, "message") && el.Attr("id") == "big1" {
			t.Errorf("the big stanza was delivered after all")
		}
	}

	dl, err := e.out.DeadLetters(context.Background(), "fake", 10)
	if err != nil || len(dl) != 1 || dl[0].Size != len(big) {
		t.Fatalf("dead letters = %+v, %v; want the big stanza", dl, err)
	}
	e.waitOutboxEmpty(t)
	st := e.comp.Stats()
	if st.DeadLetters != 1 {
		t.Errorf("%d dead letters counted, want 1", st.DeadLetters)
	}
	t.Logf("%d reconnections", st.StreamConnects-before)
	// One batch failure, then the stanza alone until it is given up.
	if n := st.StreamConnects - before; n < 1 || n > 4 {
		t.Errorf("%d reconnections for one refused stanza, want 1 to 4", n)
	}
	if strings.Contains(e.logs.String(), "did not route back") {
		t.Errorf("Prosody did not route the outbox's check back:\n%s", e.logs)
	}
}

// A stanza over the gateway's own limit already in the outbox (queued by
// an older version, or before the limit was lowered) is never written: it
// goes to the dead-letter record at once, without costing the stream.
func TestOversizeOutboxStanzaNeverWritten(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "alice", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "alice@localhost")
	c.Expect(t, "the gateway's presence saying connected", func(el *testenv.Element) bool {
		return isPresence(gw, "")(el) && el.ChildText("", "status") == "Connected"
	})
	before := e.comp.Stats().StreamConnects

	big := `<message type="chat" id="big2" from="bob@` + gw + `" to="alice@localhost"><body>` + strings.Repeat("y", 300<<10) + `</body></message>`
	if _, err := e.out.Enqueue(context.Background(), "alice@localhost", "fake", []byte(big)); err != nil {
		t.Fatal(err)
	}
	a.Emit(&transports.MessageEvent{From: "bob", Body: "small after big"})
	c.Expect(t, "the small message", func(el *testenv.Element) bool {
		return isMessageFrom("bob@"+gw)(el) && bodyOf(el) == "small after big"
	})
	notice := c.Expect(t, "the gateway telling about the dead letter", isMessageFrom(gw))
	if b := bodyOf(notice); !strings.Contains(b, "could not be delivered: it is larger than the gateway's limit of 256 KiB") {
		t.Errorf("notice = %q", b)
	}
	if n := e.comp.Stats().StreamConnects; n != before {
		t.Errorf("stream connects went from %d to %d", before, n)
	}
}

// Everything the component writes is cut below the limit: a legacy
// message of 1 MiB with long fields arrives cut, with a note, and the
// message after it arrives too, on the same stream.
func TestLongLegacyMessageCut(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.user(t, "alice", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "alice@localhost")
	c.Expect(t, "the gateway's presence saying connected", func(el *testenv.Element) bool {
		return isPresence(gw, "")(el) && el.ChildText("", "status") == "Connected"
	})
	before := e.comp.Stats().StreamConnects

	body := strings.Repeat("é<&", 1<<20/5) // escaping makes it larger still
	long := strings.Repeat("s", 5000)
	a.Emit(&transports.MessageEvent{From: "bob", Body: body, Subject: long, Thread: long, Nick: long})
	a.Emit(&transports.MessageEvent{From: "bob", Body: "hi"})
	m := c.Expect(t, "the cut message", func(el *testenv.Element) bool {
		return isMessageFrom("bob@"+gw)(el) && bodyOf(el) != "hi"
	})
	b := bodyOf(m)
	note := fmt.Sprintf("\n[message cut: %d KiB]", (len(body)+1023)/1024)
	kept := strings.TrimSuffix(b, note)
	if !strings.HasSuffix(b, note) || !strings.HasPrefix(body, kept) || len(kept) < 32<<10 {
		t.Errorf("body of %d bytes does not end with the note or is not a prefix of the original (…%q)", len(b), b[max(0, len(b)-40):])
	}
	if len(m.String()) > 256<<10 {
		t.Errorf("the message is %d bytes, over the 256 KiB limit", len(m.String()))
	}
	for _, f := range []string{"subject", "thread"} {
		if v := m.ChildText("", f); len(v) > 1024 || !strings.HasSuffix(v, "…") {
			t.Errorf("%s of %d bytes, want ≤ 1024 ending with an ellipsis", f, len(v))
		}
	}
	if n := m.ChildText("http://jabber.org/protocol/nick", "nick"); len(n) > 1024 || n == "" {
		t.Errorf("nick of %d bytes, want 1..1024", len(n))
	}
	c.Expect(t, "the message after it", func(el *testenv.Element) bool {
		return isMessageFrom("bob@"+gw)(el) && bodyOf(el) == "hi"
	})
	if n := e.comp.Stats().StreamConnects; n != before {
		t.Errorf("stream connects went from %d to %d", before, n)
	}
}
