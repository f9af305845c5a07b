package transports_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// recorder is a sink that keeps the states it was told about.
type recorder struct {
	mu     sync.Mutex
	states []transports.Status
	ch     chan transports.Status
}

func newRecorder() *recorder { return &recorder{ch: make(chan transports.Status, 100)} }

func (r *recorder) Deliver(ev transports.Event) {
	if st, ok := ev.(*transports.StateEvent); ok {
		r.mu.Lock()
		r.states = append(r.states, st.Status)
		r.mu.Unlock()
		r.ch <- st.Status
	}
}

// waitState waits for state s and returns its status.
func (r *recorder) waitState(t *testing.T, s transports.State) transports.Status {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case st := <-r.ch:
			if st.State == s {
				return st
			}
		case <-timeout:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("state %v not reached; saw %v", s, r.states)
		}
	}
}

func newSup(t *testing.T, net *transportstest.Network) (*transports.Supervisor, *recorder) {
	t.Helper()
	rec := newRecorder()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec },
		transports.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond}, nil)
	t.Cleanup(sup.Close)
	return sup, rec
}

func acct(user, pass string) transports.Account {
	return transports.Account{User: user, Credentials: transports.Credentials{"username": user, "password": pass}}
}

func TestSupervisorConnects(t *testing.T) {
	net := transportstest.New(map[string]string{"alice": "pw"})
	sup, rec := newSup(t, net)
	sup.Start(acct("alice", "pw"))
	rec.waitState(t, transports.StateConnected)
	if sup.Adapter("alice") == nil {
		t.Fatal("no adapter after connecting")
	}
	// Starting again with the same credentials keeps the session.
	sup.Start(acct("alice", "pw"))
	if got := net.Connects(); got != 1 {
		t.Errorf("Connect called %d times, want 1", got)
	}
}

func TestSupervisorBadCredentialsDoesNotRetry(t *testing.T) {
	net := transportstest.New(map[string]string{"alice": "pw"})
	sup, rec := newSup(t, net)
	sup.Start(acct("alice", "wrong"))
	st := rec.waitState(t, transports.StateBadCredentials)
	if st.Text == "" {
		t.Error("bad credentials state has no text from the server")
	}
	time.Sleep(200 * time.Millisecond)
	if got := net.Connects(); got != 1 {
		t.Errorf("Connect called %d times after bad credentials, want 1", got)
	}
	if got := sup.Status("alice").State; got != transports.StateBadCredentials {
		t.Errorf("Status = %v", got)
	}
}

func TestSupervisorRetriesTransientFailures(t *testing.T) {
	net := transportstest.New(map[string]string{"alice": "pw"})
	net.SetUnreachable(true)
	sup, rec := newSup(t, net)
	sup.Start(acct("alice", "pw"))
	st := rec.waitState(t, transports.StateTransientDisconnect)
	if st.Retry.IsZero() || st.Text == "" {
		t.Errorf("transient state lacks retry time or text: %+v", st)
	}
	net.SetUnreachable(false)
	rec.waitState(t, transports.StateConnected)
}

func TestSupervisorRestartsDroppedAdapter(t *testing.T) {
	net := transportstest.New(map[string]string{"alice": "pw"})
	sup, rec := newSup(t, net)
	sup.Start(acct("alice", "pw"))
	rec.waitState(t, transports.StateConnected)
	first := net.Adapter("alice")
	first.Drop(errors.New("connection reset"))
	st := rec.waitState(t, transports.StateTransientDisconnect)
	if st.Text != "connection reset" {
		t.Errorf("text = %q", st.Text)
	}
	rec.waitState(t, transports.StateConnected)
	if !first.Closed() {
		t.Error("dropped adapter was not closed")
	}
	if net.Adapter("alice") == first {
		t.Error("no new adapter after the drop")
	}
}

