package transports_test

import (
	"context"
	"errors"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// endingNet is a network whose adapters embed transports.Ending, as the
// real ones do, so the supervisor waits for them without a goroutine.
type endingNet struct {
	*transportstest.Network

	mu       sync.Mutex
	adapters []*endingAdapter
}

type endingAdapter struct {
	transports.Ending

	mu     sync.Mutex
	closed bool
}

func (a *endingAdapter) Send(context.Context, transports.Message) (transports.RemoteID, error) {
	return "", nil
}

func (a *endingAdapter) SetPresence(context.Context, transports.Presence) error { return nil }

func (a *endingAdapter) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return nil
}

func (a *endingAdapter) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

func (n *endingNet) Connect(context.Context, transports.Account, transports.Sink) (transports.Adapter, error) {
	a := &endingAdapter{}
	n.mu.Lock()
	n.adapters = append(n.adapters, a)
	n.mu.Unlock()
	return a, nil
}

func (n *endingNet) last() (*endingAdapter, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.adapters[len(n.adapters)-1], len(n.adapters)
}

// supervisorGoroutines returns the stacks of the goroutines that run the
// package's code (the test's own frames are in package transports_test).
func supervisorGoroutines() []string {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	var found []string
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.Contains(g, "switchboard/transports.") {
			found = append(found, g)
		}
	}
	return found
}

// waitNoSupervisorGoroutine fails the test unless, within a few seconds,
// no goroutine runs the supervisor's code.
func waitNoSupervisorGoroutine(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g := supervisorGoroutines()
		if len(g) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the supervisor while every session is connected:\n%s", len(g), strings.Join(g, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSupervisorConnectedSessionsCostNoGoroutine: a connected session
// whose adapter embeds Ending is waited for by a callback, and the
// policy is the same as with a goroutine: a drop is reported, the
// adapter closed and a new one connected; Stop closes it.
func TestSupervisorConnectedSessionsCostNoGoroutine(t *testing.T) {
	net := &endingNet{Network: transportstest.New(nil)}
	rec := newRecorder()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec },
		transports.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond}, nil)
	t.Cleanup(sup.Close)

	const users = 20
	for i := range users {
		sup.Start(acct("user"+string(rune('a'+i)), "pw"))
	}
	for range users {
		rec.waitState(t, transports.StateConnected)
	}
	waitNoSupervisorGoroutine(t)

	sup.Stop("userb")
	rec.waitState(t, transports.StateDisconnected)
	sup.Stop("userc")
	rec.waitState(t, transports.StateDisconnected)
	for i := range users {
		u := "user" + string(rune('a'+i))
		if want := u != "userb" && u != "userc"; sup.Running(u) != want {
			t.Errorf("Running(%s) = %v, want %v", u, !want, want)
		}
	}

	sup.Stop("usera")
	rec.waitState(t, transports.StateDisconnected)
	sup.Start(acct("usera", "pw"))
	rec.waitState(t, transports.StateConnected)
	first, n := net.last()
	if got := sup.Adapter("usera"); got != first {
		t.Fatalf("Adapter = %p, want the last connected %p", got, first)
	}
	first.End(errors.New("connection reset"))
	st := rec.waitState(t, transports.StateTransientDisconnect)
	if st.Text != "connection reset" {
		t.Errorf("text = %q", st.Text)
	}
	rec.waitState(t, transports.StateConnected)
	if !first.isClosed() {
		t.Error("the adapter that ended was not closed")
	}
	second, m := net.last()
	if m != n+1 || sup.Adapter("usera") != second {
		t.Errorf("after the drop: %d connects (want %d), adapter %p (want %p)", m, n+1, sup.Adapter("usera"), second)
	}
	waitNoSupervisorGoroutine(t)

	sup.Stop("usera")
	rec.waitState(t, transports.StateDisconnected)
	if !second.isClosed() {
		t.Error("Stop did not close the adapter")
	}
	if sup.Running("usera") || sup.Adapter("usera") != nil {
		t.Error("session still there after Stop")
	}
}

// TestSupervisorBadCredentialsStopsWithoutGoroutine: a session refused
// for good waits for its Stop without a goroutine, and Stop still
// returns.
func TestSupervisorBadCredentialsStopsWithoutGoroutine(t *testing.T) {
	net := transportstest.New(map[string]string{"alice": "pw"})
	sup, rec := newSup(t, net)
	sup.Start(acct("alice", "wrong"))
	rec.waitState(t, transports.StateBadCredentials)
	waitNoSupervisorGoroutine(t)
	sup.Stop("alice")
	rec.waitState(t, transports.StateDisconnected)
	if got := net.Connects(); got != 1 {
		t.Errorf("Connect called %d times, want 1", got)
	}
}

func TestEndingAfterEnd(t *testing.T) {
	var e transports.Ending
	ran := make(chan string, 3)
	stopKept := e.AfterEnd(func() { ran <- "kept" })
	stopDropped := e.AfterEnd(func() { ran <- "dropped" })
	if !stopDropped() {
		t.Error("stop before End = false, want true")
	}
	if stopDropped() {
		t.Error("second stop = true, want false")
	}
	e.End(errors.New("gone"))
	if got := <-ran; got != "kept" {
		t.Errorf("ran %q, want kept", got)
	}
	if stopKept() {
		t.Error("stop after f ran = true, want false")
	}
	stopLate := e.AfterEnd(func() { ran <- "late" })
	if got := <-ran; got != "late" {
		t.Errorf("ran %q, want late (registered after End)", got)
	}
	if stopLate() {
		t.Error("stop of a callback registered after End = true, want false")
	}
	select {
	case got := <-ran:
		t.Errorf("%q ran too", got)
	case <-time.After(50 * time.Millisecond):
	}
}
