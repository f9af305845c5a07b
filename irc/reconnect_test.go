package irc

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// stepClock is a transports.Clock whose waits end when the test says.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan stepWait
}

type stepWait struct {
	d  time.Duration
	ch chan time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- stepWait{d: d, ch: ch}
	return ch
}

// states records the supervisor's states for the user.
type states chan transports.Status

func (s states) Deliver(ev transports.Event) {
	if st, ok := ev.(*transports.StateEvent); ok {
		s <- st.Status
	}
}

func (s states) wait(t *testing.T, want transports.State) transports.Status {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-s:
			if st.State == want {
				return st
			}
		case <-deadline:
			t.Fatalf("state %v not reached", want)
		}
	}
}

// TestRedialUnderSupervisor: when the registered server drops the
// connection, the connection redials after the supervisor's backoff, on
// its clock, and the supervisor shows the drop; a redial the server
// refuses for good (464) ends the session, which the supervisor shows as
// refused credentials without another attempt. The session is connected
// once: the redial is the connection's, the state the supervisor's.
func TestRedialUnderSupervisor(t *testing.T) {
	servers := make(chan *scripted, 10)
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Plaintext: true}},
		Timeout:       5 * time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			srv, cli := net.Pipe()
			t.Cleanup(func() { srv.Close() })
			servers <- newScriptedOn(t, srv)
			return cli, nil
		},
	})
	clock := &stepClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), waits: make(chan stepWait, 10)}
	st := make(states, 100)
	b := transports.Backoff{Min: 3 * time.Second, Max: time.Minute}
	sup := transports.NewSupervisor(n, func(string) transports.Sink { return st }, b, nil)
	sup.SetClock(clock)
	t.Cleanup(sup.Close)
	sup.Start(transports.Account{User: "u@example.org", Credentials: transports.Credentials{"nick": "me"}})

	first := <-servers
	first.register("")
	st.wait(t, transports.StateConnected)

	first.send("ERROR :Closing link (restart)")
	first.conn.Close()
	down := st.wait(t, transports.StateTransientDisconnect)
	if want := "legacy network unavailable: irc.test closed the connection: Closing link (restart)"; down.Text != want {
		t.Errorf("text %q, want %q", down.Text, want)
	}
	var w stepWait
	select {
	case w = <-clock.waits:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not wait on the supervisor's clock")
	}
	if w.d > b.Min || w.d < b.Min-b.Min/5 {
		t.Errorf("waited %v, want the supervisor's first backoff (%v less jitter)", w.d, b.Min)
	}
	if !down.Retry.Equal(clock.Now().Add(w.d)) {
		t.Errorf("Retry %v, want now + %v", down.Retry, w.d)
	}
	if got := sup.Status("u@example.org"); got != down {
		t.Errorf("supervisor Status %+v, want %+v", got, down)
	}
	select {
	case <-servers:
		t.Fatal("redialled before the wait ended")
	case <-time.After(50 * time.Millisecond):
	}
	w.ch <- clock.Now()

	second := <-servers
	second.expect("CAP LS")
	second.send(":srv 464 me :Password incorrect")
	second.send("ERROR :Bad password")
	second.conn.Close()
	refused := st.wait(t, transports.StateBadCredentials)
	if refused.Text != "credentials refused: irc.test: Password incorrect" {
		t.Errorf("text %q", refused.Text)
	}
	select {
	case w := <-clock.waits:
		t.Errorf("waited %v after a refusal", w.d)
	case <-servers:
		t.Error("redialled after a refusal")
	case <-time.After(200 * time.Millisecond):
	}
	if got := sup.Status("u@example.org").State; got != transports.StateBadCredentials {
		t.Errorf("supervisor Status %v", got)
	}
}
