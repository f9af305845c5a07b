package irc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// queueAll queues one message to bob per body from this goroutine, as
// the component's lane does, and returns their Pendings in order.
func queueAll(t *testing.T, a *adapter, bodies ...string) []transports.Pending {
	t.Helper()
	var ps []transports.Pending
	for _, b := range bodies {
		p, err := a.Queue(context.Background(), transports.Message{To: "bob", Body: b})
		if err != nil {
			t.Fatalf("Queue(%q): %v", b, err)
		}
		ps = append(ps, p)
	}
	return ps
}

// waitAll waits for each Pending in turn, as the component does.
func waitAll(t *testing.T, ps []transports.Pending) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make([]error, len(ps))
	for i, p := range ps {
		_, errs[i] = p.Wait(ctx)
	}
	return errs
}

// Queue returns before the server confirmed anything: a user's messages
// are queued back to back from one goroutine, written in that order and
// confirmed by the one fence after the last.
func TestQueuePipelines(t *testing.T) {
	s, a, c, release := pacedScripted(t, 5*time.Second)
	ps := queueAll(t, a, "number one", "number two", "number three")
	c.mu.Lock()
	queued := len(c.out)
	c.mu.Unlock()
	if queued != 3 {
		t.Fatalf("%d lines queued after three Queue calls, want 3", queued)
	}
	release(time.Millisecond)
	for _, want := range []string{"PRIVMSG bob :number one", "PRIVMSG bob :number two", "PRIVMSG bob :number three"} {
		if l := s.expect("PRIVMSG"); l != want {
			t.Fatalf("sent %q, want %q", l, want)
		}
	}
	s.send(":srv PONG srv :" + pingToken(s.expect("PING")))
	for i, err := range waitAll(t, ps) {
		if err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if sent := s.fence(a, "bob"); len(sent) != 0 {
		t.Errorf("also sent %q", sent)
	}
}

// A server's error for one of the messages in flight fails that message
// only: the error numerics arrive in the order of the messages, before
// the fence's answer.
func TestQueueErrorFailsItsMessage(t *testing.T) {
	s, a, _, release := pacedScripted(t, 5*time.Second)
	ps := queueAll(t, a, "first", "second", "third")
	release(time.Millisecond)
	for range ps {
		s.expect("PRIVMSG bob")
	}
	token := pingToken(s.expect("PING"))
	s.send(":srv 404 me bob :Cannot send to nick") // the first message's answer
	s.send(":srv PONG srv :" + token)
	errs := waitAll(t, ps)
	if !errors.Is(errs[0], transports.ErrForbidden) {
		t.Errorf("first message = %v, want the server's refusal (ErrForbidden)", errs[0])
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("message %d = %v, want confirmed", i+1, err)
		}
	}
}

// An abandoned wait takes back the message's lines not written yet, and
// Queue with a context already done queues nothing.
func TestQueueAbandoned(t *testing.T) {
	s, a, c, release := pacedScripted(t, 5*time.Second)
	ps := queueAll(t, a, "kept", "dropped")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ps[1].Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned Wait = %v", err)
	}
	if _, err := ps[1].Wait(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("a second Wait = %v, want the first's result", err)
	}
	if p, err := a.Queue(ctx, transports.Message{To: "bob", Body: "never"}); !errors.Is(err, context.Canceled) || p != nil {
		t.Errorf("Queue with a done context = %v, %v", p, err)
	}
	c.mu.Lock()
	queued := len(c.out)
	c.mu.Unlock()
	if queued != 1 {
		t.Fatalf("%d lines queued, want only the kept message's", queued)
	}
	release(time.Millisecond)
	if l := s.expect("PRIVMSG"); l != "PRIVMSG bob :kept" {
		t.Fatalf("sent %q", l)
	}
	s.send(":srv PONG srv :" + pingToken(s.expect("PING")))
	if _, err := ps[0].Wait(context.Background()); err != nil {
		t.Errorf("kept message: %v", err)
	}
}
