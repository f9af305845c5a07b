package irc

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// No IRC server installed here offers draft/message-redaction (InspIRCd
// 3 and ngIRCd do not: TestRedactionNotOffered checks both), so these
// tests script the server's side as the IRCv3 specification shows it,
// with the production adapter on the other end.

// redactSession is a user's adapter connected to a scripted server that
// offered caps, in #c with me, the operator op, bob and carol.
type redactSession struct {
	srv *scripted
	a   transports.Adapter
	evs chan transports.Event
	req string // the client's CAP REQ
}

func newRedactSession(t *testing.T, caps string) *redactSession {
	t.Helper()
	srv, n := newScripted(t)
	evs := make(chan transports.Event, 100)
	acct := transports.Account{User: "u@example.org", Store: &mapStore{m: map[string][]byte{}}}
	a, err := n.Connect(context.Background(), acct, transports.SinkFunc(func(ev transports.Event) { evs <- ev }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	joined := make(chan error, 1)
	go func() { joined <- a.(transports.Rooms).JoinRoom(context.Background(), "#c", "me") }()
	srv.expect("CAP LS")
	srv.send(":srv CAP * LS :" + caps)
	req := srv.expect("CAP REQ")
	srv.send(":srv CAP * ACK :" + req[strings.Index(req, ":")+1:])
	srv.expect("CAP END")
	srv.send(":srv 001 me :Welcome")
	srv.send(":srv 005 me CHANTYPES=# PREFIX=(ov)@+ :are supported")
	srv.send(":srv 422 me :No MOTD")
	srv.expect("JOIN #c")
	srv.send(":me!u@h JOIN #c")
	srv.send(":srv 353 me = #c :me @op bob carol")
	srv.send(":srv 366 me #c :End")
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	return &redactSession{srv: srv, a: a, evs: evs, req: req}
}

// mapStore is a transports.Store in memory.
type mapStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *mapStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, transports.ErrNotFound
	}
	return v, nil
}

func (s *mapStore) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = value
	return nil
}

// retraction waits for the next RetractEvent.
func (s *redactSession) retraction(t *testing.T) *transports.RetractEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-s.evs:
			if r, ok := ev.(*transports.RetractEvent); ok {
				return r
			}
		case <-deadline:
			t.Fatal("no RetractEvent")
			return nil
		}
	}
}

// noRetraction checks that no RetractEvent comes for a while.
func (s *redactSession) noRetraction(t *testing.T) {
	t.Helper()
	deadline := time.After(300 * time.Millisecond)
	for {
		select {
		case ev := <-s.evs:
			if r, ok := ev.(*transports.RetractEvent); ok {
				t.Fatalf("unexpected RetractEvent %+v", *r)
			}
		case <-deadline:
			return
		}
	}
}

