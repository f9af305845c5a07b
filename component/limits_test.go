package component_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// TestIncomingRateLimit: a burst of 1000 legacy messages to one user
// delivers IncomingPerMinute of them; the rest are dropped, not stored,
// and one notice from the gateway gives their exact number at the end of
// the window. The next window delivers again.
func TestIncomingRateLimit(t *testing.T) {
	const perMinute = 20
	e := newEnv(t, envOptions{tune: func(c *component.Config) { c.IncomingPerMinute = perMinute }})
	// The burst must fit in one window; a slow machine has ample time.
	component.SetIncomingWindow(e.comp, 12*time.Second)
	c := e.user(t, "ivan", "pc", 0)
	e.register(t, c)
	c.Send(t, `<presence/>`)
	a := e.adapter(t, "ivan@localhost")

	spammer := "spammer@" + gw
	fromSpammer := func(el *testenv.Element) bool {
		return el.Name.Local == "message" && bareOf(el.Attr("from")) == spammer && strings.HasPrefix(bodyOf(el), "m")
	}
	for i := range 1000 {
		a.Emit(&transports.MessageEvent{From: "spammer", Body: "m" + strconv.Itoa(i)})
	}
	for i := range perMinute {
		m := c.Expect(t, "message "+strconv.Itoa(i), fromSpammer)
		if want := "m" + strconv.Itoa(i); bodyOf(m) != want {
			t.Fatalf("message %d: body %q, want %q", i, bodyOf(m), want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // liveness bound: the window's end
	defer cancel()
	notice, err := c.Next(ctx, func(el *testenv.Element) bool {
		return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), "dropped")
	})
	if err != nil {
		t.Fatalf("no summary notice: %v", err)
	}
	want := "980 messages from Fake IRC were dropped: this gateway delivers at most 20 messages a minute to you."
	if bodyOf(notice) != want {
		t.Errorf("notice %q, want %q", bodyOf(notice), want)
	}
	c.ExpectNone(t, time.Second, fromSpammer)
	c.ExpectNone(t, 0, func(el *testenv.Element) bool {
		return isMessageFrom(gw)(el) && strings.Contains(bodyOf(el), "dropped")
	})

	a.Emit(&transports.MessageEvent{From: "spammer", Body: "m-next-window"})
	c.Expect(t, "a message in the next window", func(el *testenv.Element) bool { return bodyOf(el) == "m-next-window" })
	// What was delivered leaves the outbox once acknowledged; dropped
	// messages were never in it.
	deadline := time.Now().Add(10 * time.Second)
	for e.comp.Stats().OutboxPending != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.comp.Stats().OutboxPending; n != 0 {
		t.Errorf("%d outbox items left: dropped messages were stored", n)
	}
}

// TestCommandLimits: reconnect and register requests are capped per user
// per minute, through every door, with policy-violation and a text.
func TestCommandLimits(t *testing.T) {
	e := newEnv(t, envOptions{tune: func(c *component.Config) { c.CommandsPerMinute = 2 }})
	c := e.user(t, "rita", "pc", 0)
	e.register(t, c) // the first request
	c.Send(t, `<presence/>`)
	e.adapter(t, "rita@localhost")

	reconnect := `<iq type="set" to="` + gw + `"><command xmlns="http://jabber.org/protocol/commands" node="reconnect" action="execute"/></iq>`
	if res := c.IQ(t, reconnect); res.Attr("type") != "result" {
		t.Fatalf("second request refused: %s", res)
	}
	wantError(t, c.IQ(t, reconnect), "policy-violation", "at most 2 a minute")

	c.Send(t, `<message to="`+gw+`" type="chat"><body>reconnect</body></message>`)
	m := c.Expect(t, "the chat answer", isMessageFrom(gw))
	if !strings.Contains(bodyOf(m), "Too many reconnect and register requests") {
		t.Errorf("chat answer %q", bodyOf(m))
	}

	res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register">`+
		`<x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="username"><value>`+legacyUsr+`</value></field>`+
		`<field var="password"><value>`+legacyPW+`</value></field>`+
		`</x></query></iq>`)
	wantError(t, res, "policy-violation", "at most 2 a minute")

	other := e.user(t, "sven", "pc", 0)
	e.register(t, other)
	if res := other.IQ(t, reconnect); res.Attr("type") != "result" {
		t.Errorf("another user is limited too: %s", res)
	}
}

// TestRoomsPerUser: a join beyond RoomsPerUser is refused with a text,
// and nothing reaches the legacy network.
func TestRoomsPerUser(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true, tune: func(c *component.Config) { c.RoomsPerUser = 2 }})
	c, a := roomUser(t, e, "tom")
	joinAndSync(t, c, "#one@"+gw, "tom")
	joinAndSync(t, c, "#two@"+gw, "tom")
	join(t, c, "#three@"+gw, "tom", "")
	el := c.Expect(t, "the refusal", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == "#three@"+gw+"/tom" && el.Attr("type") == "error"
	})
	wantError(t, el, "policy-violation", "2 rooms")
	for _, id := range a.Joins() {
		if id == "#three" {
			t.Errorf("the refused room was joined on the legacy network: %v", a.Joins())
		}
	}
	// Leaving one makes room for another.
	c.Send(t, `<presence type="unavailable" to="#one@`+gw+`/tom"/>`)
	c.Expect(t, "the leave", isPresence("#one@"+gw, "unavailable"))
	joinAndSync(t, c, "#three@"+gw, "tom")
}

// TestRawServerCommandNeedsRegistration: a user without registration,
// whose room join opened an anonymous session, cannot send raw commands to
// the server through it.
func TestRawServerCommandNeedsRegistration(t *testing.T) {
	e := newEnv(t, envOptions{rooms: true})
	c := e.user(t, "sam", "pc", 0)
	c.Send(t, `<presence/>`)
	joinAndSync(t, c, testRoom, "sam")
	a := e.adapter(t, "sam@localhost")
	c.Send(t, `<message id="raw1" to="srv.example@`+gw+`" type="chat"><body>QUIT :bye</body></message>`)
	el := c.Expect(t, "the refusal", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("id") == "raw1" && el.Attr("type") == "error"
	})
	wantError(t, el, "not-allowed", "registered users")
	select {
	case m := <-a.Sent():
		t.Errorf("sent to the legacy network: %+v", m)
	default:
	}
}
