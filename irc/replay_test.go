package irc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// replayCaps are the capabilities InspIRCd 3 offers with its IRCv3
// modules: no chathistory, a join replay in a "chathistory" batch.
var replayCaps = []string{"batch", "server-time", "message-tags", "echo-message"}

// replaySession is one adapter's life against the scripted server: its
// connection's server side and the events it delivered.
type replaySession struct {
	a   transports.Adapter
	srv *testenv.FakeIRCConn
	evs chan transports.Event
}

// startReplaySession connects an adapter with store to fake and joins #c
// (the join answered, nothing more); the server offers caps (nil:
// replayCaps).
func startReplaySession(t *testing.T, fake *testenv.FakeIRC, store transports.Store, caps ...string) *replaySession {
	t.Helper()
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Plaintext: true}},
		Timeout:       5 * time.Second,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", fake.Addr)
		},
	})
	s := &replaySession{evs: make(chan transports.Event, 100)}
	a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org", Store: store},
		transports.SinkFunc(func(ev transports.Event) { s.evs <- ev }))
	if err != nil {
		t.Fatal(err)
	}
	s.a = a
	t.Cleanup(func() { a.Close() })
	joined := make(chan error, 1)
	go func() { joined <- a.(transports.Rooms).JoinRoom(context.Background(), "#c", "me") }()
	s.srv = fake.Accept(t, 10*time.Second)
	if caps == nil {
		caps = replayCaps
	}
	s.srv.AnswerRegistration(t, caps...)
	s.srv.AnswerJoin(t, "#c", "bob")
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	return s
}

// replay sends a join replay of lines (msgid, source nick, text; a line
// with no msgid has none), at 12:00:0N for the N-th line.
func (s *replaySession) replay(lines ...[3]string) {
	s.srv.Send(":srv.test BATCH +r1 chathistory #c")
	for i, l := range lines {
		tags := "@batch=r1;time=2026-01-02T12:00:0" + string(rune('0'+i)) + ".000Z"
		if l[0] != "" {
			tags += ";msgid=" + l[0]
		}
		s.srv.Send(tags + " :" + l[1] + "!u@h PRIVMSG #c :" + l[2])
	}
	s.srv.Send(":srv.test BATCH -r1")
}

// messages returns the bodies of the room messages delivered until the
// live line "end" (sent now) arrives, in order.
func (s *replaySession) messages(t *testing.T) []*transports.MessageEvent {
	t.Helper()
	s.srv.Send("@time=2026-01-02T13:00:00.000Z;msgid=live-end :bob!u@h PRIVMSG #c :end")
	var got []*transports.MessageEvent
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-s.evs:
			m, ok := ev.(*transports.MessageEvent)
			if !ok || !m.Room {
				continue
			}
			if m.Body == "end" {
				return got
			}
			got = append(got, m)
		case <-deadline:
			t.Fatalf("the live line after the replay never came; had %d messages", len(got))
			return nil
		}
	}
}

// close ends the adapter (its bookmarks written) and the connection.
func (s *replaySession) close() {
	s.a.Close()
}

func bodies(ms []*transports.MessageEvent) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Body)
	}
	return out
}

