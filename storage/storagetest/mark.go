package storagetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/storage"
)

// testTxRemove: removes inside Update take effect with the transaction's
// other writes, several at once, none when the function fails; an
// absent item is no error.
func testTxRemove(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const q = "net\x00alice@example.org\x00journal"
	var seqs []uint64
	for _, v := range []string{"a", "b", "c", "d"} {
		seqs = append(seqs, mustAppend(t, s, q, v))
	}
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Remove(q, seqs[0]); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		for _, seq := range []uint64{seqs[0], seqs[2], seqs[2], 99, 0} {
			if err := tx.Remove(q, seq); err != nil {
				return err
			}
		}
		return tx.Put("k", "net\x00alice@example.org\x00done", []byte("1"))
	})
	if err != nil {
		t.Fatalf("Update removing items: %v", err)
	}
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.Remove("absent", 1) }); err != nil {
		t.Errorf("Remove of an absent queue in Update: %v", err)
	}
	items, err := s.Range(ctx, q, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, it := range items {
		left = append(left, string(it.Value))
	}
	if !slices.Equal(left, []string{"b", "d"}) {
		t.Errorf("queue after the removes = %q, want [b d] (the failed Update's remove not applied)", left)
	}
	if got := mustGet(t, s, "k", "net\x00alice@example.org\x00done"); string(got) != "1" {
		t.Errorf("key written with the removes = %q", got)
	}
}

// testAppendMarked: storage.AppendMarked numbers a user's queue as
// Append does and leaves the last number under the mark's key, also
// when concurrent; the mark is found by Scan, gone after Delete, and
// found again after the next append.
func testAppendMarked(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const (
		q    = "net\x00alice@example.org\x00outbox"
		mark = "net\x00alice@example.org"
	)
	markOf := func() uint64 {
		t.Helper()
		v := mustGet(t, s, "marks", mark)
		if len(v) != 8 {
			t.Fatalf("mark = %x, want 8 bytes", v)
		}
		return binary.BigEndian.Uint64(v)
	}
	seq, err := storage.AppendMarked(ctx, s, q, []byte("first"), "marks", mark)
	if err != nil || seq != 1 || markOf() != 1 {
		t.Fatalf("first AppendMarked = %d, %v; want 1 and the mark 1", seq, err)
	}
	const n = 20
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			if seqs[i], err = storage.AppendMarked(ctx, s, q, fmt.Appendf(nil, "v%d", i), "marks", mark); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.Sort(seqs)
	if seqs[0] != 2 || seqs[n-1] != n+1 || len(slices.Compact(slices.Clone(seqs))) != n {
		t.Errorf("concurrent AppendMarked numbers = %v, want 2..%d, each once", seqs, n+1)
	}
	if got := markOf(); got != n+1 {
		t.Errorf("mark after the concurrent appends = %d, want %d", got, n+1)
	}
	if l, err := s.Len(ctx, q); err != nil || l != n+1 {
		t.Errorf("Len = %d, %v; want %d", l, err, n+1)
	}
	if keys := kvKeys(scanAll(t, s, "marks", "")); !slices.Equal(keys, []string{mark}) {
		t.Errorf("Scan of the marks = %q", keys)
	}
	if err := s.Delete(ctx, "marks", mark); err != nil {
		t.Fatal(err)
	}
	if keys := kvKeys(scanAll(t, s, "marks", "")); len(keys) != 0 {
		t.Errorf("Scan of the marks after Delete = %q, want none", keys)
	}
	if seq, err := storage.AppendMarked(ctx, s, q, []byte("again"), "marks", mark); err != nil || seq != n+2 {
		t.Fatalf("AppendMarked after Delete = %d, %v; want %d", seq, err, n+2)
	}
	if keys := kvKeys(scanAll(t, s, "marks", "net\x00")); !slices.Equal(keys, []string{mark}) {
		t.Errorf("Scan of the marks after a new append = %q, want the mark", keys)
	}
}

// testPutDeleteRace: a user's only key written and deleted at the same
// time, many times over: whenever the key is there afterwards, Scan
// finds it (a backend that lists users with keys must not lose one that
// a delete emptied while a put refilled it).
func testPutDeleteRace(t *testing.T, s storage.Store) {
	ctx := t.Context()
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	for i := range rounds {
		key := fmt.Sprintf("net\x00u%d@example.org\x00k", i%5)
		mustPut(t, s, "race", key, "old")
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := s.Delete(ctx, "race", key); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := s.Put(ctx, "race", key, []byte("new")); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			// As the outbox's settle: delete in a transaction, if
			// still the old value.
			err := s.Update(ctx, func(tx storage.Tx) error {
				v, err := tx.Get("race", key)
				if errors.Is(err, storage.ErrNotFound) || string(v) != "old" {
					return nil
				}
				if err != nil {
					return err
				}
				return tx.Delete("race", key)
			})
			if err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		_, err := s.Get(ctx, "race", key)
		present := err == nil
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		found := slices.Contains(kvKeys(scanAll(t, s, "race", "")), key)
		if found != present {
			t.Fatalf("round %d: key present %v, found by Scan %v", i, present, found)
		}
	}
}
