package component_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/storage"
)

// gatedStore holds every Update (the journal's batch writes) while its
// gate is shut, and counts them.
type gatedStore struct {
	storage.Store
	mu      sync.Mutex
	shut    chan struct{} // nil: open
	updates int
}

func (g *gatedStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	g.mu.Lock()
	g.updates++
	gate := g.shut
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Store.Update(ctx, fn)
}

func (g *gatedStore) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut = make(chan struct{})
}

func (g *gatedStore) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.shut)
	g.shut = nil
}

func (g *gatedStore) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.updates
}

// TestJournalGroupCommit: messages read while the journal's write of an
// earlier one is held are queued behind it, not handled (nothing reaches
// the network before its entry is durable), and then written together in
// one transaction; all are sent once, in the order read.
func TestJournalGroupCommit(t *testing.T) {
	var gate *gatedStore
	var j *journal.Journal
	e := newEnv(t, envOptions{})
	e.stop()
	e.tune = func(cfg *component.Config) {
		gate = &gatedStore{Store: e.store}
		j = journal.New(gate, journal.Limits{})
		cfg.Journal = j
	}
	e.start(t, e.key, nil)
	c := e.user(t, "gil", "pc", 0)
	e.register(t, c)
	a := e.adapter(t, "gil@localhost")

	gate.close()
	const n = 5
	for i := 1; i <= n; i++ {
		c.Send(t, chatTo("bob", fmt.Sprint("w", i), fmt.Sprint("grouped ", i)))
	}
	// The held batch (its entries counted by the journal) and the queue
	// behind it hold every message read.
	waitFor(t, "every message read", func() bool { return j.Len("fake")+component.JournalWriterQueued(e.comp) == n })
	if gate.count() != 1 {
		t.Fatalf("%d journal writes begun while the first is held, want 1", gate.count())
	}
	// The held batch has what was read before the writer took it; the
	// rest waits in the queue, to be written in one more transaction.
	wantTx := 1
	if component.JournalWriterQueued(e.comp) > 0 {
		wantTx = 2
	}
	if k := len(a.Sent()); k != 0 {
		t.Fatalf("%d messages reached the network before their journal entries were written", k)
	}
	gate.open()

	var got []string
	for range n {
		got = append(got, nextSent(t, a).Body)
	}
	want := []string{"grouped 1", "grouped 2", "grouped 3", "grouped 4", "grouped 5"}
	if !slices.Equal(got, want) {
		t.Fatalf("sent %q, want %q", got, want)
	}
	if gate.count() != wantTx {
		t.Errorf("%d journal transactions for %d messages, want %d (the held one, then the queued ones together)", gate.count(), n, wantTx)
	}
	for i := 1; i <= n; i++ {
		c.Expect(t, fmt.Sprint("receipt for w", i), receiptFor(fmt.Sprint("w", i)))
	}
	e.journalIDs(t)
	select {
	case m := <-a.Sent():
		t.Fatalf("sent again: %q", m.Body)
	case <-time.After(200 * time.Millisecond):
	}
}