func TestSupervisorStopAndReplace(t *testing.T) {
	net := transportstest.New(map[string]string{"alice": "pw", "alice2": "pw2"})
	sup, rec := newSup(t, net)
	sup.Start(acct("alice", "pw"))
	rec.waitState(t, transports.StateConnected)
	first := net.Adapter("alice")

	// New credentials replace the running session.
	sup.Start(transports.Account{User: "alice", Credentials: transports.Credentials{"username": "alice2", "password": "pw2"}})
	rec.waitState(t, transports.StateConnected)
	if !first.Closed() {
		t.Error("old session not closed when credentials changed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	second, err := net.WaitAdapter(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if second.Account().Credentials["username"] != "alice2" {
		t.Errorf("adapter uses %v", second.Account().Credentials["username"])
	}

	sup.Stop("alice")
	if !second.Closed() {
		t.Error("Stop did not close the adapter")
	}
	if sup.Running("alice") || sup.Adapter("alice") != nil {
		t.Error("session still there after Stop")
	}
	rec.waitState(t, transports.StateDisconnected)
}

func TestBackoffDelay(t *testing.T) {
	b := transports.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 80 * time.Millisecond, 100 * time.Millisecond},
		{1, 160 * time.Millisecond, 200 * time.Millisecond},
		{3, 640 * time.Millisecond, 800 * time.Millisecond},
		{10, 800 * time.Millisecond, time.Second},
		{1000, 800 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		for range 20 {
			if d := b.Delay(tt.attempt); d < tt.min || d > tt.max {
				t.Errorf("Delay(%d) = %v, want in [%v, %v]", tt.attempt, d, tt.min, tt.max)
			}
		}
	}
}

func TestEnding(t *testing.T) {
	var e transports.Ending
	if e.Err() != nil {
		t.Fatal("Err before End")
	}
	select {
	case <-e.Done():
		t.Fatal("Done closed before End")
	default:
	}
	first := errors.New("first")
	e.End(first)
	e.End(errors.New("second"))
	<-e.Done()
	if e.Err() != first {
		t.Errorf("Err = %v, want the first End's error", e.Err())
	}
}

// faultyNet panics in its first Connect calls, or returns err, then
// behaves like the fake network it wraps.
type faultyNet struct {
	*transportstest.Network
	panics int32
	err    error
	calls  atomic.Int32
}

func (n *faultyNet) Connect(ctx context.Context, a transports.Account, s transports.Sink) (transports.Adapter, error) {
	if c := n.calls.Add(1); c <= n.panics {
		var m map[string]int
		m["nil map write"]++ // a real runtime panic, as a nil dereference in a library would be
	}
	if n.err != nil {
		return nil, n.err
	}
	return n.Network.Connect(ctx, a, s)
}

func TestSupervisorSurvivesPanickingConnect(t *testing.T) {
	net := &faultyNet{Network: transportstest.New(map[string]string{"alice": "pw", "bob": "pw"}), panics: 2}
	rec := newRecorder()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec },
		transports.Backoff{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond}, nil)
	t.Cleanup(sup.Close)
	sup.Start(acct("alice", "pw"))
	st := rec.waitState(t, transports.StateTransientDisconnect)
	if st.Text == "" || strings.Contains(st.Text, "nil map") {
		t.Errorf("state after a panic: %+v; want a generic text", st)
	}
	rec.waitState(t, transports.StateConnected)
	if got := net.calls.Load(); got != 3 {
		t.Errorf("Connect called %d times, want 3 (two panics, then success)", got)
	}
}

func TestSupervisorPolicyRefusalDoesNotRetry(t *testing.T) {
	net := &faultyNet{Network: transportstest.New(nil), err: fmt.Errorf("%w: server evil.example is not allowed", transports.ErrPolicy)}
	rec := newRecorder()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec },
		transports.Backoff{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond}, nil)
	t.Cleanup(sup.Close)
	sup.Start(acct("alice", "pw"))
	st := rec.waitState(t, transports.StateDisconnected)
	if !strings.Contains(st.Text, "not allowed") {
		t.Errorf("state text %q does not say why", st.Text)
	}
	time.Sleep(100 * time.Millisecond) // ten backoff periods
	if got := net.calls.Load(); got != 1 {
		t.Errorf("Connect called %d times after a policy refusal, want 1", got)
	}
}
