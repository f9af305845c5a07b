package transportstest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// queueAll queues one message per body to "bob" on a fake adapter.
func queueAll(t *testing.T, a transports.Adapter, bodies ...string) []transports.Pending {
	t.Helper()
	q := a.(transports.Queuer)
	var ps []transports.Pending
	for _, b := range bodies {
		p, err := q.Queue(context.Background(), transports.Message{To: transports.ID(b), Body: b})
		if err != nil {
			t.Fatalf("Queue(%q): %v", b, err)
		}
		ps = append(ps, p)
	}
	return ps
}

// Without HoldQueued a queued message is confirmed at once, as Send
// would be, and its network error comes from Wait, not Queue.
func TestFakeQueueConfirmsAtOnce(t *testing.T) {
	n := transportstest.New(nil)
	n.Caps.Pipelining = true
	a := connectFake(n)(t)
	ps := queueAll(t, a, "bob", "nobody")
	if id, err := ps[0].Wait(context.Background()); err != nil || id == "" {
		t.Errorf("bob: Wait = %q, %v; want an ID", id, err)
	}
	if _, err := ps[1].Wait(context.Background()); !errors.Is(err, transports.ErrNotFound) {
		t.Errorf("nobody: Wait = %v, want ErrNotFound", err)
	}
	if got := a.(*transportstest.Adapter).Queued(); got != 2 {
		t.Errorf("Queued = %d, want 2", got)
	}
}

// With HoldQueued, messages stay in flight until the test settles them,
// oldest first; an abandoned wait leaves the flight, and Close fails the
// rest.
func TestFakeQueueHeld(t *testing.T) {
	n := transportstest.New(nil)
	n.Caps.Pipelining = true
	n.HoldQueued(true)
	a := connectFake(n)(t)
	fa := a.(*transportstest.Adapter)
	ps := queueAll(t, a, "one", "two", "three", "four")
	held, err := fa.WaitHeld(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []transports.ID{"one", "two", "three", "four"} {
		if held[i].To != want {
			t.Errorf("held[%d] = %q, want %q", i, held[i].To, want)
		}
	}
	for i := range 4 {
		select {
		case m := <-fa.Sent():
			if m.Body != held[i].Body {
				t.Errorf("sent %d = %q, want %q", i, m.Body, held[i].Body)
			}
		default:
			t.Fatalf("message %d queued but not sent", i)
		}
	}

	if m, ok := fa.Confirm(); !ok || m.To != "one" {
		t.Fatalf("Confirm = %q, %v; want one", m.To, ok)
	}
	id1, err := ps[0].Wait(context.Background())
	if err != nil || id1 == "" {
		t.Fatalf("one: Wait = %q, %v", id1, err)
	}
	if id, _ := ps[0].Wait(context.Background()); id != id1 {
		t.Errorf("a second Wait = %q, want the first's %q", id, id1)
	}
	boom := errors.New("boom")
	if m, ok := fa.Fail(boom); !ok || m.To != "two" {
		t.Fatalf("Fail = %q, %v; want two", m.To, ok)
	}
	if _, err := ps[1].Wait(context.Background()); !errors.Is(err, boom) {
		t.Errorf("two: Wait = %v, want boom", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := ps[2].Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("three: Wait = %v, want the context's error", err)
	}
	if held := fa.Held(); len(held) != 1 || held[0].To != "four" {
		t.Errorf("held after three was abandoned = %v, want four only", held)
	}
	a.Close()
	if _, err := ps[3].Wait(context.Background()); !errors.Is(err, transports.ErrNotConnected) {
		t.Errorf("four after Close: Wait = %v, want ErrNotConnected", err)
	}
	if _, err := a.(transports.Queuer).Queue(context.Background(), transports.Message{To: "bob", Body: "late"}); !errors.Is(err, transports.ErrNotConnected) {
		t.Errorf("Queue after Close = %v, want ErrNotConnected", err)
	}
}