// call runs f in the background and returns its error's channel.
func call(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// redactLines expects the client's REDACT line and the PING after it,
// and returns the REDACT and a function that answers the PING.
func (s *redactSession) redactLines(t *testing.T) (string, func()) {
	t.Helper()
	l := s.srv.expect("REDACT")
	ping := s.srv.expect("PING ")
	return l, func() { s.srv.send(":srv PONG srv :" + strings.TrimPrefix(strings.TrimPrefix(ping, "PING "), ":")) }
}

// until returns the client's lines up to (without) the first one starting
// with prefix.
func (s *redactSession) until(t *testing.T, prefix string) []string {
	t.Helper()
	var before []string
	for {
		select {
		case l, ok := <-s.srv.lines:
			if !ok {
				t.Fatalf("client closed; wanted %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return before
			}
			before = append(before, l)
		case <-time.After(5 * time.Second):
			t.Fatalf("client did not send %q", prefix)
		}
	}
}

// noRedact fails if a REDACT is among lines.
func noRedact(t *testing.T, lines []string) {
	t.Helper()
	for _, l := range lines {
		if strings.HasPrefix(l, "REDACT") {
			t.Errorf("sent %q", l)
		}
	}
}

// The capability is requested where offered; the user's own message is
// known by the server's msgid (its echo), and its retraction is a REDACT
// whose echo is the one RetractEvent the user sees.
func TestRedactOwnMessage(t *testing.T) {
	s := newRedactSession(t, "message-tags echo-message draft/message-redaction")
	if !strings.Contains(" "+s.req+" ", " draft/message-redaction ") {
		t.Errorf("%q does not request draft/message-redaction", s.req)
	}

	type sent struct {
		id  transports.RemoteID
		err error
	}
	got := make(chan sent, 1)
	go func() {
		id, err := s.a.Send(context.Background(), transports.Message{To: "#c", Body: "oops", ID: "x1"})
		got <- sent{id, err}
	}()
	s.srv.expect("PRIVMSG #c :oops")
	s.srv.send("@msgid=m1 :me!u@h PRIVMSG #c :oops")
	if r := <-got; r.err != nil || r.id != "m1" {
		t.Fatalf("Send = %q, %v; want the server's msgid m1", r.id, r.err)
	}

	done := call(func() error { return s.a.(transports.Retractor).Retract(context.Background(), "#c", "m1") })
	l, pong := s.redactLines(t)
	if l != "REDACT #c m1" {
		t.Errorf("sent %q, want REDACT #c m1", l)
	}
	s.srv.send("@msgid=r1 :me!u@h REDACT #c m1")
	pong()
	if err := <-done; err != nil {
		t.Fatalf("Retract: %v", err)
	}
	r := s.retraction(t)
	want := transports.RetractEvent{From: "#c", Room: true, Nick: "me", Target: "m1", Own: true}
	if *r != want {
		t.Errorf("echo = %+v, want %+v", *r, want)
	}
	s.noRetraction(t) // the echo only, not a second one after the PING
}

// On a server that does not echo (no echo-message), the adapter delivers
// the deletion itself once the server answered the PING after REDACT; a
// moderator's deletion of another's message carries the reason.
func TestRedactWithoutEcho(t *testing.T) {
	s := newRedactSession(t, "message-tags draft/message-redaction")
	s.srv.send("@msgid=b1 :bob!b@h PRIVMSG #c :spam spam")

	done := call(func() error {
		return s.a.(transports.MessageModerator).ModerateRetract(context.Background(), "#c", "b1", "flood\r\nQUIT")
	})
	l, pong := s.redactLines(t)
	if l != "REDACT #c b1 :floodQUIT" {
		t.Errorf("sent %q, want the reason on one line", l)
	}
	pong()
	if err := <-done; err != nil {
		t.Fatalf("ModerateRetract: %v", err)
	}
	r := s.retraction(t)
	want := transports.RetractEvent{From: "#c", Room: true, Nick: "bob", Target: "b1", Moderated: true, By: "me", Reason: "floodQUIT"}
	if *r != want {
		t.Errorf("moderation = %+v, want %+v", *r, want)
	}
}

// A REDACT from the server is a retraction by the author, or a
// moderation when someone else (an operator) deleted the message.
func TestRedactIncoming(t *testing.T) {
	s := newRedactSession(t, "message-tags echo-message draft/message-redaction")
	s.srv.send("@msgid=b1 :bob!b@h PRIVMSG #c :one")
	s.srv.send("@msgid=b2 :bob!b@h PRIVMSG #c :two")
	tests := []struct {
		name string
		line string
		want transports.RetractEvent
	}{
		{"author", "@msgid=r1 :bob!b@h REDACT #c b1",
			transports.RetractEvent{From: "#c", Room: true, Nick: "bob", Target: "b1"}},
		{"operator", "@msgid=r2 :op!o@h REDACT #c b2 :\x02spam\x02",
			transports.RetractEvent{From: "#c", Room: true, Nick: "bob", Target: "b2", Moderated: true, By: "op", Reason: "spam"}},
		{"operator, author unknown", ":op!o@h REDACT #c old1",
			transports.RetractEvent{From: "#c", Room: true, Target: "old1", Moderated: true, By: "op"}},
		{"member without status, author unknown: their own", ":carol!c@h REDACT #c old2 :typo",
			transports.RetractEvent{From: "#c", Room: true, Nick: "carol", Target: "old2"}},
		{"the server", ":irc.test REDACT #c b9",
			transports.RetractEvent{From: "#c", Room: true, Target: "b9", Moderated: true}},
		{"private", "@msgid=r3 :bob!b@h REDACT me p1",
			transports.RetractEvent{From: "bob", Target: "p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.srv.send(tt.line)
			if r := s.retraction(t); *r != tt.want {
				t.Errorf("%q = %+v, want %+v", tt.line, *r, tt.want)
			}
		})
	}
	// Not for the user: a channel they are not in, a REDACT with no
	// msgid, a private one to someone else.
	s.srv.send(":bob!b@h REDACT #other b1")
	s.srv.send(":bob!b@h REDACT #c")
	s.srv.send(":bob!b@h REDACT carol p2")
	s.noRetraction(t)
}

// Each FAIL REDACT code of the specification is an error of its kind with
// a text of the gateway's own: the server's description never reaches
// the user.
func TestRedactFailures(t *testing.T) {
	s := newRedactSession(t, "message-tags echo-message draft/message-redaction")
	tests := []struct {
		fail string
		want error
		text string
	}{
		{"FAIL REDACT INVALID_TARGET #c :SERVER-TEXT", transports.ErrForbidden, "does not let you delete messages in #c"},
		{"FAIL REDACT REDACT_FORBIDDEN #c m1 :SERVER-TEXT", transports.ErrForbidden, "does not allow you to delete that message"},
		{"FAIL REDACT REDACT_WINDOW_EXPIRED #c m1 300 :SERVER-TEXT", transports.ErrForbidden, "no longer lets you delete that message: the time to do so has passed"},
		{"FAIL REDACT UNKNOWN_MSGID #c m1 :SERVER-TEXT", transports.ErrNotFound, "does not know that message"},
		{"FAIL REDACT SOMETHING_ELSE #c m1 :SERVER-TEXT", transports.ErrForbidden, "refused to delete that message"},
		{"421 me REDACT :SERVER-TEXT", transports.ErrUnsupported, "does not know the REDACT command"},
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			done := call(func() error { return s.a.(transports.Retractor).Retract(context.Background(), "#c", "m1") })
			if l, pong := s.redactLines(t); l != "REDACT #c m1" {
				t.Errorf("sent %q", l)
			} else {
				// Another deletion's refusal is not this one's.
				s.srv.send(":srv FAIL REDACT UNKNOWN_MSGID #c m2 :SERVER-TEXT")
				s.srv.send(":srv " + tt.fail)
				pong()
			}
			err := <-done
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "irc.test "+tt.text) || strings.Contains(err.Error(), "SERVER-TEXT") {
				t.Errorf("Retract = %v, want %v with %q and no server text", err, tt.want, tt.text)
			}
		})
	}
	s.noRetraction(t)
}

