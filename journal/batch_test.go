package journal_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/storage"
)

// TestWriteBatch: a batch is written in its order, with increasing
// sequence numbers, and reads back from Pending after a restart; a user
// over the cap has their records refused with ErrFull while the others'
// are written.
func TestWriteBatch(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, reopen := b.open(t)
			j := journal.New(st, journal.Limits{MaxPerUser: 2})
			recs := []journal.Record{
				{User: "alice@x", Stanza: []byte("<message id='a1'/>")},
				{User: "bob@x", Stanza: []byte("<message id='b1'/>")},
				{User: "alice@x", Stanza: []byte("<message id='a2'/>")},
				{User: "alice@x", Stanza: []byte("<message id='a3'/>")}, // over alice's cap of 2
				{User: "bob@x", Stanza: []byte("<message id='b2'/>")},
			}
			seqs, errs := j.WriteBatch(ctx, "irc", recs)
			for i, err := range errs {
				if i == 3 {
					if !errors.Is(err, journal.ErrFull) || seqs[i] != 0 {
						t.Errorf("record over the cap: seq %d, err %v; want 0, ErrFull", seqs[i], err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}
			written := slices.DeleteFunc(slices.Clone(seqs), func(s uint64) bool { return s == 0 })
			if len(written) != 4 || !slices.IsSorted(written) || written[0] == written[1] {
				t.Fatalf("sequence numbers %v, want 4 increasing", seqs)
			}
			if j.Len("irc") != 4 {
				t.Errorf("Len = %d, want 4", j.Len("irc"))
			}
			got, err := journal.New(reopen(), journal.Limits{}).Pending(ctx, "irc")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"alice@x <message id='a1'/>", "bob@x <message id='b1'/>", "alice@x <message id='a2'/>", "bob@x <message id='b2'/>"}
			if !slices.Equal(stanzas(got), want) {
				t.Fatalf("pending = %q, want %q", stanzas(got), want)
			}
			for i, e := range got {
				if e.Seq != written[i] {
					t.Errorf("entry %d has seq %d, WriteBatch said %d", i, e.Seq, written[i])
				}
			}
		})
	}
}

// twiceStore runs every Update's function twice, discarding the first
// run's writes, as an optimistic backend does on a conflict.
type twiceStore struct{ storage.Store }

func (s twiceStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	errDiscard := errors.New("discarded run")
	if err := s.Store.Update(ctx, func(tx storage.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errDiscard
	}); !errors.Is(err, errDiscard) {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// TestWriteBatchRetried: a transaction the store runs again writes each
// record once, and WriteBatch reports the sequence numbers of the run
// that committed.
func TestWriteBatchRetried(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, _ := b.open(t)
			j := journal.New(twiceStore{st}, journal.Limits{})
			seqs, errs := j.WriteBatch(ctx, "irc", []journal.Record{
				{User: "alice@x", Stanza: []byte("<message id='a1'/>")},
				{User: "alice@x", Stanza: []byte("<message id='a2'/>")},
			})
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			got, err := j.Pending(ctx, "irc")
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"alice@x <message id='a1'/>", "alice@x <message id='a2'/>"}; !slices.Equal(stanzas(got), want) {
				t.Fatalf("pending = %q, want %q", stanzas(got), want)
			}
			if got[0].Seq != seqs[0] || got[1].Seq != seqs[1] {
				t.Errorf("stored seqs %d %d, WriteBatch said %v", got[0].Seq, got[1].Seq, seqs)
			}
		})
	}
}
