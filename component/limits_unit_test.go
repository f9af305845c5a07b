package component

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/userloop"
)

func TestPresenceTrackerBounds(t *testing.T) {
	t.Run("status cut", func(t *testing.T) {
		p := newPresenceTracker()
		long := strings.Repeat("é", 100<<10) // 200 KiB
		p.available("u@example.org", "pc", resource{status: long}, true)
		best, _ := p.best("u@example.org")
		if len(best.Status) > maxStatusBytes || len(best.Status) < maxStatusBytes-4 || !utf8.ValidString(best.Status) {
			t.Errorf("status kept: %d bytes, valid UTF-8 %v", len(best.Status), utf8.ValidString(best.Status))
		}
	})
	t.Run("resources per user", func(t *testing.T) {
		p := newPresenceTracker()
		for i := range maxResources {
			if _, ok := p.available("u@example.org", fmt.Sprint("r", i), resource{}, true); !ok {
				t.Fatalf("resource %d refused", i)
			}
		}
		if _, ok := p.available("u@example.org", "one-too-many", resource{}, true); ok {
			t.Error("resource beyond the cap tracked")
		}
		if _, ok := p.available("u@example.org", "r0", resource{priority: 5}, true); !ok {
			t.Error("an update of a tracked resource refused")
		}
		if n := len(p.list("u@example.org")); n != maxResources {
			t.Errorf("%d resources tracked, want %d", n, maxResources)
		}
	})
	t.Run("unregistered users LRU", func(t *testing.T) {
		p := newPresenceTracker()
		p.maxAnon = 3
		p.available("reg@example.org", "pc", resource{}, true)
		for i := range 5 {
			p.available(fmt.Sprintf("anon%d@example.org", i), "pc", resource{}, false)
			if i == 2 {
				p.available("anon0@example.org", "pc", resource{}, false) // seen again: most recent
			}
		}
		want := map[string]bool{"reg@example.org": true, "anon0@example.org": true, "anon3@example.org": true, "anon4@example.org": true}
		for u, on := range map[string]bool{"reg@example.org": true, "anon0@example.org": true, "anon1@example.org": false, "anon2@example.org": false, "anon3@example.org": true, "anon4@example.org": true} {
			if p.online(u) != on {
				t.Errorf("%s online = %v, want %v", u, p.online(u), on)
			}
		}
		if p.onlineUsers() != len(want) || p.anon.Len() != 3 {
			t.Errorf("%d users, %d unregistered; want %d, 3", p.onlineUsers(), p.anon.Len(), len(want))
		}
		// Registering takes a user off the list; going away forgets them.
		p.available("anon4@example.org", "pc", resource{}, true)
		p.unavailable("anon3@example.org", "pc")
		if p.anon.Len() != 1 || p.online("anon3@example.org") {
			t.Errorf("after register and leave: %d unregistered", p.anon.Len())
		}
	})
}

// TestLanesBound: a user's lane takes maxQueued stanzas waiting beyond the
// running one, refuses the next, and never refuses the component's own
// follow-up work nor another user's.
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
	if se, ok := err.(*stanzaError); !ok || se.Condition != "policy-violation" || !strings.Contains(se.Text, "at most 3 a minute") {
		t.Fatalf("fourth request: %v", err)
	}
	if err := c.commandAllowed("other"); err != nil {
		t.Errorf("another user: %v", err)
	}
	// A minute later the requests are forgotten, and so are idle users.
	c.lim.cmdMu.Lock()
	old := time.Now().Add(-61 * time.Second)
	for u, ts := range c.lim.cmds {
		for i := range ts {
			ts[i] = old
		}
		c.lim.cmds[u] = ts
	}
	c.lim.cmdSwept = old
	c.lim.cmdMu.Unlock()
	if err := c.commandAllowed("u"); err != nil {
		t.Errorf("a minute later: %v", err)
	}
	c.lim.cmdMu.Lock()
	_, kept := c.lim.cmds["other"]
	c.lim.cmdMu.Unlock()
	if kept {
		t.Error("an idle user's entry was kept")
	}
}

// TestRoomStateReleased: a leave for a room the user is not in creates no
// state; an empty entry is forgotten, one with a room or an anonymous
// session is kept.
func TestRoomStateReleased(t *testing.T) {
	c := &Component{log: slog.New(slog.DiscardHandler), muc: newMUCService(), domain: jid.MustParse("irc.example.org"),
		owners: userloop.New("owner", 0, slog.New(slog.DiscardHandler))}
	leave, err := parseXML(`<presence xmlns="jabber:component:accept" type="unavailable" from="u@example.org/pc" to="#chan@irc.example.org/nick"/>`)
	if err != nil {
		t.Fatal(err)
	}
	s := &stanza{node: leave, from: jid.MustParse("u@example.org/pc"), to: jid.MustParse("#chan@irc.example.org/nick"), typ: "unavailable"}
	c.leaveRoom(s, "#chan")
	if c.muc.get("u@example.org") != nil {
		t.Error("a leave created room state")
	}

	ur := c.muc.user("u@example.org")
	c.muc.release("u@example.org", ur)
	if c.muc.get("u@example.org") != nil {
		t.Error("an empty entry was kept")
	}
	ur = c.muc.user("u@example.org")
	r := muc.NewRoom("#chan", jid.MustParse("#chan@irc.example.org"), nil, "nick")
	ur.Put(r)
	c.muc.release("u@example.org", ur)
	if c.muc.get("u@example.org") != ur {
		t.Error("an entry with a room was forgotten")
	}
	ur.Remove(r)
	ur.Anon = true
	c.muc.release("u@example.org", ur)
	if c.muc.get("u@example.org") != ur {
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

// TestAbandonedSessionsForgotten: chat dialogs nobody finishes are dropped
// once expired, without waiting for their user to come back. (Ad-hoc
// command sessions: adhoc's TestSessionsSweep.)
func TestAbandonedSessionsForgotten(t *testing.T) {
	d := newDialogs()
	for i := range 50 {
		d.set(fmt.Sprint("u", i), &dialog{values: map[string]string{}})
	}
	past := time.Now().Add(-time.Hour)
	d.mu.Lock()
	for _, dl := range d.m {
		dl.expires = past
	}
	d.swept = past
	d.mu.Unlock()

	d.set("new", &dialog{values: map[string]string{}})
	if len(d.m) != 1 {
		t.Errorf("kept %d dialogs, want 1", len(d.m))
	}
}
