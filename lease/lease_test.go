package lease_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/lease"
	"github.com/switchboard-im/switchboard/storage"
)

// memLeaser is a storage.Leaser in memory, shared by the electors of a
// test as Redis is by instances. fail makes every call fail (the store is
// unreachable); steal hands the lease to someone else.
type memLeaser struct {
	mu     sync.Mutex
	held   map[string]storage.Lease
	until  map[string]time.Time
	tokens uint64
	fail   bool
}

func newMem() *memLeaser {
	return &memLeaser{held: map[string]storage.Lease{}, until: map[string]time.Time{}}
}

var errDown = errors.New("store unreachable")

func (m *memLeaser) AcquireLease(_ context.Context, name, owner string, ttl time.Duration) (storage.Lease, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return storage.Lease{}, false, errDown
	}
	if _, ok := m.held[name]; ok && time.Now().Before(m.until[name]) {
		return storage.Lease{}, false, nil
	}
	m.tokens++
	l := storage.Lease{Name: name, Owner: owner, Token: m.tokens, Since: time.Now()}
	m.held[name], m.until[name] = l, time.Now().Add(ttl)
	return l, true, nil
}

func (m *memLeaser) RenewLease(_ context.Context, l storage.Lease, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errDown
	}
	if h, ok := m.held[l.Name]; !ok || h.Token != l.Token || !time.Now().Before(m.until[l.Name]) {
		return storage.ErrFenced
	}
	m.until[l.Name] = time.Now().Add(ttl)
	return nil
}

func (m *memLeaser) ReleaseLease(_ context.Context, l storage.Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.held[l.Name]; ok && h.Token == l.Token {
		delete(m.held, l.Name)
	}
	return nil
}

func (m *memLeaser) LeaseHolder(_ context.Context, name string) (storage.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[name]
	if !ok || !time.Now().Before(m.until[name]) {
		return storage.Lease{}, storage.ErrNotFound
	}
	return h, nil
}

func (m *memLeaser) Fenced(storage.Lease) storage.Store { return nil }

func (m *memLeaser) Announce(context.Context, string, time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errDown
	}
	return nil
}

func (m *memLeaser) Instances(context.Context) ([]storage.Instance, error) { return nil, nil }

func (m *memLeaser) steal(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens++
	m.held[name] = storage.Lease{Name: name, Owner: "thief", Token: m.tokens}
	m.until[name] = time.Now().Add(time.Hour)
}

func (m *memLeaser) setFail(b bool) {
	m.mu.Lock()
	m.fail = b
	m.mu.Unlock()
}

const ttl = 300 * time.Millisecond

// run starts e.Run with work that reports its lease on got and blocks
// until its context ends; the result of Run comes on the returned channel.
func run(ctx context.Context, e *lease.Elector, got chan<- storage.Lease) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- e.Run(ctx, func(ctx context.Context, l storage.Lease) error {
			got <- l
			<-ctx.Done()
			return nil
		})
	}()
	return done
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestStandbyTakesOver: of two electors one holds; when it stops (its
// context cancelled) it releases and the other takes over with a larger
// token; when the holder stops renewing without releasing (it died),
// the standby takes over once the TTL passed.
func TestStandbyTakesOver(t *testing.T) {
	for _, release := range []bool{true, false} {
		name := "died"
		if release {
			name = "stopped"
		}
		t.Run(name, func(t *testing.T) {
			m := newMem()
			gotA, gotB := make(chan storage.Lease, 1), make(chan storage.Lease, 1)
			actx, acancel := context.WithCancel(t.Context())
			a := lease.New(lease.Config{Leaser: m, Name: "irc.example.org", Owner: "a", TTL: ttl})
			doneA := run(actx, a, gotA)
			la := wait(t, gotA, "a holds")
			b := lease.New(lease.Config{Leaser: m, Name: "irc.example.org", Owner: "b", TTL: ttl})
			bctx, bcancel := context.WithCancel(t.Context())
			defer bcancel()
			doneB := run(bctx, b, gotB)
			time.Sleep(2 * ttl)
			if st := b.Status(); st.Holder || st.Acquired != 0 {
				t.Fatalf("b while a holds: %+v, want a standby", st)
			}
			if !a.Status().Holder {
				t.Fatal("a does not say it holds")
			}
			if release {
				acancel()
				if err := wait(t, doneA, "a returns"); err != nil {
					t.Fatalf("a's Run after cancel: %v", err)
				}
			} else {
				// a dies: nobody renews, nobody releases.
				m.setFail(true)
				m.mu.Lock()
				m.until["irc.example.org"] = time.Now().Add(ttl)
				m.mu.Unlock()
				wait(t, doneA, "a gives up")
				m.setFail(false)
				defer acancel()
			}
			lb := wait(t, gotB, "b takes over")
			if lb.Token <= la.Token || lb.Owner != "b" {
				t.Fatalf("b's lease %+v after a's %+v", lb, la)
			}
			if st := b.Status(); !st.Holder || st.Acquired != 1 || st.Lease.Token != lb.Token {
				t.Fatalf("b's status %+v", st)
			}
			bcancel()
			if err := wait(t, doneB, "b returns"); err != nil {
				t.Fatal(err)
			}
			if _, err := m.LeaseHolder(t.Context(), "irc.example.org"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("b did not release: %v", err)
			}
		})
	}
}

// TestLostLeaseStopsWork: the work's context ends and Run returns ErrLost
// when a renewal finds another holder, and when no renewal succeeds for
// for two thirds of the TTL (the store unreachable).
func TestLostLeaseStopsWork(t *testing.T) {
	tests := []struct {
		name string
		lose func(m *memLeaser)
	}{
		{"another holds it", func(m *memLeaser) { m.steal("irc.example.org") }},
		{"store unreachable", func(m *memLeaser) { m.setFail(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			e := lease.New(lease.Config{Leaser: m, Name: "irc.example.org", Owner: "a", TTL: ttl})
			got := make(chan storage.Lease, 1)
			done := make(chan error, 1)
			go func() {
				done <- e.Run(t.Context(), func(ctx context.Context, l storage.Lease) error {
					got <- l
					<-ctx.Done()
					return nil
				})
			}()
			l := wait(t, got, "holding")
			if l.Token == 0 {
				t.Fatalf("lease %+v has no token", l)
			}
			tt.lose(m)
			err := wait(t, done, "Run returns")
			if !errors.Is(err, lease.ErrLost) {
				t.Fatalf("Run = %v, want ErrLost", err)
			}
			if e.Status().Holder {
				t.Error("still says it holds")
			}
		})
	}
}

// TestNoLeaser: without a shared store the lease is held at once, and
// Run returns work's error.
func TestNoLeaser(t *testing.T) {
	e := lease.New(lease.Config{Name: "irc.example.org", Owner: "a"})
	boom := errors.New("boom")
	err := e.Run(t.Context(), func(ctx context.Context, l storage.Lease) error {
		if !e.Status().Holder || l.Name != "irc.example.org" {
			t.Errorf("status %+v, lease %+v", e.Status(), l)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want boom", err)
	}
}
