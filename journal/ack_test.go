package journal_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/storage"
)

// gatedStore holds the first Remove until open is closed, and records
// every write of acknowledgements: a Remove as one seq, an Update as the
// seqs it removed.
type gatedStore struct {
	storage.Store
	open    chan struct{}
	started chan struct{} // closed when the first Remove is held

	mu     sync.Mutex
	writes [][]uint64
	held   bool
}

func (g *gatedStore) Remove(ctx context.Context, queue string, seq uint64) error {
	g.mu.Lock()
	first := !g.held
	g.held = true
	g.writes = append(g.writes, []uint64{seq})
	g.mu.Unlock()
	if first {
		close(g.started)
		<-g.open
	}
	return g.Store.Remove(ctx, queue, seq)
}

func (g *gatedStore) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	var seqs []uint64
	err := g.Store.Update(ctx, func(tx storage.Tx) error {
		seqs = nil // fn may run again
		return fn(&recordingTx{Tx: tx, seqs: &seqs})
	})
	g.mu.Lock()
	g.writes = append(g.writes, seqs)
	g.mu.Unlock()
	return err
}

type recordingTx struct {
	storage.Tx
	seqs *[]uint64
}

func (t *recordingTx) Remove(queue string, seq uint64) error {
	*t.seqs = append(*t.seqs, seq)
	return t.Tx.Remove(queue, seq)
}

// TestAckGroupCommit: acknowledgements made while one is being written
// are written together, in one transaction, in the order they were
// made, and none of them is pending afterwards, also after a restart; an
// acknowledgement whose context ends while it waits is not written, and
// its entry stays pending.
func TestAckGroupCommit(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, reopen := b.open(t)
			g := &gatedStore{Store: st, open: make(chan struct{}), started: make(chan struct{})}
			j := journal.New(g, journal.Limits{})
			var seqs []uint64
			for i := range 12 {
				seq, err := j.Write(ctx, "irc", fmt.Sprintf("u%d@x", i), []byte(fmt.Sprintf("<message id='m%d'/>", i)))
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, seq)
			}
			errs := make([]error, len(seqs))
			var wg sync.WaitGroup
			wg.Go(func() { errs[0] = j.Ack(ctx, "irc", "u0@x", seqs[0]) })
			<-g.started
			// Queued one at a time, so their order is known.
			for i := 1; i < 10; i++ {
				wg.Go(func() { errs[i] = j.Ack(ctx, "irc", fmt.Sprintf("u%d@x", i), seqs[i]) })
				waitQueued(t, j, i)
			}
			cctx, cancel := context.WithCancel(ctx)
			gaveUp := make(chan error)
			go func() { gaveUp <- j.Ack(cctx, "irc", "u10@x", seqs[10]) }()
			waitQueued(t, j, 10)
			cancel()
			if err := <-gaveUp; !errors.Is(err, context.Canceled) {
				t.Errorf("Ack whose context ended while queued = %v, want context.Canceled", err)
			}
			close(g.open)
			wg.Wait()
			for i, err := range errs[:10] {
				if err != nil {
					t.Errorf("Ack %d: %v", i, err)
				}
			}
			want := [][]uint64{{seqs[0]}, seqs[1:10]}
			if !slices.EqualFunc(g.writes, want, slices.Equal) {
				t.Errorf("writes = %v, want %v (one Remove, then one transaction of the nine queued)", g.writes, want)
			}
			if n := j.Len("irc"); n != 2 {
				t.Errorf("Len = %d, want 2", n)
			}
			for i, open := range []func() storage.Store{func() storage.Store { return st }, reopen} {
				p, err := journal.New(open(), journal.Limits{}).Pending(ctx, "irc")
				if err != nil {
					t.Fatal(err)
				}
				var left []uint64
				for _, e := range p {
					left = append(left, e.Seq)
				}
				if !slices.Equal(left, seqs[10:]) {
					t.Errorf("pending after the acknowledgements (reopened: %v) = %v, want %v", i == 1, left, seqs[10:])
				}
			}
		})
	}
}

// waitQueued waits until n acknowledgements of irc wait for the writer.
func waitQueued(t *testing.T, j *journal.Journal, n int) {
	t.Helper()
	for i := 0; journal.Queued(j, "irc") != n; i++ {
		if i == 2000 {
			t.Fatalf("%d acknowledgements queued, want %d", journal.Queued(j, "irc"), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
