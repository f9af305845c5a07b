package irc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// capLS returns the capabilities a server lists to a fresh connection
// (CAP LS 302, over as many lines as it takes), by name.
func capLS(t *testing.T, addr string) []string {
	t.Helper()
	c := testenv.ConnectIRC(t, addr)
	c.Send("CAP LS 302")
	var names []string
	for {
		l := c.Expect(t, waitFor, func(l testenv.IRCLine) bool { return l.Command == "CAP" && l.Param(1) == "LS" })
		for _, f := range strings.Fields(l.Params[len(l.Params)-1]) {
			name, _, _ := strings.Cut(f, "=")
			names = append(names, name)
		}
		if l.Param(2) != "*" || len(l.Params) < 4 {
			return names
		}
	}
}

// TestRedactionNotOffered: neither InspIRCd 3 nor ngIRCd here offers
// draft/message-redaction. A retraction of a message in a channel is
// refused with ErrUnsupported and a text naming the server, and nothing
// reaches the channel. On InspIRCd (message-tags, msgid, echo-message) the
// ID of the user's message is the server's msgid, as the other members
// see it.
func TestRedactionNotOffered(t *testing.T) {
	tests := []struct {
		name, server string
		addr         func(t *testing.T) string
		msgids       bool
	}{
		{"InspIRCd", "irc.test", func(t *testing.T) string { return testenv.StartInspIRCd(t, testenv.InspIRCdOptions{}).Addr() }, true},
		{"ngIRCd", "ngircd.test", func(t *testing.T) string { return testenv.StartNgIRCd(t).Addr() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr(t)
			offered := capLS(t, addr)
			if len(offered) == 0 && tt.msgids {
				t.Fatalf("%s lists no capabilities", tt.name)
			}
			for _, name := range offered {
				if strings.HasSuffix(name, "message-redaction") {
					t.Fatalf("%s offers %s: this test's premise is gone; the scripted tests (redact_test.go) can be run against it", tt.name, name)
				}
			}
			var caps []string
			if tt.msgids {
				caps = append(caps, "message-tags")
			}
			bob := testenv.DialIRC(t, addr, "bob", caps...)
			bob.Join(t, "#del")
			n := network(tt.server, addr)
			a, ev := connect(t, n, nil)
			if err := a.(transports.Rooms).JoinRoom(ctx(t), "#del", "alice"); err != nil {
				t.Fatalf("JoinRoom: %v", err)
			}
			expect(t, ev, func(e *transports.RoomReadyEvent) bool { return e.Room == "#del" })

			id, err := a.Send(ctx(t), transports.Message{To: "#del", Room: true, Body: "to be deleted", ID: "d-1"})
			if err != nil {
				t.Fatal(err)
			}
			l := bob.Expect(t, waitFor, func(l testenv.IRCLine) bool { return privmsg("#del")(l) && l.Param(1) == "to be deleted" })
			if tt.msgids && (id == "" || l.Tags["msgid"] != string(id)) {
				t.Errorf("Send returned %q; the server's msgid is %q", id, l.Tags["msgid"])
			}
			if !tt.msgids && id != "" {
				t.Errorf("Send returned %q from a server without message IDs", id)
			}

			target := id
			if target == "" {
				target = "some-id" // the room's stanza-id the user names
			}
			err = a.(transports.Retractor).Retract(ctx(t), "#del", target)
			if !errors.Is(err, transports.ErrUnsupported) || !strings.Contains(err.Error(), tt.server+" does not offer message deletion") {
				t.Errorf("Retract = %v, want ErrUnsupported naming %s", err, tt.server)
			}
			err = a.(transports.MessageModerator).ModerateRetract(ctx(t), "#del", target, "spam")
			if !errors.Is(err, transports.ErrUnsupported) {
				t.Errorf("ModerateRetract = %v, want ErrUnsupported", err)
			}
			bob.ExpectNone(t, 500*time.Millisecond, func(l testenv.IRCLine) bool { return l.Command == "REDACT" || l.Command == "PRIVMSG" })
		})
	}
}
