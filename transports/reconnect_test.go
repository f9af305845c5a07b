package transports_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// fakeClock is a Clock whose waits end only when the test fires them.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d  time.Duration
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), waits: make(chan fakeWait, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- fakeWait{d: d, ch: ch}
	return ch
}

// wait returns the next wait asked of the clock.
func (c *fakeClock) wait(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(5 * time.Second):
		t.Fatal("nobody waited on the clock")
		return fakeWait{}
	}
}

// fire advances the clock by w's duration and ends w.
func (c *fakeClock) fire(w fakeWait) {
	c.mu.Lock()
	c.now = c.now.Add(w.d)
	now := c.now
	c.mu.Unlock()
	w.ch <- now
}

// noWait checks that nobody waits on the clock for a while.
func (c *fakeClock) noWait(t *testing.T) {
	t.Helper()
	select {
	case w := <-c.waits:
		t.Fatalf("unexpected wait of %v", w.d)
	case <-time.After(50 * time.Millisecond):
	}
}

// inBackoff checks that d is attempt's delay of b: Min·2^attempt capped
// at Max, less at most 20 % jitter.
func inBackoff(t *testing.T, b transports.Backoff, attempt int, d time.Duration) {
	t.Helper()
	want := b.Min
	for range attempt {
		want *= 2
	}
	want = min(want, b.Max)
	if d > want || d < want-want/5 {
		t.Errorf("attempt %d waited %v, want in [%v, %v]", attempt, d, want-want/5, want)
	}
}

// TestSupervisorBackoffSchedule: failed attempts wait Min, 2·Min, 4·Min…
// up to Max on the supervisor's clock, the state says when the retry is
// due, and Connect is not called before the wait ended; a session that
// was up starts over at Min after it drops.
func TestSupervisorBackoffSchedule(t *testing.T) {
	b := transports.Backoff{Min: time.Second, Max: 5 * time.Second}
	net := transportstest.New(map[string]string{"alice": "pw"})
	net.SetUnreachable(true)
	rec := newRecorder()
	clock := newFakeClock()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec }, b, nil)
	sup.SetClock(clock)
	t.Cleanup(sup.Close)
	sup.Start(acct("alice", "pw"))

	for attempt := range 5 {
		st := rec.waitState(t, transports.StateTransientDisconnect)
		w := clock.wait(t)
		inBackoff(t, b, attempt, w.d)
		if want := clock.Now().Add(w.d); !st.Retry.Equal(want) {
			t.Errorf("attempt %d: Retry = %v, want %v", attempt, st.Retry, want)
		}
		if got := net.Connects(); got != int64(attempt+1) {
			t.Fatalf("attempt %d: Connect called %d times before the wait ended", attempt, got)
		}
		if attempt == 4 {
			net.SetUnreachable(false)
		}
		clock.fire(w)
	}
	rec.waitState(t, transports.StateConnected)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := net.WaitAdapter(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	a.Drop(errors.New("connection reset"))
	rec.waitState(t, transports.StateTransientDisconnect)
	inBackoff(t, b, 0, clock.wait(t).d)
}

// TestSupervisorRefusalsWaitNothing: a refused login and a policy refusal
// end the session's retries without a single wait.
func TestSupervisorRefusalsWaitNothing(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want transports.State
	}{
		{"bad credentials", fmt.Errorf("%w: wrong password", transports.ErrBadCredentials), transports.StateBadCredentials},
		{"policy", fmt.Errorf("%w: server not allowed", transports.ErrPolicy), transports.StateDisconnected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net := &faultyNet{Network: transportstest.New(nil), err: tt.err}
			rec := newRecorder()
			clock := newFakeClock()
			sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec }, transports.Backoff{}, nil)
			sup.SetClock(clock)
			t.Cleanup(sup.Close)
			sup.Start(acct("alice", "pw"))
			if st := rec.waitState(t, tt.want); st.Text != tt.err.Error() {
				t.Errorf("text %q, want %q", st.Text, tt.err.Error())
			}
			clock.noWait(t)
			if got := net.calls.Load(); got != 1 {
				t.Errorf("Connect called %d times, want 1", got)
			}
		})
	}
}

// linkNet hands every Connect's Account.Reconnect to the test.
type linkNet struct {
	*transportstest.Network
	policies chan *transports.Reconnect
}

func (n *linkNet) Connect(ctx context.Context, a transports.Account, s transports.Sink) (transports.Adapter, error) {
	n.policies <- a.Reconnect
	return n.Network.Connect(ctx, a, s)
}