// TestJoinReplayCatchUp: the lines of a channel's join replay reach the
// user when the gateway rejoins a channel the user was in (after a
// restart: a new adapter on the same store), those after the bookmark
// only, once, in order, with their server-time; at a fresh join, and
// after the user left, the replay is not delivered.
func TestJoinReplayCatchUp(t *testing.T) {
	fake := testenv.StartFakeIRC(t)
	store := &mapStore{m: map[string][]byte{}}

	// A fresh join: the replay is history the user did not ask for.
	s := startReplaySession(t, fake, store)
	s.replay([3]string{"m1", "bob", "before the user came"}, [3]string{"m2", "carol", "also before"})
	if got := s.messages(t); len(got) != 0 {
		t.Errorf("fresh join delivered the replay: %q", bodies(got))
	}
	s.srv.Send("@time=2026-01-02T12:00:10.000Z;msgid=m3 :bob!u@h PRIVMSG #c :live one")
	s.srv.Send("@time=2026-01-02T12:00:11.000Z;msgid=m4;inspircd.org/echo :me!u@client.test PRIVMSG #c :my own")
	if got := bodies(s.messages(t)); len(got) != 1 || got[0] != "live one" {
		t.Errorf("live = %q", got)
	}
	s.close()

	// A restart: the server replays m1…live-end and what came after.
	s = startReplaySession(t, fake, store)
	s.replay(
		[3]string{"m2", "carol", "also before"},
		[3]string{"m3", "bob", "live one"},
		[3]string{"m4", "me", "my own"},
		[3]string{"live-end", "bob", "end"},
		[3]string{"m5", "bob", "said while away"},
		[3]string{"m6", "me", "mine from another client"},
		[3]string{"", "bob", "no msgid"},
		[3]string{"m7", "carol", "\x01ACTION waves\x01"},
	)
	got := s.messages(t)
	if b := bodies(got); len(b) != 2 || b[0] != "said while away" || b[1] != "waves" {
		t.Fatalf("rejoin delivered %q, want the two lines after the bookmark", b)
	}
	if m := got[0]; m.RemoteID != "m5" || m.Nick != "bob" || m.From != "#c" || !m.Time.Equal(time.Date(2026, 1, 2, 12, 0, 4, 0, time.UTC)) {
		t.Errorf("replayed line = %+v", *m)
	}
	if !got[1].Action || got[1].RemoteID != "m7" {
		t.Errorf("replayed action = %+v", *got[1])
	}
	s.close()

	// Again, the bookmark's msgid scrolled out of the replay: lines from
	// its second on (live-end's, 13:00:00) are delivered; older are not.
	s = startReplaySession(t, fake, store)
	s.srv.Send(":srv.test BATCH +r2 chathistory #c")
	s.srv.Send("@batch=r2;time=2026-01-02T12:59:59.000Z;msgid=x1 :bob!u@h PRIVMSG #c :older")
	s.srv.Send("@batch=r2;time=2026-01-02T13:00:00.000Z;msgid=x2 :bob!u@h PRIVMSG #c :same second")
	s.srv.Send("@batch=r2;time=2026-01-02T13:00:05.000Z;msgid=x3 :bob!u@h PRIVMSG #c :later")
	s.srv.Send(":srv.test BATCH -r2")
	if b := bodies(s.messages(t)); len(b) != 2 || b[0] != "same second" || b[1] != "later" {
		t.Errorf("rejoin without the bookmark's msgid delivered %q", b)
	}

	// The user leaves: the next join is a fresh one.
	left := make(chan error, 1)
	go func() { left <- s.a.(transports.Rooms).LeaveRoom(context.Background(), "#c") }()
	s.srv.Expect(t, 10*time.Second, func(l testenv.IRCLine) bool { return l.Command == "PART" })
	s.srv.Send(":me!u@client.test PART #c")
	if err := <-left; err != nil {
		t.Fatal(err)
	}
	s.close()
	s = startReplaySession(t, fake, store)
	s.replay([3]string{"y1", "bob", "said after the user left"})
	if got := s.messages(t); len(got) != 0 {
		t.Errorf("join after leaving delivered the replay: %q", bodies(got))
	}
}

