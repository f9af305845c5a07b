package irc_test

import (
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// TestInspIRCdWatch: the nicks the user watches show their presence
// through MONITOR: offline until they connect, available while they are
// on, offline again when they quit; a nick not watched shows nothing.
func TestInspIRCdWatch(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := network("irc.test", srv.Addr())
	carol := testenv.DialIRC(t, srv.Addr(), "carol") // online, not watched
	a, ev := connect(t, n, transports.Credentials{"nick": "alice"})
	if err := a.(transports.Watcher).Watch(ctx(t), []transports.ID{"bob", "dave%irc.test", "#chan"}); err != nil {
		t.Fatal(err)
	}
	is := func(who transports.ID, show transports.Show) func(*transports.PresenceEvent) bool {
		return func(e *transports.PresenceEvent) bool { return e.From == who && e.Presence.Show == show }
	}
	expect(t, ev, is("bob", transports.Offline))
	expect(t, ev, is("dave", transports.Offline))
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	expect(t, ev, is("bob", transports.Available))
	bob.Send("QUIT :bye")
	expect(t, ev, is("bob", transports.Offline))
	carol.Send("QUIT :bye")
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		if p, ok := e.(*transports.PresenceEvent); ok && p.From != "bob" && p.From != "dave" {
			t.Errorf("presence of someone not watched: %+v", p)
		}
	}
}

// TestNgIRCdWatchWithoutMonitor: ngIRCd has no MONITOR: watching costs
// no line and shows nothing, and the connection goes on.
func TestNgIRCdWatchWithoutMonitor(t *testing.T) {
	srv := testenv.StartNgIRCd(t)
	n := network("ngircd.test", srv.Addr())
	a, ev := connect(t, n, transports.Credentials{"nick": "alice"})
	if err := a.(transports.Watcher).Watch(ctx(t), []transports.ID{"bob"}); err != nil {
		t.Fatal(err)
	}
	bob := testenv.DialIRC(t, srv.Addr(), "bob")
	bob.Join(t, "#w")
	if err := a.(transports.Rooms).JoinRoom(ctx(t), "#w", "alice"); err != nil {
		t.Fatalf("JoinRoom after Watch: %v", err)
	}
	expect(t, ev, func(e *transports.RoomReadyEvent) bool { return e.Room == "#w" })
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		if p, ok := e.(*transports.PresenceEvent); ok {
			t.Errorf("a presence from a server without MONITOR: %+v", p)
		}
	}
}
