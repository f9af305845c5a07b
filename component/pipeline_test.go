package component_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// isReceipt accepts an XEP-0184 receipt from the contact bob.
func isReceipt(el *testenv.Element) bool {
	return isStanza(el, "message") && bareOf(el.Attr("from")) == bobJID && el.Child("urn:xmpp:receipts", "received") != nil
}

// TestPipelinedSends: on a network that pipelines, a user's messages are
// queued one after the other without waiting for the network's
// confirmation of the earlier ones — several are in flight at once, in
// the order sent — and each confirmation still ends as before, in order:
// the receipt, the message-ID pair a correction finds, or the error for
// that message's id. A correction of a message in flight waits for its
// pair.
func TestPipelinedSends(t *testing.T) {
	e := newEnv(t, envOptions{caps: func(c *transports.Capabilities) {
		c.Pipelining, c.Corrections = true, true
	}})
	e.net.HoldQueued(true)
	c := e.user(t, "pia", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "pia@localhost")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	receipt := `<request xmlns="urn:xmpp:receipts"/>`
	c.Send(t, `<message type="chat" id="p1" to="`+bobJID+`"><body>one</body>`+receipt+`</message>`)
	c.Send(t, `<message type="chat" id="p2" to="`+bobJID+`"><body>two</body>`+receipt+`</message>`)
	c.Send(t, `<message type="chat" id="p3" to="nobody@`+gw+`"><body>three</body>`+receipt+`</message>`)
	held, err := a.WaitHeld(ctx, 3)
	if err != nil {
		t.Fatalf("messages in flight at once: %v", err)
	}
	for i, want := range []string{"one", "two", "three"} {
		if held[i].Body != want {
			t.Fatalf("in flight: %+v; want one, two, three in that order", held)
		}
	}

	// Confirmed one by one: each answer follows its own confirmation.
	if m, _ := a.Confirm(); m.Body != "one" {
		t.Fatalf("confirmed %q first", m.Body)
	}
	if r := c.Expect(t, "a receipt", isReceipt); r.Child("urn:xmpp:receipts", "received").Attr("id") != "p1" {
		t.Fatalf("first receipt: %s, want for p1", r)
	}
	for _, p := range c.Pending() {
		if isReceipt(p) {
			t.Fatalf("receipt before its message was confirmed: %s", p)
		}
	}
	a.Confirm()
	if r := c.Expect(t, "a receipt", isReceipt); r.Child("urn:xmpp:receipts", "received").Attr("id") != "p2" {
		t.Fatalf("second receipt: %s, want for p2", r)
	}
	a.Confirm() // to nobody: the network's error, for p3
	wantError(t, c.Expect(t, "the error for p3", isErrorReply("p3")), "item-not-found", "No such nick")

	// A correction sent while its original is in flight is an edit of
	// the original once that is confirmed and paired, not a new message.
	c.Send(t, `<message type="chat" id="p4" to="`+bobJID+`"><body>four</body></message>`)
	if _, err := a.WaitHeld(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Send(t, `<message type="chat" id="p5" to="`+bobJID+`"><body>four!</body><replace xmlns="`+nsCorrect+`" id="p4"/>`+receipt+`</message>`)
	waitFor(t, "the correction waiting for its original", func() bool { return component.Waiting(e.comp, "pia@localhost") })
	a.Confirm()
	c.Expect(t, "the correction's receipt", func(el *testenv.Element) bool {
		r := el.Child("urn:xmpp:receipts", "received")
		return isReceipt(el) && r.Attr("id") == "p5"
	})
	eds := a.Edits()
	if len(eds) != 1 || eds[0].Body != "four!" || eds[0].To != "bob" || eds[0].Target == "" {
		t.Errorf("edits = %+v, want one of p4's legacy message", eds)
	}
	for _, m := range a.Held() {
		if strings.Contains(m.Body, "four!") {
			t.Errorf("the correction was sent as a new message: %+v", m)
		}
	}
	if n := a.Queued(); n != 4 {
		t.Errorf("%d messages queued, want 4 (the correction is an edit)", n)
	}
}

// TestPipelinedGroupchat: a user's group chat messages are in flight at
// once too, and reach the room's occupants (the network's echo) in the
// order sent, each under the id the user gave it.
func TestPipelinedGroupchat(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, caps: func(c *transports.Capabilities) { c.Pipelining = true }})
	e.net.HoldQueued(true)
	c, a := roomUser(t, e, "quin")
	joinAndSync(t, c, testRoom, "quin")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c.Send(t, `<message type="groupchat" id="g1" to="`+testRoom+`"><body>first</body></message>`)
	c.Send(t, `<message type="groupchat" id="g2" to="`+testRoom+`"><body>second</body></message>`)
	held, err := a.WaitHeld(ctx, 2)
	if err != nil {
		t.Fatalf("group chat messages in flight at once: %v", err)
	}
	if held[0].Body != "first" || held[1].Body != "second" || !held[0].Room || !held[1].Room {
		t.Fatalf("in flight: %+v; want first, second, to the room", held)
	}
	a.Confirm()
	a.Confirm()
	for _, want := range []struct{ id, body string }{{"g1", "first"}, {"g2", "second"}} {
		el := c.Expect(t, "a reflection", func(el *testenv.Element) bool {
			return isStanza(el, "message") && el.Attr("type") == "groupchat" && el.Attr("from") == testRoom+"/quin"
		})
		if el.Attr("id") != want.id || bodyOf(el) != want.body {
			t.Fatalf("reflected %s, want %q under id %s (in order)", el, want.body, want.id)
		}
	}
}