// TestAfterMark: which replayed lines come after a bookmark.
func TestAfterMark(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 1, 2, 12, 0, s, 0, time.UTC) }
	lines := []replayLine{{at: at(1), msgid: "a"}, {at: at(2), msgid: "b"}, {at: at(2), msgid: "c"}, {at: at(5), msgid: "d"}}
	tests := []struct {
		name string
		mark chanMark
		want string
	}{
		{"msgid in the replay", chanMark{at: at(2).Add(300 * time.Millisecond), msgid: "b"}, "cd"},
		{"the last line", chanMark{at: at(5), msgid: "d"}, ""},
		{"msgid scrolled out: from its second", chanMark{at: at(2).Add(700 * time.Millisecond), msgid: "zz"}, "bcd"},
		{"no msgid: from the join's second", chanMark{at: at(3)}, "d"},
		{"older than every line", chanMark{at: at(0), msgid: "zz"}, "abcd"},
		{"newer than every line", chanMark{at: at(9)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for _, l := range afterMark(lines, tt.mark) {
				got += l.msgid
			}
			if got != tt.want {
				t.Errorf("afterMark = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMarkEncoding: a bookmark reads back as written; what is not one
// (a deleted bookmark, a damaged value) is none.
func TestMarkEncoding(t *testing.T) {
	m := chanMark{at: time.UnixMilli(1767355200123), msgid: "420~1796069884~0"}
	got, ok := decodeMark(m.encode())
	if !ok || !got.at.Equal(m.at) || got.msgid != m.msgid {
		t.Errorf("decode(encode(%+v)) = %+v, %v", m, got, ok)
	}
	for _, v := range []string{"", "x y", "123", "123 bad\x00id"} {
		if _, ok := decodeMark([]byte(v)); ok {
			t.Errorf("decodeMark(%q) = ok", v)
		}
	}
}

// TestFetchMissedWithChatHistory: on a server that answers CHATHISTORY
// (Ergo; none is installed here, so it is scripted as the IRCv3
// specification shows it), a rejoin asks for the lines after the
// bookmark's msgid and delivers those said before the JOIN, in order,
// without the user's own; a fresh join asks for nothing.
func TestFetchMissedWithChatHistory(t *testing.T) {
	fake := testenv.StartFakeIRC(t)
	store := &mapStore{m: map[string][]byte{}}
	caps := append([]string{"draft/chathistory"}, replayCaps...)
	stamp := func(at time.Time) string { return at.UTC().Format("2006-01-02T15:04:05.000Z") }
	base := time.Now().Add(-time.Hour)

	s := startReplaySession(t, fake, store, caps...)
	s.srv.Send("@time=" + stamp(base) + ";msgid=a1 :bob!u@h PRIVMSG #c :had")
	if got := bodies(s.messages(t)); len(got) != 1 || got[0] != "had" {
		t.Fatalf("live = %q", got)
	}
	s.srv.ExpectNone(t, 300*time.Millisecond, func(l testenv.IRCLine) bool { return l.Command == "CHATHISTORY" })
	s.close()

	s = startReplaySession(t, fake, store, caps...)
	req := s.srv.Expect(t, 10*time.Second, func(l testenv.IRCLine) bool { return l.Command == "CHATHISTORY" })
	if req.Raw != "CHATHISTORY AFTER #c msgid=live-end 50" {
		t.Errorf("request = %q", req.Raw)
	}
	s.srv.Send(":srv.test BATCH +f chathistory #c")
	for _, l := range []struct {
		id, nick, text string
		at             time.Time
	}{
		{"a2", "bob", "missed one", base.Add(time.Second)},
		{"a3", "me", "mine", base.Add(2 * time.Second)},
		{"a4", "carol", "missed two", base.Add(3 * time.Second)},
		{"a5", "bob", "after the join: came live", time.Now().Add(time.Hour)},
	} {
		s.srv.Send("@batch=f;time=" + stamp(l.at) + ";msgid=" + l.id + " :" + l.nick + "!u@h PRIVMSG #c :" + l.text)
	}
	s.srv.Send(":srv.test BATCH -f")
	// Delivered from the request's goroutine: the live line after them
	// may come first, so read until both came or nothing more does.
	var got []string
	for len(got) < 3 {
		select {
		case ev := <-s.evs:
			if m, ok := ev.(*transports.MessageEvent); ok && m.Room {
				got = append(got, m.Body)
			}
			continue
		case <-time.After(2 * time.Second):
		}
		break
	}
	if len(got) != 2 || got[0] != "missed one" || got[1] != "missed two" {
		t.Errorf("rejoin delivered %q, want the two lines said before the JOIN", got)
	}
}

// TestJoinReplayAfterReconnect: a dropped connection rejoins its channels
// by itself; their replays deliver what was said meanwhile, from the
// bookmark the session keeps in memory.
func TestJoinReplayAfterReconnect(t *testing.T) {
	fake := testenv.StartFakeIRC(t)
	s := startReplaySession(t, fake, &mapStore{m: map[string][]byte{}})
	s.srv.Send("@time=2026-01-02T12:00:00.000Z;msgid=r1 :bob!u@h PRIVMSG #c :before the drop")
	if got := bodies(s.messages(t)); len(got) != 1 || got[0] != "before the drop" {
		t.Fatalf("live = %q", got)
	}
	s.srv.Close() // the server hangs up

	s.srv = fake.Accept(t, 30*time.Second)
	s.srv.AnswerRegistration(t, replayCaps...)
	s.srv.AnswerJoin(t, "#c", "bob")
	s.replay(
		[3]string{"r1", "bob", "before the drop"},
		[3]string{"live-end", "bob", "end"},
		[3]string{"r2", "carol", "while reconnecting"},
	)
	if got := bodies(s.messages(t)); len(got) != 1 || got[0] != "while reconnecting" {
		t.Errorf("after the reconnection = %q, want the line said meanwhile", got)
	}
}
