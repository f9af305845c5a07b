package component

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/component/userloop"
)

func TestLanesBound(t *testing.T) {
	c := &Component{lanes: userloop.New("lane", maxQueued, slog.New(slog.DiscardHandler))}
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	if !c.lanes.TryPost(ctx, "u", func(context.Context) { close(started); <-release }) {
		t.Fatal("first job refused")
	}
	<-started // the running job is no longer queued
	ran := 0
	for i := range maxQueued {
		if !c.lanes.TryPost(ctx, "u", func(context.Context) { ran++ }) {
			t.Fatalf("job %d refused", i)
		}
	}
	if c.lanes.TryPost(ctx, "u", func(context.Context) { ran++ }) {
		t.Error("a job beyond maxQueued was queued")
	}
	if !c.lanes.TryPost(ctx, "v", func(context.Context) {}) {
		t.Error("another user's job refused")
	}
	c.later("u", func(context.Context) { ran++ }) // the component's own work is never refused
	close(release)
	c.lanes.Wait()
	if ran != maxQueued+1 {
		t.Errorf("%d jobs ran, want %d", ran, maxQueued+1)
	}
	if n := c.lanes.Busy(); n != 0 {
		t.Errorf("lanes left: %d", n)
	}
}

func TestLimiterExpiry(t *testing.T) {
	c := &Component{cfg: Config{SendRate: 5, SendBurst: 10}}
	for i := range 100 {
		c.limiter(fmt.Sprint("user", i))
	}
	l := c.limiter("user0")
	if c.limiter("user0") != l {
		t.Fatal("a used limiter was replaced")
	}
	c.lim.sendMu.Lock()
	old := time.Now().Add(-2 * time.Minute)
	for _, e := range c.lim.send {
		e.used = old
	}
	c.lim.sendSwept = old
	c.lim.sendMu.Unlock()
	c.limiter("fresh")
	c.lim.sendMu.Lock()
	n := len(c.lim.send)
	c.lim.sendMu.Unlock()
	if n != 1 {
		t.Errorf("%d limiters kept, want only the fresh one", n)
	}
}

func TestCommandAllowed(t *testing.T) {
	c := &Component{cfg: Config{CommandsPerMinute: 3}}
	for i := range 3 {
		if err := c.commandAllowed("u"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := c.commandAllowed("u")
	if se, ok := err.(*stanzaerr.Error); !ok || se.Condition != "policy-violation" || !strings.Contains(se.Text, "at most 3 a minute") {
		t.Fatalf("fourth request: %v", err)
	}
	if err := c.commandAllowed("other"); err != nil {
		t.Errorf("another user: %v", err)
	}
	// A minute later the requests are forgotten, and so are idle users:
	// egress.TestBudget.
}

// TestRoomStateReleased: a leave for a room the user is not in creates no
// state; an empty entry is forgotten, one with a room or an anonymous
// session is kept.
func TestRoomStateReleased(t *testing.T) {
	c := &Component{log: slog.New(slog.DiscardHandler), domain: jid.MustParse("irc.example.org"),
		owners: userloop.New("owner", 0, slog.New(slog.DiscardHandler))}
	c.muc = muc.NewService(mucCore{c})
	leave, err := parseXML(`<presence xmlns="jabber:component:accept" type="unavailable" from="u@example.org/pc" to="#chan@irc.example.org/nick"/>`)
	if err != nil {
		t.Fatal(err)
	}
	s := &stanza.In{Element: leave, From: jid.MustParse("u@example.org/pc"), To: jid.MustParse("#chan@irc.example.org/nick"), Type: "unavailable"}
	c.muc.Leave(t.Context(), s, "#chan")
	if c.muc.Rooms("u@example.org") != nil {
		t.Error("a leave created room state")
	}

	ur := c.muc.User("u@example.org")
	c.muc.Release("u@example.org", ur)
	if c.muc.Rooms("u@example.org") != nil {
		t.Error("an empty entry was kept")
	}
	ur = c.muc.User("u@example.org")
	r := muc.NewRoom("#chan", jid.MustParse("#chan@irc.example.org"), nil, "nick")
	ur.Put(r)
	c.muc.Release("u@example.org", ur)
	if c.muc.Rooms("u@example.org") != ur {
		t.Error("an entry with a room was forgotten")
	}
	ur.Remove(r)
	ur.Anon = true
	c.muc.Release("u@example.org", ur)
	if c.muc.Rooms("u@example.org") != ur {
		t.Error("an entry with an anonymous session was forgotten")
	}
}

func TestDropNotice(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{1, "1 message from IRC was dropped: this gateway delivers at most 120 messages a minute to you."},
		{880, "880 messages from IRC were dropped: this gateway delivers at most 120 messages a minute to you."},
	}
	for _, tt := range tests {
		if got := dropNotice(tt.n, "IRC", 120); got != tt.want {
			t.Errorf("dropNotice(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
