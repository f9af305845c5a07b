package irc

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lrstanley/girc"
	"golang.org/x/time/rate"

	"github.com/switchboard-im/switchboard/transports"
)

// pacedScripted connects "me" to a scripted server without echo-message,
// with the given confirmation timeout, and holds the connection's writer
// (its limiter lets nothing through) until release is called.
func pacedScripted(t *testing.T, timeout time.Duration) (s *scripted, a *adapter, c *conn, release func(every time.Duration)) {
	t.Helper()
	srvConn, cliConn := net.Pipe()
	t.Cleanup(func() { srvConn.Close() })
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Plaintext: true}},
		Timeout:       timeout,
		Dial:          func(context.Context, string, string) (net.Conn, error) { return cliConn, nil },
	})
	s = newScriptedOn(t, srvConn)
	a, _ = connectScripted(t, s, n, "")
	c = scriptedConn(t, a)
	c.mu.Lock()
	c.lim.SetLimit(0)
	c.lim.SetBurst(0)
	c.mu.Unlock()
	return s, a, c, func(every time.Duration) {
		c.mu.Lock()
		c.lim.SetLimit(rate.Every(every))
		c.lim.SetBurst(1)
		c.kickLocked()
		c.mu.Unlock()
	}
}

// sendAll starts one send per body to bob and returns their results in
// order, once every send's line is queued.
func sendAll(t *testing.T, a *adapter, c *conn, bodies ...string) []chan error {
	t.Helper()
	var res []chan error
	for i, b := range bodies {
		ch := make(chan error, 1)
		res = append(res, ch)
		go func() {
			_, err := a.Send(context.Background(), transports.Message{To: "bob", Body: b})
			ch <- err
		}()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c.mu.Lock()
			n := len(c.out)
			c.mu.Unlock()
			if n == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("send %d not queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return res
}

// pingToken is the token of a PING line.
func pingToken(l string) string {
	if e := girc.ParseEvent(l); e != nil && e.Command == "PING" && len(e.Params) == 1 {
		return e.Params[0]
	}
	return l
}

// Sends queued one behind the other are confirmed by one PING after the
// last of them, not one PING each.
func TestOneFencePerBatch(t *testing.T) {
	s, a, c, release := pacedScripted(t, 5*time.Second)
	res := sendAll(t, a, c, "number one", "number two", "number three")
	release(time.Millisecond)
	for _, want := range []string{"PRIVMSG bob :number one", "PRIVMSG bob :number two", "PRIVMSG bob :number three"} {
		if l := s.expect("PRIVMSG"); l != want {
			t.Fatalf("sent %q, want %q", l, want)
		}
	}
	token := pingToken(s.expect("PING"))
	for i, r := range res {
		select {
		case err := <-r:
			t.Fatalf("send %d returned %v before the fence was answered", i, err)
		default:
		}
	}
	s.send(":srv PONG srv :" + token)
	for i, r := range res {
		select {
		case err := <-r:
			if err != nil {
				t.Errorf("send %d: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("send %d not confirmed by the one fence", i)
		}
	}
	// Nothing else was written: one fence for three messages.
	if sent := s.fence(a, "bob"); len(sent) != 0 {
		t.Errorf("also sent %q", sent)
	}
}

// The time a server has to confirm a message counts from when it is
// written: a message that waits its turn in the queue longer than that
// is not failed, while one the server never confirms is.
func TestConfirmDeadlineFollowsTheQueue(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s, a, c, release := pacedScripted(t, timeout)
	var bodies []string
	for i := range 6 {
		bodies = append(bodies, "m"+strconv.Itoa(i))
	}
	res := sendAll(t, a, c, bodies...)
	// Six lines at one per 120 ms: the last is written after 600 ms,
	// twice the timeout after it was queued.
	release(120 * time.Millisecond)
	start := time.Now()
	for range bodies {
		s.expect("PRIVMSG bob")
	}
	token := pingToken(s.expect("PING"))
	if waited := time.Since(start); waited < timeout {
		t.Fatalf("the queue drained in %v; the test needs longer than %v", waited, timeout)
	}
	s.send(":srv PONG srv :" + token)
	for i, r := range res {
		if err := <-r; err != nil {
			t.Errorf("send %d, confirmed %v after it was written: %v", i, time.Since(start), err)
		}
	}

	// Unanswered, a written message fails after the timeout.
	r := make(chan error, 1)
	go func() {
		_, err := a.Send(context.Background(), transports.Message{To: "bob", Body: "lost one"})
		r <- err
	}()
	s.expect("PRIVMSG bob :lost one")
	s.expect("PING")
	select {
	case err := <-r:
		if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "did not confirm") {
			t.Errorf("unconfirmed send = %v, want ErrUnavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an unconfirmed send never failed")
	}
}

// The connection pings the server on its own timer, and ends when the
// server stays silent too long.
func TestKeepalive(t *testing.T) {
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "")
	c := scriptedConn(t, a)
	lc := c.wireNow()
	lc.read.Store(time.Now().UnixNano())
	ping := &attempt{lc: lc}
	c.startClock(ping, time.Time{}, 20*time.Millisecond, time.Hour)
	if l := s.expect("PING"); pingToken(l) != "keepalive" {
		t.Errorf("keepalive sent %q", l)
	}
	ping.clock.Stop()
	if !c.isRegistered() {
		t.Fatal("a server that answers lost the connection")
	}

	lc.read.Store(time.Now().Add(-time.Hour).UnixNano())
	silent := &attempt{lc: lc}
	c.startClock(silent, time.Time{}, 10*time.Millisecond, 10*time.Millisecond)
	defer silent.clock.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for c.isRegistered() {
		if time.Now().After(deadline) {
			t.Fatal("a silent server kept the connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The registration's deadline and the keepalive share one timer per
// attempt (startClock): a server that never ends the registration loses
// the connection at the deadline; one that did is pinged on after it.
func TestClockRegistrationDeadline(t *testing.T) {
	t.Run("not registered", func(t *testing.T) {
		srvConn, cliConn := net.Pipe()
		t.Cleanup(func() { srvConn.Close() })
		n := New(Config{
			DefaultServer: "irc.test",
			Servers:       map[string]Server{"irc.test": {Plaintext: true}},
			Timeout:       300 * time.Millisecond,
			Dial:          func(context.Context, string, string) (net.Conn, error) { return cliConn, nil },
		})
		s := newScriptedOn(t, srvConn)
		a := n.newAdapter(transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
		t.Cleanup(func() { a.Close() })
		c := a.newConn("irc.test", "me", "")
		done := make(chan error, 1)
		// The wait has no deadline of its own: only the connection's ends it.
		go func() { done <- c.waitRegistered(context.Background()) }()
		s.expect("CAP LS") // and no answer
		select {
		case err := <-done:
			if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "did not complete the registration in time") {
				t.Errorf("the connection ended with %v, want the registration's deadline", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a server that never ended the registration kept the connection")
		}
	})
	t.Run("registered", func(t *testing.T) {
		s, n := newScripted(t)
		a, _ := connectScripted(t, s, n, "")
		c := scriptedConn(t, a)
		lc := c.wireNow()
		at := &attempt{lc: lc}
		c.startClock(at, time.Now().Add(10*time.Millisecond), 50*time.Millisecond, time.Hour)
		defer at.clock.Stop()
		for range 2 { // pings after the deadline passed
			if l := s.expect("PING"); pingToken(l) != "keepalive" {
				t.Errorf("keepalive sent %q", l)
			}
		}
		if !c.isRegistered() {
			t.Error("the registration's deadline ended a registered connection")
		}
	})
}