// A message ID that cannot be a REDACT parameter is not sent.
func TestRedactBadMsgID(t *testing.T) {
	s := newRedactSession(t, "message-tags echo-message draft/message-redaction")
	for _, id := range []transports.RemoteID{"", "a b", ":x", "a\r\nQUIT", transports.RemoteID(strings.Repeat("x", maxMsgID+1))} {
		err := s.a.(transports.Retractor).Retract(context.Background(), "#c", id)
		if !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("Retract(%q) = %v, want ErrNotFound", id, err)
		}
	}
	s.srv.send("PING :probe")
	noRedact(t, s.until(t, "PONG :probe"))
}

// Without the capability (or without message-tags), a deletion is
// refused with ErrUnsupported and a text naming the server, and nothing
// is sent.
func TestRedactNotNegotiated(t *testing.T) {
	for _, caps := range []string{"message-tags echo-message", "echo-message draft/message-redaction"} {
		t.Run(caps, func(t *testing.T) {
			s := newRedactSession(t, caps)
			err := s.a.(transports.Retractor).Retract(context.Background(), "#c", "m1")
			if !errors.Is(err, transports.ErrUnsupported) || !strings.Contains(err.Error(), "irc.test does not offer message deletion") {
				t.Errorf("Retract = %v, want ErrUnsupported naming the server", err)
			}
			err = s.a.(transports.MessageModerator).ModerateRetract(context.Background(), "#c", "m1", "")
			if !errors.Is(err, transports.ErrUnsupported) {
				t.Errorf("ModerateRetract = %v, want ErrUnsupported", err)
			}
			s.srv.send("PING :probe")
			noRedact(t, s.until(t, "PONG :probe"))
		})
	}
}

// A channel's view remembers the latest maxAuthors authors, the oldest
// out first; a msgid read again (by another user's connection) keeps its
// author.
func TestAuthorLog(t *testing.T) {
	var l authorLog
	l.note("m0", "bob")
	l.note("m0", "mallory")
	if got := l.of("m0"); got != "bob" {
		t.Errorf("m0 by %q, want bob", got)
	}
	for i := 1; i <= maxAuthors; i++ {
		l.note("m"+strconv.Itoa(i), "carol")
	}
	if l.len() != maxAuthors {
		t.Fatalf("%d authors; want %d", l.len(), maxAuthors)
	}
	if l.of("m0") != "" {
		t.Error("the oldest author is still there")
	}
	if got := l.of("m1"); got != "carol" {
		t.Errorf("m1 by %q, want carol", got)
	}
}

// A message of the user's that went out as several lines is known by the
// first line's msgid; deleting it deletes every line, and the user sees
// one retraction.
func TestRedactLongMessage(t *testing.T) {
	s := newRedactSession(t, "message-tags echo-message draft/message-redaction")
	body := strings.Repeat("long words ", 60) // two lines
	got := make(chan transports.RemoteID, 1)
	go func() {
		id, err := s.a.Send(context.Background(), transports.Message{To: "#c", Body: body, ID: "x1"})
		if err != nil {
			t.Error(err)
		}
		got <- id
	}()
	for i, id := range []string{"l1", "l2"} {
		l := s.srv.expect("PRIVMSG #c :")
		s.srv.send("@msgid=" + id + " :me!u@h " + l)
		if i == 0 && strings.TrimPrefix(l, "PRIVMSG #c :") == strings.TrimSpace(body) {
			t.Fatal("the message fit on one line")
		}
	}
	if id := <-got; id != "l1" {
		t.Fatalf("Send = %q, want the first line's msgid", id)
	}
	done := call(func() error { return s.a.(transports.Retractor).Retract(context.Background(), "#c", "l1") })
	first := s.srv.expect("REDACT")
	second := s.srv.expect("REDACT")
	if first != "REDACT #c l1" || second != "REDACT #c l2" {
		t.Errorf("sent %q, %q; want both lines deleted", first, second)
	}
	ping := s.srv.expect("PING ")
	s.srv.send(":me!u@h REDACT #c l1")
	s.srv.send(":me!u@h REDACT #c l2")
	s.srv.send(":srv PONG srv :" + strings.TrimPrefix(ping, "PING :"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := s.retraction(t); r.Target != "l1" || !r.Own {
		t.Errorf("retraction = %+v, want the message's, l1", *r)
	}
	s.noRetraction(t)
}
