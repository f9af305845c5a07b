package testenv

import (
	"slices"
	"testing"
	"time"
)

// TestFakeIRC: the scripted server answers a registration (a NAK for a
// capability it did not offer, an ACK otherwise) and answers PINGs only
// when the test says.
func TestFakeIRC(t *testing.T) {
	f := StartFakeIRC(t)
	cl := ConnectIRC(t, f.Addr)
	for _, l := range []string{"CAP LS 302", "NICK alice", "USER alice 0 * :Alice", "CAP REQ :message-tags sasl", "CAP REQ :message-tags", "CAP END"} {
		cl.Send(l)
	}
	srv := f.Accept(t, 10*time.Second)
	if nick := srv.AnswerRegistration(t, "message-tags", "draft/message-redaction"); nick != "alice" {
		t.Errorf("nick = %q", nick)
	}
	if !slices.Equal(srv.Caps, []string{"message-tags"}) {
		t.Errorf("caps = %v", srv.Caps)
	}
	ls := cl.Expect(t, 10*time.Second, func(l IRCLine) bool { return l.Command == "CAP" && l.Param(1) == "LS" })
	if ls.Param(2) != "message-tags draft/message-redaction" {
		t.Errorf("CAP LS = %q", ls.Raw)
	}
	for _, want := range []struct{ sub, caps string }{{"NAK", "message-tags sasl"}, {"ACK", "message-tags"}} {
		l := cl.Expect(t, 10*time.Second, func(l IRCLine) bool { return l.Command == "CAP" && l.Param(1) != "LS" })
		if l.Param(1) != want.sub || l.Param(2) != want.caps {
			t.Errorf("got %q, want CAP %s :%s", l.Raw, want.sub, want.caps)
		}
	}
	cl.Expect(t, 10*time.Second, func(l IRCLine) bool { return l.Command == "001" && l.Param(0) == "alice" })

	cl.Send("PING :t1")
	srv.Expect(t, 10*time.Second, func(l IRCLine) bool { return l.Command == "PING" }) // seen, not answered
	cl.ExpectNone(t, 200*time.Millisecond, func(l IRCLine) bool { return l.Command == "PONG" })
	cl.Send("PING :t2")
	srv.Pong(t)
	if l := cl.Expect(t, 10*time.Second, func(l IRCLine) bool { return l.Command == "PONG" }); l.Param(1) != "t2" {
		t.Errorf("PONG = %q, want t2's", l.Raw)
	}
}