// TestSupervisorBuildsStateOfRedialedConnection: an adapter's own
// connection that drops and redials (IRC's) reports through the
// supervisor's policy: the supervisor's Status and the user's state
// follow it, with the supervisor's backoff and clock; a non-reporting
// link paces itself the same way and reports nothing.
func TestSupervisorBuildsStateOfRedialedConnection(t *testing.T) {
	b := transports.Backoff{Min: 2 * time.Second, Max: time.Minute}
	net := &linkNet{Network: transportstest.New(map[string]string{"alice": "pw"}), policies: make(chan *transports.Reconnect, 10)}
	rec := newRecorder()
	clock := newFakeClock()
	sup := transports.NewSupervisor(net, func(string) transports.Sink { return rec }, b, nil)
	sup.SetClock(clock)
	t.Cleanup(sup.Close)
	sup.Start(acct("alice", "pw"))
	rec.waitState(t, transports.StateConnected)
	rc := <-net.policies
	if rc == nil {
		t.Fatal("Connect got no Account.Reconnect")
	}

	ctx := t.Context()
	main := rc.Link(true)
	result := make(chan bool, 1)
	go func() {
		result <- main.Lost(ctx, fmt.Errorf("%w: irc.test closed the connection", transports.ErrUnavailable))
	}()
	st := rec.waitState(t, transports.StateTransientDisconnect)
	if st.Text != "legacy network unavailable: irc.test closed the connection" {
		t.Errorf("text %q", st.Text)
	}
	w := clock.wait(t)
	inBackoff(t, b, 0, w.d)
	if got := sup.Status("alice"); got != st {
		t.Errorf("supervisor Status %+v, want the reported %+v", got, st)
	}
	clock.fire(w)
	if !<-result {
		t.Fatal("Lost said not to redial a transient failure")
	}
	main.Up()
	rec.waitState(t, transports.StateConnected)
	if got := sup.Status("alice").State; got != transports.StateConnected {
		t.Errorf("Status after Up = %v", got)
	}

	side := rc.Link(false)
	go func() { result <- side.Lost(ctx, errors.New("reset")) }()
	w = clock.wait(t)
	inBackoff(t, b, 0, w.d)
	clock.fire(w)
	<-result
	go func() { result <- side.Lost(ctx, errors.New("reset")) }()
	w = clock.wait(t)
	inBackoff(t, b, 1, w.d)
	clock.fire(w)
	<-result
	select {
	case st := <-rec.ch:
		t.Errorf("a side connection reported %+v", st)
	default:
	}
	if net.Connects() != 1 {
		t.Errorf("the session was connected %d times; a link's redial is the adapter's", net.Connects())
	}

	// Once the adapter is closed (the session stopped), its policy
	// reports nothing more.
	sup.Stop("alice")
	rec.waitState(t, transports.StateDisconnected)
	main.Up()
	select {
	case st := <-rec.ch:
		t.Errorf("a closed adapter's link reported %+v", st)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestLinkLost: which failures a link redials, and that a cancelled
// context ends its wait.
func TestLinkLost(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		retry bool
	}{
		{"unavailable", fmt.Errorf("%w: reset", transports.ErrUnavailable), true},
		{"plain error", errors.New("EOF"), true},
		{"nil", nil, true},
		{"bad credentials", fmt.Errorf("%w: no", transports.ErrBadCredentials), false},
		{"policy", fmt.Errorf("%w: private address", transports.ErrPolicy), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []transports.Status
			clock := newFakeClock()
			l := transports.NewReconnect(transports.Backoff{Min: time.Second}, clock, func(st transports.Status) { got = append(got, st) }).Link(true)
			done := make(chan bool, 1)
			go func() { done <- l.Lost(t.Context(), tt.err) }()
			if !tt.retry {
				select {
				case again := <-done:
					if again {
						t.Error("Lost would redial")
					}
				case w := <-clock.waits:
					t.Fatalf("Lost waited %v to redial a failure it must not retry", w.d)
				}
				if len(got) != 0 {
					t.Errorf("reported %+v; the supervisor reports a refusal", got)
				}
				return
			}
			clock.fire(clock.wait(t))
			if !<-done {
				t.Error("Lost would not redial")
			}
			if len(got) != 1 || got[0].State != transports.StateTransientDisconnect || got[0].Text == "" {
				t.Errorf("reported %+v, want one transient disconnect with a text", got)
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		clock := newFakeClock()
		l := transports.NewReconnect(transports.Backoff{Min: time.Second}, clock, nil).Link(false)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan bool, 1)
		go func() { done <- l.Lost(ctx, errors.New("reset")) }()
		clock.wait(t)
		cancel()
		if <-done {
			t.Error("Lost would redial after its context ended")
		}
	})

	t.Run("nil policy", func(t *testing.T) {
		var rc *transports.Reconnect
		l := rc.Link(true)
		l.Up() // reports nowhere, and does not panic
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if l.Lost(ctx, errors.New("reset")) {
			t.Error("Lost would redial after its context ended")
		}
	})
}
